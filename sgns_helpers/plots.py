"""The pictures: the loss curve of a run and PCA projections of word vectors.

Every function returns the matplotlib ``Figure`` (:func:`pca_panels` with how many panels it drew);
given a ``path`` it also writes a PNG there, atomically.
"""
from __future__ import annotations

import numpy as np

from .files import atomic_write


def _save(fig, path, dpi=110):
    if path is not None:
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=dpi)
    return fig


def plot_loss(history, path=None, title="SGNS training loss"):
    """The smoothed loss and the learning rate against words processed (a run's ``history``:
    lists ``words``, ``loss``, ``lr`` of equal length)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    words = np.asarray(history["words"]) / 1e6
    ax.plot(words, history["loss"], color="tab:blue", label="loss (smoothed)")
    ax.set_xlabel("words processed (millions)")
    ax.set_ylabel("mean loss per pair")
    ax.set_title(title)
    ax2 = ax.twinx()
    ax2.plot(words, history["lr"], color="tab:orange", ls="--", label="learning rate")
    ax2.set_ylabel("learning rate")
    ax2.set_ylim(bottom=0)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper right")
    fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------------------------------------

_CAPITALS = [("france", "paris"), ("germany", "berlin"), ("italy", "rome"), ("spain", "madrid"),
             ("russia", "moscow"), ("japan", "tokyo"), ("china", "beijing"),
             ("greece", "athens"), ("egypt", "cairo"), ("poland", "warsaw")]
_GENDER = [("man", "woman"), ("king", "queen"), ("boy", "girl"), ("father", "mother"),
           ("son", "daughter"), ("brother", "sister"), ("husband", "wife"), ("uncle", "aunt")]
_TENSES = [("go", "went"), ("take", "took"), ("see", "saw"), ("give", "gave"),
           ("write", "wrote"), ("come", "came"), ("know", "knew"), ("find", "found")]

# Three pictures that work on text8-like corpora: {theme: (groups, arrows)}. Each arrow goes from
# the first word of a pair to the second.
DEFAULT_PCA_THEMES = {
    "countries and capitals": ({"country": [p[0] for p in _CAPITALS],
                                "capital": [p[1] for p in _CAPITALS]}, _CAPITALS),
    "family words by gender": ({"male": [p[0] for p in _GENDER],
                                "female": [p[1] for p in _GENDER]}, _GENDER),
    "verb tenses": ({"present": [p[0] for p in _TENSES],
                     "past": [p[1] for p in _TENSES]}, _TENSES),
}
# All three themes in one picture.
DEFAULT_PCA_GROUPS = {label: words for groups, _ in DEFAULT_PCA_THEMES.values()
                      for label, words in groups.items()}
DEFAULT_PCA_ARROWS = [pair for _, arrows in DEFAULT_PCA_THEMES.values() for pair in arrows]


def _place_labels(ax, xy, labels, colors):
    """Annotate each point with the first of eight positions around it whose box overlaps no
    label placed before and no other point (else the least-bad one)."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    points = ax.transData.transform(xy)                                  # (n, 2) pixels
    point_boxes = np.c_[points - 4.0, points + 4.0]                       # (n, 4) a marker each
    offsets = [(5, 4, "left", "bottom"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
               (-5, -4, "right", "top"), (0, 7, "center", "bottom"), (0, -7, "center", "top"),
               (9, 0, "left", "center"), (-9, 0, "right", "center")]
    placed = np.zeros((0, 4))                                             # boxes (x0, y0, x1, y1)

    def overlap(box, boxes):
        w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
        h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
        return float((w * h).sum())

    for k in np.argsort(points[:, 0]):                                    # left to right
        best = None
        for dx, dy, ha, va in offsets:
            text = ax.annotate(labels[k], xy[k], xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=9, color=colors[k])
            e = text.get_window_extent(renderer)
            box = (e.x0, e.y0, e.x1, e.y1)
            cost = 4 * overlap(box, placed) + overlap(box, np.delete(point_boxes, k, axis=0))
            if best is not None and cost >= best[0]:
                text.remove()
                continue
            if best is not None:
                best[1].remove()
            best = (cost, text, box)
            if cost == 0:
                break
        placed = np.vstack([placed, best[2]])


def pca_plot(emb, groups, path=None, arrows=None, fit_on="plotted", title="Word vectors",
             ax=None, figsize=(7.5, 6)):
    """Project chosen words to 2-D with PCA and draw them, one colour and legend entry per group
    of ``groups`` ({label: [words]}), with ``arrows`` (pairs ``(from_word, to_word)``, e.g.
    country → capital). The unit vectors are projected (directions, as cosines see them). The
    PCA is fitted on the plotted words (``fit_on="plotted"``) or on the ``fit_on`` most frequent
    words; the title says which. Words not in the vocabulary are named in a note under the plot.
    Draws into ``ax`` or a new figure; returns the Figure (and writes ``path`` if given).
    """
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    if not groups:
        raise ValueError("groups is empty: give {label: [words]} to plot")
    palette = plt.get_cmap("tab10").colors
    shown = {}                                                            # word → group number
    for g, words in enumerate(groups.values()):
        for w in (w for w in words if w in emb.index):
            shown.setdefault(w, g)
    skipped = [w for words in groups.values() for w in words if w not in emb.index]
    if len(shown) < 2:
        raise ValueError(f"only {len(shown)} of the words are in the vocabulary: a PCA picture "
                         "needs at least 2")
    rows = np.array([emb.index[w] for w in shown])
    if fit_on == "plotted":
        fit_rows, how = rows, f"PCA fitted on the {len(shown)} plotted words"
    elif isinstance(fit_on, (int, np.integer)) and not isinstance(fit_on, bool) and fit_on >= 2:
        n = min(int(fit_on), len(emb.words))
        fit_rows, how = np.arange(n), f"PCA fitted on the {n:,} most frequent words"
    else:
        raise ValueError(f"fit_on must be 'plotted' or a number of words >= 2, got {fit_on!r}")
    pca = PCA(n_components=2, random_state=0).fit(emb.vectors[fit_rows])
    xy = pca.transform(emb.vectors[rows])                                 # (n, 2)

    if ax is None:
        ax = plt.subplots(figsize=figsize, layout="constrained")[1]
    group_of = np.array(list(shown.values()))
    for g, label in enumerate(groups):
        if (group_of == g).any():
            ax.scatter(*xy[group_of == g].T, s=28, color=palette[g % 10], label=label, zorder=3)
    at = dict(zip(shown, xy))
    for start, end in arrows or []:
        if start in at and end in at:
            ax.annotate("", xy=at[end], xytext=at[start], zorder=2,
                        arrowprops=dict(arrowstyle="-|>", color="0.55", lw=1.0, alpha=0.8,
                                        shrinkA=5, shrinkB=5, mutation_scale=10))
    span = np.where(np.ptp(xy, axis=0) > 0, np.ptp(xy, axis=0), 1)       # room for the labels
    ax.set_xlim(xy[:, 0].min() - 0.08 * span[0], xy[:, 0].max() + 0.15 * span[0])
    ax.set_ylim(xy[:, 1].min() - 0.08 * span[1], xy[:, 1].max() + 0.08 * span[1])
    ratio = pca.explained_variance_ratio_
    ax.set(xlabel=f"PC 1 ({100 * ratio[0]:.0f}% of the variance it was fitted on)",
           ylabel=f"PC 2 ({100 * ratio[1]:.0f}%)")
    ax.set_title(f"{title}\n{how}", fontsize=11)
    ax.legend(loc="best", fontsize=9, framealpha=0.85)
    ax.grid(alpha=0.25)
    _place_labels(ax, xy, list(shown), [palette[g % 10] for g in group_of])
    if skipped:
        names = ", ".join(skipped[:12]) + (", …" if len(skipped) > 12 else "")
        ax.annotate(f"not in the vocabulary, skipped: {names}", (0, 0), xycoords="axes fraction",
                    xytext=(0, -34), textcoords="offset points", fontsize=8, color="0.4", va="top")
    return _save(ax.figure, path)


def pca_panels(emb, title, path=None, themes=None):
    """One :func:`pca_plot` panel a theme (default: DEFAULT_PCA_THEMES), each PCA fitted on its
    own words: three readable pictures rather than one crowded one. A theme with fewer than two
    of its words in the vocabulary gets an empty panel that says so.

    Returns ``(fig, drawn)``: the Figure and how many panels hold a picture; the PNG is written
    to ``path`` only if at least one does.
    """
    import matplotlib.pyplot as plt

    themes = DEFAULT_PCA_THEMES if themes is None else themes
    fig, axes = plt.subplots(1, len(themes), figsize=(6.2 * len(themes), 5.6),
                             layout="constrained", squeeze=False)
    drawn = 0
    for ax, (theme, (groups, arrows)) in zip(axes[0], themes.items()):
        try:
            pca_plot(emb, groups, arrows=arrows, ax=ax, title=theme)
            drawn += 1
        except ValueError as exc:                # too few of the words in a small corpus
            ax.set_axis_off()
            ax.set_title(f"{theme}: {exc}", fontsize=8, wrap=True)
    fig.suptitle(title)
    return _save(fig, path if drawn else None, dpi=100), drawn
