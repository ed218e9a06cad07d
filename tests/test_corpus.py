import gzip
import hashlib
import http.server
import importlib.util
import io
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sgns_helpers import corpus
from sgns_helpers.corpus import (Vocab, corpus_info, download_text8,
                                 load_corpus, read_words, resolve_corpus, to_text8,
                                 verify_text8_zip)

REPO = Path(__file__).resolve().parent.parent
TEXT = " the cat sat on the mat the dog sat on the log a cat and a dog"


def one_line(excinfo):
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


def write_zip(path, text, member="text8"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, text)
    return path


@pytest.fixture
def corpus_files(tmp_path):
    """The same text stored plain, gzipped and zipped."""
    plain = tmp_path / "c.txt"
    plain.write_text(TEXT)
    gz = tmp_path / "c.txt.gz"
    gz.write_bytes(gzip.compress(TEXT.encode()))
    zp = write_zip(tmp_path / "c.zip", TEXT)
    return plain, gz, zp


# ---------------------------------------------------------------- text8 format

def test_to_text8_normalises_like_text8():
    assert to_text8("In 1611, the K.J.V.; Genesis 1:1!") == (
        " in one six one one the k j v genesis one one")
    assert to_text8("Don't\tstop\n\nnow") == " don t stop now"
    assert to_text8("... 42 ...") == " four two"
    assert to_text8("!?") == ""


# ---------------------------------------------------------------- reading

def test_plain_gz_and_zip_give_the_same_ids(corpus_files):
    results = [load_corpus(p, min_count=1) for p in corpus_files]
    ids0, vocab0 = results[0]
    for ids, vocab in results[1:]:
        np.testing.assert_array_equal(ids, ids0)
        assert vocab.words == vocab0.words
    for p in corpus_files:
        assert read_words(p) == TEXT.split()
    assert ids0.dtype == np.int32
    assert vocab0.decode(ids0) == TEXT.split()


def test_compression_is_recognised_by_content_not_name(tmp_path):
    odd = tmp_path / "corpus.txt"                 # gzipped, misleading name
    odd.write_bytes(gzip.compress(TEXT.encode()))
    assert read_words(odd) == TEXT.split()


def test_chunks_never_split_a_word(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_CHUNK", 7)      # chunk edges fall inside words
    p = tmp_path / "c.txt"
    p.write_text(TEXT + "\n" + TEXT)
    assert read_words(p) == TEXT.split() * 2
    p.write_text("supercalifragilistic " * 3)    # a word longer than a chunk
    assert read_words(p) == ["supercalifragilistic"] * 3


def test_load_corpus_drops_rare_words_and_keeps_order(corpus_files):
    ids, vocab = load_corpus(corpus_files[0], min_count=2)
    # the ×4; a, cat, dog, on, sat ×2 (alphabetical among ties); and, log, mat ×1 dropped.
    assert vocab.words == ["the", "a", "cat", "dog", "on", "sat"]
    assert vocab.counts.tolist() == [4, 2, 2, 2, 2, 2] and vocab.counts.dtype == np.int64
    kept = [w for w in TEXT.split() if w in vocab.index]
    assert vocab.decode(ids) == kept
    assert vocab.total == len(kept) == ids.size


def test_raising_min_count_keeps_a_prefix_of_the_ids(corpus_files):
    ids1, v1 = load_corpus(corpus_files[0], min_count=1)
    ids2, v2 = load_corpus(corpus_files[0], min_count=2)
    n = len(v2)
    assert v1.words[:n] == v2.words
    np.testing.assert_array_equal(ids1[ids1 < n], ids2)


def test_vocab_build_encode_decode():
    vocab = Vocab.build("b a c a b a d".split(), min_count=1)
    assert vocab.words == ["a", "b", "c", "d"] and len(vocab) == 4
    assert vocab.index == {"a": 0, "b": 1, "c": 2, "d": 3}
    ids = vocab.encode(["d", "zzz", "a", "b"])     # unknown words dropped
    assert ids.dtype == np.int32 and ids.tolist() == [3, 0, 1]
    assert vocab.decode(ids) == ["d", "a", "b"]
    assert "a" in vocab and "zzz" not in vocab
    assert Vocab.from_counts({"x": 3, "y": 1}, min_count=2).words == ["x"]
    assert vocab.encode([]).shape == (0,)


def test_corpus_info_names_and_hashes_the_file(corpus_files):
    info = corpus_info(corpus_files[1])
    data = corpus_files[1].read_bytes()
    assert info == {"name": "c.txt.gz", "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()}


# ---------------------------------------------------------------- bad inputs

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_corpus(tmp_path / "nope.txt")
    assert "nope.txt" in one_line(e)


def test_truncated_gz(tmp_path):
    data = gzip.compress((TEXT * 2000).encode())
    p = tmp_path / "t.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as e:
        load_corpus(p)
    assert "truncated" in one_line(e)


@pytest.mark.parametrize("damage", ["cut", "flip"])
def test_corrupt_zip(tmp_path, damage):
    good = write_zip(tmp_path / "good.zip", TEXT * 200).read_bytes()
    p = tmp_path / "bad.zip"
    if damage == "cut":                       # lost its end: no central directory
        p.write_bytes(good[: len(good) // 2])
    else:                                     # a flipped byte in the compressed data
        bad = bytearray(good)
        bad[60] ^= 0xFF
        p.write_bytes(bytes(bad))
    with pytest.raises(ValueError) as e:
        load_corpus(p, min_count=1)
    assert "corrupt" in one_line(e)


def test_zip_with_two_members(tmp_path):
    p = tmp_path / "two.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("a", TEXT)
        zf.writestr("b", TEXT)
    with pytest.raises(ValueError) as e:
        load_corpus(p)
    assert "exactly one" in one_line(e)


def test_binary_file(tmp_path):
    p = tmp_path / "weights.npy"
    np.save(p, np.arange(1000, dtype=np.float64))
    with pytest.raises(ValueError) as e:
        load_corpus(p)
    assert "not a text file" in one_line(e)


@pytest.mark.parametrize("content", [b"", b"  \n \n  "])
def test_empty_corpus(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_bytes(content)
    with pytest.raises(ValueError) as e:
        load_corpus(p)
    assert "no words" in one_line(e)


def test_min_count_that_empties_the_vocabulary(corpus_files):
    with pytest.raises(ValueError) as e:
        load_corpus(corpus_files[0], min_count=5)
    msg = one_line(e)
    assert "leaves no words" in msg and "--min-count" in msg
    with pytest.raises(ValueError):
        load_corpus(corpus_files[0], min_count=0)


# ---------------------------------------------------------------- download

OPENING = b" anarchism originated as a term of abuse"


@pytest.fixture
def small_text8(tmp_path):
    """A small zip standing in for text8, and the facts that describe it."""
    text = OPENING + b" first used against early working class radicals" * 500
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("text8", text)
    data = buf.getvalue()
    facts = dict(size=len(data), member="text8", member_size=len(text), opening=OPENING)
    return data, facts


@pytest.fixture
def server(small_text8):
    """An HTTP server on 127.0.0.1 serving a good, a truncated and a corrupted text8.zip."""
    data, _ = small_text8
    corrupt = bytearray(data)
    corrupt[100] ^= 0xFF                     # inside the compressed member: fails the CRC
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = {"/good/text8.zip": data, "/truncated/text8.zip": data,
                    "/corrupt/text8.zip": bytes(corrupt)}.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path.startswith("/truncated"):
                self.wfile.write(body[: len(body) // 3])      # then the connection drops
                self.close_connection = True
            else:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_download_verifies_and_saves(tmp_path, server, small_text8):
    base, hits = server
    data, facts = small_text8
    dest = tmp_path / "data"
    path = download_text8(dest, f"{base}/good/text8.zip", progress=False, **facts)
    assert path == dest / "text8.zip" and path.read_bytes() == data
    assert leftovers(dest) == ["text8.zip"]
    # Already there and verified: no second request.
    assert download_text8(dest, f"{base}/good/text8.zip", progress=False, **facts) == path
    assert hits == ["/good/text8.zip"]
    # The saved file reads as a corpus.
    assert read_words(path)[:3] == ["anarchism", "originated", "as"]


def test_download_from_a_file_url(tmp_path, small_text8):
    data, facts = small_text8
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "text8.zip").write_bytes(data)
    path = download_text8(tmp_path / "dest", (tmp_path / "src" / "text8.zip").as_uri(),
                          progress=False, **facts)
    assert path.read_bytes() == data


def test_a_damaged_existing_copy_is_replaced(tmp_path, server, small_text8):
    base, hits = server
    data, facts = small_text8
    (tmp_path / "text8.zip").write_bytes(data[:-10])
    path = download_text8(tmp_path, f"{base}/good/text8.zip", progress=False, **facts)
    assert path.read_bytes() == data and len(hits) == 1


@pytest.mark.parametrize("route, error, phrases", [
    ("truncated", ConnectionError, ("could not be downloaded", "SGNS_CORPUS")),   # interrupted
    ("corrupt", OSError, ("corrupt", "nothing was saved")),
])
def test_a_failed_download_leaves_nothing(tmp_path, server, small_text8, route, error, phrases):
    base, _ = server
    _, facts = small_text8
    with pytest.raises(error) as e:
        download_text8(tmp_path, f"{base}/{route}/text8.zip", progress=False, **facts)
    msg = one_line(e)
    assert all(phrase in msg for phrase in phrases)
    assert leftovers(tmp_path) == []


def test_wrong_facts_are_caught(tmp_path, server, small_text8):
    base, _ = server
    _, facts = small_text8
    for wrong in (dict(size=facts["size"] + 1), dict(member="text9"),
                  dict(member_size=facts["member_size"] - 1), dict(opening=b" anarchy")):
        with pytest.raises(OSError):
            download_text8(tmp_path, f"{base}/good/text8.zip", progress=False, **{**facts, **wrong})
    assert leftovers(tmp_path) == []


def test_offline_gives_one_line_naming_sgns_corpus(tmp_path, server, small_text8):
    base, _ = server
    _, facts = small_text8
    for url in (f"{base}/missing/text8.zip",            # HTTP 404
                "http://127.0.0.1:9/text8.zip",         # nothing listening (connection refused)
                f"file://{tmp_path}/absent.zip"):
        with pytest.raises(ConnectionError) as e:
            download_text8(tmp_path / "d", url, progress=False, **facts)
        msg = one_line(e)
        assert "text8 could not be downloaded" in msg
        assert "SGNS_CORPUS=" in msg and "--corpus" in msg
    assert not (tmp_path / "d" / "text8.zip").exists()


def test_verify_accepts_the_bytes_or_a_path(tmp_path, small_text8):
    data, facts = small_text8
    verify_text8_zip(data, **facts)
    p = tmp_path / "x.zip"
    p.write_bytes(data)
    verify_text8_zip(p, **facts)
    with pytest.raises(ValueError) as e:
        verify_text8_zip(b"PK\x03\x04" + b"\0" * (facts["size"] - 4), **facts)
    one_line(e)


# ---------------------------------------------------------------- choosing the corpus

def test_resolve_corpus(tmp_path, monkeypatch, corpus_files):
    monkeypatch.delenv("SGNS_CORPUS", raising=False)
    monkeypatch.setenv("SGNS_DATA", str(tmp_path / "dl"))
    plain = corpus_files[0]
    assert resolve_corpus(plain) == plain
    with pytest.raises(FileNotFoundError) as e:
        resolve_corpus(tmp_path / "missing.txt.gz")
    assert "missing.txt.gz" in one_line(e)
    assert resolve_corpus(profile="quick") == REPO / "data" / "sample_corpus.txt.gz"
    with pytest.raises(FileNotFoundError) as e:
        resolve_corpus(profile="full", download=False)
    assert "SGNS_CORPUS" in one_line(e)
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "text8.zip").write_bytes(b"x")
    assert resolve_corpus(profile="full") == tmp_path / "dl" / "text8.zip"
    with pytest.raises(ValueError):
        resolve_corpus(profile="medium")
    monkeypatch.setenv("SGNS_CORPUS", str(corpus_files[1]))
    assert resolve_corpus(profile="full") == corpus_files[1]
    assert resolve_corpus(profile="quick") == REPO / "data" / "sample_corpus.txt.gz"  # always the sample
    assert resolve_corpus(plain) == plain                  # an explicit path wins
    monkeypatch.setenv("SGNS_CORPUS", str(tmp_path / "gone.gz"))
    with pytest.raises(FileNotFoundError) as e:
        resolve_corpus()
    assert "gone.gz" in one_line(e) and "SGNS_CORPUS" in str(e.value)


# ---------------------------------------------------------------- the committed data

def test_sample_corpus_is_text8_format_running_text():
    path = REPO / "data" / "sample_corpus.txt.gz"
    raw = path.read_bytes()
    assert raw[4:8] == b"\0\0\0\0"                         # gzip mtime 0: reproducible bytes
    text = gzip.decompress(raw)
    assert text.startswith(b" in the beginning god created the heaven and the earth")
    assert not text.translate(None, b" abcdefghijklmnopqrstuvwxyz")   # a–z and spaces only
    assert b"  " not in text and not text.endswith(b" ")
    ids, vocab = load_corpus(path, min_count=5)
    assert 500_000 <= vocab.total <= len(text.split()) <= 1_500_000
    assert vocab.words[:3] == ["the", "and", "of"]


def test_evaluation_sets_match_gensims_copies():
    spec = importlib.util.find_spec("gensim")             # in the test extra; not imported (slow)
    assert spec is not None, "gensim is not installed: pip install -e '.[test]'"
    shipped = Path(spec.origin).parent / "test" / "test_data"
    for name in ("questions-words.txt", "wordsim353.tsv", "simlex999.txt"):
        assert (REPO / "data" / name).read_bytes() == (shipped / name).read_bytes()
