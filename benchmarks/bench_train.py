"""Train this course's trainer and gensim on the same corpus with the same settings, in one run.

    python benchmarks/bench_train.py [--epochs 1 5] [--seeds 1] [--trainers pairs blocks gensim gensim2]
                                     [--extra '{"damping": 0.5}' ...]

The corpus is $SGNS_CORPUS (default: the committed sample). Each (trainer, epochs, seed) trains in
a fresh subprocess so that its peak RSS is its own; the training time excludes loading the corpus
and building the vocabulary, for both. Both sets of vectors are scored by the same evaluator
(Google analogies restricted to the 30,000 most frequent words, 3CosAdd; WS-353 Spearman; and
SimLex-999 Spearman, a similarity set no setting of the course was chosen on).
Prints a Markdown table and writes it, with the raw results, to runs/bench/bench_train.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sgns_helpers.train import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(dim=100, window=5, negatives=5, min_count=5, sample=1e-3, lr=0.025)


def worker_ours(corpus, epochs, seed, out, extra):
    from sgns_helpers import corpus as corpus_mod
    from sgns_helpers.train import Trainer, make_settings

    settings = make_settings("full", corpus=str(corpus), epochs=epochs, seed=seed,
                             checkpoint_every=1e9, **SETTINGS, **extra)
    ids, vocab = corpus_mod.load_corpus(corpus, min_count=settings.min_count)
    trainer = Trainer(settings, ids, vocab)
    trainer.run(progress=False)
    m = trainer.metrics(corpus_mod.corpus_info(corpus))
    from sgns_helpers.formats import save_word2vec_text
    save_word2vec_text(out, vocab.words, trainer.W_in)
    # With worker processes: the trainer's peak, plus the private memory the workers added.
    return dict(seconds=m["train_seconds"], raw_words=vocab.corpus_words * epochs,
                effective_words=trainer.pos.kept_done,
                rss=(peak_rss_mb() or 0) + (trainer.workers_private_mb or 0),
                mode=settings.mode, batch_size=settings.batch_size, damping=settings.damping)


def worker_gensim(corpus, epochs, seed, out, workers):
    from gensim.models import Word2Vec
    from gensim.models.word2vec import Text8Corpus

    sentences = Text8Corpus(str(corpus))          # streams the file, 10,000-word sentences
    model = Word2Vec(sg=1, hs=0, negative=SETTINGS["negatives"], window=SETTINGS["window"],
                     vector_size=SETTINGS["dim"], min_count=SETTINGS["min_count"],
                     sample=SETTINGS["sample"], alpha=SETTINGS["lr"], workers=workers, seed=seed)
    model.build_vocab(sentences)
    t0 = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    seconds = time.perf_counter() - t0
    model.wv.save_word2vec_format(out)
    return dict(seconds=seconds, raw_words=raw, effective_words=effective, rss=peak_rss_mb() or 0)


def run_worker(args):
    corpus, out = Path(args.corpus), Path(args.out)
    if args.worker == "ours":
        result = worker_ours(corpus, args.epochs[0], args.seeds[0], out, json.loads(args.extra[0]))
    else:
        result = worker_gensim(corpus, args.epochs[0], args.seeds[0], out, args.workers)
    from sgns_helpers.evaluate import Embeddings, evaluate_vectors, word_similarity
    emb = Embeddings.from_file(out)
    ev = evaluate_vectors(emb, restrict=30000)
    simlex = word_similarity(emb, ROOT / "data" / "simlex999.txt")
    result.update(analogy=ev["analogy_accuracy"], coverage=ev["analogy_coverage"],
                  semantic=ev.get("semantic_accuracy"), syntactic=ev.get("syntactic_accuracy"),
                  ws353=ev["similarity_spearman"], simlex=simlex["spearman"],
                  simlex_coverage=simlex["coverage"])
    print(json.dumps(result))


def plain_copy(corpus, tmp):
    """gensim's Text8Corpus reads plain or .gz text; a .zip's one member is unpacked to a file."""
    if corpus.suffix != ".zip":
        return corpus
    import shutil
    import zipfile
    path = Path(tmp) / "corpus.txt"
    with zipfile.ZipFile(corpus) as z, z.open(z.namelist()[0]) as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--trainers", nargs="+", default=["pairs", "blocks", "gensim"],
                        help="pairs, blocks (this course's trainer in that mode), blocks2 (blocks with "
                             "2 worker processes), gensim (1 worker), gensim2 (2 workers)")
    parser.add_argument("--extra", nargs="+", default=["{}"],
                        help="JSON of extra settings for our trainer; several: one run each")
    parser.add_argument("--json", default=str(ROOT / "runs" / "bench" / "bench_train.json"),
                        help="where to write the results (default runs/bench/bench_train.json)")
    parser.add_argument("--worker", choices=["ours", "gensim"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker(args)

    from sgns_helpers import corpus as corpus_mod
    corpus = corpus_mod.resolve_corpus(os.environ.get("SGNS_CORPUS") or None, profile="quick")
    info = corpus_mod.corpus_info(corpus)
    print(f"corpus: {info['name']} ({info['bytes']:,} bytes, sha256 {info['sha256']})")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; settings: sg, {SETTINGS}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        text = plain_copy(corpus, tmp)
        for epochs in args.epochs:
            for seed in args.seeds:
                runs = [(t, json.loads(e)) for t in args.trainers
                        for e in (args.extra if t in ("pairs", "blocks", "blocks2") else ["{}"])]
                for trainer, extra in runs:
                    name, workers = ("gensim", 2) if trainer == "gensim2" else ("gensim", 1)
                    if trainer in ("pairs", "blocks", "blocks2"):
                        name = "ours"
                        extra.update(mode=trainer.rstrip("2"), workers=2 if trainer == "blocks2" else 1)
                    cmd = [sys.executable, __file__, "--worker", name, "--corpus",
                           str(corpus if name == "ours" else text), "--out", f"{tmp}/{trainer}.txt",
                           "--epochs", str(epochs), "--seeds", str(seed), "--workers", str(workers),
                           "--extra", json.dumps(extra)]
                    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                    if proc.returncode != 0:
                        sys.exit(f"{trainer} failed:\n{proc.stderr[-2000:]}")
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    label = {"gensim": "gensim, 1 worker", "gensim2": "gensim, 2 workers",
                             "pairs": "ours, pairs mode", "blocks": "ours, blocks mode",
                             "blocks2": "ours, blocks mode, 2 processes"}[trainer]
                    r.update(trainer=label, epochs=epochs, seed=seed)
                    r["raw_wps"] = r["raw_words"] / r["seconds"]
                    r["eff_wps"] = r["effective_words"] / r["seconds"]
                    rows.append(r)
                    print(f"  {r['trainer']}, {epochs} epoch(s), seed {seed}: "
                          f"{r['raw_wps']:,.0f} raw words/s, analogy {100 * r['analogy']:.1f}%, "
                          f"WS-353 {r['ws353']:.3f}", flush=True)
    lines = ["| trainer | epochs | seed | raw words/s | effective words/s | vs gensim 1 worker | "
             "vs gensim 2 workers | peak RSS MB | analogy (30k) | coverage | WS-353 ρ | SimLex ρ |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratios = []
        for name in ("gensim, 1 worker", "gensim, 2 workers"):
            base = [b["raw_wps"] for b in rows if b["trainer"] == name
                    and (b["epochs"], b["seed"]) == (r["epochs"], r["seed"])]
            ratios.append(f"{r['raw_wps'] / base[0]:.2f}×" if base else "–")
            r[f"vs {name}"] = r["raw_wps"] / base[0] if base else None
        lines.append(f"| {r['trainer']} | {r['epochs']} | {r['seed']} | {r['raw_wps']:,.0f} | "
                     f"{r['eff_wps']:,.0f} | {ratios[0]} | {ratios[1]} | {r['rss']:.0f} | "
                     f"{100 * r['analogy']:.1f}% | {100 * r['coverage']:.1f}% | {r['ws353']:.3f} | "
                     + ("–" if r.get("simlex") is None else f"{r['simlex']:.3f}") + " |")
    table = "\n".join(lines)
    print(f"\ncorpus {info['name']} (sha256 {info['sha256'][:16]}…)\n{table}")
    from sgns_helpers.files import atomic_write
    machine = {"machine": platform.machine(), "cores": os.cpu_count(),
               "processor": platform.processor() or None, "python": platform.python_version()}
    with atomic_write(args.json, "w") as f:
        json.dump({"corpus": info, "settings": SETTINGS, "extra": [json.loads(e) for e in args.extra],
                   "machine": machine, "rows": rows, "table": table}, f, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
