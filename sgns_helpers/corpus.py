"""The corpus stage: text8 download and verification, reading tokens, the vocabulary, subsampling.

text8 is the first 10^8 bytes of an English Wikipedia dump (March 2006), cleaned to lowercase
words of the letters a–z separated by single spaces, with digits spelled out as words. It is one
line, with no sentence or article boundaries. Every reader here accepts that format ("text8
format") stored plain, gzipped, or as the single member of a zip archive; the compression is
recognised from the file's first bytes, not from its name.

Data flow::

    path → load_corpus → (ids: (N,) int32, vocab: Vocab)
         → keep_probabilities(vocab.counts, sample) → subsample(ids, keep_prob, rng)   # per epoch

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
from collections import defaultdict
from pathlib import Path

import numpy as np

from .embeddings import atomic_write

# ---------------------------------------------------------------------------------------------
# text8: where it lives and what it must look like
# ---------------------------------------------------------------------------------------------

TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"
TEXT8_ZIP_BYTES = 31_344_016          # size of text8.zip
TEXT8_MEMBER = "text8"                # its only member ...
TEXT8_BYTES = 100_000_000             # ... of this many bytes ...
TEXT8_WORDS = 17_005_207              # ... holding this many words ...
TEXT8_OPENING = b" anarchism originated as a term of abuse"   # ... and beginning so.

SAMPLE_CORPUS_NAME = "sample_corpus.txt.gz"

_HOW_TO_POINT = ("point at a local copy with SGNS_CORPUS=/path/to/text8(.zip|.gz) "
                 "or --corpus /path/to/text8")

_REPO = Path(__file__).resolve().parent.parent


def repo_root() -> Path:
    """The course's folder (where data/, notebooks/ and runs/ live), whatever the working folder."""
    return _REPO


def data_dir() -> Path:
    """Folder for downloaded corpora: ``$SGNS_DATA`` if set, else ``<repo>/data``."""
    env = os.environ.get("SGNS_DATA")
    return Path(env).expanduser() if env else _REPO / "data"


def sample_corpus_path() -> Path:
    """The small committed sample corpus (the quick profile's corpus)."""
    return _REPO / "data" / SAMPLE_CORPUS_NAME


# ---------------------------------------------------------------------------------------------
# Download and verification
# ---------------------------------------------------------------------------------------------

def verify_text8_zip(source, *, size=TEXT8_ZIP_BYTES, member=TEXT8_MEMBER,
                     member_size=TEXT8_BYTES, opening=TEXT8_OPENING) -> None:
    """Check that ``source`` (a path or the file's bytes) is an intact text8.zip.

    Checks, in order: the file size; that it opens as a zip; that its only member is ``member``
    of ``member_size`` bytes; every member's CRC (``ZipFile.testzip``); the member's opening
    bytes. The keyword arguments default to text8's known facts, so a small zip can stand in
    for text8 in tests. Raises ``ValueError`` with a one-line reason; returns None when all pass.
    """
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
            bad = zf.testzip()
            if bad is not None:
                raise ValueError(f"CRC check failed for member {bad!r}")
            with zf.open(member) as f:
                head = f.read(len(opening))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"not a readable zip archive ({exc})") from None
    if head != opening:
        raise ValueError(f"member {member!r} begins {head[:40]!r}, expected {opening[:40]!r}")


def _fetch(url, timeout, progress):
    """The bytes at ``url``, with a progress bar. Network trouble raises ConnectionError."""
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            buf = io.BytesIO()
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=Path(url).name or "download", disable=not progress or None) as bar:
                while True:
                    block = resp.read(1 << 16)
                    if not block:
                        break
                    buf.write(block)
                    bar.update(len(block))
    except (OSError, ValueError, http.client.HTTPException) as exc:   # URLError, timeouts, short reads
        reason = getattr(exc, "reason", None) or exc
        raise ConnectionError(f"text8 could not be downloaded from {url} ({reason}); "
                              f"{_HOW_TO_POINT}") from None
    data = buf.getvalue()
    if total is not None and len(data) != total:
        raise ConnectionError(f"text8 could not be downloaded from {url}: the transfer stopped "
                              f"after {len(data):,} of {total:,} bytes; run the download again or "
                              f"{_HOW_TO_POINT}")
    return data


def download_text8(dest=None, url=TEXT8_URL, *, size=TEXT8_ZIP_BYTES, member=TEXT8_MEMBER,
                   member_size=TEXT8_BYTES, opening=TEXT8_OPENING, timeout=60,
                   progress=True) -> Path:
    """Download text8.zip into ``dest`` (default ``data_dir()``), verify it, return its path.

    If a verified ``text8.zip`` is already there it is returned without downloading. Otherwise the
    file is fetched into memory (about 30 MB) with a progress bar, checked with
    :func:`verify_text8_zip` (size, zip CRC, member name and size, opening words), and only then
    written under its final name, atomically. A partial or corrupt download is never written.

    ``size``, ``member``, ``member_size`` and ``opening`` are text8's facts; tests pass others so
    that a small zip can stand in for it.

    Raises:
        ConnectionError: offline, or the transfer failed or stopped early.
        OSError: the downloaded file failed verification (nothing is saved).
    """
    facts = dict(size=size, member=member, member_size=member_size, opening=opening)
    dest = Path(dest).expanduser() if dest is not None else data_dir()
    target = dest / "text8.zip"
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


def resolve_corpus(path=None, profile="full", download=True) -> Path:
    """The corpus file to use: ``path`` if given, else the profile's corpus.

    ``quick`` → always the committed ``data/sample_corpus.txt.gz`` (so that tests stay quick
    whatever the environment says); ``full`` → ``$SGNS_CORPUS`` if set, else text8 in
    :func:`data_dir` (``text8.zip``, or an unzipped ``text8``), downloaded first if it is missing
    and ``download`` is true.

    Raises:
        FileNotFoundError: the explicit or ``$SGNS_CORPUS`` file does not exist, or text8 is
            missing and ``download`` is false.
        ValueError: an unknown profile.
        ConnectionError: text8 had to be downloaded and could not be.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"corpus file not found: {p}; give the path of a text8-format "
                                    f"file (plain, .gz or .zip)")
        return p
    if profile == "quick":
        p = sample_corpus_path()
        if not p.is_file():
            raise FileNotFoundError(f"the sample corpus is missing: {p}; restore it from git "
                                    f"(git checkout -- data/{SAMPLE_CORPUS_NAME})")
        return p
    if profile != "full":
        raise ValueError(f"unknown profile {profile!r}; use 'quick' or 'full'")
    env = os.environ.get("SGNS_CORPUS")
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"corpus file not found: {p} (from SGNS_CORPUS); set "
                                    f"SGNS_CORPUS to an existing text8-format file or unset it")
        return p
    for name in ("text8.zip", "text8"):
        p = data_dir() / name
        if p.is_file():
            return p
    if not download:
        raise FileNotFoundError(f"text8 not found in {data_dir()}; run `python -m sgns_helpers "
                                f"download` or {_HOW_TO_POINT}")
    return download_text8()


def corpus_info(path) -> dict:
    """``{"name", "bytes", "sha256"}`` of a corpus file as stored, for naming it beside results."""
    path = Path(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": h.hexdigest()}


# ---------------------------------------------------------------------------------------------
# Making and reading text8-format text
# ---------------------------------------------------------------------------------------------

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_DIGIT_RE = re.compile(r"[0-9]")
_NON_LETTERS_RE = re.compile(r"[^a-z]+")


def to_text8(text: str) -> str:
    """Normalise text the way text8 was made: lowercase, each digit spelled out as a word,
    every run of other characters one space. Returns ``" word word ..."`` with one leading
    space and no trailing space, like text8 itself ("" for text without letters or digits).
    Accented letters are not transliterated: they count as separators.
    """
    text = _DIGIT_RE.sub(lambda m: f" {_DIGIT_WORDS[int(m.group())]} ", text.lower())
    words = _NON_LETTERS_RE.sub(" ", text).split()
    return " " + " ".join(words) if words else ""


_CHUNK = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"
# Bytes that never occur in text: C0 control characters other than tab, newline, VT, FF, CR.
_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32)) + b"\x7f"
_TEXT_BYTES = bytes(b for b in range(256) if b not in _CONTROL)


def _open_stream(path: Path):
    """A binary file object over the text: plain, gzip or the single member of a zip."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic.startswith(_GZIP_MAGIC):
        return gzip.open(path, "rb")
    if magic == _ZIP_MAGIC:
        try:
            zf = zipfile.ZipFile(path)
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            if len(names) != 1:
                zf.close()
                raise ValueError(f"{path} holds {len(names)} files; a corpus zip must hold exactly "
                                 f"one text8-format file")
            # The member's stream keeps the archive open until it is closed.
            stream = zf.open(names[0])
            zf.close()
            return stream
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{path} is a corrupt zip archive ({exc}); download it again "
                             f"(python -m sgns_helpers download) or use another copy") from None
    return open(path, "rb")


def _iter_token_chunks(path):
    """Yield lists of ``bytes`` tokens from ``path``, about 1 MB of text at a time.

    Chunks are cut at whitespace, so no token is split. Raises ``FileNotFoundError`` for a missing
    file and a one-line ``ValueError`` for a truncated or corrupt archive or a binary file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}; give the path of a text8-format "
                                f"file (plain, .gz or .zip)")
    offset = 0
    try:
        with _open_stream(path) as f:
            rest = b""
            while True:
                block = f.read(_CHUNK)
                control = block.translate(None, _TEXT_BYTES)    # the bytes no text holds
                if control:
                    at = offset + block.index(control[:1])
                    raise ValueError(f"{path} is not a text file (byte 0x{control[0]:02x} at "
                                     f"offset {at:,} of its text); give a text8-format file: "
                                     f"words separated by spaces")
                offset += len(block)
                if not block:
                    break
                buf = rest + block
                cut = max(buf.rfind(b" "), buf.rfind(b"\n"))
                if cut < 0:                       # no whitespace yet: keep reading
                    rest = buf
                    continue
                rest = buf[cut:]
                yield buf[:cut].split()
            if rest.strip():
                yield rest.split()
    except EOFError:
        raise ValueError(f"{path} is truncated (the compressed stream ends early); "
                         f"copy or download it again") from None
    except (gzip.BadGzipFile, zlib.error, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is corrupt ({exc}); copy or download it again") from None


def read_words(path) -> list[str]:
    """All tokens of a text8-format file (plain, .gz or one-member .zip) as Python strings.

    For small files only: 17M strings take over 1 GB. :func:`load_corpus` reads large
    files without keeping strings.
    """
    return [w.decode("utf-8", "replace") for chunk in _iter_token_chunks(path) for w in chunk]


# ---------------------------------------------------------------------------------------------
# The vocabulary
# ---------------------------------------------------------------------------------------------

class Vocab:
    """Words sorted by descending count, ties in alphabetical order, so ids are deterministic.

    Attributes:
        words: ``list[str]``, ``words[i]`` is the word with id ``i``.
        counts: ``(V,)`` int64, the corpus count of each word.
        index: ``dict[str, int]``, word → id.
        corpus_words: tokens in the corpus before ``min_count`` dropped the rare words (what
            word2vec and gensim call raw words); ``counts.sum()`` unless told otherwise.

    Because words are sorted by count, raising ``min_count`` keeps a prefix of the ids.
    """

    def __init__(self, words, counts, corpus_words=None):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)          # (V,)
        if self.counts.shape != (len(self.words),):
            raise ValueError(f"{len(self.words)} words but counts of shape {self.counts.shape}")
        self.index = {w: i for i, w in enumerate(self.words)}
        self.corpus_words = int(self.counts.sum() if corpus_words is None else corpus_words)

    @classmethod
    def from_counts(cls, counts, min_count=5):
        """A vocabulary from a mapping word → count, keeping words with count ≥ ``min_count``.

        Raises ``ValueError`` if nothing is left.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1 (got {min_count})")
        items = [(w, int(c)) for w, c in counts.items() if c >= min_count]
        if not items:
            most = max(counts.values(), default=0)
            raise ValueError(f"min_count={min_count} leaves no words (the most frequent word occurs "
                             f"{most} times); use a lower --min-count or a larger corpus")
        items.sort(key=lambda wc: (-wc[1], wc[0]))
        return cls([w for w, _ in items], [c for _, c in items])

    @classmethod
    def build(cls, tokens, min_count=5):
        """A vocabulary from an iterable of word strings (see :meth:`from_counts`)."""
        counts = defaultdict(int)
        for w in tokens:
            counts[w] += 1
        return cls.from_counts(counts, min_count=min_count)

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __repr__(self):
        head = " ".join(self.words[:5])
        return f"Vocab({len(self)} words, {int(self.counts.sum()):,} tokens: {head} ...)"

    @property
    def total(self) -> int:
        """Number of corpus tokens covered by the vocabulary, ``counts.sum()``."""
        return int(self.counts.sum())

    def encode(self, words) -> np.ndarray:
        """``(n,)`` int32 ids of the words that are in the vocabulary (others dropped), in order."""
        index = self.index
        return np.array([index[w] for w in words if w in index], dtype=np.int32)

    def decode(self, ids) -> list[str]:
        """The words of an iterable of ids."""
        return [self.words[i] for i in np.asarray(ids).ravel()]


def load_corpus(path, min_count=5):
    """Read a text8-format corpus and encode it against its own vocabulary.

    Returns ``(ids, vocab)``: ``ids`` is an ``(N,)`` int32 array of the tokens whose count is at
    least ``min_count``, in corpus order (rare words are dropped before any windowing, as word2vec
    does); ``vocab`` is the :class:`Vocab` of those words.

    How it stays lean: text is read about 1 MB at a time and split into ``bytes`` tokens; each
    token gets a provisional id in order of first appearance (a dict whose missing keys get the
    next integer), the chunk's ids go into an int32 array, and the chunk's strings are dropped.
    Counts are a ``bincount`` of the provisional ids; the vocabulary sorts the surviving types,
    and one table lookup maps provisional ids to final ids.

    Raises ``FileNotFoundError`` (missing file) or one-line ``ValueError`` (truncated or corrupt
    archive, binary file, empty corpus, a ``min_count`` that leaves no words).
    """
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1 (got {min_count})")
    first_seen = defaultdict(itertools.count().__next__)        # bytes token → provisional id
    parts = []
    for tokens in _iter_token_chunks(path):
        parts.append(np.fromiter(map(first_seen.__getitem__, tokens), dtype=np.int32,
                                 count=len(tokens)))
    if not first_seen:
        raise ValueError(f"{path} holds no words; give a text8-format file: words separated by "
                         f"spaces")
    raw_ids = np.concatenate(parts)                              # (N_raw,) int32
    del parts
    raw_counts = np.bincount(raw_ids, minlength=len(first_seen))     # (T,) int64
    try:
        types = [w.decode("utf-8") for w in first_seen]          # provisional id → word
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text; give a text8-format file: words separated "
                         f"by spaces") from None
    del first_seen
    vocab = Vocab.from_counts(dict(zip(types, raw_counts.tolist())), min_count=min_count)
    vocab.corpus_words = int(raw_ids.size)
    index = vocab.index
    new_id = np.array([index.get(w, -1) for w in types], dtype=np.int32)  # (T,) provisional → final
    ids = new_id[raw_ids]                                        # (N_raw,)
    del raw_ids
    return ids[ids >= 0], vocab                                  # (N,) int32


# ---------------------------------------------------------------------------------------------
# Subsampling of frequent words
# ---------------------------------------------------------------------------------------------

def keep_probabilities(counts, sample) -> np.ndarray:
    """word2vec's probability of keeping each occurrence of a word when subsampling.

    With f the word's count, N the total count and t = ``sample``:
    ``keep = (sqrt(f / (t N)) + 1) · t N / f``, clipped to at most 1. Words with relative
    frequency f/N below about 2.6·t are always kept; a word at f/N = 100·t keeps about 11 %.

    Args:
        counts: ``(V,)`` word counts.
        sample: the threshold t > 0 (word2vec's ``-sample``, e.g. 1e-3 or 1e-4). There is no
            "off" value: 0 is rejected rather than silently read as "keep everything".
            ``sample=1`` keeps every token.
    Returns:
        ``(V,)`` float64 probabilities in (0, 1].
    """
    sample = float(sample)
    if not sample > 0:
        raise ValueError(f"sample must be > 0 (got {sample}); it is the subsampling threshold, "
                         f"e.g. 1e-3 or 1e-4, and sample=1 keeps every token")
    f = np.asarray(counts, dtype=np.float64)                     # (V,)
    if f.ndim != 1 or f.size == 0 or np.any(f <= 0):
        raise ValueError("counts must be a non-empty 1-D array of positive word counts")
    tN = sample * f.sum()
    return np.minimum((np.sqrt(f / tN) + 1.0) * tN / f, 1.0)


def subsample(ids, keep_prob, rng) -> np.ndarray:
    """Keep each token of ``ids`` with probability ``keep_prob[id]``, independently.

    Args:
        ids: ``(N,)`` integer word ids.
        keep_prob: ``(V,)`` from :func:`keep_probabilities`.
        rng: a ``numpy.random.Generator``; the same state gives the same result.
    Returns:
        ``(M,)`` int32, the kept ids in their original order.
    """
    ids = np.asarray(ids)
    keep_prob = np.asarray(keep_prob, dtype=np.float64)
    kept = []
    step = 1 << 20                                               # bounded temporaries
    for start in range(0, ids.size, step):
        block = ids[start:start + step]
        kept.append(block[rng.random(block.size) < keep_prob[block]])
    if not kept:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(kept).astype(np.int32, copy=False)
