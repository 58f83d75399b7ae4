"""The analyze stage's work: gather every model's test metrics, compute the corpus's class KL
and HSVAE's gamma statistics (§4.4), and draw the paper's figures."""
from pathlib import Path

import numpy as np

from hsvae.analysis.figures import (
    GAMMA_OFF,
    class_kl,
    class_separation,
    display_name,
    figure_accuracy_sparsity,
    figure_hoyer_over_training,
    gamma_class,
    heat_map,
    most_distinct_window,
    summarise,
)
from hsvae.analysis.metrics import mean_off_diagonal
from hsvae.core.errors import reading
from hsvae.data.splits import Split, class_names, vocabulary_size
from hsvae.models.registry import VAE_MODELS


def caption(cfg, sizes: dict) -> str:
    """Corpus, split sizes (as preprocessed: a corpus split by its authors has no per-class
    sample), sizes and the paper model's prior, for every figure's title."""
    made = cfg.made_with  # the params of every model reported on
    text = (f"corpus {made['data.corpus']} ({sizes['train']}/{sizes['valid']}/{sizes['test']} sentences), "
            f"latent {made['arch.latent_dim']}, hidden {made['arch.hidden_dim']}")
    hsvae = next((VAE_MODELS[m].section for m in cfg.models if VAE_MODELS[m].has_gamma), None)
    if hsvae:
        text += ", HSVAE " + " ".join(f"{key}={made[f'{hsvae}.{key}']:g}" for key in ("alpha", "beta", "psi", "lambda"))
    return text


def analyze(cfg, reports: Path, data_dir, figures: Path, gamma_dir: Path):
    """Draw the figures into `figures` and write each gamma_class matrix into `gamma_dir` (both
    existing, empty folders); return (summary, analysis, [(figure title, file name)], caption)."""
    summary = summarise(reports, cfg.models + cfg.baselines)
    names, train, test = class_names(data_dir), Split(data_dir, "train"), Split(data_dir, "test")
    kl = class_kl(train, len(names), vocabulary_size(data_dir))
    analysis = {"class_kl_mean": mean_off_diagonal(kl)}
    text = caption(cfg, {"train": len(train), "valid": len(Split(data_dir, "valid")), "test": len(test)})
    # file names in the paper's order: `dvc plots show` lists a folder's images by name
    drawn = [("Fig. 2: accuracy, sparsity and reconstruction", "fig2_accuracy_hoyer.png"),
             ("Fig. 3: Average Hoyer over training", "fig3_hoyer_epochs.png")]
    window = cfg.analyze.window
    figure_accuracy_sparsity(summary, figures / "fig2_accuracy_hoyer.png", text, len(names))
    figure_hoyer_over_training(reports / "pretrain", [m for m in cfg.models if VAE_MODELS[m].sparse],
                               figures / "fig3_hoyer_epochs.png", text)
    for name in (m for m in cfg.models if VAE_MODELS[m].has_gamma):
        with reading(reports / "codes" / f"{name}.npz", f"pretrain@{name}"):
            means = np.load(reports / "codes" / f"{name}.npz")["gamma"]
        matrix = gamma_class(means, test.labels, len(names))
        np.savetxt(gamma_dir / f"{name}.csv", matrix, delimiter=",", fmt="%.4f")
        start = most_distinct_window(matrix, window)
        shown = 1 - matrix[:, start : start + window]  # bright = on: the dimensions a class uses
        heat_map(shown, figures / f"fig4_gamma_class_{name}.png",
                 f"Fig. 4: dimensions {display_name(name)} switches on per class (test split, one run), "
                 f"dims {start}-{start + shown.shape[1] - 1}\n{text}",
                 "latent dimension", "class", names, [str(d) for d in range(start, start + shown.shape[1])],
                 f"share of the class's sentences with the dimension on\n(mean gamma < {GAMMA_OFF:g})", 0, 1)
        analysis[f"{name}_gamma_separation"] = class_separation(matrix)
        analysis[f"{name}_active_fraction"] = float((means < GAMMA_OFF).mean())
        drawn.append((f"Fig. 4: gamma_class of {display_name(name)} (test)", f"fig4_gamma_class_{name}.png"))
    kl_mean = ("mean undefined (under two classes, or one without a sentence)" if analysis["class_kl_mean"] is None
               else f"mean {analysis['class_kl_mean']:.3f}")
    heat_map(kl, figures / "fig5_class_kl.png", f"Fig. 5: KL(row || column) of the classes' word distributions "
             f"(training split); {kl_mean}\n{text}",
             "class", "class", names, names, "KL divergence (nats)", mask_diagonal=True)
    drawn.append(("Fig. 5: KL between the classes' word distributions", "fig5_class_kl.png"))
    return summary, analysis, drawn, text
