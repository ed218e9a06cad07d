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


def test_every_module_imports_and_works_without_the_unix_only_modules(tmp_path):
    """Windows has neither ``resource`` nor ``fcntl``: hide both and import every module."""
    import subprocess
    import sys
    code = r"""
import importlib, importlib.abc, pkgutil, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in ("resource", "fcntl"):
            raise ImportError(f"no {name} on this platform")
sys.meta_path.insert(0, Hide())
for name in ("resource", "fcntl"):
    sys.modules.pop(name, None)
import sgns_helpers
for info in pkgutil.iter_modules(sgns_helpers.__path__):
    importlib.import_module(f"sgns_helpers.{info.name}")
from sgns_helpers.files import run_folder
from sgns_helpers.train import peak_rss_mb
assert peak_rss_mb() is None
with run_folder(sys.argv[1]):
    pass
print("imported", len(list(pkgutil.iter_modules(sgns_helpers.__path__))), "modules")
"""
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr
