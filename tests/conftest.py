"""What several test files share: a small corpus, and the command line run as a user runs it."""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_corpus.txt.gz"


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """The first 60,000 words of the committed sample, as a plain text8-format file."""
    with gzip.open(SAMPLE, "rt") as f:
        words = f.read(600_000).split()[:60_000]
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text(" " + " ".join(words))
    return path


def run_cli(*args, cwd, **popen):
    """Start ``python -m sgns_helpers ARGS`` in the quick profile; returns the Popen."""
    env = dict(os.environ, SGNS_PROFILE="quick", PYTHONPATH=str(ROOT))
    env.pop("SGNS_CORPUS", None)
    return subprocess.Popen([sys.executable, "-m", "sgns_helpers", *map(str, args)], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


@pytest.fixture
def cli(tmp_path):
    """Run a command to its end: ``cli("train", ...)`` → (exit code, stdout, stderr)."""
    def run(*args, timeout=300):
        proc = run_cli(*args, cwd=tmp_path)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    return run
