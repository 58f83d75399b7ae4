"""The paper's figures, checked through matplotlib's objects (labels, bars, colour bars), not pixels."""
import numpy as np

from hsvae.analysis.figures import figure_accuracy_sparsity, heat_map

SUMMARY = {"vae": {"accuracy": 0.9, "ah_sample": 0.23, "rec": 29.4},
           "hsvae": {"accuracy": 0.8, "ah_sample": 0.46, "rec": 33.3},
           "classifier": {"accuracy": 0.94}}


def test_fig2_puts_accuracy_and_sparsity_of_every_model_in_one_panel(tmp_path):
    fig = figure_accuracy_sparsity(SUMMARY, tmp_path / "fig2.png", "corpus synthetic, latent 32", classes=4)
    panel, rec = fig.axes
    assert [t.get_text() for t in panel.get_xticklabels()] == ["VAE", "HSVAE", "classifier (supervised)"]
    heights = [round(p.get_height(), 2) for p in panel.patches]
    assert heights == [0.9, 0.8, 0.94, 0.23, 0.46]  # accuracy of all three; Hoyer of the two VAEs only
    assert [line.get_ydata()[0] for line in panel.lines] == [0.25]  # chance for 4 classes
    assert [t.get_text() for t in rec.get_xticklabels()] == ["VAE", "HSVAE"]
    assert [round(p.get_height(), 1) for p in rec.patches] == [29.4, 33.3]
    assert "one run" in fig._suptitle.get_text() and "corpus synthetic, latent 32" in fig._suptitle.get_text()
    assert fig.get_size_inches()[0] * fig.dpi <= 1000  # fits a page and the plots page


def test_fig5_masks_its_diagonal_and_labels_its_colour_bar(tmp_path):
    kl = np.array([[0.0, 1.3, 1.7], [1.4, 0.0, 1.5], [1.6, 1.35, 0.0]])
    fig = heat_map(kl, tmp_path / "fig5.png", "Fig. 5", "class", "class", list("abc"), list("abc"),
                   "KL divergence (nats)", mask_diagonal=True)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (1.3, 1.7)  # the zero diagonal does not stretch the colour scale
    assert image.get_array().mask.diagonal().all() and not image.get_array().mask[0, 1]
    assert fig.axes[1].get_ylabel() == "KL divergence (nats)"  # the colour bar's axis
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list("abc")
