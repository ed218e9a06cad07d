"""Word-vector files: the word2vec text format (what gensim's ``load_word2vec_format(binary=False)``
reads and its ``save_word2vec_format`` writes), a ``.npz`` with ``words`` and ``vectors``, and the
two TSV files of the TensorFlow Embedding Projector. Every file is written atomically.

Everywhere, ``words`` is a list of V strings in frequency order (most frequent first, the order of
our Vocab and of gensim's ``index_to_key``) and ``vectors`` a (V, D) float32 array whose row i
belongs to ``words[i]``. What is saved and what is loaded pass the same checks
(:func:`check_vectors`), so a file that loads can be trusted.
"""
from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np

from .files import atomic_write, existing_file


def check_vectors(words, vectors, source=None):
    """Validate ``words`` and ``vectors``; return them as (list of str, (V, D) float32 array).

    One-line ValueErrors (naming ``source``, the file they came from, if given) for: no rows,
    a shape that does not match the words, a non-float array, NaN or infinite values, an empty
    word or one with whitespace (the text format cannot store it), a word on two rows.
    """
    where = f"{source}: " if source is not None else ""
    words, vectors = [str(w) for w in words], np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words) or not vectors.size:
        raise ValueError(f"{where}{len(words)} words but vectors of shape {vectors.shape}: "
                         "need one row of at least one number a word")
    if not np.issubdtype(vectors.dtype, np.floating):
        raise ValueError(f"{where}vectors must be a float array, got dtype {vectors.dtype}")
    vectors = vectors.astype(np.float32, copy=False)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise ValueError(f"{where}{bad.size} row(s) hold NaN or infinite values, the first for "
                         f"{words[bad[0]]!r}: these vectors come from a run that diverged")
    for i, w in enumerate(words):
        if not w or any(ch.isspace() for ch in w):
            raise ValueError(f"{where}word {i} ({w!r}) is empty or contains whitespace")
    if len(set(words)) != len(words):
        seen = set()
        dup = next(w for w in words if w in seen or seen.add(w))
        raise ValueError(f"{where}the word {dup!r} has more than one row")
    return words, vectors


def save_word2vec_text(path, words, vectors):
    """Write the word2vec text format: a header ``"V D"``, then a line ``"word v1 … vD"`` a word.

    Values are written with ``%.9g``: nine significant digits read every float32 back bit for
    bit. Returns the ``Path`` written.
    """
    words, vectors = check_vectors(words, vectors)
    V, D = vectors.shape
    row_fmt = " ".join(["%.9g"] * D)
    with atomic_write(path, "w") as f:
        f.write(f"{V} {D}\n")
        for start in range(0, V, 4096):                    # a block at a time keeps memory flat
            block = vectors[start:start + 4096].tolist()   # float32 → exact Python floats
            f.writelines(f"{w} {row_fmt % tuple(row)}\n"
                         for w, row in zip(words[start:start + 4096], block))
    return Path(path)


def load_word2vec_text(path):
    """Read a word2vec text file (ours or gensim's ``save_word2vec_format(binary=False)``; a
    ``.gz`` is decompressed on the fly). Every row must hold exactly D numbers and there must be
    exactly V rows, as the header says; anything else is a ValueError naming the line. Memory is
    taken as rows arrive, never on the header's word alone.

    Returns ``(words, vectors)``: list of V str and a (V, D) float32 array.
    """
    path = existing_file(path, "vectors")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="\n") as f:
            header = f.readline()
            try:
                V, D = (int(p) for p in header.split())
                if V < 1 or D < 1:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{path}: line 1 should be the header 'V D' (two positive "
                                 f"integers), got {header[:60].strip()!r}") from None
            words, blocks, rows = [], [], max(1, min(V, 2**22 // D))   # about 16 MB a block
            for i, line in enumerate(f):
                if i >= V:
                    if line.strip():
                        raise ValueError(f"{path}: more rows than the {V} the header promises")
                    continue
                parts = line.rstrip().split(" ")
                if len(parts) != D + 1:
                    raise ValueError(f"{path}: line {i + 2} has {len(parts) - 1} numbers after "
                                     f"the word, the header says {D}")
                if i % rows == 0:
                    blocks.append(np.empty((min(rows, V - i), D), dtype=np.float32))
                try:
                    blocks[-1][i % rows] = parts[1:]        # numpy parses the strings
                except ValueError:
                    raise ValueError(f"{path}: line {i + 2} holds a value that is not a "
                                     "number") from None
                words.append(parts[0])
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text: for gensim's binary format, load it with "
                         "gensim and save it with binary=False") from None
    except (EOFError, OSError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} cannot be read ({exc}): the file is damaged") from None
    if len(words) != V:
        raise ValueError(f"{path}: the header promises {V} rows but the file holds "
                         f"{len(words)}: it is truncated, or the header is wrong")
    return check_vectors(words, np.concatenate(blocks), source=path)


def save_npz(path, words, vectors, **extra):
    """Save ``words`` (V,) str and ``vectors`` (V, D) float32 in one uncompressed ``.npz``, plus
    any ``extra`` numeric arrays by name (e.g. ``counts=``). Loads without pickle."""
    words, vectors = check_vectors(words, vectors)
    extra = {k: np.asarray(v) for k, v in extra.items()}
    if any(a.dtype == object for a in extra.values()):
        raise ValueError("extra arrays must be numeric or string arrays (object arrays would "
                         "need pickle)")
    with atomic_write(path) as f:
        np.savez(f, words=np.array(words, dtype=str), vectors=vectors, **extra)
    return Path(path)


def load_npz(path, extra=False):
    """Read a file written by :func:`save_npz`: ``(words, vectors)``, or with ``extra=True``
    ``(words, vectors, extras)`` where ``extras`` maps the other names to arrays."""
    path = existing_file(path, "vectors")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz file ({type(exc).__name__}): "
                         "the file is damaged or has another format") from None
    if not {"words", "vectors"} <= set(arrays):
        raise ValueError(f"{path} has no 'words' and 'vectors' arrays: it was not written by "
                         "save_npz")
    words, vectors = check_vectors(arrays.pop("words").tolist(), arrays.pop("vectors"), path)
    return (words, vectors, arrays) if extra else (words, vectors)


def load_vectors(path):
    """``(words, vectors)`` from a ``.npz`` (:func:`load_npz`) or else word2vec text
    (:func:`load_word2vec_text`), chosen by the file's suffix."""
    return load_npz(path) if Path(path).suffix == ".npz" else load_word2vec_text(path)


def export_projector(out_dir, words, vectors, limit=None):
    """Write ``vectors.tsv`` and ``metadata.tsv`` for the TensorFlow Embedding Projector
    (projector.tensorflow.org → "Load"): a tab-separated vector a line and, on the same line of
    the second file, its word. ``limit`` keeps only the most frequent words. Returns both paths.
    """
    words, vectors = check_vectors(words, vectors)
    if limit is not None:
        if int(limit) < 1:
            raise ValueError(f"limit must be a positive number of words, got {limit}")
        words, vectors = words[:int(limit)], vectors[:int(limit)]
    paths = Path(out_dir) / "vectors.tsv", Path(out_dir) / "metadata.tsv"
    row_fmt = "\t".join(["%.6g"] * vectors.shape[1])
    with atomic_write(paths[0], "w") as f:
        f.writelines(row_fmt % tuple(row) + "\n" for row in vectors.tolist())
    with atomic_write(paths[1], "w") as f:
        f.writelines(w + "\n" for w in words)
    return paths
