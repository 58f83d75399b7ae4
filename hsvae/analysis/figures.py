"""The paper's figures (§4.2-4.4) from the pipeline's outputs: accuracy vs. sparsity (Fig. 2),
Average Hoyer over training (Fig. 3), gamma_class heat maps (Fig. 4) and the classes'
word-distribution divergence (Fig. 5)."""
import csv
import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hsvae.analysis.metrics import class_word_distributions, mean_off_diagonal, pairwise_kl  # noqa: E402

SUMMARY_KEYS = ("accuracy", "ah_sample", "ah_mean", "ah_slab_mean", "rec", "kl_z", "kl_gamma", "mmd")
GAMMA_OFF = 0.5  # §4.4: a sentence's dimension is off (spike) when its mean gamma is at least this


def summarise(reports: Path, names) -> dict:
    """One entry per model: test accuracy, and for VAEs the test metrics of pretraining
    (Average Hoyer variants, reconstruction, KL terms): the numbers a researcher compares."""
    summary = {}
    for name in names:
        found = json.loads((reports / "classify" / name / "test.json").read_text())
        pretrain = reports / "pretrain" / name / "test.json"
        if pretrain.exists():
            found.update(json.loads(pretrain.read_text()))
        found["accuracy"] = found.pop("test_accuracy")
        summary[name] = {k: found[k] for k in SUMMARY_KEYS if k in found}
    return summary


def gamma_class(gamma: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """§4.4: binarise each sentence's mean gamma at 0.5 (1 = spike, dimension off) and average
    per class -> (classes, D)."""
    binary = (gamma >= GAMMA_OFF).astype(float)
    return np.stack([binary[labels == c].mean(0) for c in range(classes)])


def class_separation(matrix: np.ndarray) -> float | None:
    """Mean Euclidean distance between the classes' rows: 0 when every class shares one pattern."""
    distances = np.linalg.norm(matrix[:, None, :] - matrix[None, :, :], axis=-1)
    return mean_off_diagonal(distances)


def most_distinct_window(matrix: np.ndarray, width: int) -> int:
    """Start of the `width` contiguous dimensions whose values differ most between classes
    (largest summed standard deviation over classes): the rule for showing 32 of 768."""
    if matrix.shape[1] <= width:
        return 0
    spread = np.concatenate([[0.0], np.cumsum(matrix.std(0))])
    return int(np.argmax(spread[width:] - spread[:-width]))


def heat_map(matrix, path, title, xlabel, ylabel, rows, cols, colour_label, vmin=None, vmax=None,
             mask_diagonal=False):
    """A labelled heat map; with `mask_diagonal` the (zero) diagonal is left blank so the colour
    scale spans the off-diagonal values."""
    shown = np.ma.masked_where(np.eye(*matrix.shape, dtype=bool), matrix) if mask_diagonal else matrix
    width = max(8.5, 0.28 * matrix.shape[1] + 4)
    fig, ax = plt.subplots(figsize=(width, max(4, 0.35 * matrix.shape[0] + 2.5)))
    image = ax.imshow(shown, aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xticks(range(len(cols)), cols, fontsize=7, rotation=90)
    ax.set_title("\n".join(textwrap.fill(line, int(width * 11)) for line in title.split("\n")), fontsize=9)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax, label=colour_label)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def figure_accuracy_sparsity(summary: dict, path, caption: str):
    """Fig. 2: test accuracy, Average Hoyer (samples) and reconstruction loss per model, each on
    its own axis; "n/a" where a metric does not apply (the baselines have no codes)."""
    names = list(summary)
    x = np.arange(len(names))
    panels = [("accuracy", "test accuracy"), ("ah_sample", "Average Hoyer (samples)"),
              ("rec", "reconstruction loss (nats / sentence)")]
    fig, axes = plt.subplots(1, 3, figsize=(max(12, 2.4 * len(names) + 4), 4.4))
    for ax, (key, label) in zip(axes, panels):
        values = [summary[n].get(key) for n in names]
        top = 1.08 if key != "rec" else 1.15 * max([v for v in values if v is not None] or [1])
        ax.bar(x, [0 if v is None else v for v in values], 0.6, color="tab:blue")
        for i, v in enumerate(values):
            ax.text(i, (v or 0) + 0.01 * top, "n/a" if v is None else f"{v:.3f}", ha="center", va="bottom",
                    fontsize=8)
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set(ylabel=label, ylim=(0, top))
    fig.suptitle(f"Fig. 2: accuracy, sparsity and reconstruction per model (test split)\n{caption}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def read_tsv(path: Path) -> list:
    """A DVCLive metric log as (epoch, value) rows (training logs its 1-based epoch as the step)."""
    with open(path) as f:
        return [(int(row["step"]), float(row[path.stem])) for row in csv.DictReader(f, delimiter="\t")]


def figure_hoyer_over_training(pretrain_dir: Path, names, path, caption: str):
    """Fig. 3: validation Average Hoyer per epoch, on samples and on posterior means."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, metric in zip(axes, ("ah_sample", "ah_mean")):
        for name in names:
            tsv = pretrain_dir / name / "plots" / "metrics" / "valid" / f"{metric}.tsv"
            if tsv.exists():
                epochs, values = zip(*read_tsv(tsv))
                ax.plot(epochs, values, marker="o", label=name)
        ax.set(title=f"Average Hoyer on {metric.split('_')[1]}s (valid)", xlabel="epoch", ylabel="Average Hoyer")
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "n/a: no sparse model in `models`", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(f"Fig. 3: Average Hoyer over training\n{caption}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def class_kl(split, classes: int, vocab_size: int) -> np.ndarray:
    """Fig. 5's matrix: KL between the classes' add-1 smoothed word distributions."""
    return pairwise_kl(class_word_distributions(split.sentences, split.labels, classes, vocab_size))


def report_text(summary: dict, analysis: dict, figures: list, caption: str) -> str:
    """reports/README.md: the metrics table and every figure."""
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["# Results", "", f"Written by the `analyze` stage (`dvc repro`); test split. {caption}.", "",
             "| model | accuracy | Average Hoyer (samples) | Average Hoyer (means) | reconstruction loss |",
             "|---|---|---|---|---|"]
    for name, entry in summary.items():
        lines.append(f"| {name} | {fmt(entry['accuracy'])} | {fmt(entry.get('ah_sample'))} | "
                     f"{fmt(entry.get('ah_mean'))} | {fmt(entry.get('rec'))} |")
    lines += ["", "| corpus / sparsity pattern | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in analysis.items()]
    for title, file in figures:
        lines += ["", f"## {title}", "", f"![{title}](figures/{file})"]
    return "\n".join(lines) + "\n"
