"""Is revision B faster than revision A? An interleaved comparison for a noisy machine.

    SGNS_CORPUS=<corpus> python benchmarks/bench_ab.py [A [B]] [--rounds 6] [--tokens 2000000]
                                                               [--mode pairs]

On a shared machine the speed of the same code can change by half or more from one run to the
next (59,288 to 99,636 raw words/s in benchmarks/results/earlier/ab-366d08b-f74b860.txt), more than most
changes to the code. So each revision is checked out into a temporary git worktree,
and every round trains both, each in a fresh process, on the same stretch of the corpus, one right
after the other and in alternating order. The ratio of a round compares two runs made close in
time; the median ratio over the rounds is the answer. Prints the raw words/s of every run (corpus
loading not included), each round's ratio B/A and the median.

A and B default to HEAD: comparing a revision with itself shows this machine's noise, the spread
a real difference must clear. Without SGNS_CORPUS the committed sample corpus is used (then
--start and --tokens are cut to what it holds).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Run in a fresh process with the revision's checkout first on the path.
CHILD = """
import json, sys, sgns_helpers
from pathlib import Path
assert Path(sgns_helpers.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve())
from sgns_helpers import corpus, train
ids, vocab = corpus.load_corpus(sys.argv[2], min_count=5)
start, n = int(sys.argv[3]), int(sys.argv[4])
settings = train.make_settings("full", mode=sys.argv[5], epochs=1, checkpoint_every=1e9)
trainer = train.Trainer(settings, ids[start:start + n], vocab)
trainer.run(progress=False)
print(json.dumps({"raw_wps": n / trainer.pos.train_seconds}))
"""


def run(tree, corpus, start, n, mode):
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), corpus, str(start), str(n), mode],
                         env=env, check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])["raw_wps"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", nargs="?", default="HEAD", help="the baseline revision (default HEAD)")
    p.add_argument("b", nargs="?", default="HEAD", help="the revision to compare (default HEAD)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--tokens", type=int, default=2_000_000, help="corpus tokens a run")
    p.add_argument("--start", type=int, default=5_000_000, help="first token of the stretch")
    p.add_argument("--mode", default="pairs", choices=("pairs", "blocks"))
    args = p.parse_args()
    corpus = os.environ.get("SGNS_CORPUS") or str(REPO / "data" / "sample_corpus.txt.gz")
    if not Path(corpus).is_file():
        sys.exit(f"error: the corpus {corpus} does not exist; set SGNS_CORPUS to a corpus file")
    if not os.environ.get("SGNS_CORPUS"):                 # the sample: about 800,000 tokens
        args.start, args.tokens = 0, min(args.tokens, 500_000)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for name, rev in (("A", args.a), ("B", args.b)):
            trees[name] = Path(tmp) / name
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q",
                            str(trees[name]), rev], check=True)
        try:
            ratios = []
            for r in range(args.rounds):
                order = ("A", "B") if r % 2 == 0 else ("B", "A")
                speed = {name: run(trees[name], corpus, args.start, args.tokens, args.mode)
                         for name in order}
                ratios.append(speed["B"] / speed["A"])
                print(f"round {r + 1}: A {speed['A']:>9,.0f}  B {speed['B']:>9,.0f} raw words/s  "
                      f"B/A {ratios[-1]:.2f}", flush=True)
            print(f"{args.mode} mode, {args.tokens:,} tokens a run: B/A median "
                  f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}), "
                  f"A = {args.a}, B = {args.b}")
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                str(tree)], check=False)


if __name__ == "__main__":
    main()
