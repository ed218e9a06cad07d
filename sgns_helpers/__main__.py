"""Command line: ``python -m sgns_helpers download|train|evaluate``.

Every error is one clear line on stderr and a non-zero exit, never a traceback
(set ``SGNS_DEBUG=1`` to see the traceback).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

# The helpers report what a user can fix (a wrong path, a corrupt download, a nonsense setting, a
# diverging run) with these built-in exceptions and a message that says what to do.
USER_ERRORS = (OSError, ValueError, RuntimeError, EOFError)


def _download(args):
    from . import corpus
    path = corpus.download_text8(args.dest)
    print(path)


def _train(args):
    from . import train
    train.main(args)


def _evaluate(args):
    from . import evaluate
    result = evaluate.evaluate_vectors(args.vectors, analogies=args.analogies,
                                       similarity=args.similarity, restrict=args.restrict)
    print(json.dumps(result, indent=2) if args.json else evaluate.format_report(result))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m sgns_helpers",
                                     description="SGNS from scratch: download, train, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("download", help="fetch and verify text8")
    p.add_argument("--dest", default=None, help="folder for text8.zip (default: data/ or $SGNS_DATA)")
    p.set_defaults(func=_download)

    p = sub.add_parser("train", help="train SGNS vectors")
    p.add_argument("--corpus", default=None, help="text8-format file (plain, .gz or .zip); "
                   "default: $SGNS_CORPUS, else the profile's corpus")
    p.add_argument("--profile", choices=("quick", "full"), default=None,
                   help="settings profile (default: $SGNS_PROFILE, else full)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--dim", type=int)
    p.add_argument("--window", type=int)
    p.add_argument("--negatives", type=int)
    p.add_argument("--min-count", type=int)
    p.add_argument("--sample", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int, help="pairs a step (pairs mode, 1024); centres an "
                   "update (blocks mode, 256)")
    p.add_argument("--seed", type=int)
    p.add_argument("--damping", type=float, help="a row updated n times in one step moves by "
                   "n^-damping times its summed update (0: plain sum; default 0.5 in pairs mode, "
                   "0.35 in blocks mode)")
    p.add_argument("--mode", choices=("pairs", "blocks"),
                   help="update rule: standard SGNS (pairs, the default here; make train uses "
                   "blocks), or consecutive centres sharing their negatives (blocks)")
    p.add_argument("--block-size", type=int,
                   help="blocks mode: consecutive centres that share their negatives (16)")
    p.add_argument("--shared-negatives", type=int, help="blocks mode: negatives a block (16)")
    p.add_argument("--workers", type=int,
                   help="blocks mode: processes updating the shared weights (1: reproducible)")
    p.add_argument("--checkpoint-every", type=float, metavar="SECONDS",
                   help="seconds between checkpoints (default 300)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<profile>-<corpus>, "
                   "with -blocks in blocks mode)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="analogies and word similarity of a word2vec-format file")
    p.add_argument("vectors", help="word2vec text (or .npz) vectors file")
    p.add_argument("--analogies", default=None, help="analogy questions (default: data/questions-words.txt)")
    p.add_argument("--similarity", default=None, help="word pairs with scores (default: data/wordsim353.tsv)")
    p.add_argument("--restrict", type=int, default=30000,
                   help="answer among the N most frequent words (default 30000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_evaluate)
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
