"""Speed and memory of the data pipeline on one corpus.

    python benchmarks/bench_pipeline.py                       # the committed sample corpus
    SGNS_CORPUS=/path/to/text8.zip python benchmarks/bench_pipeline.py

Prints: load + vocabulary time and peak memory, subsampling, pair generation and negative
sampling rates, and the tokens kept per epoch at sample = 1e-3 and 1e-4.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from sgns_helpers.corpus import corpus_info, load_corpus, resolve_corpus
from sgns_helpers.sampling import NoiseSampler, keep_probabilities, skipgram_pairs, subsample
from sgns_helpers.train import peak_rss_mb


def timed(f, repeat):
    """Best time of ``repeat`` calls of ``f``, in seconds, and the last result."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=None, help="default: $SGNS_CORPUS, else the sample")
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="tokens per pair chunk")
    args = parser.parse_args(argv)

    path = resolve_corpus(args.corpus or os.environ.get("SGNS_CORPUS") or None, profile="quick")
    info = corpus_info(path)
    print(f"corpus: {info['name']} ({info['bytes']:,} bytes, sha256 {info['sha256'][:16]}...)")
    rss0 = peak_rss_mb()

    t = time.perf_counter()
    ids, vocab = load_corpus(path, min_count=args.min_count)
    t_load = time.perf_counter() - t
    rows = [("load + vocabulary", f"{t_load:.2f} s"),
            ("peak RSS after load", f"{peak_rss_mb() or 0:.0f} MB (before: {rss0 or 0:.0f} MB)"),
            ("tokens kept / types", f"{ids.size:,} / {len(vocab):,} (min_count {args.min_count})")]

    rng = np.random.default_rng(0)
    for sample in (1e-3, 1e-4):
        keep = keep_probabilities(vocab.counts, sample)
        dt, kept = timed(lambda: subsample(ids, keep, rng), 1)
        rows.append((f"kept per epoch, sample={sample:g}",
                     f"{kept.size:,} ({kept.size / ids.size:.1%}; expected "
                     f"{float(keep @ vocab.counts):,.0f}); subsample {ids.size / dt / 1e6:.0f} M tok/s"))

    kept = subsample(ids, keep_probabilities(vocab.counts, 1e-3), rng)
    chunks = [kept[i:i + args.chunk] for i in range(0, min(kept.size, 4 * args.chunk), args.chunk)]
    t = time.perf_counter()
    n_pairs = sum(skipgram_pairs(c, args.window, rng)[0].size for c in chunks)
    dt = time.perf_counter() - t
    n_tok = sum(c.size for c in chunks)
    rows.append(("pair generation", f"{n_pairs / dt / 1e6:.1f} M pairs/s ({n_pairs / n_tok:.2f} pairs "
                                    f"per token, window {args.window}, {n_tok:,} tokens)"))

    sampler = NoiseSampler(vocab.counts)
    shape = (args.batch_size, args.negatives)
    calls = 2000
    dt, _ = timed(lambda: [sampler.sample(rng, shape) for _ in range(calls)], 3)
    rows.append(("negative sampling", f"{dt / calls * 1e6:.0f} µs per {shape} draw, "
                                      f"{calls * shape[0] * shape[1] / dt / 1e6:.0f} M samples/s"))

    cdf = np.cumsum(sampler.p)
    dt2, _ = timed(lambda: [np.searchsorted(cdf, rng.random(shape) * cdf[-1], side="right")
                            for _ in range(calls // 4)], 3)
    rows.append(("  (searchsorted, for comparison)", f"{dt2 / (calls // 4) * 1e6:.0f} µs per draw"))

    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
