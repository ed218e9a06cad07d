"""The command line, ``python -m sgns_helpers download|train|evaluate``, and what a run writes.

Every error is one clear line on stderr and a non-zero exit, never a traceback
(set ``SGNS_DEBUG=1`` to see the traceback).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from . import corpus as corpus_mod
from .files import atomic_write, repo_root, run_folder
from .train import Settings, Trainer, make_settings, read_checkpoint

# The helpers report what a user can fix (a wrong path, a corrupt download, a nonsense setting, a
# diverging run) with these built-in exceptions and a message that says what to do.
USER_ERRORS = (OSError, ValueError, RuntimeError, EOFError)


# ---------------------------------------------------------------------------------------------
# A training run and its outputs
# ---------------------------------------------------------------------------------------------

def default_out_dir(settings, corpus_path):
    """``<repo>/runs/<profile>-<corpus name>``, with ``-blocks`` for that mode: the same folder
    from the command line and the notebooks."""
    name = Path(corpus_path).name.split(".")[0]
    mode = "" if settings.mode == "pairs" else f"-{settings.mode}"
    return repo_root() / "runs" / f"{settings.profile}-{name}{mode}"


def describe_mode(s):
    """One line on the update rule of settings ``s``."""
    if s.mode == "pairs":
        return (f"pairs (minibatch SGNS: {s.batch_size} shuffled pairs a step, K={s.negatives} "
                f"negatives each, damping {s.damping})")
    from .fast import centres_per_update
    return (f"blocks ({centres_per_update(s)} consecutive centres an update, blocks of "
            f"{s.block_size} sharing {s.shared_negatives} negatives, damping {s.damping}, "
            f"{s.workers} process{'es' if s.workers > 1 else ''}; --mode pairs for the standard "
            f"rule)")


#: What ``--resume`` may change: how often to checkpoint and how many processes work; every
#: other setting decides the arithmetic of the run, which a resumed run continues unchanged.
RESUMABLE = ("checkpoint_every", "workers")


def resume_conflicts(saved, given):
    """The options in ``given`` ({setting: value} set on the command line) that differ from the
    ``saved`` settings of a checkpoint and may not change on resume, as readable phrases."""
    return [f"--{k.replace('_', '-')} {v} (the run has {saved.get(k)!r})" for k, v in given.items()
            if k not in RESUMABLE + ("corpus",) and saved.get(k) != v]


def start_run(settings, corpus_path, out_dir, resume=False, given=None):
    """The Trainer of a new run, or of the one saved in ``out_dir`` (``resume``), with its
    corpus loaded; its checkpoints go to ``out_dir/checkpoint.npz``. On ``resume``, ``given``
    holds the settings set explicitly on the command line: those that may not change
    (see RESUMABLE) must equal the checkpoint's. Returns ``(trainer, corpus_info)``."""
    ckpt, info = Path(out_dir) / "checkpoint.npz", corpus_mod.corpus_info(corpus_path)
    if resume:
        if not ckpt.exists():
            raise FileNotFoundError(f"no checkpoint to resume in {out_dir}; run without --resume")
        saved = read_checkpoint(ckpt, weights=False)[0]
        conflicts = resume_conflicts(saved["settings"], given or {})
        if conflicts:
            raise ValueError(f"--resume continues the run as it was started, but "
                             f"{', '.join(conflicts)}; only --checkpoint-every and --workers may "
                             f"change: drop the others, or start anew with another --out")
        if saved.get("corpus_sha256") not in (None, info["sha256"]):
            raise ValueError(f"the checkpoint in {out_dir} was trained on another corpus than "
                             f"{corpus_path}; give the same --corpus (or SGNS_CORPUS) to resume")
        ids, vocab = corpus_mod.load_corpus(corpus_path, min_count=saved["settings"]["min_count"])
        trainer = Trainer.resume(ckpt, ids, vocab)
        changes = {k: v for k, v in (given or {}).items() if k in RESUMABLE}
        trainer.settings = dataclasses.replace(trainer.settings, **changes).validate()
    else:
        if ckpt.exists() and not read_checkpoint(ckpt, weights=False)[0].get("finished"):
            raise ValueError(f"{out_dir} holds an unfinished run: add --resume to continue it, "
                             f"or choose another --out")
        ids, vocab = corpus_mod.load_corpus(corpus_path, min_count=settings.min_count)
        trainer = Trainer(settings, ids, vocab, checkpoint_path=ckpt)
    trainer.corpus_sha256 = info["sha256"]
    return trainer, info


class RunMissing(FileNotFoundError):
    """A notebook needs a finished run that has not been made: the message says how to make it."""


def require_finished_run(out_dir, make_command):
    """The metrics of the finished run that ``make_command`` writes to ``out_dir``; raises
    :class:`RunMissing` naming the command if the run is not there or not finished. (The state
    itself is ``Trainer.resume(out_dir / "checkpoint.npz", ids, vocab)``.)"""
    out_dir, why = Path(out_dir), None
    if not (out_dir / "metrics.json").is_file() or not (out_dir / "checkpoint.npz").is_file():
        why = "there is no finished run"
    elif not read_checkpoint(out_dir / "checkpoint.npz", weights=False)[0].get("finished"):
        why = "the run there is not finished"
    if why:
        raise RunMissing(f"{why} in {out_dir}: make it with `{make_command}` from the course's "
                         f"folder (with SGNS_CORPUS set as for this notebook), then run this "
                         f"notebook again")
    return json.loads((out_dir / "metrics.json").read_text())


def write_outputs(trainer, out_dir, corpus_info):
    """vectors.txt, vectors.npz, metrics.json and loss.png in ``out_dir``. Returns the metrics."""
    import matplotlib.pyplot as plt

    from .formats import save_npz, save_word2vec_text
    from .plots import plot_loss

    out_dir = Path(out_dir)
    words, W_in = trainer.vocab.words, trainer.W_in
    save_word2vec_text(out_dir / "vectors.txt", words, W_in)
    save_npz(out_dir / "vectors.npz", words, W_in, counts=trainer.vocab.counts)
    metrics = trainer.metrics(corpus_info)
    with atomic_write(out_dir / "metrics.json", "w") as f:
        json.dump(metrics, f, indent=1)
    plt.close(plot_loss(trainer.history, out_dir / "loss.png",
                        title=f"SGNS loss on {corpus_info['name']}"))
    return metrics


def evaluate_run(out_dir, corpus_info):
    """Score ``out_dir/vectors.npz``: evaluation.json and pca.png beside it. Returns the report
    text and the names of the files written."""
    import matplotlib.pyplot as plt

    from . import evaluate
    from .plots import pca_panels

    out_dir = Path(out_dir)
    emb = evaluate.Embeddings.from_file(out_dir / "vectors.npz")
    result = evaluate.evaluate_vectors(emb)
    result["corpus"] = corpus_info
    with atomic_write(out_dir / "evaluation.json", "w") as f:
        json.dump(result, f, indent=1)
    fig, drawn = pca_panels(emb, f"SGNS vectors trained on {corpus_info['name']}",
                            out_dir / "pca.png")
    plt.close(fig)
    return evaluate.format_report(result), ["evaluation.json"] + (["pca.png"] if drawn else [])


# ---------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------

def _download(args):
    print(corpus_mod.download_text8(args.dest))


def _train(args):
    """``train``: take the output folder (before any work, so that a place that cannot be
    written, or another run in it, fails at once), train or resume, write the outputs, print
    neighbours and the evaluation."""
    os.environ.setdefault("MPLBACKEND", "Agg")              # pictures go to files
    names = {f.name for f in dataclasses.fields(Settings)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    settings = make_settings(args.profile, **{k: v for k, v in given.items() if k != "profile"})
    path = corpus_mod.resolve_corpus(settings.corpus, profile=settings.profile)
    out_dir = Path(args.out) if args.out else default_out_dir(settings, path)
    with run_folder(out_dir):
        trainer, info = start_run(settings, path, out_dir, args.resume, given)
        s = trainer.settings
        print(f"corpus: {info['name']} ({info['bytes']:,} bytes, sha256 {info['sha256'][:12]}…)")
        print(f"vocabulary: {len(trainer.vocab):,} words (min_count {s.min_count}); "
              f"{len(trainer.ids):,} tokens; {s.epochs} epoch(s), D={s.dim}, window={s.window}, "
              f"K={s.negatives}, sample={s.sample}, lr={s.lr}, seed={s.seed}")
        print(f"update rule: {describe_mode(s)}")
        try:
            trainer.run()
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"interrupted: a checkpoint is saved in {out_dir}; "
                                    f"continue with the same command and --resume") from None
        metrics = write_outputs(trainer, out_dir, info)
        rss = metrics["peak_rss_mb"]
        print(f"\n{metrics['raw_words_per_second']:,} raw words/s, "
              f"{metrics['train_seconds']:.0f} s" + ("" if rss is None else f", peak RSS {rss:.0f} MB"))
        print("nearest neighbours:")
        for word, ns in trainer.neighbours(s.probes, topn=8).items():
            print(f"  {word:>10}: " + ", ".join(f"{n} ({c:.2f})" for n, c in ns))
        report, written = evaluate_run(out_dir, info)
    files = ["vectors.txt", "vectors.npz", "metrics.json", "loss.png", *written]
    print(f"\n{report}\noutputs in {out_dir}/: {', '.join(files)}")


def _evaluate(args):
    from . import evaluate
    result = evaluate.evaluate_vectors(args.vectors, analogies=args.analogies,
                                       similarity=args.similarity, restrict=args.restrict)
    print(json.dumps(result, indent=2) if args.json else evaluate.format_report(result))


#: The options of ``train`` that set a field of Settings: (flags, type, help).
TRAIN_OPTIONS = [
    ("--epochs", int, None), ("--dim", int, None), ("--window", int, None),
    ("--negatives", int, None), ("--min-count", int, None), ("--sample", float, None),
    ("--lr", float, None), ("--seed", int, None),
    ("--batch-size", int, "pairs a step (pairs mode, 1024); centres an update (blocks mode, 256)"),
    ("--damping", float, "a row updated n times in one step moves by n^-damping times its summed "
                         "update (0: plain sum, the default in pairs mode; 0.35 in blocks mode)"),
    ("--block-size", int, "blocks mode: consecutive centres that share their negatives (16)"),
    ("--shared-negatives", int, "blocks mode: negatives a block (16)"),
    ("--workers", int, "blocks mode: processes updating the shared weights (1: reproducible)"),
    ("--checkpoint-every", float, "seconds between checkpoints (default 300)"),
]


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
    p.add_argument("--mode", choices=("pairs", "blocks"),
                   help="update rule: minibatch SGNS (pairs, the default here; make train uses "
                   "blocks), or consecutive centres sharing their negatives (blocks)")
    for flag, kind, text in TRAIN_OPTIONS:
        p.add_argument(flag, type=kind, help=text)
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
    """Run one command; returns the exit code (0, 2 for an error a user can fix, 130 if
    interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except USER_ERRORS as exc:
        if os.environ.get("SGNS_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(exc.args[0] if exc.args else "interrupted", file=sys.stderr)
        return 130
    return 0
