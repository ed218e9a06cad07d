"""Evaluating word vectors: nearest neighbours, analogies and word similarity.

Every measure works on unit-normalised vectors, so a dot product is a cosine.

* Analogies ``a : b :: c : ?`` (the Google set, ``: section`` headers, four words a line) are
  answered among the ``restrict`` most frequent words, never with one of the three question words.
  3CosAdd picks the word ``x`` maximising ``cos(x, b − a + c)``; 3CosMul (Levy & Goldberg, 2014)
  maximises ``cos'(x, b) · cos'(x, c) / (cos'(x, a) + eps)`` with every cosine shifted to
  ``cos' = (1 + cos) / 2 ∈ [0, 1]`` and ``eps = 1e-3``. A question with a word outside the
  restricted vocabulary is skipped and only counted for the coverage. Words are compared
  case-insensitively (the questions are lowercased; a vocabulary word stands for its lowercase form,
  the most frequent spelling winning), and on an exact tie the most frequent word wins. With 3CosAdd
  the accuracy is the same as gensim's ``KeyedVectors.evaluate_word_analogies(path,
  restrict_vocab=N)`` (which folds case with ``upper()``: the same thing for a–z words).
* Word similarity (WordSim-353 and files shaped like it: ``word1 word2 score`` per line, ``#``
  comments) is Spearman's rank correlation between the human scores and the cosines, over the pairs
  whose two words are in the vocabulary.
"""
from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from .files import repo_root
from .formats import load_vectors

DATA_DIR = repo_root() / "data"
DEFAULT_ANALOGIES = DATA_DIR / "questions-words.txt"
DEFAULT_SIMILARITY = DATA_DIR / "wordsim353.tsv"

ANALOGY_METHODS = ("3cosadd", "3cosmul")


class UnknownWordError(KeyError, ValueError):
    """A word that is not in the vocabulary. Both a ``KeyError`` and a ``ValueError``; its message
    is one plain line (a bare ``KeyError`` would print it in quotes)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class Embeddings:
    """Word vectors ready for lookups: the words, the word → row map and unit-length rows.

    Attributes:
        words: list of V str, most frequent first.
        index: dict word → row (the first row if a word were repeated).
        vectors: (V, D) float32, every nonzero row scaled to length 1.
        norms: (V,) float32, the lengths of the rows as given (before scaling).
    """

    def __init__(self, words, vectors):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"need one vector row per word: {len(words)} words, vectors of shape "
                             f"{vectors.shape}")
        self.words = [str(w) for w in words]
        self.index = {}
        for i, w in enumerate(self.words):
            self.index.setdefault(w, i)
        vectors = vectors.astype(np.float32, copy=False)
        self.norms = np.linalg.norm(vectors, axis=1)                      # (V,)
        safe = np.where(self.norms > 0, self.norms, 1).astype(np.float32)
        self.vectors = vectors / safe[:, None]                            # (V, D)

    @classmethod
    def from_file(cls, path):
        """Load a ``.npz`` or word2vec text file (see :func:`.formats.load_vectors`)."""
        return cls(*load_vectors(path))

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __repr__(self):
        return f"Embeddings(V={len(self.words)}, D={self.vectors.shape[1]})"

    def index_of(self, word):
        """Row of ``word``; an unknown word raises :class:`UnknownWordError` with close matches."""
        try:
            return self.index[word]
        except KeyError:
            pass
        # Suggestions from the 20,000 most frequent words keep the search well under a second.
        close = difflib.get_close_matches(str(word), self.words[:20000], n=3)
        hint = f"; did you mean {', '.join(repr(w) for w in close)}?" if close else ""
        raise UnknownWordError(f"{word!r} is not in the vocabulary of {len(self.words)} words"
                               f"{hint}") from None

    def vector(self, word):
        """The unit vector of ``word``: (D,) float32."""
        return self.vectors[self.index_of(word)]

    def similarity(self, word1, word2):
        """Cosine similarity of two words (a float in [-1, 1])."""
        return float(self.vector(word1) @ self.vector(word2))

    def most_similar(self, word, topn=10, restrict=None):
        """The ``topn`` nearest words to ``word`` by cosine, itself excluded.

        Args:
            word: a vocabulary word.
            topn: how many neighbours.
            restrict: search only the ``restrict`` most frequent words (None: all).

        Returns:
            list of ``(word, cosine)``, the most similar first.
        """
        i = self.index_of(word)
        n = len(self.words) if restrict is None else min(int(restrict), len(self.words))
        cos = self.vectors[:n] @ self.vectors[i]                          # (n,)
        if i < n:
            cos[i] = -np.inf                                              # sorts last
        topn = max(0, min(int(topn), n - (i < n)))
        best = np.argsort(-cos, kind="stable")[:topn]                     # ties: frequent first
        return [(self.words[j], float(cos[j])) for j in best]


# ------------------------------------------------------------------------------------------------
# Reading the evaluation files
# ------------------------------------------------------------------------------------------------

def _open_text(path, what):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {path} does not exist: check the path")
    if path.is_dir():
        raise IsADirectoryError(f"{what} file {path} is a folder: give the file inside it")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{what} file {path} is not UTF-8 text") from None


def read_analogies(path):
    """Parse a Google-style analogy file.

    Lines ``: name`` start a section; every other non-blank line is four words ``a b c d`` meaning
    ``a : b :: c : d``. Words are lowercased.

    Returns:
        list of ``(section_name, [(a, b, c, d), ...])`` in file order.
    """
    sections = []
    for line_no, line in enumerate(_open_text(path, "analogy"), start=1):
        if line.startswith(":"):
            sections.append((line[1:].strip(), []))
            continue
        parts = line.lower().split()
        if not parts:
            continue
        if len(parts) != 4:
            raise ValueError(f"{path}: line {line_no} should hold 4 words (a b c d), it has "
                             f"{len(parts)}")
        if not sections:
            raise ValueError(f"{path}: line {line_no} comes before the first ': section' header")
        sections[-1][1].append(tuple(parts))
    if not any(questions for _, questions in sections):
        raise ValueError(f"{path} holds no analogy questions: is it the right file?")
    return sections


def read_word_pairs(path):
    """Parse a WordSim-353-style file: ``word1 word2 score`` (tab- or space-separated) per line,
    ``#`` comment lines and blank lines ignored. Words are lowercased.

    Returns:
        list of ``(word1, word2, score)``.
    """
    pairs = []
    for line_no, line in enumerate(_open_text(path, "word-pair"), start=1):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.lower().split()
        try:
            if len(parts) != 3 or not np.isfinite(float(parts[2])):
                raise ValueError
            pairs.append((parts[0], parts[1], float(parts[2])))
        except ValueError:
            raise ValueError(f"{path}: line {line_no} should be 'word1 word2 score' with a "
                             f"finite number as the score, got {line[:60]!r}") from None
    if not pairs:
        raise ValueError(f"{path} holds no word pairs: is it the right file?")
    return pairs


def _folded_index(words, n):
    """Case-insensitive lookup over the first ``n`` words.

    Returns:
        ``(fold, fold_id)``: dict lowercase word → its first (most frequent) row, and an (n,)
        int64 array giving for each row the row that stands for its lowercase form.
    """
    fold = {}
    for i, w in enumerate(words[:n]):
        fold.setdefault(w.lower(), i)
    fold_id = np.array([fold[w.lower()] for w in words[:n]], dtype=np.int64)   # (n,)
    return fold, fold_id


def _ratio(num, den):
    return num / den if den else None


def _totals(sections, names):
    """Summed counts and accuracy of the named entries of a per-section dict."""
    out = {k: sum(sections[n][k] for n in names) for k in ("correct", "total", "questions")}
    out["accuracy"] = _ratio(out["correct"], out["total"])
    return out


def _split(sections):
    """(semantic, syntactic) section names: the syntactic ones are those starting with "gram"
    (in the Google set the semantic five are capital-common-countries, capital-world, currency,
    city-in-state and family)."""
    return ([n for n in sections if not n.startswith("gram")],
            [n for n in sections if n.startswith("gram")])


# ------------------------------------------------------------------------------------------------
# Analogies
# ------------------------------------------------------------------------------------------------

def analogy_accuracy(emb, path, restrict=30000, method="3cosadd", eps=1e-3, batch_size=None):
    """Accuracy on the analogy questions in ``path``, answered among the ``restrict`` most
    frequent words.

    Args:
        emb: an :class:`Embeddings`.
        path: analogy file (see :func:`read_analogies`).
        restrict: candidates are the first ``restrict`` rows (None: the whole vocabulary);
            questions with a word outside them are skipped.
        method: ``"3cosadd"`` or ``"3cosmul"``.
        eps: the 3CosMul denominator guard.
        batch_size: questions per matrix product (default: about 8 million scores a batch).

    Returns:
        dict with ``method``, ``restrict`` (the N used), ``accuracy`` (correct / answered, None if
        none answered), ``coverage`` (answered / questions in the file), ``correct``, ``total``
        (questions answered), ``questions`` (in the file), ``semantic`` and ``syntactic`` (the
        same counts and ``accuracy`` over the sections not starting / starting with "gram") and
        ``sections``: {name: {"correct", "total",
        "questions", "accuracy"}} in file order.
    """
    method = str(method).lower()
    if method not in ANALOGY_METHODS:
        raise ValueError(f"method must be one of {', '.join(ANALOGY_METHODS)}, got {method!r}")
    if restrict is not None and int(restrict) < 1:
        raise ValueError(f"restrict must be a positive number of words, got {restrict}")
    sections = read_analogies(path)
    N = len(emb.words) if restrict is None else min(int(restrict), len(emb.words))
    fold, fold_id = _folded_index(emb.words, N)
    has_case_twins = len(fold) < N
    W = emb.vectors[:N]                                                   # (N, D)

    # Question words → representative rows; drop questions with a word outside the first N.
    ids, sec_of = [], []
    for s, (_, questions) in enumerate(sections):
        for q in questions:
            row = [fold.get(w) for w in q]
            if None not in row:
                ids.append(row)
                sec_of.append(s)
    ids = np.array(ids, dtype=np.int64).reshape(-1, 4)                    # (Q, 4)
    sec_of = np.array(sec_of, dtype=np.int64)                             # (Q,)

    if batch_size is None:
        batch_size = max(1, min(2048, 8_000_000 // N))
    hit = np.zeros(len(ids), dtype=bool)                                  # (Q,)
    for start in range(0, len(ids), batch_size):
        a, b, c, d = ids[start:start + batch_size].T                      # (B,) each
        if method == "3cosadd":
            target = (W[b] + W[c]) - W[a]                                 # (B, D)
            length = np.linalg.norm(target, axis=1, keepdims=True)
            target /= np.where(length > 0, length, 1)
            score = target @ W.T                                          # (B, N)
        else:
            cos_a, cos_b, cos_c = (W[x] @ W.T for x in (a, b, c))         # (B, N) each
            score = ((1 + cos_b) / 2) * ((1 + cos_c) / 2) / ((1 + cos_a) / 2 + eps)
        rows = np.arange(len(a))
        if has_case_twins:                 # also exclude other spellings of the question words
            twin = fold_id[None, :]                                       # (1, N)
            score[(twin == a[:, None]) | (twin == b[:, None]) | (twin == c[:, None])] = -np.inf
        else:
            score[rows, a] = score[rows, b] = score[rows, c] = -np.inf
        guess = np.argmax(score, axis=1)                                  # (B,), ties: lowest row
        hit[start:start + len(a)] = fold_id[guess] == d

    per_section = {}
    for s, (name, questions) in enumerate(sections):
        mine = sec_of == s
        correct, total = int(hit[mine].sum()), int(mine.sum())
        entry = {"correct": correct, "total": total, "questions": len(questions),
                 "accuracy": _ratio(correct, total)}
        if name in per_section:                         # a repeated header: merge the counts
            old = per_section[name]
            entry = {k: old[k] + entry[k] for k in ("correct", "total", "questions")}
            entry["accuracy"] = _ratio(entry["correct"], entry["total"])
        per_section[name] = entry

    everything = _totals(per_section, per_section)
    semantic, syntactic = _split(per_section)
    return {
        "method": method, "restrict": N,
        "accuracy": everything["accuracy"],
        "coverage": _ratio(everything["total"], everything["questions"]),
        "correct": everything["correct"], "total": everything["total"],
        "questions": everything["questions"],
        "semantic": _totals(per_section, semantic),
        "syntactic": _totals(per_section, syntactic),
        "sections": per_section,
    }


# ------------------------------------------------------------------------------------------------
# Word similarity
# ------------------------------------------------------------------------------------------------

def word_similarity(emb, path, restrict=None):
    """Spearman's (and Pearson's) correlation between human similarity scores and cosines.

    Args:
        emb: an :class:`Embeddings`.
        path: word-pair file (see :func:`read_word_pairs`).
        restrict: use only the ``restrict`` most frequent words (None: all).

    Returns:
        dict with ``spearman`` and ``pearson`` (None with fewer than 3 usable pairs or constant
        scores), ``pairs_used``, ``pairs_total`` and ``coverage`` = used / total.
    """
    from scipy import stats

    pairs = read_word_pairs(path)
    N = len(emb.words) if restrict is None else min(int(restrict), len(emb.words))
    fold, _ = _folded_index(emb.words, N)
    used = [(fold[w1], fold[w2], score) for w1, w2, score in pairs if w1 in fold and w2 in fold]
    result = {"spearman": None, "pearson": None, "pairs_used": len(used),
              "pairs_total": len(pairs), "coverage": len(used) / len(pairs)}
    if len(used) >= 3:
        i, j, human = (np.array(col) for col in zip(*used))
        cosine = np.einsum("pd,pd->p", emb.vectors[i], emb.vectors[j])   # (P,)
        if np.ptp(human) > 0 and np.ptp(cosine) > 0:
            result["spearman"] = float(stats.spearmanr(human, cosine).statistic)
            result["pearson"] = float(stats.pearsonr(human, cosine).statistic)
    return result


# ------------------------------------------------------------------------------------------------
# Both at once, for the command line
# ------------------------------------------------------------------------------------------------

def _default_file(given, default, option):
    if given is not None:
        return Path(given)
    if not default.exists():
        raise FileNotFoundError(f"the default evaluation file {default} is missing: restore it "
                                f"with git checkout -- data/{default.name}, or pass {option} PATH")
    return default


def evaluate_vectors(path, analogies=None, similarity=None, restrict=30000):
    """Analogy accuracy (3CosAdd, answers among the ``restrict`` most frequent words) and
    WordSim-353 correlation (over the whole vocabulary) of the vectors in ``path`` (``.npz`` or
    word2vec text, or an :class:`Embeddings` already loaded).

    ``analogies`` and ``similarity`` default to ``data/questions-words.txt`` and
    ``data/wordsim353.tsv`` of this repository.

    Returns:
        dict with exactly ``analogy_accuracy``, ``analogy_coverage``, ``sections`` (per-section
        counts as in :func:`analogy_accuracy`), ``semantic_accuracy``, ``syntactic_accuracy``,
        ``similarity_spearman`` and ``similarity_coverage`` (accuracies and correlations are None
        when nothing could be scored). JSON-serialisable.
    """
    analogies = _default_file(analogies, DEFAULT_ANALOGIES, "--analogies")
    similarity = _default_file(similarity, DEFAULT_SIMILARITY, "--similarity")
    emb = path if isinstance(path, Embeddings) else Embeddings.from_file(path)
    ana = analogy_accuracy(emb, analogies, restrict=restrict)
    sim = word_similarity(emb, similarity)
    return {
        "analogy_accuracy": ana["accuracy"],
        "analogy_coverage": ana["coverage"],
        "sections": ana["sections"],
        "semantic_accuracy": ana["semantic"]["accuracy"],
        "syntactic_accuracy": ana["syntactic"]["accuracy"],
        "similarity_spearman": sim["spearman"],
        "similarity_coverage": sim["coverage"],
    }


def format_report(result):
    """A plain-text table of an :func:`evaluate_vectors` result."""
    def pct(x):
        return "    -" if x is None else f"{100 * x:5.1f}%"

    sections = result["sections"]
    width = max([len(n) for n in sections] + [24])
    lines = ["Analogies (3CosAdd)", "",
             f"{'section':<{width}}  {'correct':>7} / {'answered':<8}  {'accuracy':>8}  "
             f"{'coverage':>8}"]
    rule = "-" * len(lines[-1])
    lines.append(rule)

    def row(name, e):
        cov = e["total"] / e["questions"] if e["questions"] else None
        return (f"{name:<{width}}  {e['correct']:>7} / {e['total']:<8}  {pct(e['accuracy']):>8}  "
                f"{pct(cov):>8}")

    for name, e in sections.items():
        lines.append(row(name, e))
    lines.append(rule)
    semantic, syntactic = _split(sections)
    for label, names in (("semantic", semantic), ("syntactic", syntactic), ("all", sections)):
        lines.append(row(label, _totals(sections, names)))
    lines.append("")
    rho = result["similarity_spearman"]
    lines.append(f"Word similarity: Spearman rho {'-' if rho is None else f'{rho:.3f}'} over "
                 f"{pct(result['similarity_coverage']).strip()} of the pairs")
    return "\n".join(lines)
