"""analyze: summary metrics, the paper's figures and reports/README.md."""
from pathlib import Path

import numpy as np

from hsvae.analysis import (
    class_kl,
    class_separation,
    figure_accuracy_sparsity,
    figure_hoyer_over_training,
    gamma_class,
    gamma_means,
    heat_map,
    most_distinct_window,
    summarise,
    write_report,
)
from hsvae.atomic import atomic_path, write_json
from hsvae.metrics import mean_off_diagonal
from hsvae.pretrain import arch_uses_text
from hsvae.splits import Split
from hsvae.stage import DATA, device_and_dtype, load_params, run
from hsvae.store import load_vae


def main():
    params = load_params()
    device, _ = device_and_dtype(params)
    summary = summarise(Path("reports/classify"), params["models"] + params["baselines"])
    names = (Path(DATA) / "classes.txt").read_text().split()
    train, test = Split(DATA, "train"), Split(DATA, "test")
    vocab_size = len((Path(DATA) / "vocab.txt").read_text().splitlines())
    kl = class_kl(train, len(names), vocab_size)
    analysis = {"class_kl_mean": mean_off_diagonal(kl)}
    figures = [("Fig. 2: accuracy and Average Hoyer", "accuracy_hoyer.png"),
               ("Fig. 3: Average Hoyer over training", "hoyer_epochs.png"),
               ("Fig. 5: KL between the classes' word distributions", "class_kl.png")]
    with atomic_path("reports/figures") as out:
        out.mkdir()
        figure_accuracy_sparsity(summary, out / "accuracy_hoyer.png")
        figure_hoyer_over_training(Path("reports/pretrain"), [m for m in params["models"] if "hsvae" in m or
                                                              m == "mat_vae"], out / "hoyer_epochs.png")
        heat_map(kl, out / "class_kl.png", f"KL(row || column), training split; mean {analysis['class_kl_mean']:.3f}",
                 "class", "class", names, names)
        for name in (m for m in params["models"] if m.endswith("hsvae")):
            model, _ = load_vae(Path("models") / f"{name}.pt", device)
            means = gamma_means(model, test, params["train"]["eval_batch_size"], device, arch_uses_text(name))
            matrix = gamma_class(means, test.labels, len(names))
            np.savetxt(out / f"gamma_class_{name}.csv", matrix, delimiter=",", fmt="%.4f")
            start = most_distinct_window(matrix, params["analyze"]["window"])
            shown = matrix[:, start : start + params["analyze"]["window"]]
            heat_map(shown, out / f"gamma_class_{name}.png",
                     f"{name}: gamma_class (1 = dimension off), dims {start}-{start + shown.shape[1] - 1}",
                     "latent dimension", "class", names, [str(d) for d in range(start, start + shown.shape[1])], 0, 1)
            analysis[f"{name}_gamma_separation"] = class_separation(matrix)
            analysis[f"{name}_active_fraction"] = float((means < 0.5).mean())
            figures.append((f"Fig. 4: gamma_class of {name} (test)", f"gamma_class_{name}.png"))
    write_json("reports/summary.json", summary)
    write_json("reports/analysis.json", analysis)
    with open("reports/accuracy.csv", "w") as f:
        f.write("model,accuracy,ah_sample\n")
        for name, entry in summary.items():
            f.write(f"{name},{entry['accuracy']:.4f},{entry.get('ah_sample', '')}\n")
    write_report(Path("reports/README.md"), summary, analysis, figures)


if __name__ == "__main__":
    run(main)
