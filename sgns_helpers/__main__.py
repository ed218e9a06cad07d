"""Command line: ``python -m sgns_helpers download|train|evaluate``.

Every error is one clear line on stderr and a non-zero exit, never a traceback
(set ``SGNS_DEBUG=1`` to see the traceback).
"""
from __future__ import annotations

import argparse
import sys


import os

# The helpers report what a user can fix (a wrong path, a corrupt download, a nonsense setting, a
# diverging run) with these built-in exceptions and a message that says what to do.
USER_ERRORS = (OSError, ValueError, RuntimeError, EOFError)


def _not_built(args):
    raise RuntimeError(f"'{args.command}' is not built yet in this version of the course")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m sgns_helpers",
                                     description="SGNS from scratch: download, train, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("download", "train", "evaluate"):
        sub.add_parser(name).set_defaults(func=_not_built)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except USER_ERRORS as exc:
        if os.environ.get("SGNS_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
