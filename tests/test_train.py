import dataclasses
import json
import signal
import sys
import time

import numpy as np
import pytest

from conftest import run_cli
from sgns_helpers import corpus as corpus_mod
from sgns_helpers import train as train_mod
from sgns_helpers.model import loss_and_grads
from sgns_helpers.sampling import NoiseSampler
from sgns_helpers.train import Trainer, init_weights, learning_rate, make_settings

def small_settings(corpus, **kw):
    base = dict(corpus=str(corpus), epochs=2, dim=16, min_count=3, batch_size=256,
                chunk_tokens=20_000, log_points=20, checkpoint_every=0, seed=7, probe_times=2)
    base.update(kw)
    return make_settings("quick", **base)


def trained(corpus, **kw):
    s = small_settings(corpus, **kw)
    ids, vocab = corpus_mod.load_corpus(corpus, min_count=s.min_count)
    return Trainer(s, ids, vocab).run(progress=False)


# -- settings ---------------------------------------------------------------------------------------

def test_profiles_and_overrides():
    quick, full = make_settings("quick"), make_settings("full")
    assert full.dim == 100 and full.window == 5 and full.negatives == 5 and full.min_count == 5
    assert full.sample == 1e-3 and full.epochs == 5
    assert quick.dim < full.dim and quick.epochs <= full.epochs
    assert make_settings("full", dim=None, window=3).window == 3   # None means "not given"
    blocks = make_settings("full", mode="blocks")
    assert (blocks.batch_size, blocks.damping) == (256, 0.35)      # the blocks mode's own defaults
    assert make_settings("full", mode="blocks", damping=0.0).damping == 0.0


@pytest.mark.parametrize("bad, message", [
    (dict(epochs=0), "--epochs"), (dict(window=0), "--window"), (dict(negatives=0), "--negatives"),
    (dict(sample=0.0), "--sample"), (dict(sample=-1e-3), "--sample"), (dict(lr=-0.1), "--lr"),
    (dict(lr=5.0), "--lr"), (dict(batch_size=0), "--batch-size"), (dict(dim=0), "--dim"),
    (dict(min_count=0), "--min-count"),
])
def test_nonsense_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        make_settings("quick", **bad)
    with pytest.raises(ValueError):
        make_settings("nonsense")


def test_learning_rate_decays_linearly_to_a_floor():
    assert learning_rate(0.025, 0.0) == 0.025
    assert learning_rate(0.025, 0.5) == pytest.approx(0.0125)
    assert learning_rate(0.025, 1.0) == pytest.approx(0.025 * 1e-4)
    assert learning_rate(0.025, 2.0) == pytest.approx(0.025 * 1e-4)


def test_word2vec_initialisation():
    W_in, W_out = init_weights(1000, 50, np.random.default_rng(0))
    assert W_in.dtype == W_out.dtype == np.float32
    assert np.abs(W_in).max() <= 0.5 / 50 and np.abs(W_in).max() > 0.45 / 50
    assert not W_out.any()


# -- the update ---------------------------------------------------------------------------------------

def test_one_pairs_step_equals_the_dense_reference():
    """The trainer's step (damping 0, summed over the batch) is W − lr·B·dW of loss_and_grads,
    whose loss is the batch mean; repeated ids everywhere."""
    rng = np.random.default_rng(3)
    V, D, B, K = 12, 6, 40, 5
    W_in = rng.normal(scale=0.3, size=(V, D))
    W_out = rng.normal(scale=0.3, size=(V, D))
    centres, contexts = rng.integers(0, V, B), rng.integers(0, V, B)
    counts = rng.integers(1, 50, V)
    settings = make_settings("quick", negatives=K, damping=0.0)
    sampler = NoiseSampler(counts)
    negatives = sampler.sample(np.random.default_rng(9), (B, K))
    lr = 0.05
    loss, dW_in, dW_out = loss_and_grads(W_in, W_out, centres, contexts, negatives)
    A, O = W_in.copy(), W_out.copy()
    step_loss, pairs = train_mod.pairs_step(A, O, centres, contexts, 0, lr,
                                            np.random.default_rng(9), sampler, settings)
    assert pairs == B
    assert step_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(A, W_in - lr * B * dW_in, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(O, W_out - lr * B * dW_out, rtol=1e-12, atol=1e-14)


# -- runs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["pairs", "blocks"])
def test_training_lowers_the_loss_and_same_seed_gives_identical_vectors(small_corpus, mode):
    a = trained(small_corpus, mode=mode)
    b = trained(small_corpus, mode=mode)
    c = trained(small_corpus, seed=8, mode=mode)
    assert a.history["loss"][-1] < a.history["loss"][0] - 0.2
    np.testing.assert_array_equal(a.W_in, b.W_in)
    np.testing.assert_array_equal(a.W_out, b.W_out)
    assert not np.array_equal(a.W_in, c.W_in)
    assert a.pos.epoch == 2 and a.pos.pairs_done > 0
    assert len(a.history["probes"]) >= 2


@pytest.mark.parametrize("mode", ["pairs", "blocks"])
def test_resume_from_a_checkpoint_mid_chunk_is_exact(small_corpus, tmp_path, mode):
    small = dict(batch_size=64) if mode == "blocks" else {}    # enough batches a chunk
    reference = trained(small_corpus, mode=mode, **small)
    s = small_settings(small_corpus, mode=mode, **small)
    ids, vocab = corpus_mod.load_corpus(small_corpus, min_count=s.min_count)
    ckpt = tmp_path / "checkpoint.npz"
    first = Trainer(s, ids, vocab, checkpoint_path=ckpt)
    # Stop after some batches by raising from the update rule once a mid-chunk checkpoint exists.
    calls = {"n": 0}
    real = train_mod.update_rule(mode)

    def stopping_step(*args):
        calls["n"] += 1
        if calls["n"] == 57:
            raise RuntimeError("stop")
        return real.step(*args)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(train_mod, "update_rule", lambda mode: dataclasses.replace(real, step=stopping_step))
        with pytest.raises(RuntimeError, match="stop"):
            first.run(progress=False)
    resumed = Trainer.resume(ckpt, ids, vocab)
    assert 0 < resumed.pos.batch and resumed.pos.rng_state is not None
    resumed.run(progress=False)
    np.testing.assert_array_equal(resumed.W_in, reference.W_in)
    np.testing.assert_array_equal(resumed.W_out, reference.W_out)


def poisoned_run(corpus, tmp_path, at_call, **kw):
    """A pairs run whose rarest word's input row becomes NaN just before step ``at_call``.
    Returns the trainer, its checkpoint path, and the number of history points before the NaN."""
    s = small_settings(corpus, mode="pairs", **kw)
    ids, vocab = corpus_mod.load_corpus(corpus, min_count=s.min_count)
    ckpt = tmp_path / "checkpoint.npz"
    t = Trainer(s, ids, vocab, checkpoint_path=ckpt)
    real = train_mod.update_rule("pairs")
    seen = {"calls": 0, "logged": None}

    def poisoned(W_in, *args):
        seen["calls"] += 1
        if seen["calls"] == at_call:
            W_in[len(vocab) - 1] = np.nan           # a rarely used row blows up
            seen["logged"] = len(t.history["words"])
        return real.step(W_in, *args)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(train_mod, "update_rule", lambda mode: dataclasses.replace(real, step=poisoned))
        with pytest.raises(RuntimeError, match="diverged.*lower --lr") as error:
            t.run(progress=False)
    return t, ckpt, seen["logged"], str(error.value)


def test_a_diverging_run_stops_at_the_next_log_point(small_corpus, tmp_path):
    t, ckpt, logged, message = poisoned_run(small_corpus, tmp_path, 35, checkpoint_every=1e9,
                                            log_points=200)
    assert len(t.history["words"]) == logged > 0    # no loss was recorded after the NaN
    assert not ckpt.exists() and "no checkpoint had been written" in message


def test_a_diverging_run_keeps_its_last_good_checkpoint(small_corpus, tmp_path):
    t, ckpt, _, message = poisoned_run(small_corpus, tmp_path, 35)
    assert str(ckpt) in message
    ids, vocab = corpus_mod.load_corpus(small_corpus, min_count=3)
    good = Trainer.resume(ckpt, ids, vocab)
    assert np.isfinite(good.W_in).all() and good.pos.batch == 34   # the step before the NaN


def test_a_diverging_blocks_run_stops_within_one_log_interval(small_corpus, monkeypatch):
    s = small_settings(small_corpus, mode="blocks", batch_size=16, lr=1.0, log_points=100)
    ids, vocab = corpus_mod.load_corpus(small_corpus, min_count=s.min_count)
    t = Trainer(s, ids, vocab)
    rule = train_mod.update_rule("blocks")
    seen = {"logged": None}

    def watched(W_in, W_out, *args):
        loss, pairs = rule.step(W_in, W_out, *args)
        sane = loss < 3 * 6 * np.log(2) and max(np.sqrt(np.mean(W.astype(float) ** 2))
                                                for W in (W_in, W_out)) < 10
        if seen["logged"] is None and not sane:        # the points logged before it blew up
            seen["logged"] = len(t.history["words"])
        return loss, pairs

    monkeypatch.setattr(train_mod, "update_rule", lambda mode: dataclasses.replace(rule, step=watched))
    with pytest.raises(RuntimeError, match="diverged"):
        t.run(progress=False)
    assert seen["logged"] is not None and len(t.history["words"]) == seen["logged"]
    assert t.pos.words_done < t.total_words / 2


def test_cli_a_diverging_run_ends_with_one_clear_line_and_no_vectors(small_corpus, tmp_path):
    out = tmp_path / "diverged"
    proc = run_cli("train", "--corpus", str(small_corpus), "--out", str(out), *CLI_SMALL,
                   *CLI_MODES["blocks"], "--lr", "1", cwd=tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1].startswith("error: training diverged")
    assert "Warning" not in err and "Traceback" not in err
    assert not list(out.glob("vectors.*"))


@pytest.mark.parametrize("mode, batch_size", [("pairs", 256), ("blocks", 16)])
def test_logs_probes_and_checkpoints_go_by_words_and_seconds(small_corpus, monkeypatch, mode,
                                                             batch_size):
    """The regime of a real run: far fewer steps a chunk than any fixed logging interval (a
    blocks step of the real run takes 4,096 kept tokens, and a chunk 1M tokens)."""
    s = small_settings(small_corpus, mode=mode, batch_size=batch_size, chunk_tokens=2_000,
                       log_points=120, probe_times=4, checkpoint_every=1e-9)
    ids, vocab = corpus_mod.load_corpus(small_corpus, min_count=s.min_count)
    rule = train_mod.update_rule(mode)
    steps = []
    monkeypatch.setattr(train_mod, "update_rule", lambda mode: dataclasses.replace(
        rule, n_steps=lambda data, s: steps.append(rule.n_steps(data, s)) or steps[-1]))
    saved = []
    monkeypatch.setattr(Trainer, "checkpoint", lambda self, path: saved.append(self.pos.words_done))
    t = Trainer(s, ids, vocab, checkpoint_path="unused.npz").run(progress=False)
    assert max(steps) < 50 and sum(steps) > 2 * s.log_points        # few steps a chunk
    words = t.history["words"]
    assert len(words) == len(t.history["loss"]) == s.log_points
    assert np.all(np.diff(words) > 0) and words[-1] == t.total_words
    assert np.all(np.diff(words) <= 2 * t.total_words / s.log_points)  # evenly over the run
    assert [p["words"] for p in t.history["probes"]][-1] == t.total_words
    assert len(t.history["probes"]) == s.probe_times
    assert len(saved) > sum(steps) // 2 and 0 < saved[len(saved) // 2] < t.total_words


# -- the command line -------------------------------------------------------------------------------

CLI_SMALL = ["--epochs", "2", "--dim", "16", "--min-count", "3", "--batch-size", "64",
             "--seed", "5", "--checkpoint-every", "0.2"]
#: Blocks mode takes 16 updates of --batch-size centres a step: smaller updates, more steps.
CLI_MODES = {"pairs": ["--mode", "pairs"], "blocks": ["--mode", "blocks", "--batch-size", "16"]}


def start_until_first_checkpoint(corpus, out, *extra):
    """Start a small CLI run into ``out`` and return its process once it has written a checkpoint."""
    proc = run_cli("train", "--corpus", str(corpus), "--out", str(out), *CLI_SMALL, *extra,
                   cwd=out.parent)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline \
            and proc.poll() is None:
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("mode", ["pairs", "blocks"])
def test_cli_kill_9_and_resume_gives_the_vectors_of_an_uninterrupted_run(small_corpus, tmp_path,
                                                                          mode):
    args = [*CLI_SMALL, *CLI_MODES[mode]]
    full = run_cli("train", "--corpus", str(small_corpus), "--out", str(tmp_path / "a"), *args,
                   cwd=tmp_path)
    out, err = full.communicate(timeout=300)
    assert full.returncode == 0, err
    assert "nearest neighbours" in out

    proc = start_until_first_checkpoint(small_corpus, tmp_path / "b", *CLI_MODES[mode])
    time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed: make it longer"
    proc.kill()                                     # SIGKILL (TerminateProcess on Windows)
    proc.communicate()
    assert not (tmp_path / "b" / "vectors.npz").exists()
    meta = train_mod.read_checkpoint(tmp_path / "b" / "checkpoint.npz")[0]
    assert not meta["finished"] and meta["position"]["batch"] > 0     # killed mid-run

    again = run_cli("train", "--corpus", str(small_corpus), "--out", str(tmp_path / "b"), *args,
                    cwd=tmp_path)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 2 and "--resume" in err and "Traceback" not in err

    resumed = run_cli("train", "--corpus", str(small_corpus), "--out", str(tmp_path / "b"),
                      "--resume", cwd=tmp_path)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    with np.load(tmp_path / "a" / "vectors.npz") as a, np.load(tmp_path / "b" / "vectors.npz") as b:
        np.testing.assert_array_equal(a["vectors"], b["vectors"])
    history = [json.loads((tmp_path / run / "metrics.json").read_text())["history"]
               for run in "ab"]
    assert history[0] == history[1]                 # the same loss curve and probes, too

    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    words = metrics["history"]["words"]              # a point each step, or each 1/log_points
    ids, _ = corpus_mod.load_corpus(small_corpus, min_count=3)
    assert 100 <= len(words) <= metrics["settings"]["log_points"] and words[-1] == 2 * len(ids)
    for key in ("settings", "corpus", "raw_words_per_second", "peak_rss_mb", "history", "train_seconds"):
        assert key in metrics
    assert metrics["corpus"]["sha256"] == corpus_mod.corpus_info(small_corpus)["sha256"]
    assert (tmp_path / "a" / "loss.png").stat().st_size > 1000
    from gensim.models import KeyedVectors
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "a" / "vectors.txt"))
    assert kv.vector_size == 16


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl-C cannot be sent to a child on Windows")
def test_cli_ctrl_c_saves_a_checkpoint_and_exits_cleanly(small_corpus, tmp_path):
    proc = start_until_first_checkpoint(small_corpus, tmp_path / "c")
    ckpt = tmp_path / "c" / "checkpoint.npz"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    meta = json.loads(str(np.load(ckpt)["meta"]))
    assert not meta["finished"]


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs"),
    (["--corpus", "/no/such/file.txt"], "/no/such/file.txt"),
    (["--window", "0"], "--window"),
    (["--min-count", "10000000"], "min"),
])
def test_cli_errors_are_one_line(args, message, small_corpus, tmp_path):
    if "--corpus" not in args:
        args = ["--corpus", str(small_corpus), *args]
    proc = run_cli("train", "--out", str(tmp_path / "x"), *args, cwd=tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err


def test_the_update_rule_is_named_with_its_settings():
    from sgns_helpers.cli import default_out_dir, describe_mode
    assert "pairs" in describe_mode(make_settings("full"))
    line = describe_mode(make_settings("full", mode="blocks", workers=2))
    assert line.startswith("blocks (256 consecutive centres") and "2 processes" in line
    assert default_out_dir(make_settings("full", mode="blocks"), "x/text8.zip").name \
        == "full-text8-blocks"
