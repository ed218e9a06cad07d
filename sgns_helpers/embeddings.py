"""Saving and loading embeddings, and the atomic file writes every module uses.

Formats: the word2vec text format (what gensim's ``load_word2vec_format(binary=False)`` reads and
its ``save_word2vec_format`` writes), a ``.npz`` with ``words`` and ``vectors``, and the two TSV
files of the TensorFlow Embedding Projector.

A file is written under a temporary name in the same folder and renamed over the target only
once it is complete, so an interrupted run never leaves a half-written file behind.
"""
from __future__ import annotations

import gzip
import os
import tempfile
import zipfile
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on a clean exit fsync it and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    ``mode`` is ``"wb"`` (bytes) or ``"w"`` (text, UTF-8).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)       # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------
# Embedding files.
#
# Everywhere below, ``words`` is a list of V strings in frequency order (most frequent first, the
# order of our Vocab and of gensim's ``index_to_key``) and ``vectors`` is a (V, D) float32 array
# whose row i belongs to words[i].
# ---------------------------------------------------------------------------------------------

_NPZ_KEYS = ("words", "vectors")


def _check_pair(words, vectors):
    """Validate ``words`` and ``vectors`` for saving; return (list of str, (V, D) float32 array)."""
    words = [str(w) for w in words]
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a 2-D (V, D) array, got shape {vectors.shape}")
    if len(words) != vectors.shape[0]:
        raise ValueError(f"{len(words)} words but {vectors.shape[0]} vector rows: they must match")
    if not np.issubdtype(vectors.dtype, np.floating):
        raise ValueError(f"vectors must be a float array, got dtype {vectors.dtype}")
    vectors = vectors.astype(np.float32, copy=False)
    for i, w in enumerate(words):
        if not w or any(ch.isspace() for ch in w):
            raise ValueError(f"word {i} ({w!r}) is empty or contains whitespace: the word2vec "
                             "format cannot store it")
    if len(set(words)) != len(words):
        seen, dup = set(), None
        for w in words:
            if w in seen:
                dup = w
                break
            seen.add(w)
        raise ValueError(f"word {dup!r} occurs more than once: each word needs exactly one row")
    n_bad = int(np.size(vectors) - np.count_nonzero(np.isfinite(vectors)))
    if n_bad:
        raise ValueError(f"vectors hold {n_bad} NaN/inf values: fix the run that produced them "
                         "before saving")
    return words, vectors


def _missing(path, what="vectors file"):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist: check the path")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder: give the file inside it")
    return path


def save_word2vec_text(path, words, vectors):
    """Write the word2vec text format: a header ``"V D"``, then a line ``"word v1 … vD"`` a word.

    Values are written with ``%.9g``: nine significant digits are enough to read every float32
    back bit for bit. The file is what ``KeyedVectors.load_word2vec_format(path, binary=False)``
    of gensim reads. Written atomically.

    Args:
        path: output file (folders are created).
        words: V distinct non-empty strings without whitespace, most frequent first.
        vectors: (V, D) float array (stored as float32), finite.

    Returns:
        ``Path`` of the written file.
    """
    words, vectors = _check_pair(words, vectors)
    V, D = vectors.shape
    row_fmt = " ".join(["%.9g"] * D)
    path = Path(path)
    with atomic_write(path, "w") as f:
        f.write(f"{V} {D}\n")
        for start in range(0, V, 4096):               # a block at a time keeps memory flat
            block = vectors[start:start + 4096].tolist()   # float32 → exact Python floats
            f.writelines(f"{w} {row_fmt % tuple(row)}\n"
                         for w, row in zip(words[start:start + 4096], block))
    return path


def load_word2vec_text(path):
    """Read a word2vec text file (ours or gensim's ``save_word2vec_format(binary=False)``).

    A ``.gz`` file is decompressed on the fly. Every row must have exactly D numbers and there must
    be exactly V rows, as the header says; anything else is a ``ValueError`` naming the line.

    Returns:
        ``(words, vectors)``: list of V str and a (V, D) float32 array.
    """
    path = _missing(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="\n") as f:
            header = f.readline()
            parts = header.split()
            try:
                V, D = (int(p) for p in parts)
                if V < 0 or D < 1:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{path}: line 1 should be the header 'V D' (two positive "
                                 f"integers), got {header[:60].strip()!r}; is this a word2vec "
                                 "text file?") from None
            words = []
            vectors = np.empty((V, D), dtype=np.float32)
            for i in range(V):
                line = f.readline()
                if not line:
                    raise ValueError(f"{path}: the header promises {V} rows but the file ends "
                                     f"after {i}: the file is truncated")
                parts = line.rstrip("\n").rstrip().split(" ")
                if len(parts) != D + 1:
                    raise ValueError(f"{path}: line {i + 2} has {len(parts) - 1} numbers after "
                                     f"the word, the header says {D}: the file is damaged")
                try:
                    vectors[i] = parts[1:]           # numpy parses the strings (float32)
                except ValueError:
                    raise ValueError(f"{path}: line {i + 2} holds a value that is not a number: "
                                     "the file is damaged") from None
                words.append(parts[0])
            extra = f.readline()
            if extra.strip():
                raise ValueError(f"{path}: more rows than the {V} the header promises: the header "
                                 "or the file is wrong")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text: for gensim's binary format, load it with "
                         "gensim and save it with binary=False") from None
    except (EOFError, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} cannot be decompressed ({exc}): the file is damaged") from None
    if len(set(words)) != len(words):
        raise ValueError(f"{path}: a word occurs on more than one row: the file is damaged")
    return words, vectors


def save_npz(path, words, vectors, **extra):
    """Save ``words`` and ``vectors`` (float32) in one uncompressed ``.npz``, plus any ``extra``
    arrays by name (e.g. ``counts=``, ``W_out=``). Loads without pickle. Written atomically.
    The file's arrays: ``words`` (V,) str, ``vectors`` (V, D) float32 and the extras.

    Returns:
        ``Path`` of the written file.
    """
    words, vectors = _check_pair(words, vectors)
    extra = {k: np.asarray(v) for k, v in extra.items()}
    if any(a.dtype == object for a in extra.values()):
        raise ValueError("extra arrays must be numeric or string arrays (object arrays would "
                         "need pickle)")
    path = Path(path)
    with atomic_write(path, "wb") as f:
        np.savez(f, words=np.array(words, dtype=str), vectors=vectors, **extra)
    return path


def load_npz(path, extra=False):
    """Read a file written by :func:`save_npz`.

    Returns:
        ``(words, vectors)``: list of V str and a (V, D) float32 array; with ``extra=True``,
        ``(words, vectors, extras)`` where ``extras`` maps the other names to arrays.
    """
    path = _missing(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file ({type(exc).__name__}): "
                         "the file is damaged or has another format") from None
    missing = [k for k in _NPZ_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{path} has no {missing[0]!r} array: it was not written by save_npz")
    words = [str(w) for w in arrays.pop("words").tolist()]
    vectors = arrays.pop("vectors")
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"{path}: {len(words)} words but vectors of shape {vectors.shape}: "
                         "the file is damaged")
    vectors = vectors.astype(np.float32, copy=False)
    return (words, vectors, arrays) if extra else (words, vectors)


def load_vectors(path):
    """Load ``(words, vectors)`` from a ``.npz`` (:func:`load_npz`) or else word2vec text
    (:func:`load_word2vec_text`, ``.gz`` allowed), chosen by the file's suffix."""
    path = Path(path)
    if path.suffix == ".npz":
        return load_npz(path)
    return load_word2vec_text(path)


def export_projector(out_dir, words, vectors, limit=None):
    """Write ``vectors.tsv`` and ``metadata.tsv`` for the TensorFlow Embedding Projector
    (projector.tensorflow.org → "Load"): one tab-separated vector per line and, on the same line
    number of the second file, its word (a single column, so no header row).

    Args:
        out_dir: folder to write into (created).
        words, vectors: as for :func:`save_word2vec_text`.
        limit: keep only the first ``limit`` (most frequent) words; None keeps all.

    Returns:
        ``(vectors_path, metadata_path)``.
    """
    words, vectors = _check_pair(words, vectors)
    if limit is not None:
        if int(limit) < 1:
            raise ValueError(f"limit must be a positive number of words, got {limit}")
        words, vectors = words[:int(limit)], vectors[:int(limit)]
    out_dir = Path(out_dir)
    vec_path, meta_path = out_dir / "vectors.tsv", out_dir / "metadata.tsv"
    row_fmt = "\t".join(["%.6g"] * vectors.shape[1])
    with atomic_write(vec_path, "w") as f:
        for row in vectors.tolist():
            f.write(row_fmt % tuple(row) + "\n")
    with atomic_write(meta_path, "w") as f:
        for w in words:
            f.write(w + "\n")
    return vec_path, meta_path
