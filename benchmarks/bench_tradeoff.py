"""Speed against quality: blocks mode with several block sizes, shared negatives and dampings,
beside the standard rule and gensim, one epoch each on the same corpus, in one run.

    python benchmarks/bench_tradeoff.py [--epochs 1] [--out benchmarks/results/tradeoff.json]
        [--plot docs/speed_quality.png]

Each point is one run of benchmarks/bench_train.py (a fresh process a trainer; the corpus is
$SGNS_CORPUS, default the committed sample). Writes the rows, each with a short label, to --out,
and their plot (train.plot_speed_quality, as in notebook 06) to --plot.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (label, trainer of bench_train.py, extra settings). The first blocks row is the default.
POINTS = [
    ("gensim 1w", "gensim", {}),
    ("pairs", "pairs", {}),
    ("S16 Kb16 B256", "blocks", {}),
    ("S16 Kb16 B512", "blocks", {"batch_size": 512}),
    ("S16 Kb5 B256", "blocks", {"shared_negatives": 5}),
    ("S16 Kb32 B256", "blocks", {"shared_negatives": 32}),
    ("S8 Kb8 B256", "blocks", {"block_size": 8, "shared_negatives": 8}),
    ("S32 Kb32 B256", "blocks", {"block_size": 32, "shared_negatives": 32}),
    ("S16 Kb16 B256 d0.5", "blocks", {"damping": 0.5}),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tradeoff.json"))
    parser.add_argument("--plot", default=str(ROOT / "docs" / "speed_quality.png"))
    args = parser.parse_args()
    rows, head = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for label, trainer, extra in POINTS:
            out = Path(tmp) / "point.json"
            cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_train.py"), "--epochs",
                   str(args.epochs), "--seeds", str(args.seed), "--trainers", trainer,
                   "--extra", json.dumps(extra), "--json", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                sys.exit(f"{label} failed:\n{proc.stderr[-2000:]}")
            result = json.loads(out.read_text())
            head = head or {k: result[k] for k in ("corpus", "settings", "machine")}
            row = dict(result["rows"][0], label=label, extra=extra)
            rows.append(row)
            print(f"{label:<24} {row['raw_wps']:>11,.0f} raw words/s  analogy "
                  f"{100 * row['analogy']:5.1f}%  WS-353 {row['ws353']:.3f}", flush=True)
    from sgns_helpers.embeddings import atomic_write
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out, "w") as f:
        json.dump({**head, "epochs": args.epochs, "rows": rows}, f, indent=1)
    print(f"wrote {args.out}")
    plot(json.loads(Path(args.out).read_text()), args.plot)
    print(f"wrote {args.plot}")


def plot(sweep, path):
    """The speed/quality plot of a sweep's results."""
    import matplotlib
    matplotlib.use("Agg")
    from sgns_helpers.train import plot_speed_quality
    plot_speed_quality(sweep["rows"], path, title=(
        f"speed vs quality after {sweep['epochs']} epoch(s) on {sweep['corpus']['name']}, "
        f"{sweep['machine']['cores']} cores (blue: this course's trainer, red: gensim)"))


if __name__ == "__main__":
    main()
