import gzip

import numpy as np
import pytest

from sgns_helpers.formats import (export_projector, load_npz, load_vectors, load_word2vec_text,
                                     save_npz, save_word2vec_text)


def same_bits(a, b):
    """True when two float32 arrays are equal bit for bit (so -0.0 ≠ 0.0 and the test is exact)."""
    return a.dtype == b.dtype == np.float32 and a.shape == b.shape and \
        np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.fixture
def pair():
    """Words and awkward float32 vectors: random mantissas over 60 orders of magnitude, subnormals,
    the extremes of float32 and a negative zero."""
    rng = np.random.default_rng(0)
    V, D = 300, 16
    scale = (10.0 ** rng.integers(-30, 30, size=(V, D))).astype(np.float32)
    vectors = (rng.normal(size=(V, D)).astype(np.float32) * scale).astype(np.float32)
    info = np.finfo(np.float32)
    vectors[0, :6] = [info.max, -info.max, info.tiny, info.smallest_subnormal, -0.0, 0.1]
    words = ["the", "of", "naïve", "café", "x"] + [f"w{i}" for i in range(V - 5)]
    return words, vectors


def test_text_round_trip_is_exact(tmp_path, pair):
    words, vectors = pair
    path = save_word2vec_text(tmp_path / "sub" / "v.txt", words, vectors)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"{len(words)} {vectors.shape[1]}" and len(lines) == len(words) + 1
    assert lines[3].startswith("naïve ")
    words2, vectors2 = load_word2vec_text(path)
    assert words2 == words
    assert same_bits(vectors2, vectors)
    assert load_vectors(path)[0] == words                    # any suffix but .npz is text
    assert not list(path.parent.glob("*.partial"))           # the atomic write cleaned up


def test_text_accepts_float64_input_and_gz(tmp_path, pair):
    words, vectors = pair
    path = save_word2vec_text(tmp_path / "v.txt", words, vectors.astype(np.float64))
    gz = tmp_path / "v.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    words2, vectors2 = load_vectors(gz)
    assert words2 == words and same_bits(vectors2, vectors)


def test_gensim_reads_our_file_and_we_read_gensim_files(tmp_path, pair):
    from gensim.models import KeyedVectors

    words, vectors = pair
    ours = save_word2vec_text(tmp_path / "ours.txt", words, vectors)
    kv = KeyedVectors.load_word2vec_format(str(ours), binary=False)
    assert kv.index_to_key == words
    assert same_bits(np.asarray(kv.vectors), vectors)

    theirs = tmp_path / "theirs.txt"
    kv.save_word2vec_format(str(theirs), binary=False)
    words2, vectors2 = load_word2vec_text(theirs)
    assert words2 == words and same_bits(vectors2, vectors)


def test_npz_round_trip_with_extra_arrays(tmp_path, pair):
    words, vectors = pair
    counts = np.arange(len(words), 0, -1)
    path = save_npz(tmp_path / "v.npz", words, vectors, counts=counts, W_out=-vectors)
    words2, vectors2 = load_npz(path)
    assert words2 == words and same_bits(vectors2, vectors)
    words3, vectors3, extra = load_npz(path, extra=True)
    assert sorted(extra) == ["W_out", "counts"]
    np.testing.assert_array_equal(extra["counts"], counts)
    assert load_vectors(path)[0] == words
    with np.load(path, allow_pickle=False) as data:          # plain arrays, no pickle needed
        assert data["words"].dtype.kind == "U"


def test_projector_files_have_matching_rows(tmp_path, pair):
    words, vectors = pair
    vec_path, meta_path = export_projector(tmp_path / "proj", words, vectors)
    rows = vec_path.read_text(encoding="utf-8").splitlines()
    names = meta_path.read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(names) == len(words)
    assert names == words
    assert all(len(r.split("\t")) == vectors.shape[1] for r in rows)
    np.testing.assert_allclose(np.array(rows[7].split("\t"), dtype=np.float64), vectors[7],
                               rtol=1e-5)
    vec_path, meta_path = export_projector(tmp_path / "proj", words, vectors, limit=50)
    assert len(vec_path.read_text().splitlines()) == len(meta_path.read_text().splitlines()) == 50
    with pytest.raises(ValueError, match="limit"):
        export_projector(tmp_path / "proj", words, vectors, limit=0)


def one_line(exc_info):
    msg = str(exc_info.value)
    assert msg and "\n" not in msg
    return msg


def test_missing_files_say_so(tmp_path):
    for loader in (load_word2vec_text, load_npz, load_vectors):
        with pytest.raises(FileNotFoundError) as e:
            loader(tmp_path / "nope.txt")
        assert "does not exist" in one_line(e)
    with pytest.raises(IsADirectoryError):
        load_vectors(tmp_path)


@pytest.mark.parametrize("text, match", [
    ("", "header"),
    ("hello world\n", "header"),
    ("3\n", "header"),
    ("2 3\na 1 2 3\n", "truncated"),
    ("2 3\na 1 2 3\nb 1 2\n", "line 3 has 2 numbers"),
    ("2 3\na 1 2 3\nb 1 2 3 4\n", "line 3 has 4 numbers"),
    ("2 3\na 1 2 3\nb 1 x 3\n", "line 3 .*not a number"),
    ("1 3\na 1 2 3\nb 1 2 3\n", "more rows"),
    ("2 3\na 1 2 3\na 4 5 6\n", "more than one row"),
])
def test_malformed_text_files_give_one_line_errors(tmp_path, text, match):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match) as e:
        load_word2vec_text(path)
    one_line(e)


def test_binary_or_damaged_files_give_one_line_errors(tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"2 3\na \xff\xfe\x00\x01" + bytes(range(256)))
    with pytest.raises(ValueError, match="not UTF-8") as e:
        load_vectors(path)
    one_line(e)
    bad_gz = tmp_path / "v.txt.gz"
    bad_gz.write_bytes(gzip.compress(b"2 3\na 1 2 3\n")[:-12])
    with pytest.raises(ValueError) as e:
        load_vectors(bad_gz)
    one_line(e)
    for content in (b"not a zip at all", b"PK\x03\x04 broken"):
        bad_npz = tmp_path / "v.npz"
        bad_npz.write_bytes(content)
        with pytest.raises(ValueError, match="npz") as e:
            load_vectors(bad_npz)
        one_line(e)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="'words'"):
        load_npz(other)


@pytest.mark.parametrize("words, vectors, match", [
    (["a", "b"], np.zeros((3, 2)), r"2 words but vectors of shape \(3, 2\)"),
    (["a", "b"], np.zeros(2), r"shape \(2,\)"),
    ([], np.zeros((0, 2)), "need one row"),
    (["a", "b c"], np.zeros((2, 2)), "whitespace"),
    (["a", ""], np.zeros((2, 2)), "empty"),
    (["a", "a"], np.zeros((2, 2)), "more than one row"),
    (["a", "b"], np.array([[0, np.nan], [1, 1]]), "NaN"),
    (["a", "b"], np.zeros((2, 2), dtype=int), "float"),
])
def test_bad_input_is_refused_before_writing(tmp_path, words, vectors, match):
    for save in (save_word2vec_text, save_npz):
        target = tmp_path / ("v.npz" if save is save_npz else "v.txt")
        with pytest.raises(ValueError, match=match) as e:
            save(target, words, vectors)
        one_line(e)
        assert not target.exists() and not list(tmp_path.iterdir())
