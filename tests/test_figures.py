"""The paper's figures, checked through matplotlib's objects (labels, bars, colour bars), not pixels."""
import numpy as np

from hsvae.analysis.figures import figure_accuracy_sparsity, heat_map

SUMMARY = {"vae": {"accuracy": 0.9, "ah_sample": 0.23, "rec": 29.4},
           "hsvae": {"accuracy": 0.8, "ah_sample": 0.46, "rec": 33.3},
           "classifier": {"accuracy": 0.94}}


def test_fig2_has_accuracy_sparsity_and_reconstruction_on_their_own_axes(tmp_path):
    fig = figure_accuracy_sparsity(SUMMARY, tmp_path / "fig2.png", "corpus synthetic, latent 32")
    accuracy, hoyer, rec = [ax for ax in fig.axes]
    assert [ax.get_ylabel() for ax in fig.axes] == ["test accuracy", "Average Hoyer (samples)",
                                                    "reconstruction loss (nats / sentence)"]
    for ax in fig.axes:
        assert len(ax.patches) == 3 and [t.get_text() for t in ax.get_xticklabels()] == list(SUMMARY)
    assert [round(p.get_height(), 2) for p in accuracy.patches] == [0.9, 0.8, 0.94]
    labels = lambda ax: [t.get_text() for t in ax.texts]  # noqa: E731
    assert labels(hoyer) == ["0.230", "0.460", "n/a"] and labels(rec)[-1] == "n/a"  # the baseline has no codes
    assert "corpus synthetic, latent 32" in fig._suptitle.get_text()
    assert (tmp_path / "fig2.png").stat().st_size > 10_000


def test_fig5_masks_its_diagonal_and_labels_its_colour_bar(tmp_path):
    kl = np.array([[0.0, 1.3, 1.7], [1.4, 0.0, 1.5], [1.6, 1.35, 0.0]])
    fig = heat_map(kl, tmp_path / "fig5.png", "Fig. 5", "class", "class", list("abc"), list("abc"),
                   "KL divergence (nats)", mask_diagonal=True)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (1.3, 1.7)  # the zero diagonal does not stretch the colour scale
    assert image.get_array().mask.diagonal().all() and not image.get_array().mask[0, 1]
    assert fig.axes[1].get_ylabel() == "KL divergence (nats)"  # the colour bar's axis
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list("abc")
