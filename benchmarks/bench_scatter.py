"""Speed of one in-place SGD step (sgns_helpers.model.sgd_step) for each scatter strategy.

    python benchmarks/bench_scatter.py                        # B = 256, 1024, 4096; float32
    python benchmarks/bench_scatter.py --seconds 2 --batch-sizes 1024 --dtype float64

Prints the table of notebook 03: median µs per batch and pairs per second for every strategy
and batch size, on Zipf-like batches over V words (D dimensions, K negatives). The timing code is
sgns_helpers.model.time_scatter_strategies, which the notebook calls too. Figures vary by machine
and, on a shared machine, from run to run.
"""
from __future__ import annotations

import argparse
import platform

import numpy as np

from sgns_helpers.model import (DEFAULT_SCATTER, SCATTER_STRATEGIES, format_scatter_table,
                                time_scatter_strategies)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--vocab", type=int, default=70_000, help="V, rows of each matrix")
    parser.add_argument("--dim", type=int, default=100, help="D")
    parser.add_argument("--negatives", type=int, default=5, help="K")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="time spent on each (strategy, batch size), after one warm-up call")
    parser.add_argument("--strategies", nargs="+", choices=SCATTER_STRATEGIES,
                        default=list(SCATTER_STRATEGIES))
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.vocab < 2 or args.dim < 1 or args.negatives < 1 \
            or args.seconds < 0:
        parser.error("batch sizes, --vocab, --dim and --negatives must be positive, --seconds >= 0")

    print(f"sgd_step on Zipf-like batches: V={args.vocab:,}, D={args.dim}, K={args.negatives}, "
          f"{args.dtype}; numpy {np.__version__}, {platform.machine()}, "
          f"default scatter {DEFAULT_SCATTER!r}")
    rows = time_scatter_strategies(tuple(args.batch_sizes), V=args.vocab, D=args.dim,
                                   K=args.negatives, dtype=np.dtype(args.dtype),
                                   strategies=tuple(args.strategies), seconds=args.seconds)
    print(format_scatter_table(rows))
    for B in args.batch_sizes:
        mine = [r for r in rows if r["B"] == B]
        best = max(mine, key=lambda r: r["pairs_per_s"])
        print(f"B={B}: fastest {best['strategy']!r}, {best['pairs_per_s']:,.0f} pairs/s")


if __name__ == "__main__":
    main()
