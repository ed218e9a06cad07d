"""Speed against quality: blocks mode with several block sizes, shared negatives and dampings,
beside the standard rule and gensim, one epoch each on the same corpus, in one run.

    python benchmarks/bench_tradeoff.py [--epochs 1] [--out runs/bench/tradeoff.json]
        [--plot runs/bench/speed_quality.png]

Each point is one run of benchmarks/bench_train.py (a fresh process a trainer; the corpus is
$SGNS_CORPUS, default the committed sample). Writes the rows, each with a short label, to --out,
and their plot to --plot. (The committed benchmarks/results/tradeoff.json and
docs/speed_quality.png came from `--out benchmarks/results/tradeoff.json --plot
docs/speed_quality.png` on the stand-in corpus.)
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
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench" / "tradeoff.json"))
    parser.add_argument("--plot", default=str(ROOT / "runs" / "bench" / "speed_quality.png"))
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
    from sgns_helpers.files import atomic_write
    sweep = {**head, "epochs": args.epochs, "rows": rows}
    with atomic_write(args.out, "w") as f:
        json.dump(sweep, f, indent=1)
    print(f"wrote {args.out}")
    plot(sweep, args.plot)
    print(f"wrote {args.plot}")


def plot(sweep, path):
    """The speed/quality plot of a sweep: analogy accuracy and WS-353 ρ against raw words/s (log
    scale), one labelled point a run; this course's runs are blue circles, gensim's red squares."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from sgns_helpers.files import atomic_write

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9))
    panels = ((axes[0], "analogy", 100, "analogy accuracy (30k), %"),
              (axes[1], "ws353", 1, "WS-353 Spearman ρ"))
    for ax, key, scale, ylabel in panels:
        for r in sweep["rows"]:
            ours = r["trainer"].startswith("ours")
            ax.scatter(r["raw_wps"] / 1e3, scale * r[key], marker="o" if ours else "s",
                       color="C0" if ours else "C3")
        speeds = [r["raw_wps"] / 1e3 for r in sweep["rows"]]
        ax.set(xscale="log", xlabel="raw words/s (thousands, log scale)", ylabel=ylabel,
               xlim=(min(speeds) / 1.3, max(speeds) * 2))        # room for the labels
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(       # label 2, 3 and 5 of each decade
            lambda v, _: f"{v:,.0f}" if f"{v:.0e}"[0] in "235" else ""))
        ax.tick_params(axis="x", which="minor", labelsize=7)
    fig.suptitle(f"speed vs quality after {sweep['epochs']} epoch(s) on {sweep['corpus']['name']}, "
                 f"{sweep['machine']['cores']} cores (blue: this course's trainer, red: gensim)",
                 fontsize=10)
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    for ax, key, scale, _ in panels:       # each label where it overlaps no label placed before
        placed = []
        for r in sweep["rows"]:
            for dx, dy, ha in ((4, 3, "left"), (4, -10, "left"), (-4, 3, "right"), (-4, -10, "right")):
                label = ax.annotate(r["label"], (r["raw_wps"] / 1e3, scale * r[key]), fontsize=7,
                                    xytext=(dx, dy), textcoords="offset points", ha=ha)
                box = label.get_window_extent(renderer)
                if not any(box.overlaps(other) for other in placed):
                    break
                label.remove()
            else:
                ax.add_artist(label)       # no free place: keep the last try
            placed.append(box)
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110)


if __name__ == "__main__":
    main()
