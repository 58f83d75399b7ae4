"""The paper's figures (§4.2-4.4) from the pipeline's outputs: accuracy vs. sparsity (Fig. 2),
Average Hoyer over training (Fig. 3), gamma_class heat maps (Fig. 4) and the classes'
word-distribution divergence (Fig. 5)."""
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from hsvae.batching import bucketed_batches  # noqa: E402
from hsvae.metrics import class_word_distributions, mean_off_diagonal, pairwise_kl  # noqa: E402


def summarise(classify_dir: Path, names) -> dict:
    """One entry per model: test accuracy, and for VAEs Average Hoyer and reconstruction loss."""
    summary = {}
    for name in names:
        found = json.loads((classify_dir / name / "test.json").read_text())
        entry = {"accuracy": found["test_accuracy"], "valid_accuracy": found["valid_accuracy"]}
        if "test_rec" in found:
            entry.update(ah_sample=found["test_ah_sample"], ah_mean=found["test_ah_mean"], rec_loss=found["test_rec"])
        summary[name] = entry
    return summary


@torch.no_grad()
def gamma_means(model, split, batch_size, device, with_text=False):
    """Mean of q(gamma|x) for every sentence of `split`, (N, D)."""
    out = torch.empty(len(split), model.latent_dim)
    for indices in bucketed_batches(split.lengths, batch_size):
        out[indices] = model.gamma_mean(split.batch(indices, with_text).to(device)).float().cpu()
    return out.numpy()


def gamma_class(gamma: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """§4.4: binarise each sentence's mean gamma at 0.5 (1 = spike, dimension off) and average
    per class -> (classes, D)."""
    binary = (gamma >= 0.5).astype(float)
    return np.stack([binary[labels == c].mean(0) for c in range(classes)])


def class_separation(matrix: np.ndarray) -> float:
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


def heat_map(matrix, path, title, xlabel, ylabel, rows, cols=None, vmin=None, vmax=None):
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * matrix.shape[1] + 3), max(3, 0.35 * matrix.shape[0] + 1.5)))
    image = ax.imshow(matrix, aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    if cols is not None:
        ax.set_xticks(range(len(cols)), cols, fontsize=7, rotation=90)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_accuracy_sparsity(summary: dict, path):
    """Fig. 2: test accuracy and Average Hoyer side by side; models without Hoyer show none."""
    names = list(summary)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 4))
    ax.bar(x - 0.2, [summary[n]["accuracy"] for n in names], 0.4, label="test accuracy")
    ax.bar(x + 0.2, [summary[n].get("ah_sample", np.nan) for n in names], 0.4, label="Average Hoyer (samples)")
    ax.set_xticks(x, names)
    ax.set(title="Classification accuracy and sparsity (test)", xlabel="model", ylabel="value", ylim=(0, 1.2))
    ax.legend(loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_tsv(path: Path) -> list:
    with open(path) as f:
        return [(int(row["step"]), float(row[path.stem])) for row in csv.DictReader(f, delimiter="\t")]


def figure_hoyer_over_training(pretrain_dir: Path, names, path):
    """Fig. 3: validation Average Hoyer per epoch, on samples and on posterior means."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, metric in zip(axes, ("ah_sample", "ah_mean")):
        for name in names:
            tsv = pretrain_dir / name / "plots" / "metrics" / "valid" / f"{metric}.tsv"
            if tsv.exists():
                steps, values = zip(*read_tsv(tsv))
                ax.plot(np.array(steps) + 1, values, marker="o", label=name)
        ax.set(title=f"Average Hoyer on {metric.split('_')[1]}s (valid)", xlabel="epoch", ylabel="Average Hoyer")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def class_kl(split, classes: int, vocab_size: int) -> np.ndarray:
    """Fig. 5's matrix: KL between the classes' add-1 smoothed word distributions."""
    return pairwise_kl(class_word_distributions(split.sentences, split.labels, classes, vocab_size))


def write_report(path: Path, summary: dict, analysis: dict, figures: list):
    """reports/README.md: the metrics table and every figure."""
    lines = ["# Results", "", "Written by the `analyze` stage (`dvc repro`); numbers are on the test split.", "",
             "| model | accuracy | Average Hoyer (samples) | Average Hoyer (means) | reconstruction loss |",
             "|---|---|---|---|---|"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for name, entry in summary.items():
        lines.append(f"| {name} | {fmt(entry['accuracy'])} | {fmt(entry.get('ah_sample'))} | "
                     f"{fmt(entry.get('ah_mean'))} | {fmt(entry.get('rec_loss'))} |")
    lines += ["", "| corpus / sparsity pattern | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in analysis.items() if isinstance(v, float)]
    for title, file in figures:
        lines += ["", f"## {title}", "", f"![{title}](figures/{file})"]
    path.write_text("\n".join(lines) + "\n")
