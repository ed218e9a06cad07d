"""Speed of the ways to add up the update rows of repeated ids (the scatter of a training step).

    python benchmarks/bench_scatter.py                        # B = 256, 1024, 4096; float32
    python benchmarks/bench_scatter.py --seconds 2 --batch-sizes 1024 --dtype float64

The W_out half of a step of the standard rule: B·(K+1) rows (a context and K negatives for each
of B pairs, ids repeating as words do in text) are added up by id. Four routes, all giving the
same sums (checked before timing):

* ``add.at``: ``np.add.at(sums, inverse, rows)``, unbuffered and repeat-safe;
* ``bincount``: the rows flattened, ``np.bincount`` of ``inverse·D + column`` with weights;
* ``reduceat``: the rows sorted by id, ``np.add.reduceat`` over each run;
* ``sparse``: the (U, N) summing matrix of ``sgns_helpers.model.summing_matrix`` times the rows
  (what ``sgd_step`` does).

Prints the median µs per batch and rows per second for every route and batch size (each route's
own grouping of the ids included). Figures vary by machine and, on a shared machine, from run to
run.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from sgns_helpers.model import summing_matrix
from sgns_helpers.sampling import zipf_batch


def sums_add_at(ids, rows):
    uniq, inverse = np.unique(ids, return_inverse=True)
    sums = np.zeros((uniq.size, rows.shape[1]), rows.dtype)
    np.add.at(sums, inverse, rows)
    return uniq, sums


def sums_bincount(ids, rows):
    uniq, inverse = np.unique(ids, return_inverse=True)
    D = rows.shape[1]
    bins = (inverse[:, None] * D + np.arange(D)).reshape(-1)
    return uniq, np.bincount(bins, weights=rows.reshape(-1), minlength=uniq.size * D).reshape(-1, D)


def sums_reduceat(ids, rows):
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    return sorted_ids[starts], np.add.reduceat(rows[order], starts, axis=0)


def sums_sparse(ids, rows):
    S, uniq, _, _ = summing_matrix(ids, dtype=rows.dtype)
    return uniq, S @ rows


ROUTES = {"add.at": sums_add_at, "bincount": sums_bincount, "reduceat": sums_reduceat,
          "sparse": sums_sparse}


def time_routes(batch_sizes, V, D, K, dtype, seconds, seed=0):
    """One row ``{route, B, us_per_batch, rows_per_s}`` for each batch size and route."""
    rng = np.random.default_rng(seed)
    results = []
    for B in batch_sizes:
        batches = []
        for _ in range(4):
            _, contexts, negatives = zipf_batch(V, B, K, rng)
            ids = np.concatenate((contexts[:, None], negatives), axis=1).reshape(-1)
            batches.append((ids, rng.normal(size=(ids.size, D)).astype(dtype)))
        reference = sums_add_at(*batches[0])
        for name, route in ROUTES.items():
            uniq, sums = route(*batches[0])                   # also the warm-up call
            assert np.array_equal(uniq, reference[0])
            assert np.allclose(sums, reference[1], rtol=1e-4, atol=1e-5)
            times, start = [], time.perf_counter()
            while len(times) < 3 or time.perf_counter() - start < seconds:
                ids, rows = batches[len(times) % 4]
                t0 = time.perf_counter()
                route(ids, rows)
                times.append(time.perf_counter() - t0)
            median = float(np.median(times))
            results.append({"route": name, "B": B, "us_per_batch": 1e6 * median,
                            "rows_per_s": B * (K + 1) / median})
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--vocab", type=int, default=70_000, help="V, rows of each matrix")
    parser.add_argument("--dim", type=int, default=100, help="D")
    parser.add_argument("--negatives", type=int, default=5, help="K")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="time spent on each (route, batch size), after one warm-up call")
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.vocab < 2 or args.dim < 1 or args.negatives < 1 \
            or args.seconds < 0:
        parser.error("batch sizes, --vocab, --dim and --negatives must be positive, --seconds >= 0")
    print(f"summing B·(K+1) update rows by id on Zipf-like batches: V={args.vocab:,}, "
          f"D={args.dim}, K={args.negatives}, {args.dtype}; numpy {np.__version__}, "
          f"{platform.machine()}")
    rows = time_routes(args.batch_sizes, args.vocab, args.dim, args.negatives,
                       np.dtype(args.dtype), args.seconds)
    print(f"{'route':>9} {'B':>5} {'µs/batch':>10} {'rows/s':>12}")
    for r in rows:
        print(f"{r['route']:>9} {r['B']:>5d} {r['us_per_batch']:>10,.0f} {r['rows_per_s']:>12,.0f}")
    for B in args.batch_sizes:
        best = max((r for r in rows if r["B"] == B), key=lambda r: r["rows_per_s"])
        print(f"B={B}: fastest {best['route']!r}")


if __name__ == "__main__":
    main()
