"""The paper's figures (§4.2-4.4) from the pipeline's outputs: accuracy vs. sparsity (Fig. 2),
Average Hoyer over training (Fig. 3), gamma_class heat maps (Fig. 4) and the classes'
word-distribution divergence (Fig. 5)."""
import csv
import json
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hsvae.analysis.metrics import class_word_distributions, mean_off_diagonal, pairwise_kl
from hsvae.core.errors import read_json, reading

SUMMARY_KEYS = ("accuracy", "ah_sample", "ah_mean", "ah_slab_mean", "rec", "kl_z", "kl_gamma", "mmd")
GAMMA_OFF = 0.5  # §4.4: a sentence's dimension is off (spike) when its mean gamma is at least this


def summarise(reports: Path, names) -> dict:
    """One entry per model: test accuracy, and for VAEs the test metrics of pretraining
    (Average Hoyer variants, reconstruction, KL terms): the numbers a researcher compares."""
    summary = {}
    for name in names:
        pretrain = reports / "pretrain" / name / "test.json"
        classified = reports / "classify" / name / "test.json"
        maker = f"classify@{name}" if pretrain.exists() else f"baseline@{name}"
        found = read_json(classified, maker)
        if pretrain.exists():
            found.update(read_json(pretrain, f"pretrain@{name}"))
        with reading(classified, maker):
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


# The names the paper uses
DISPLAY_NAMES = {"vae": "VAE", "vae_l1": "VAE-L1", "vae_l2": "VAE-L2", "mat_vae": "MAT-VAE", "hsvae": "HSVAE",
                 "b_vae": "B-VAE", "b_hsvae": "B-HSVAE", "classifier": "classifier (supervised)",
                 "bert": "BERT (frozen)"}
# Figures are drawn at most this wide (inches at DPI): readable on a page and in `dvc plots show`
MAX_WIDTH, DPI = 10.0, 100


def display_name(name: str) -> str:
    return DISPLAY_NAMES.get(name, name)


def _title(text: str, width_in: float) -> str:
    return "\n".join(textwrap.fill(line, int(width_in * 12)) for line in text.split("\n"))


def heat_map(matrix, path, title, xlabel, ylabel, rows, cols, colour_label, vmin=None, vmax=None,
             mask_diagonal=False):
    """A labelled heat map; with `mask_diagonal` the (zero) diagonal is left blank so the colour
    scale spans the off-diagonal values."""
    shown = np.ma.masked_where(np.eye(*matrix.shape, dtype=bool), matrix) if mask_diagonal else matrix
    width = min(MAX_WIDTH, max(8.0, 0.25 * matrix.shape[1] + 4))
    fig = Figure(figsize=(width, max(4, 0.35 * matrix.shape[0] + 2.5)))
    ax = fig.subplots()
    image = ax.imshow(shown, aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xticks(range(len(cols)), cols, fontsize=7, rotation=90)
    ax.set_title(_title(title, width), fontsize=9)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax, label=colour_label)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return fig


def figure_accuracy_sparsity(summary: dict, path, caption: str, classes: int):
    """Fig. 2 as the paper draws it: test accuracy and Average Hoyer (samples) of every model
    side by side in one panel (a baseline has no codes, so no Hoyer bar), the chance accuracy
    as a line; the reconstruction loss of the VAEs in a second panel. One run."""
    names = list(summary)
    x = np.arange(len(names))
    labels = [display_name(n) for n in names]
    fig = Figure(figsize=(MAX_WIDTH, 4.6))
    ax, rec_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    for offset, key, label, colour in ((-0.2, "accuracy", "test accuracy", "tab:blue"),
                                       (0.2, "ah_sample", "Average Hoyer (samples)", "tab:orange")):
        shown = [(i, summary[n][key]) for i, n in enumerate(names) if summary[n].get(key) is not None]
        bars = ax.bar([i + offset for i, _ in shown], [v for _, v in shown], 0.4, color=colour, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(1 / classes, color="grey", linestyle="--", linewidth=1, label=f"chance accuracy (1/{classes})")
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set(ylim=(0, 1.1), ylabel="accuracy / Average Hoyer")
    ax.legend(fontsize=8, loc="upper left", ncols=3)
    vaes = [n for n in names if summary[n].get("rec") is not None]
    bars = rec_ax.bar(range(len(vaes)), [summary[n]["rec"] for n in vaes], 0.6, color="tab:green")
    rec_ax.bar_label(bars, fmt="%.1f", fontsize=7)
    rec_ax.set_xticks(range(len(vaes)), [display_name(n) for n in vaes], rotation=30, ha="right")
    rec_ax.set(ylabel="reconstruction loss (nats / sentence)")
    rec_ax.margins(y=0.15)
    fig.suptitle(_title(f"Fig. 2: accuracy and sparsity per model, test split (one run)\n{caption}", MAX_WIDTH),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return fig


def read_tsv(path: Path) -> list:
    """A DVCLive metric log as (epoch, value) rows (training logs its 1-based epoch as the step)."""
    maker = f"{path.parts[-6]}@{path.parts[-5]}"  # reports/STAGE/NAME/plots/metrics/SPLIT/M.tsv
    summary = path.parents[3] / "metrics.json"  # DVCLive's last row of every log: a log cut short disagrees
    with reading(summary, maker):
        latest = json.loads(summary.read_text())
        latest = (latest["step"], latest[path.parent.name][path.stem])
    with reading(path, maker), open(path) as f:
        rows = [(int(row["step"]), float(row[path.stem])) for row in csv.DictReader(f, delimiter="\t")]
        if [step for step, _ in rows] != list(range(1, len(rows) + 1)):
            raise ValueError(f"expected one row per epoch from 1, got steps {[step for step, _ in rows]}")
        if rows[-1] != latest:
            raise ValueError(f"its last row {rows[-1]} is not the latest epoch {summary} has")
    return rows


# The curves `dvc plots show` overlays (dvc.yaml's top-level plots): file -> (log folder, metrics)
CURVES = {"pretrain_valid.csv": ("pretrain", "valid", ("ah_sample", "ah_mean", "rec", "kl_z")),
          "pretrain_train.csv": ("pretrain", "train", ("total", "rec", "kl_z")),
          "classify_valid.csv": ("classify", "valid", ("accuracy",))}


def write_curves(reports: Path, names, out: Path):
    """One long table per CURVES file: a row per (model, epoch) with the metrics every model
    logs, read from the DVCLive logs; a model is a series of one plot."""
    for file, (stage, split, metrics) in CURVES.items():
        rows = {}
        for name in names:
            for metric in metrics:
                tsv = reports / stage / name / "plots" / "metrics" / split / f"{metric}.tsv"
                for epoch, value in read_tsv(tsv) if tsv.exists() else ():
                    rows.setdefault((name, epoch), {})[metric] = value
        with open(out / file, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["model", "epoch", *metrics])
            for (name, epoch), values in rows.items():
                if len(values) == len(metrics):
                    writer.writerow([display_name(name), epoch, *(f"{values[m]:.6g}" for m in metrics)])


def figure_hoyer_over_training(pretrain_dir: Path, names, path, caption: str):
    """Fig. 3: validation Average Hoyer per epoch, on samples and on posterior means (one run)."""
    fig = Figure(figsize=(MAX_WIDTH, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, metric in zip(axes, ("ah_sample", "ah_mean")):
        for name in names:
            tsv = pretrain_dir / name / "plots" / "metrics" / "valid" / f"{metric}.tsv"
            if tsv.exists():
                epochs, values = zip(*read_tsv(tsv))
                ax.plot(epochs, values, marker="o", label=display_name(name))
        ax.set(title=f"Average Hoyer of {'samples of z' if metric == 'ah_sample' else 'posterior means'} (valid)",
               xlabel="epoch", ylabel="Average Hoyer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "n/a: no sparse model in `models`", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(_title(f"Fig. 3: Average Hoyer over training (one run)\n{caption}", MAX_WIDTH), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


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
        lines.append(f"| {display_name(name)} | {fmt(entry['accuracy'])} | {fmt(entry.get('ah_sample'))} | "
                     f"{fmt(entry.get('ah_mean'))} | {fmt(entry.get('rec'))} |")
    lines += ["", "| corpus / sparsity pattern | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in analysis.items()]
    for title, file in figures:
        lines += ["", f"## {title}", "", f"![{title}](figures/{file})"]
    return "\n".join(lines) + "\n"
