"""Evaluating word vectors: nearest neighbours, analogies and word similarity.

Every measure works on unit-length rows, so a dot product is a cosine. Words are compared
case-insensitively (a vocabulary word stands for its lowercase form, the most frequent spelling
winning), and on an exact tie the most frequent word wins: with 3CosAdd the analogy accuracy is
then gensim's ``KeyedVectors.evaluate_word_analogies(path, restrict_vocab=N)``.
"""
from __future__ import annotations

import difflib

import numpy as np

from .files import existing_file, repo_root
from .formats import load_vectors

DEFAULT_ANALOGIES = repo_root() / "data" / "questions-words.txt"
DEFAULT_SIMILARITY = repo_root() / "data" / "wordsim353.tsv"
ANALOGY_METHODS = ("3cosadd", "3cosmul")


class UnknownWordError(KeyError, ValueError):
    """A word that is not in the vocabulary: a ``KeyError`` and a ``ValueError`` whose message is
    one plain line (a bare ``KeyError`` would print it in quotes)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class Embeddings:
    """Word vectors ready for lookups.

    Attributes:
        words: list of V str, most frequent first;  index: dict word → row.
        vectors: (V, D) float32, every nonzero row scaled to length 1.
        norms: (V,) float32, the lengths of the rows as given.
    """

    def __init__(self, words, vectors):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words) or not len(words):
            raise ValueError(f"need one vector row per word: {len(words)} words, vectors of shape "
                             f"{vectors.shape}")
        self.words = [str(w) for w in words]
        self.index = {}
        for i, w in enumerate(self.words):
            self.index.setdefault(w, i)
        vectors = vectors.astype(np.float32, copy=False)
        self.norms = np.linalg.norm(vectors, axis=1)                      # (V,)
        self.vectors = vectors / np.where(self.norms > 0, self.norms, 1)[:, None]   # (V, D)

    @classmethod
    def from_file(cls, path):
        """Load a ``.npz`` or word2vec text file (:func:`sgns_helpers.formats.load_vectors`)."""
        return cls(*load_vectors(path))

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __repr__(self):
        return f"Embeddings(V={len(self.words)}, D={self.vectors.shape[1]})"

    def index_of(self, word):
        """Row of ``word``; an unknown word raises :class:`UnknownWordError` with close matches
        (from the 20,000 most frequent words, which keeps the search quick)."""
        if word in self.index:
            return self.index[word]
        close = difflib.get_close_matches(str(word), self.words[:20000], n=3)
        hint = f"; did you mean {', '.join(repr(w) for w in close)}?" if close else ""
        raise UnknownWordError(f"{word!r} is not in the vocabulary of {len(self.words)} words{hint}")

    def vector(self, word):
        """The unit vector of ``word``: (D,) float32."""
        return self.vectors[self.index_of(word)]

    def similarity(self, word1, word2):
        """Cosine similarity of two words (a float in [-1, 1])."""
        return float(self.vector(word1) @ self.vector(word2))

    def most_similar(self, word, topn=10, restrict=None):
        """The ``topn`` nearest words to ``word`` by cosine, itself excluded, among the
        ``restrict`` most frequent words (None: all): a list of ``(word, cosine)``."""
        i = self.index_of(word)
        n = len(self.words) if restrict is None else min(int(restrict), len(self.words))
        cos = self.vectors[:n] @ self.vectors[i]                          # (n,)
        if i < n:
            cos[i] = -np.inf                                              # sorts last
        best = np.argsort(-cos, kind="stable")[:max(0, min(int(topn), n - (i < n)))]
        return [(self.words[j], float(cos[j])) for j in best]             # ties: frequent first


# ------------------------------------------------------------------------------------------------
# The evaluation files
# ------------------------------------------------------------------------------------------------

def _lines(path, what):
    path = existing_file(path, what)
    try:
        return enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
    except UnicodeDecodeError:
        raise ValueError(f"{what} file {path} is not UTF-8 text") from None


def read_analogies(path):
    """Parse a Google-style analogy file: lines ``: name`` start a section, every other non-blank
    line is four words ``a b c d`` meaning ``a : b :: c : d`` (lowercased). Returns a list of
    ``(section_name, [(a, b, c, d), ...])`` in file order."""
    sections = []
    for line_no, line in _lines(path, "analogy"):
        parts = line.lower().split()
        if line.startswith(":"):
            sections.append((line[1:].strip(), []))
        elif parts and (len(parts) != 4 or not sections):
            raise ValueError(f"{path}: line {line_no} should be four words a b c d after a "
                             f"': section' header, got {line[:60]!r}")
        elif parts:
            sections[-1][1].append(tuple(parts))
    if not any(questions for _, questions in sections):
        raise ValueError(f"{path} holds no analogy questions: is it the right file?")
    return sections


def read_word_pairs(path):
    """Parse a WordSim-353-style file: ``word1 word2 score`` a line (tab or space separated,
    lowercased; ``#`` comments and blank lines ignored). Returns ``[(word1, word2, score)]``."""
    pairs = []
    for line_no, line in _lines(path, "word-pair"):
        parts = line.lower().split()
        if line.startswith("#") or not parts:
            continue
        try:
            if len(parts) != 3 or not np.isfinite(float(parts[2])):
                raise ValueError
        except ValueError:
            raise ValueError(f"{path}: line {line_no} should be 'word1 word2 score' with a "
                             f"finite number as the score, got {line[:60]!r}") from None
        pairs.append((parts[0], parts[1], float(parts[2])))
    if not pairs:
        raise ValueError(f"{path} holds no word pairs: is it the right file?")
    return pairs


def _folded_index(words, n):
    """Case-insensitive lookup over the first ``n`` words: ``(fold, fold_id)``, a dict lowercase
    word → its first (most frequent) row, and (n,) the row that stands for each row's form."""
    fold = {}
    for i, w in enumerate(words[:n]):
        fold.setdefault(w.lower(), i)
    return fold, np.array([fold[w.lower()] for w in words[:n]], dtype=np.int64)


def _totals(sections, names):
    """Summed counts and accuracy of the named entries of a per-section dict."""
    out = {k: sum(sections[n][k] for n in names) for k in ("correct", "total", "questions")}
    out["accuracy"] = out["correct"] / out["total"] if out["total"] else None
    return out


def _split(sections):
    """(semantic, syntactic) section names: the syntactic sections' names start with "gram"."""
    return ([n for n in sections if not n.startswith("gram")],
            [n for n in sections if n.startswith("gram")])


# ------------------------------------------------------------------------------------------------
# Analogies and similarity
# ------------------------------------------------------------------------------------------------

def analogy_accuracy(emb, path, restrict=30000, method="3cosadd", eps=1e-3, batch_size=None):
    """Accuracy on the analogy questions in ``path``, answered among the ``restrict`` most
    frequent words (None: all), never with one of the three question words.

    3CosAdd picks the ``x`` maximising ``cos(x, b − a + c)``; 3CosMul (Levy & Goldberg, 2014)
    maximises ``cos'(x, b) · cos'(x, c) / (cos'(x, a) + eps)`` with ``cos' = (1 + cos) / 2``. A
    question with a word outside the candidates is skipped and only counted for the coverage.

    Returns:
        dict with ``method``, ``restrict`` (the N used), ``accuracy`` (correct / answered, None if
        none answered), ``coverage`` (answered / questions), ``correct``, ``total`` (answered),
        ``questions``, ``semantic`` and ``syntactic`` (the same counts over the sections not
        starting / starting with "gram") and ``sections``: {name: {correct, total, questions,
        accuracy}} in file order.
    """
    method = str(method).lower()
    if method not in ANALOGY_METHODS:
        raise ValueError(f"method must be one of {', '.join(ANALOGY_METHODS)}, got {method!r}")
    if restrict is not None and int(restrict) < 1:
        raise ValueError(f"restrict must be a positive number of words, got {restrict}")
    sections = read_analogies(path)
    N = len(emb.words) if restrict is None else min(int(restrict), len(emb.words))
    fold, fold_id = _folded_index(emb.words, N)
    W = emb.vectors[:N]                                                   # (N, D)
    questions = [([fold.get(w) for w in q], s) for s, (_, qs) in enumerate(sections) for q in qs]
    answerable = [(row, s) for row, s in questions if None not in row]
    ids = np.array([row for row, _ in answerable], dtype=np.int64).reshape(-1, 4)   # (Q, 4)
    sec_of = np.array([s for _, s in answerable], dtype=np.int64)                   # (Q,)

    batch_size = batch_size or max(1, min(2048, 8_000_000 // N))
    hit = np.zeros(len(ids), dtype=bool)                                  # (Q,)
    for start in range(0, len(ids), batch_size):
        a, b, c, d = ids[start:start + batch_size].T                      # (B,) each
        if method == "3cosadd":
            target = (W[b] + W[c]) - W[a]                                 # (B, D)
            target /= np.maximum(np.linalg.norm(target, axis=1, keepdims=True), 1e-30)
            score = target @ W.T                                          # (B, N)
        else:
            # Each distinct question word's shifted cosines cos' = (1 + cos)/2 with all N
            # candidates, once a batch (words repeat across questions): (U, N).
            uniq, where = np.unique(np.concatenate([a, b, c]), return_inverse=True)
            shifted = W[uniq] @ W.T
            shifted += 1
            shifted /= 2
            at_a, at_b, at_c = where.reshape(3, -1)                       # (B,) each
            score = shifted[at_b] * shifted[at_c]                         # (B, N)
            score /= shifted[at_a] + eps
        if len(fold) < N:                  # case twins: also exclude other spellings of a, b, c
            twin = fold_id[None, :]                                       # (1, N)
            score[(twin == a[:, None]) | (twin == b[:, None]) | (twin == c[:, None])] = -np.inf
        else:
            rows = np.arange(len(a))
            score[rows, a] = score[rows, b] = score[rows, c] = -np.inf
        hit[start:start + len(a)] = fold_id[np.argmax(score, axis=1)] == d   # ties: lowest row

    per_section = {}
    for s, (name, qs) in enumerate(sections):
        old = per_section.get(name, {"correct": 0, "total": 0, "questions": 0})   # a repeat: merge
        counts = (int(hit[sec_of == s].sum()), int((sec_of == s).sum()), len(qs))
        per_section[name] = {k: old[k] + n for k, n in zip(("correct", "total", "questions"), counts)}
        per_section[name]["accuracy"] = _totals(per_section, [name])["accuracy"]
    everything = _totals(per_section, per_section)
    semantic, syntactic = _split(per_section)
    return {"method": method, "restrict": N, **{k: everything[k] for k in ("accuracy", "correct",
            "total", "questions")}, "coverage": everything["total"] / everything["questions"],
            "semantic": _totals(per_section, semantic),
            "syntactic": _totals(per_section, syntactic), "sections": per_section}


def word_similarity(emb, path, restrict=None):
    """Spearman's (and Pearson's) correlation between the human scores of the word pairs in
    ``path`` (:func:`read_word_pairs`) and their cosines, over the pairs whose two words are among
    the ``restrict`` most frequent (None: all). Returns a dict with ``spearman`` and ``pearson``
    (None with fewer than 3 usable pairs or constant scores), ``pairs_used``, ``pairs_total`` and
    ``coverage`` (used / total)."""
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


def evaluate_vectors(path, analogies=None, similarity=None, restrict=30000):
    """Analogy accuracy (3CosAdd among the ``restrict`` most frequent words) and WS-353-style
    correlation (over the whole vocabulary) of the vectors in ``path`` (``.npz`` or word2vec text,
    or an :class:`Embeddings`). The files default to ``data/questions-words.txt`` and
    ``data/wordsim353.tsv``. Returns a JSON-serialisable dict with exactly ``analogy_accuracy``,
    ``analogy_coverage``, ``sections``, ``semantic_accuracy``, ``syntactic_accuracy``,
    ``similarity_spearman`` and ``similarity_coverage``."""
    for given, default in ((analogies, DEFAULT_ANALOGIES), (similarity, DEFAULT_SIMILARITY)):
        if given is None and not default.exists():
            raise FileNotFoundError(f"the default evaluation file {default} is missing: restore "
                                    f"it with git checkout -- data/{default.name}")
    emb = path if isinstance(path, Embeddings) else Embeddings.from_file(path)
    ana = analogy_accuracy(emb, analogies or DEFAULT_ANALOGIES, restrict=restrict)
    sim = word_similarity(emb, similarity or DEFAULT_SIMILARITY)
    return {"analogy_accuracy": ana["accuracy"], "analogy_coverage": ana["coverage"],
            "sections": ana["sections"], "semantic_accuracy": ana["semantic"]["accuracy"],
            "syntactic_accuracy": ana["syntactic"]["accuracy"],
            "similarity_spearman": sim["spearman"], "similarity_coverage": sim["coverage"]}


def format_report(result):
    """A plain-text table of an :func:`evaluate_vectors` result."""
    def pct(x):
        return "    -" if x is None else f"{100 * x:5.1f}%"

    def row(name, e):
        coverage = e["total"] / e["questions"] if e["questions"] else None
        return (f"{name:<{width}}  {e['correct']:>7} / {e['total']:<8}  {pct(e['accuracy']):>8}  "
                f"{pct(coverage):>8}")

    sections = result["sections"]
    width = max([len(n) for n in sections] + [24])
    head = (f"{'section':<{width}}  {'correct':>7} / {'answered':<8}  {'accuracy':>8}  "
            f"{'coverage':>8}")
    rule = "-" * len(head)
    semantic, syntactic = _split(sections)
    rho = result["similarity_spearman"]
    return "\n".join(["Analogies (3CosAdd)", "", head, rule,
                      *(row(name, e) for name, e in sections.items()), rule,
                      *(row(label, _totals(sections, names)) for label, names in
                        (("semantic", semantic), ("syntactic", syntactic), ("all", sections))),
                      "", f"Word similarity: Spearman rho {'-' if rho is None else f'{rho:.3f}'} "
                          f"over {pct(result['similarity_coverage']).strip()} of the pairs"])
