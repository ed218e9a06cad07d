"""Where things live, and writing a file so that it is never seen half-written.

Every file the package writes (downloads, vectors, checkpoints, metrics, pictures) goes through
:func:`atomic_write`: it is written under a temporary name beside its target and renamed over the
target only once it is complete, so an interrupted run never leaves a half-written file behind.
"""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager, suppress
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def repo_root() -> Path:
    """The course's folder (where data/, notebooks/ and runs/ live), whatever the working folder."""
    return _REPO


def data_dir() -> Path:
    """Folder for downloaded corpora: ``$SGNS_DATA`` if set, else ``<repo>/data``."""
    env = os.environ.get("SGNS_DATA")
    return Path(env).expanduser() if env else _REPO / "data"


def existing_file(path, what) -> Path:
    """``path`` as a Path if it names a file; else a one-line error saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{what} file {path} is a folder: give the file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist: check the path")
    return path


def partial_name(path) -> str:
    """The glob pattern of the temporary files :func:`atomic_write` makes for ``path``."""
    return f".{Path(path).name}.*.partial"


@contextmanager
def run_folder(path):
    """Hold ``path`` (created if needed) as the output folder of one run, for the ``with`` block.

    Fails at once with a one-line error if the folder cannot be created or written (a file in
    the way, no permission) or if another run holds it. The hold is an operating-system lock on
    ``path/.lock``, which ends with the process however it ends, so a killed run leaves nothing
    stuck; the temporary files of its interrupted writes are removed here.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / ".lock", "a+")
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(f"--out {path}: a file is in the way of that folder; choose "
                                 f"another --out") from None
    except PermissionError:
        raise PermissionError(f"--out {path}: cannot write there (permission denied); choose "
                              f"another --out") from None
    try:
        if not _try_lock(lock):
            raise RuntimeError(f"--out {path} is in use by another run (process "
                               f"{_holder(lock)}); wait for it or choose another --out")
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        for stale in path.glob(partial_name("*")):      # left by a run killed while writing
            stale.unlink()
        yield path
    finally:
        lock.close()                                     # also releases the lock


def _holder(lock):
    """The process id the holder of ``lock`` wrote into it, or "?"."""
    try:
        lock.seek(0)
        return lock.read().strip() or "?"
    except OSError:
        return "?"


def _try_lock(f):
    """Lock the open file ``f`` for this process without waiting; False if another holds it."""
    try:
        import fcntl                                     # Linux, macOS
    except ImportError:
        try:
            import msvcrt                                # Windows
        except ImportError:
            return True                                  # elsewhere: no lock
        try:
            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on a clean exit flush it to disk and rename it to
    ``path``. On an exception the temporary file is removed and ``path`` is left as it was.

    ``mode`` is ``"wb"`` (bytes) or ``"w"`` (text, UTF-8). The folder is created if needed. The
    file gets the usual permissions (those of ``open``, after the process's umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(partial_name(path).replace("*", secrets.token_hex(4)))
    try:
        with open(tmp, mode.replace("w", "x"), **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
