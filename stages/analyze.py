"""analyze: gather the test metrics into reports/summary.json and reports/analysis.json, draw
the paper's figures and write reports/README.md. Reads only reports/ and data/processed."""
from pathlib import Path

import numpy as np

from hsvae.analysis.figures import (
    class_kl,
    class_separation,
    figure_accuracy_sparsity,
    figure_hoyer_over_training,
    gamma_class,
    heat_map,
    most_distinct_window,
    report_text,
    summarise,
)
from hsvae.analysis.metrics import mean_off_diagonal
from hsvae.atomic import atomic_path, write_json, write_text
from hsvae.data.splits import Split, class_names, vocabulary_size
from hsvae.models.registry import VAE_MODELS
from hsvae.pipeline.stage import DATA, run, stage_config

REPORTS = Path("reports")


def caption(cfg) -> str:
    """Corpus, sizes and the paper model's prior, for every figure's title."""
    data, arch = cfg["data"], cfg["arch"]
    text = (f"corpus {data['corpus']} ({data['per_class']['train']}/{data['per_class']['valid']}/"
            f"{data['per_class']['test']} per class), latent {arch['latent_dim']}, hidden {arch['hidden_dim']}")
    hsvae = next((cfg["hparams"][m] for m in cfg["models"] if VAE_MODELS[m].has_gamma), None)
    if hsvae:
        text += f", HSVAE alpha={hsvae['alpha']:g} beta={hsvae['beta']:g} psi={hsvae['psi']:g} lambda={hsvae['lambda']:g}"
    return text


def main():
    cfg = stage_config("analyze")
    summary = summarise(REPORTS, cfg["models"] + cfg["baselines"])
    names, test = class_names(DATA), Split(DATA, "test")
    kl = class_kl(Split(DATA, "train"), len(names), vocabulary_size(DATA))
    analysis = {"class_kl_mean": mean_off_diagonal(kl)}
    text = caption(cfg)
    figures = [("Fig. 2: accuracy, sparsity and reconstruction", "accuracy_hoyer.png"),
               ("Fig. 3: Average Hoyer over training", "hoyer_epochs.png")]
    window = cfg["analyze"]["window"]
    with atomic_path(REPORTS / "figures") as out, atomic_path(REPORTS / "gamma_class") as gamma_dir:
        out.mkdir()
        gamma_dir.mkdir()
        figure_accuracy_sparsity(summary, out / "accuracy_hoyer.png", text)
        figure_hoyer_over_training(REPORTS / "pretrain", [m for m in cfg["models"] if m in ("mat_vae", "hsvae", "b_hsvae")],
                                   out / "hoyer_epochs.png", text)
        for name in (m for m in cfg["models"] if VAE_MODELS[m].has_gamma):
            means = np.load(REPORTS / "codes" / f"{name}.npz")["gamma"]
            matrix = gamma_class(means, test.labels, len(names))
            np.savetxt(gamma_dir / f"{name}.csv",
                       matrix, delimiter=",", fmt="%.4f")
            start = most_distinct_window(matrix, window)
            shown = matrix[:, start : start + window]
            heat_map(shown, out / f"gamma_class_{name}.png",
                     f"Fig. 4: gamma_class of {name} (test), dims {start}-{start + shown.shape[1] - 1}\n{text}",
                     "latent dimension", "class", names, [str(d) for d in range(start, start + shown.shape[1])],
                     "share of sentences with the dimension off\n(mean gamma >= 0.5)", 0, 1)
            analysis[f"{name}_gamma_separation"] = class_separation(matrix)
            analysis[f"{name}_active_fraction"] = float((means < 0.5).mean())
            figures.append((f"Fig. 4: gamma_class of {name} (test)", f"gamma_class_{name}.png"))
        heat_map(kl, out / "class_kl.png", f"Fig. 5: KL(row || column) of the classes' word distributions "
                 f"(training split); mean {analysis['class_kl_mean'] or float('nan'):.3f}\n{text}",
                 "class", "class", names, names, "KL divergence (nats)", mask_diagonal=True)
        figures.append(("Fig. 5: KL between the classes' word distributions", "class_kl.png"))
    write_json(REPORTS / "summary.json", summary)
    write_json(REPORTS / "analysis.json", analysis)
    rows = [f"{name},{entry['accuracy']:.4f},{entry.get('ah_sample', '')}" for name, entry in summary.items()]
    write_text(REPORTS / "accuracy.csv", "model,accuracy,ah_sample\n" + "\n".join(rows) + "\n")
    write_text(REPORTS / "README.md", report_text(summary, analysis, figures, text))


if __name__ == "__main__":
    run(main)
