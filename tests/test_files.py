"""Paths and atomic writes."""
import os
import stat
from pathlib import Path

import pytest

from sgns_helpers import files
from sgns_helpers.files import atomic_write

REPO = Path(__file__).resolve().parents[1]


def test_atomic_write_replaces_the_file_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target, "w") as f:
        f.write("first")
    assert target.read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half")
            raise RuntimeError("killed halfway")
    assert target.read_text() == "first"                     # the old file is untouched
    assert list(target.parent.iterdir()) == [target]          # and no temporary file is left


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    with atomic_write(tmp_path / "atomic") as f:
        f.write(b"x")
    mode = stat.S_IMODE
    assert mode(os.stat(tmp_path / "atomic").st_mode) == mode(os.stat(plain).st_mode)


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SGNS_DATA", raising=False)
    assert files.data_dir() == REPO / "data"
    monkeypatch.setenv("SGNS_DATA", str(tmp_path))
    assert files.data_dir() == tmp_path
    assert files.repo_root() == REPO
