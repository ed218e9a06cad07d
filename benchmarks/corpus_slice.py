"""Write a stretch of a text8-format corpus as a corpus of its own (for checks on other data).

    python benchmarks/corpus_slice.py SOURCE OUT [--last BYTES | --first BYTES]

SOURCE is plain, .gz or .zip (as everywhere in the course). The stretch is cut at spaces, so no
word is split, and written plain with text8's one leading space. The slice used in
benchmarks/README.md is ``--last 20000000`` of the stand-in corpus: its last 20 MB, about 3.4
million words that the settings of either mode were never chosen on.
"""
from __future__ import annotations

import argparse

from sgns_helpers.corpus import open_corpus
from sgns_helpers.files import atomic_write


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("out")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--last", type=int, help="the last BYTES bytes of the text")
    group.add_argument("--first", type=int, help="the first BYTES bytes of the text")
    args = parser.parse_args(argv)
    with open_corpus(args.source) as f:
        text = f.read()
    part = text[-args.last:] if args.last else text[:args.first]
    words = part.split()
    if args.last and not text[-args.last - 1:-args.last].isspace():
        words = words[1:]                        # the cut fell inside a word: drop its tail
    elif args.first and not text[args.first:args.first + 1].isspace():
        words = words[:-1]
    with atomic_write(args.out) as f:
        f.write(b" " + b" ".join(words))
    print(f"{args.out}: {len(words):,} words")


if __name__ == "__main__":
    main()
