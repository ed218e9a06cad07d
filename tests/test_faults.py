"""Bad input and faults, tried as a user would meet them: each class of failure ends with one clear
line and a non-zero exit, early, with nothing lost or left behind."""
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

SMALL = ["--epochs", "2", "--dim", "16", "--min-count", "3", "--seed", "5"]
LONG = [*SMALL, "--epochs", "6", "--mode", "blocks", "--batch-size", "16"]   # seconds, not less


def one_line(result, *phrases):
    """The command (its ``(exit code, stdout, stderr)``) failed with exit code 2 and one line on
    stderr holding every phrase; returns that line."""
    code, _, err = result
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert all(p in lines[0] for p in phrases), lines[0]
    return lines[0]


def wait_for(predicate, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while not predicate() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


# 1. An output place that cannot be used is found before any work --------------------------------

@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unusable_out_fails_before_loading_the_corpus(cli, small_corpus, tmp_path, where):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    out = blocker if where == "a file" else blocker / "run"
    code, stdout, err = cli("train", "--corpus", small_corpus, "--out", out, *SMALL)
    one_line((code, None, err), "--out", str(out))
    assert "vocabulary" not in stdout and blocker.read_text() == "not a folder"


# 2. One run per output folder -------------------------------------------------------------------

def test_a_second_run_into_the_same_out_is_refused_and_a_killed_run_leaves_no_lock(small_corpus,
                                                                                  tmp_path):
    out = tmp_path / "shared"
    first = run_cli("train", "--corpus", small_corpus, "--out", out, *LONG, cwd=tmp_path)
    wait_for(lambda: (out / ".lock").exists(), first, seconds=5)
    second = run_cli("train", "--corpus", small_corpus, "--out", out, *LONG, cwd=tmp_path)
    _, err = second.communicate(timeout=300)
    one_line((second.returncode, None, err), "in use by another run", str(first.pid))
    assert first.poll() is None
    assert wait_for(lambda: (out / "checkpoint.npz").exists(), first)
    first.kill()                                    # the lock ends with the process
    first.communicate(timeout=60)
    resumed = run_cli("train", "--corpus", small_corpus, "--out", out, "--resume", cwd=tmp_path)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err


# 3. --resume refuses settings that would change the run -----------------------------------------

def test_resume_names_each_changed_setting_and_honours_the_safe_ones(cli, small_corpus, tmp_path):
    out = tmp_path / "run"
    proc = run_cli("train", "--corpus", small_corpus, "--out", out, *LONG,
                   "--checkpoint-every", "0", cwd=tmp_path)
    assert wait_for(lambda: (out / "checkpoint.npz").exists(), proc)
    proc.kill()
    proc.communicate(timeout=60)
    code, _, err = cli("train", "--corpus", small_corpus, "--out", out, "--resume", "--dim", 30,
                       "--seed", 6)
    one_line((code, None, err), "--dim 30 (the run has 16)", "--seed 6 (the run has 5)")
    code, _, err = cli("train", "--corpus", small_corpus, "--out", out, "--resume",
                       "--checkpoint-every", 5, *SMALL[2:6])     # the same --dim and --min-count
    assert code == 0, err
    meta = json.loads(str(np.load(out / "checkpoint.npz")["meta"]))
    assert meta["settings"]["dim"] == 16 and meta["settings"]["checkpoint_every"] == 5


# 4. A damaged checkpoint is one line that names it ----------------------------------------------

@pytest.mark.parametrize("damage", ["empty", "junk", "cut short"])
def test_a_damaged_checkpoint_is_named_with_what_to_do(cli, small_corpus, tmp_path, damage):
    out = tmp_path / "run"
    code, _, err = cli("train", "--corpus", small_corpus, "--out", out, *SMALL)
    assert code == 0, err
    ckpt = out / "checkpoint.npz"
    good = ckpt.read_bytes()
    ckpt.write_bytes({"empty": b"", "junk": b"PK\x03\x04 not a zip" * 50,
                      "cut short": good[:len(good) // 2]}[damage])
    for extra in (["--resume"], []):
        code, _, err = cli("train", "--corpus", small_corpus, "--out", out, *SMALL, *extra)
        one_line((code, None, err), str(ckpt), "damaged", "delete it")


# 5. Vectors, and scores, that are not finite numbers are refused --------------------------------

def test_non_finite_vectors_scores_and_repeated_words_are_refused(cli, tmp_path):
    words = ["king", "queen", "man", "woman"]
    good = np.random.default_rng(0).normal(size=(4, 3))
    text = tmp_path / "nan.txt"
    rows = [f"{w} " + " ".join(f"{x:.4f}" for x in row) for w, row in zip(words, good)]
    rows[2] = "man nan 0.5 0.5"
    text.write_text("4 3\n" + "\n".join(rows) + "\n")
    one_line(cli("evaluate", text), "NaN", "man")
    np.savez(tmp_path / "v.npz", words=np.array(words), vectors=good.astype(np.float32))
    np.savez(tmp_path / "dup.npz", words=np.array(words[:3] + ["king"]), vectors=good)
    one_line(cli("evaluate", tmp_path / "dup.npz"), "king", "more than one row")
    scores = tmp_path / "scores.tsv"
    scores.write_text("king queen 8.5\nman woman nan\nking man 5\n")
    one_line(cli("evaluate", tmp_path / "v.npz", "--similarity", scores), "line 2", "number")


# 6. A run that blows up but stays finite is stopped ---------------------------------------------

@pytest.mark.parametrize("mode_args", [["--mode", "pairs", "--batch-size", "100000"],
                                       ["--mode", "blocks"]])
def test_a_finite_blow_up_stops_with_one_line_and_no_vectors(cli, small_corpus, tmp_path,
                                                            mode_args):
    out = tmp_path / "run"
    code, _, err = cli("train", "--corpus", small_corpus, "--out", out, *SMALL, "--lr", "1",
                       "--damping", "0", *mode_args)
    line = err.strip().splitlines()[-1]
    assert code == 2 and line.startswith("error: training diverged") and "Warning" not in err
    assert "no checkpoint had been written" in line or (out / "checkpoint.npz").exists()
    assert not list(out.glob("vectors.*"))


# 7. Nothing is left behind by a killed run ------------------------------------------------------

def children(pid):
    """Process ids descended from ``pid``: its children, theirs, and so on (Linux /proc; under
    the forkserver start method the workers are children of the fork server, not of the trainer)."""
    parent_of = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                          if ":\t" in line)
        except OSError:
            continue
        parent_of[int(status.parent.name)] = int(fields.get("PPid", "0").strip() or 0)
    found, frontier = [], {pid}
    while frontier:
        frontier = {p for p, parent in parent_of.items() if parent in frontier}
        found += sorted(frontier)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_and_partial_files_do_not_outlive_a_killed_run(cli, small_corpus, tmp_path):
    out = tmp_path / "run"
    shm = set(Path("/dev/shm").iterdir())
    proc = run_cli("train", "--corpus", small_corpus, "--out", out, *LONG, "--workers", 2,
                   "--checkpoint-every", "0", cwd=tmp_path)
    assert wait_for(lambda: (out / "checkpoint.npz").exists() and children(proc.pid), proc)
    helpers = children(proc.pid)
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [pid for pid in helpers if Path(f"/proc/{pid}/status").exists()
             and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
    assert not alive, f"processes {alive} outlived the killed trainer"
    assert set(Path("/dev/shm").iterdir()) <= shm
    (out / ".checkpoint.npz.0badc0de.partial").write_bytes(b"half a checkpoint")
    code, _, err = cli("train", "--corpus", small_corpus, "--out", out, "--resume")
    assert code == 0, err
    assert not list(out.glob(".*.partial"))


# 8. Sizes that cannot fit are refused before anything is allocated ------------------------------

@pytest.mark.parametrize("option, value", [("--dim", 10**9), ("--negatives", 10**8),
                                           ("--window", 10**6)])
def test_settings_that_cannot_fit_say_what_fits(cli, small_corpus, tmp_path, option, value):
    code, _, err = cli("train", "--corpus", small_corpus, "--out", tmp_path / "x", *SMALL,
                       option, value, timeout=60)
    one_line((code, None, err), f"{option} {value}", "try at most")


@pytest.mark.parametrize("header, rows", [("0 3", []), ("100000000000 3", ["a 1 2 3", "b 4 5 6"]),
                                          ("2 100000000000", ["a 1 2 3"])])
def test_vector_headers_that_promise_too_much_are_one_line(cli, tmp_path, header, rows):
    path = tmp_path / "v.txt"
    path.write_text("\n".join([header, *rows]) + "\n")
    one_line(cli("evaluate", path, timeout=60), str(path))


# 9. Messages say what is wrong ------------------------------------------------------------------

def test_messages_name_the_real_problem(cli, small_corpus, tmp_path):
    one_line(cli("train", "--corpus", small_corpus, "--out", tmp_path / "s", "--seed", -1),
             "--seed")
    one_line(cli("train", "--corpus", tmp_path, "--out", tmp_path / "d"), "is a folder")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    one_line(cli("train", "--corpus", tmp_path / "empty.zip", "--out", tmp_path / "z"),
             "zip of 0 files")


def test_a_wide_window_in_blocks_mode_says_what_to_lower_and_then_trains(cli, small_corpus,
                                                                         tmp_path):
    args = ["--corpus", small_corpus, *SMALL, "--epochs", "1", "--mode", "blocks", "--window", 128]
    line = one_line(cli("train", "--out", tmp_path / "w", *args), "diverged", "--lr")
    assert "wide --window" in line
    code, _, err = cli("train", "--out", tmp_path / "w2", *args, "--lr", "0.0025")
    assert code == 0, err


def test_the_last_line_lists_only_the_files_written(cli, tmp_path):
    corpus = tmp_path / "one.txt"
    corpus.write_text(" word" * 50)
    out = tmp_path / "one"
    code, stdout, err = cli("train", "--corpus", corpus, "--out", out, "--min-count", 1,
                            "--epochs", 1, "--dim", 1)
    assert code == 0, err
    assert "pca.png" not in stdout.strip().splitlines()[-1] and not (out / "pca.png").exists()
    assert set(stdout.strip().splitlines()[-1].split(": ")[1].split(", ")) == \
        {p.name for p in out.iterdir() if not p.name.startswith(".")} - {"checkpoint.npz"}
