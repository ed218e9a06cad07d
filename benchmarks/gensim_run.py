"""Train gensim's Word2Vec with the settings of one of the course's profiles, into a run folder:
the reference vectors that notebook 08 sets beside the course's own.

    python benchmarks/gensim_run.py [--profile full|quick] [--out DIR] [--workers 2]

The corpus is the profile's (``$SGNS_CORPUS`` or text8 for ``full``, the committed sample for
``quick``); the settings are the profile's: skip-gram with negative sampling, the same K, window,
D, min_count, subsampling threshold, epochs and learning rate (decayed to 1e-4 of its start, as
in the course's schedule). Writes DIR/vectors.npz (words, vectors, counts) and DIR/metrics.json
(settings, corpus, training seconds); DIR defaults to ``runs/<profile>-<corpus>-gensim``, beside
the folders of ``make train``. ``make gensim`` runs it for the full profile.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from sgns_helpers.cli import default_out_dir
from sgns_helpers.corpus import corpus_info, open_corpus, resolve_corpus
from sgns_helpers.files import atomic_write, run_folder
from sgns_helpers.formats import save_npz
from sgns_helpers.train import make_settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("quick", "full"), default="full")
    parser.add_argument("--out", default=None, help="run folder (default: runs/<profile>-<corpus>-gensim)")
    parser.add_argument("--workers", type=int, default=2, help="gensim's worker threads (2)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    from gensim.models import Word2Vec
    from gensim.models.word2vec import Text8Corpus

    s = make_settings(args.profile)
    path = resolve_corpus(s.corpus, profile=s.profile)
    out = Path(args.out) if args.out else Path(f"{default_out_dir(s, path)}-gensim")
    info = corpus_info(path)
    with run_folder(out), tempfile.TemporaryDirectory() as tmp:
        text = path
        if zipfile.is_zipfile(path):                 # Text8Corpus reads plain text or .gz only
            text = Path(tmp) / "corpus.txt"
            with open_corpus(path) as src, open(text, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
        sentences = Text8Corpus(str(text))           # streams the file, 10,000-word sentences
        model = Word2Vec(sg=1, hs=0, negative=s.negatives, window=s.window, vector_size=s.dim,
                         min_count=s.min_count, sample=s.sample, alpha=s.lr,
                         min_alpha=s.lr * 1e-4, workers=args.workers, seed=args.seed)
        model.build_vocab(sentences)
        t0 = time.perf_counter()
        model.train(sentences, total_examples=model.corpus_count, epochs=s.epochs)
        seconds = time.perf_counter() - t0
        words = model.wv.index_to_key
        counts = [model.wv.get_vecattr(w, "count") for w in words]
        save_npz(out / "vectors.npz", words, model.wv.vectors, counts=counts)
        metrics = {"trainer": f"gensim {sys.modules['gensim'].__version__}, {args.workers} worker(s)",
                   "settings": {k: getattr(s, k) for k in ("profile", "epochs", "dim", "window",
                                                             "negatives", "min_count", "sample",
                                                             "lr")} | {"seed": args.seed},
                   "corpus": info, "vocabulary_size": len(words), "train_seconds": round(seconds, 1),
                   "machine": {"machine": platform.machine(), "python": platform.python_version()}}
        with atomic_write(out / "metrics.json", "w") as f:
            json.dump(metrics, f, indent=1)
    print(f"gensim: {len(words):,} words, {s.epochs} epoch(s) in {seconds:.0f} s; wrote {out}/")


if __name__ == "__main__":
    main()
