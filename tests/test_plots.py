"""The pictures: a run's loss curve and the PCA projections."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sgns_helpers.evaluate import Embeddings  # noqa: E402
from sgns_helpers.plots import (DEFAULT_PCA_ARROWS, DEFAULT_PCA_GROUPS,  # noqa: E402
                                DEFAULT_PCA_THEMES, pca_panels, pca_plot, plot_loss)
from test_evaluate import toy_embeddings  # noqa: E402


def test_plot_loss_draws_the_loss_and_the_learning_rate(tmp_path):
    history = {"words": [100, 200, 300], "loss": [4.0, 3.0, 2.5], "lr": [0.02, 0.01, 0.001]}
    fig = plot_loss(history, tmp_path / "loss.png")
    loss_ax, lr_ax = fig.axes
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_ydata(), history["loss"])
    np.testing.assert_array_equal(lr_ax.get_lines()[0].get_ydata(), history["lr"])
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)


def test_pca_plot_draws_and_saves(tmp_path):
    import matplotlib.pyplot as plt

    emb = Embeddings(*toy_embeddings())
    groups = {"countries": ["france", "italy", "atlantis"], "capitals": ["paris", "rome"],
              "people": ["man", "woman", "king", "queen"]}
    arrows = [("france", "paris"), ("italy", "rome"), ("atlantis", "nowhere")]
    png = tmp_path / "pca.png"
    fig = pca_plot(emb, groups, path=png, arrows=arrows, title="Toy")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert "fitted on the 8 plotted words" in ax.get_title()
    texts = [t.get_text() for t in ax.texts]
    assert {"france", "paris", "king"} <= set(texts) and "atlantis" not in texts
    assert any("skipped: atlantis" in t for t in texts)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(groups)
    assert sum(1 for t in ax.texts if t.arrow_patch is not None and not t.get_text()) == 2
    plt.close(fig)

    fig = pca_plot(emb, groups, fit_on=10)
    assert "fitted on the 10 most frequent words" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="fit_on"):
        pca_plot(emb, groups, fit_on="everything")
    with pytest.raises(ValueError, match="at least 2"):
        pca_plot(emb, {"g": ["atlantis", "king"]})


def test_default_pca_groups_fit_together():
    assert set(DEFAULT_PCA_GROUPS) == {label for groups, _ in DEFAULT_PCA_THEMES.values()
                                       for label in groups}
    words = {w for ws in DEFAULT_PCA_GROUPS.values() for w in ws}
    assert all(a in words and b in words for a, b in DEFAULT_PCA_ARROWS)
    for groups, arrows in DEFAULT_PCA_THEMES.values():
        first, second = groups.values()
        assert list(zip(first, second)) == arrows


def test_pca_panels_draw_what_they_can_and_say_what_they_cannot(tmp_path):
    emb = Embeddings(*toy_embeddings())
    themes = {"toy": ({"a": ["france", "italy"], "b": ["paris", "rome"]}, [("france", "paris")]),
              "missing": ({"a": ["atlantis"], "b": ["nowhere"]}, [])}
    fig, drawn = pca_panels(emb, "toy run", tmp_path / "pca.png", themes=themes)
    assert drawn == 1 and (tmp_path / "pca.png").exists()
    assert "missing: only 0 of the words" in fig.axes[1].get_title()
    plt.close(fig)
    fig, drawn = pca_panels(emb, "toy run", tmp_path / "none.png", themes={"m": themes["missing"]})
    assert drawn == 0 and not (tmp_path / "none.png").exists()
    plt.close(fig)
