import gzip
import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sgns_helpers.evaluate import (DEFAULT_ANALOGIES, DEFAULT_SIMILARITY,  # noqa: E402
                                   Embeddings, analogy_accuracy, evaluate_vectors, format_report,
                                   read_analogies, word_similarity)
from sgns_helpers.formats import save_npz, save_word2vec_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def questions_file():
    return DEFAULT_ANALOGIES


@pytest.fixture(scope="module")
def wordsim_file():
    return DEFAULT_SIMILARITY


# ------------------------------------------------------------------------------------------------
# A toy vocabulary whose analogies are known.
#
# Each block of four words is a parallelogram in its own three orthogonal directions
# (base, x, y): word(sx, sy) = base + sx·x + sy·y with |base| = 2, |x| = 1, |y| = 1/2, so every
# word has length √5.25 and  b − a + c = d  exactly for
#   man : woman :: king : queen,  france : paris :: italy : rome,  big : bigger :: small : smaller.
# Dot products inside a block are 4 ± 1 ± 1/4; blocks are orthogonal, so a wrong block scores 0.
# ------------------------------------------------------------------------------------------------

BLOCKS = {
    # (−x, −y), (+x, −y), (−x, +y), (+x, +y)
    "family": ("man", "woman", "king", "queen"),
    "capital": ("france", "paris", "italy", "rome"),
    "gram": ("big", "bigger", "small", "smaller"),
}


def toy_embeddings():
    """The 12 block words and a filler 'the', in this 'frequency' order, and their vectors."""
    words, vectors = [], []
    D = 3 * len(BLOCKS) + 2
    for k, quad in enumerate(BLOCKS.values()):
        base, x, y = np.eye(D)[3 * k:3 * k + 3] * np.array([[2.0], [1.0], [0.5]])
        for word, (sx, sy) in zip(quad, [(-1, -1), (1, -1), (-1, 1), (1, 1)]):
            words.append(word)
            vectors.append(base + sx * x + sy * y)
    # A filler word pointing nowhere useful.
    words.append("the")
    vectors.append(np.eye(D)[-2])
    return words, np.array(vectors, dtype=np.float32)


TOY_QUESTIONS = """\
: capital-common-countries
france paris italy rome
italy rome france paris
France Paris Atlantis Nowhere
: family
man woman king queen
woman man queen king
MAN KING WOMAN QUEEN
man woman king the
king king man man
: gram3-comparative
big bigger small smaller
bigger big smaller small
"""
# Known answers (3CosAdd and 3CosMul alike):
#   capital: 2 right; the Atlantis question has unknown words (skipped, still counted as a question)
#   family: 3 right; "man woman king the" is wrong (the answer is queen); "king king man man" is
#           wrong because a question word (man) is never an answer
#   gram: 2 right


@pytest.fixture
def toy_file(tmp_path):
    path = tmp_path / "toy_questions.txt"
    path.write_text(TOY_QUESTIONS, encoding="utf-8")
    return path


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_toy_analogies_have_the_known_answers(toy_file, method):
    emb = Embeddings(*toy_embeddings())
    r = analogy_accuracy(emb, toy_file, restrict=None, method=method)
    s = r["sections"]
    assert list(s) == ["capital-common-countries", "family", "gram3-comparative"]
    assert s["capital-common-countries"] == {"correct": 2, "total": 2, "questions": 3,
                                             "accuracy": 1.0}
    assert s["family"] == {"correct": 3, "total": 5, "questions": 5, "accuracy": 0.6}
    assert s["gram3-comparative"] == {"correct": 2, "total": 2, "questions": 2, "accuracy": 1.0}
    assert (r["correct"], r["total"], r["questions"]) == (7, 9, 10)
    assert r["accuracy"] == pytest.approx(7 / 9) and r["coverage"] == pytest.approx(9 / 10)
    assert r["semantic"] == {"correct": 5, "total": 7, "questions": 8, "accuracy": 5 / 7}
    assert r["syntactic"] == {"correct": 2, "total": 2, "questions": 2, "accuracy": 1.0}
    assert r["method"] == method and r["restrict"] == len(emb)


def test_restriction_limits_both_the_questions_and_the_answers(toy_file):
    # A decoy 'roma' exactly where paris − france + italy points, but rarer than everything else;
    # rome itself is pushed a little off that point.
    words, vectors = toy_embeddings()
    rome = words.index("rome")
    ideal = vectors[rome].copy()
    vectors[rome, -1] = 0.8
    words, vectors = words + ["roma"], np.vstack([vectors, ideal])
    emb = Embeddings(words, vectors)

    everything = analogy_accuracy(emb, toy_file, restrict=None)
    assert everything["sections"]["capital-common-countries"]["correct"] == 1    # roma wins
    top = analogy_accuracy(emb, toy_file, restrict=len(words) - 1)               # roma excluded
    assert top["sections"]["capital-common-countries"]["correct"] == 2
    assert top["total"] == 9

    # Restricting to the first 8 words drops 'the' (rank 12) and the gram block: 2 + 4 questions
    # remain, 'man woman king the' is skipped, the 'king king man man' one stays (and is wrong).
    small = analogy_accuracy(emb, toy_file, restrict=8)
    assert small["restrict"] == 8
    assert (small["correct"], small["total"], small["questions"]) == (5, 6, 10)
    assert small["coverage"] == pytest.approx(0.6)
    assert small["syntactic"] == {"correct": 0, "total": 0, "questions": 2, "accuracy": None}
    # A larger restrict than the vocabulary means the whole vocabulary.
    assert analogy_accuracy(emb, toy_file, restrict=10**6)["restrict"] == len(words)


def reference_analogies(emb, path, N, method, eps=1e-3):
    """The definition, one question and one candidate at a time (slow; toy sizes only)."""
    results = []
    fold = {}
    for i, w in enumerate(emb.words[:N]):
        fold.setdefault(w.lower(), i)
    for _, questions in read_analogies(path):
        for q in questions:
            if not all(w in fold for w in q):
                continue
            a, b, c = (emb.vectors[fold[w]] for w in q[:3])
            best, best_score = None, -np.inf
            for j in range(N):
                if emb.words[j].lower() in q[:3]:
                    continue
                x = emb.vectors[j].astype(np.float64)
                if method == "3cosadd":
                    t = b.astype(np.float64) - a + c
                    score = x @ t / np.linalg.norm(t)
                else:
                    cos_a, cos_b, cos_c = ((1 + x @ v) / 2 for v in (a, b, c))
                    score = cos_b * cos_c / (cos_a + eps)
                if score > best_score:
                    best, best_score = j, score
            results.append(emb.words[best].lower() == q[3])
    return sum(results), len(results)


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_batched_analogies_match_a_one_at_a_time_reference(tmp_path, method):
    rng = np.random.default_rng(7)
    V, D = 60, 8
    words = [f"w{i}" for i in range(V)]
    emb = Embeddings(words, rng.normal(size=(V, D)).astype(np.float32))
    lines = [": sec-a"]
    for n in range(150):
        if n == 90:
            lines.append(": gram-b")
        ids = rng.choice(35, size=4, replace=n % 10 == 0)       # some questions repeat a word
        if n % 7 == 0:
            ids[rng.integers(4)] = V + n                         # and some have an unknown one
        lines.append(" ".join(f"w{i}" for i in ids))
    path = tmp_path / "random.txt"
    path.write_text("\n".join(lines) + "\n")
    for N in (25, 60):
        r = analogy_accuracy(emb, path, restrict=N, method=method, batch_size=16)
        assert (r["correct"], r["total"]) == reference_analogies(emb, path, N, method)
        assert r["total"] > 10


def test_case_variants_count_as_one_word_as_in_gensim(toy_file):
    from gensim.models import KeyedVectors

    # 'Queen' sits exactly on the answer and is rarer than 'queen': it answers for queen.
    # 'Man' is a spelling of a question word: never an answer (else 'king king man man' is right).
    # 'Woman' points elsewhere: the most frequent spelling (woman) must be the one used.
    words, vectors = toy_embeddings()
    the = words.index("the")
    words = words + ["Queen", "Man", "Woman"]
    vectors = np.vstack([vectors, vectors[[3, 0, the]]])
    vectors[3, -1] = 0.5                       # queen itself slightly off the ideal point
    emb = Embeddings(words, vectors)
    r = analogy_accuracy(emb, toy_file, restrict=None)
    assert r["sections"]["family"]["correct"] == 3
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    score, _ = kv.evaluate_word_analogies(str(toy_file), restrict_vocab=len(words))
    assert r["accuracy"] == score


def test_unknown_words_and_bad_files_give_clear_errors(tmp_path, toy_file):
    emb = Embeddings(*toy_embeddings())
    with pytest.raises(KeyError) as e:
        emb.most_similar("quen")
    msg = str(e.value)
    assert "'quen' is not in the vocabulary" in msg and "queen" in msg and "\n" not in msg
    with pytest.raises(ValueError):                       # the same error is a ValueError too
        emb.vector("zzzzzz")
    with pytest.raises(ValueError, match="method"):
        analogy_accuracy(emb, toy_file, method="3cosdiv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        analogy_accuracy(emb, tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    for text, match in [("a b c d\n", "line 1 .*after a ': section' header"),
                        (": s\na b c\n", "line 2 should be four words"),
                        (": s\n\n", "no analogy questions")]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=match):
            analogy_accuracy(emb, bad)
    for text, match in [("a\tb\n", "line 1"), ("# c\na\tb\tlots\n", "line 2"),
                        ("# only\n", "no word")]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=match):
            word_similarity(emb, bad)
    with pytest.raises(ValueError, match="one vector row per word"):
        Embeddings(["a", "b"], np.zeros((3, 2)))


def test_most_similar_excludes_the_word_and_sorts_by_cosine():
    emb = Embeddings(*toy_embeddings())
    near = emb.most_similar("king", topn=5)
    # king·man = 4 + 1 − 1/4, king·queen = 4 − 1 + 1/4, king·woman = 4 − 1 − 1/4, over 5.25;
    # every other word is orthogonal to king: a tie at 0 that the most frequent (france) wins.
    assert [w for w, _ in near] == ["man", "queen", "woman", "france", "paris"]
    np.testing.assert_allclose([c for _, c in near], [4.75 / 5.25, 3.25 / 5.25, 2.75 / 5.25, 0, 0],
                               atol=1e-6)
    assert emb.similarity("king", "queen") == pytest.approx(3.25 / 5.25)
    assert len(emb.most_similar("king", topn=100)) == len(emb) - 1
    nearest_of_four = emb.most_similar("king", topn=10, restrict=4)
    assert [w for w, _ in nearest_of_four] == ["man", "queen", "woman"]


def test_word_similarity_on_a_toy_file(tmp_path):
    emb = Embeddings(*toy_embeddings())
    path = tmp_path / "pairs.tsv"
    path.write_text("# a comment\n# word1\tword2\tscore\n"
                    "King\tqueen\t8.0\nking\twoman\t9.0\nking\tbig\t1.0\nman\twoman\t7.0\n"
                    "king\tunicorn\t5.0\n\n", encoding="utf-8")
    # Cosines (× 5.25): king–queen 3.25, king–woman 2.75, king–big 0, man–woman 3.25; unicorn is
    # unknown. Ranks, model (ties averaged) and human: [3.5, 2, 1, 3.5] and [3, 4, 1, 2].
    r = word_similarity(emb, path)
    assert (r["pairs_used"], r["pairs_total"]) == (4, 5) and r["coverage"] == pytest.approx(0.8)
    model, human = np.array([3.5, 2, 1, 3.5]), np.array([3, 4, 1, 2])
    expected = np.corrcoef(model, human)[0, 1]            # Spearman's rho: Pearson of the ranks
    assert r["spearman"] == pytest.approx(expected, rel=1e-12)
    assert r["pearson"] == pytest.approx(np.corrcoef([3.25, 2.75, 0, 3.25], [8, 9, 1, 7])[0, 1])
    # Among the 3 most frequent words (man, woman, king) only 2 pairs remain: too few for a rho.
    few = word_similarity(emb, path, restrict=3)
    assert few["pairs_used"] == 2 and few["spearman"] is None


# ------------------------------------------------------------------------------------------------
# Agreement with gensim on real vectors
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gensim_vectors():
    """gensim skip-gram vectors trained on the committed sample corpus: a few seconds."""
    from gensim.models import Word2Vec

    tokens = gzip.open(ROOT / "data" / "sample_corpus.txt.gz", "rt", encoding="utf-8").read().split()
    sentences = [tokens[i:i + 10000] for i in range(0, len(tokens), 10000)]
    model = Word2Vec(sentences, sg=1, negative=5, vector_size=50, window=5, min_count=5,
                     workers=1, seed=1, epochs=3)
    return model.wv


@pytest.mark.parametrize("N", [1000, 3000, 30000])
def test_analogy_accuracy_equals_gensim(gensim_vectors, questions_file, N):
    kv = gensim_vectors
    emb = Embeddings(kv.index_to_key, kv.vectors)
    ours = analogy_accuracy(emb, questions_file, restrict=N)
    score, sections = kv.evaluate_word_analogies(str(questions_file), restrict_vocab=N)
    assert ours["total"] >= 30                         # enough questions to mean something
    assert ours["accuracy"] == score
    for s in sections[:-1]:
        mine = ours["sections"][s["section"]]
        assert (mine["correct"], mine["total"]) == (len(s["correct"]),
                                                    len(s["correct"]) + len(s["incorrect"]))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")     # gensim calls its own init_sims
def test_3cosmul_matches_gensim_most_similar_cosmul(gensim_vectors, questions_file):
    """gensim's 3CosMul uses eps = 1e-6 and searches the whole matrix it is given: hand it the
    first N words only and compare question by question."""
    from gensim.models import KeyedVectors

    kv, N = gensim_vectors, 2000
    top = KeyedVectors(kv.vector_size)
    top.add_vectors(kv.index_to_key[:N], kv.vectors[:N])
    emb = Embeddings(kv.index_to_key, kv.vectors)
    ours = analogy_accuracy(emb, questions_file, restrict=N, method="3cosmul", eps=1e-6)
    correct = total = 0
    for _, questions in read_analogies(questions_file):
        for a, b, c, d in questions:
            if all(w in top.key_to_index for w in (a, b, c, d)):
                guess = top.most_similar_cosmul(positive=[b, c], negative=[a], topn=1)[0][0]
                correct += guess == d
                total += 1
    assert total >= 30
    assert (ours["correct"], ours["total"]) == (correct, total)


def test_spearman_equals_gensim(gensim_vectors, wordsim_file):
    kv = gensim_vectors
    emb = Embeddings(kv.index_to_key, kv.vectors)
    ours = word_similarity(emb, wordsim_file)
    pearson, spearman, oov_percent = kv.evaluate_word_pairs(str(wordsim_file))
    assert ours["pairs_used"] >= 20
    assert ours["spearman"] == pytest.approx(spearman.statistic, abs=1e-12)
    assert ours["pearson"] == pytest.approx(pearson.statistic, abs=1e-6)
    assert 100 * (1 - ours["coverage"]) == pytest.approx(oov_percent)


def test_most_similar_equals_gensim(gensim_vectors):
    kv = gensim_vectors
    emb = Embeddings(kv.index_to_key, kv.vectors)
    for word in kv.index_to_key[100:105]:
        ours = emb.most_similar(word, topn=8)
        theirs = kv.most_similar(word, topn=8)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([c for _, c in ours], [c for _, c in theirs], atol=1e-5)


# ------------------------------------------------------------------------------------------------
# The whole evaluation, the report and the command line
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_vectors(gensim_vectors, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vectors")
    kv = gensim_vectors
    return (save_word2vec_text(folder / "vectors.txt", kv.index_to_key, kv.vectors),
            save_npz(folder / "vectors.npz", kv.index_to_key, kv.vectors))


def test_evaluate_vectors_keys_and_values(saved_vectors, gensim_vectors, questions_file,
                                          wordsim_file):
    text, npz = saved_vectors
    r = evaluate_vectors(text, analogies=questions_file, similarity=wordsim_file, restrict=3000)
    assert set(r) == {"analogy_accuracy", "analogy_coverage", "sections", "semantic_accuracy",
                      "syntactic_accuracy", "similarity_spearman", "similarity_coverage"}
    score, _ = gensim_vectors.evaluate_word_analogies(str(questions_file), restrict_vocab=3000)
    assert r["analogy_accuracy"] == score
    assert 0 < r["analogy_coverage"] < 1 and 0 < r["similarity_coverage"] < 1
    assert len(r["sections"]) == 14
    assert evaluate_vectors(npz, analogies=questions_file, similarity=wordsim_file,
                            restrict=3000) == r
    json.dumps(r)                                          # serialisable as it is
    report = format_report(r)
    assert "capital-world" in report and "syntactic" in report and "Spearman" in report
    print(report)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sgns_helpers", "evaluate", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_command_line(saved_vectors, questions_file, wordsim_file, tmp_path):
    text, _ = saved_vectors
    done = run_cli(text, "--analogies", questions_file, "--similarity", wordsim_file,
                   "--restrict", 3000, "--json")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) >= {"analogy_accuracy", "analogy_coverage", "sections",
                                            "similarity_spearman", "similarity_coverage"}
    done = run_cli(tmp_path / "nope.txt", "--analogies", questions_file,
                   "--similarity", wordsim_file)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
    broken = tmp_path / "broken.txt"
    broken.write_text("3 2\na 1 2\n")
    done = run_cli(broken, "--analogies", questions_file, "--similarity", wordsim_file)
    assert done.returncode != 0 and "truncated" in done.stderr and "Traceback" not in done.stderr
