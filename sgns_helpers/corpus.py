"""The corpus stage: text8's download and verification, reading tokens, the vocabulary.

text8 is Matt Mahoney's cleaned form of enwik9, the first 10^9 bytes of an English Wikipedia dump
(March 2006): its text filtered to lowercase words of the letters a–z separated by single spaces,
digits spelled out as words; text8 is the first 10^8 bytes of that. It is one line, with no
sentence or article boundaries. Every reader here accepts that format ("text8 format") stored
plain, gzipped, or as the single member of a zip archive, recognised by content, not by name.

Data flow::

    path → load_corpus → (ids: (N,) int32, vocab: Vocab) → the sampling stage (sampling.py)

Errors a user can cause (a missing or corrupt file, an empty corpus, a nonsense setting) raise a
built-in exception whose message is one line that says what to do.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import itertools
import os
import re
import urllib.request
import zipfile
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from .files import atomic_write, data_dir, repo_root

# What text8 must look like.
TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"
TEXT8_ZIP_BYTES = 31_344_016          # size of text8.zip
TEXT8_MEMBER = "text8"                # its only member ...
TEXT8_BYTES = 100_000_000             # ... of this many bytes ...
TEXT8_WORDS = 17_005_207              # ... holding this many words ...
TEXT8_OPENING = b" anarchism originated as a term of abuse"   # ... and beginning so.

SAMPLE_CORPUS_NAME = "sample_corpus.txt.gz"
_HOW_TO_POINT = ("point at a local copy with SGNS_CORPUS=/path/to/text8(.zip|.gz) "
                 "or --corpus /path/to/text8")


def sample_corpus_path() -> Path:
    """The small committed sample corpus (the quick profile's corpus)."""
    return repo_root() / "data" / SAMPLE_CORPUS_NAME


# ---------------------------------------------------------------------------------------------
# Download and verification
# ---------------------------------------------------------------------------------------------

def verify_text8_zip(source, *, size=TEXT8_ZIP_BYTES, member=TEXT8_MEMBER,
                     member_size=TEXT8_BYTES, opening=TEXT8_OPENING) -> None:
    """Check that ``source`` (a path or the file's bytes) is an intact text8.zip: its size; that
    it opens as a zip whose only member is ``member`` of ``member_size`` bytes; every CRC; the
    member's opening bytes. The keywords default to text8's facts, so a small zip can stand in
    for it in tests. Raises a one-line ``ValueError``; returns None when all pass."""
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if len(data) != size:
        raise ValueError(f"size is {len(data):,} bytes, expected {size:,}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if [i.filename for i in infos] != [member]:
                raise ValueError(f"expected one member {member!r}, found {[i.filename for i in infos]}")
            if infos[0].file_size != member_size:
                raise ValueError(f"member {member!r} is {infos[0].file_size:,} bytes, "
                                 f"expected {member_size:,}")
            if zf.testzip() is not None:
                raise ValueError(f"CRC check failed for member {member!r}")
            with zf.open(member) as f:
                head = f.read(len(opening))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"not a readable zip archive ({exc})") from None
    if head != opening:
        raise ValueError(f"member {member!r} begins {head[:40]!r}, expected {opening[:40]!r}")


def _fetch(url, timeout, progress):
    """The bytes at ``url``, with a progress bar. Network trouble raises ConnectionError."""
    from tqdm.auto import tqdm

    buf, total = io.BytesIO(), None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=Path(url).name or "download", disable=not progress or None) as bar:
                for block in iter(lambda: resp.read(1 << 16), b""):
                    buf.write(block)
                    bar.update(len(block))
    except (OSError, ValueError, http.client.HTTPException) as exc:   # URLError, timeouts, short reads
        raise ConnectionError(f"text8 could not be downloaded from {url} "
                              f"({getattr(exc, 'reason', None) or exc}); {_HOW_TO_POINT}") from None
    if total is not None and buf.tell() != total:
        raise ConnectionError(f"text8 could not be downloaded from {url}: the transfer stopped "
                              f"after {buf.tell():,} of {total:,} bytes; run the download again "
                              f"or {_HOW_TO_POINT}")
    return buf.getvalue()


def download_text8(dest=None, url=TEXT8_URL, *, timeout=60, progress=True, **facts) -> Path:
    """Download text8.zip into ``dest`` (default ``data_dir()``), verify it, return its path.

    A verified ``text8.zip`` already there is returned at once. Otherwise the file is fetched
    into memory (about 30 MB), checked with :func:`verify_text8_zip` (``facts`` are passed on to
    it), and only then written under its final name, atomically: a partial or corrupt download
    is never saved. Raises ConnectionError (offline, or the transfer failed) or OSError (the
    download is corrupt).
    """
    target = (Path(dest).expanduser() if dest is not None else data_dir()) / "text8.zip"
    if target.is_file():
        try:
            verify_text8_zip(target, **facts)
            return target
        except ValueError:
            pass                # an old partial or damaged copy: fetch a fresh one to replace it
    data = _fetch(url, timeout, progress)
    try:
        verify_text8_zip(data, **facts)
    except ValueError as exc:
        raise OSError(f"the file downloaded from {url} is corrupt ({exc}); nothing was saved: "
                      f"run the download again or {_HOW_TO_POINT}") from None
    with atomic_write(target) as f:
        f.write(data)
    return target


def _corpus_file(path, origin=""):
    """``path`` as a Path, if it is a file; else a one-line error that says what it is."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise IsADirectoryError(f"the corpus {p}{origin} is a folder: give the text8-format "
                                f"file inside it (plain, .gz or .zip)")
    if not p.is_file():
        raise FileNotFoundError(f"corpus file not found: {p}{origin}; give the path of a "
                                f"text8-format file (plain, .gz or .zip)")
    return p


def resolve_corpus(path=None, profile="full", download=True) -> Path:
    """The corpus file to use: ``path`` if given, else the profile's: ``quick`` → always the
    committed sample (tests stay quick whatever the environment says); ``full`` →
    ``$SGNS_CORPUS`` if set, else text8 in :func:`data_dir`, downloaded first if it is missing
    and ``download`` is true (ConnectionError if that fails)."""
    if path is not None:
        return _corpus_file(path)
    if profile == "quick":
        if not sample_corpus_path().is_file():
            raise FileNotFoundError(f"the sample corpus {sample_corpus_path()} is missing; "
                                    f"restore it with git checkout -- data/{SAMPLE_CORPUS_NAME}")
        return sample_corpus_path()
    if profile != "full":
        raise ValueError(f"unknown profile {profile!r}; use 'quick' or 'full'")
    if os.environ.get("SGNS_CORPUS"):
        return _corpus_file(os.environ["SGNS_CORPUS"], " (from SGNS_CORPUS)")
    for name in ("text8.zip", "text8"):
        if (data_dir() / name).is_file():
            return data_dir() / name
    if not download:
        raise FileNotFoundError(f"text8 not found in {data_dir()}; run `python -m sgns_helpers "
                                f"download` or {_HOW_TO_POINT}")
    return download_text8()


def corpus_info(path) -> dict:
    """``{"name", "bytes", "sha256"}`` of a corpus file as stored, for naming it beside results."""
    path, h = Path(path), hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": h.hexdigest()}


# ---------------------------------------------------------------------------------------------
# Making and reading text8-format text
# ---------------------------------------------------------------------------------------------

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def to_text8(text: str) -> str:
    """Normalise text the way text8 was made: lowercase, each digit spelled out as a word,
    every run of other characters one space. Returns ``" word word ..."`` with one leading
    space and no trailing space, like text8 ("" for text without letters or digits). Accented
    letters are not transliterated: they count as separators.
    """
    text = re.sub(r"[0-9]", lambda m: f" {_DIGIT_WORDS[int(m.group())]} ", text.lower())
    words = re.sub(r"[^a-z]+", " ", text).split()
    return " " + " ".join(words) if words else ""


_CHUNK = 1 << 20                      # bytes of text read at a time
# Bytes that never occur in text: C0 control characters other than tab, newline, VT, FF, CR.
_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32)) + b"\x7f"
_TEXT_BYTES = bytes(b for b in range(256) if b not in _CONTROL)


def open_corpus(path):
    """A binary file object over the text: plain, gzip or the single member of a zip."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic == b"PK" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:            # the member's stream keeps the file open
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            if len(names) != 1:
                raise ValueError(f"{path} is a zip of {len(names)} files; a corpus zip must hold "
                                 f"exactly one text8-format file")
            return zf.open(names[0])
    return open(path, "rb")


def _iter_token_chunks(path):
    """Yield lists of ``bytes`` tokens from ``path``, about 1 MB of text at a time, cut at
    whitespace so that no token is split. Raises FileNotFoundError for a missing file and a
    one-line ValueError for a truncated or corrupt archive or a binary file."""
    path, offset, rest = _corpus_file(path), 0, b""
    try:
        with open_corpus(path) as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                control = block.translate(None, _TEXT_BYTES)    # the bytes no text holds
                if control:
                    raise ValueError(f"{path} is not a text file (byte 0x{control[0]:02x} at "
                                     f"offset {offset + block.index(control[:1]):,} of its "
                                     f"text); give a text8-format file: words separated by spaces")
                offset += len(block)
                buf = rest + block
                cut = max(buf.rfind(b" "), buf.rfind(b"\n")) + 1   # 0: no whitespace yet
                rest = buf[cut:]
                yield buf[:cut].split()
            yield rest.split()
    except EOFError:
        raise ValueError(f"{path} is truncated (the compressed stream ends early); "
                         f"copy or download it again") from None
    except (gzip.BadGzipFile, zlib.error, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is corrupt ({exc}); copy or download it again") from None


def read_words(path) -> list[str]:
    """All tokens of a text8-format file as Python strings. For small files only: 17M strings
    take over 1 GB; :func:`load_corpus` reads large files without keeping strings."""
    return [w.decode("utf-8", "replace") for chunk in _iter_token_chunks(path) for w in chunk]


# ---------------------------------------------------------------------------------------------
# The vocabulary
# ---------------------------------------------------------------------------------------------

def check_min_count(min_count):
    """Raise a one-line ValueError unless ``min_count`` is an integer ≥ 1; return it."""
    if int(min_count) != min_count or min_count < 1:
        raise ValueError(f"--min-count must be an integer of at least 1 (got {min_count})")
    return int(min_count)


class Vocab:
    """Words sorted by descending count, ties in alphabetical order, so ids are deterministic;
    raising ``min_count`` keeps a prefix of the ids.

    Attributes:
        words: ``list[str]``, ``words[i]`` is the word with id ``i``.
        counts: ``(V,)`` int64, the corpus count of each word.
        index: ``dict[str, int]``, word → id.
        corpus_words: tokens in the corpus before ``min_count`` dropped the rare words (what
            word2vec and gensim call raw words); ``counts.sum()`` until :func:`load_corpus`
            sets it.
    """

    def __init__(self, words, counts):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)          # (V,)
        if self.counts.shape != (len(self.words),):
            raise ValueError(f"{len(self.words)} words but counts of shape {self.counts.shape}")
        self.index = {w: i for i, w in enumerate(self.words)}
        self.corpus_words = int(self.counts.sum())

    @classmethod
    def from_counts(cls, counts, min_count=5):
        """A vocabulary from a mapping word → count, keeping words with count ≥ ``min_count``
        (a ValueError if that leaves none)."""
        check_min_count(min_count)
        items = sorted(((w, int(c)) for w, c in counts.items() if c >= min_count),
                       key=lambda wc: (-wc[1], wc[0]))
        if not items:
            raise ValueError(f"--min-count {min_count} leaves no words (the most frequent word "
                             f"occurs {max(counts.values(), default=0)} times); use a lower "
                             f"--min-count or a larger corpus")
        return cls([w for w, _ in items], [c for _, c in items])

    @classmethod
    def build(cls, tokens, min_count=5):
        """A vocabulary from an iterable of word strings (see :meth:`from_counts`)."""
        return cls.from_counts(Counter(tokens), min_count=min_count)

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __repr__(self):
        return f"Vocab({len(self)} words, {self.total:,} tokens: {' '.join(self.words[:5])} ...)"

    @property
    def total(self) -> int:
        """Number of corpus tokens covered by the vocabulary, ``counts.sum()``."""
        return int(self.counts.sum())

    def encode(self, words) -> np.ndarray:
        """``(n,)`` int32 ids of the words that are in the vocabulary (others dropped), in order."""
        return np.array([self.index[w] for w in words if w in self.index], dtype=np.int32)

    def decode(self, ids) -> list[str]:
        """The words of an iterable of ids."""
        return [self.words[i] for i in np.asarray(ids).ravel()]


def load_corpus(path, min_count=5):
    """Read a text8-format corpus and encode it against its own vocabulary. Returns ``(ids,
    vocab)``: the (N,) int32 ids of the tokens whose count is at least ``min_count``, in corpus
    order (rare words go before any windowing, as in word2vec), and their :class:`Vocab`.

    It stays lean by reading about 1 MB at a time and keeping only ids: each ``bytes`` token gets
    a provisional id in order of first appearance; counts are a ``bincount`` of those, and one
    table lookup maps them to the vocabulary's ids.
    """
    check_min_count(min_count)                                   # before reading the file
    first_seen = defaultdict(itertools.count().__next__)        # bytes token → provisional id
    parts = [np.fromiter(map(first_seen.__getitem__, tokens), dtype=np.int32, count=len(tokens))
             for tokens in _iter_token_chunks(path)]
    if not first_seen:
        raise ValueError(f"{path} holds no words; give a text8-format file: words separated by "
                         f"spaces")
    raw_ids = np.concatenate(parts)                              # (N_raw,) int32
    del parts
    try:
        types = [w.decode("utf-8") for w in first_seen]          # provisional id → word
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text; give a text8-format file: words separated "
                         f"by spaces") from None
    counts = np.bincount(raw_ids, minlength=len(types)).tolist()    # (T,)
    vocab = Vocab.from_counts(dict(zip(types, counts)), min_count=min_count)
    vocab.corpus_words = int(raw_ids.size)
    new_id = np.array([vocab.index.get(w, -1) for w in types], dtype=np.int32)  # (T,) → final
    ids = new_id[raw_ids]                                        # (N_raw,)
    return ids[ids >= 0], vocab                                  # (N,) int32
