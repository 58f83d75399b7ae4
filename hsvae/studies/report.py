"""`hsvae study report NAME`: the study's experiments (DVC's Python API) as a pandas table,
means and standard deviations over replicates, the paper's figures for the family of runs,
and reports/studies/NAME/README.md."""
import ast
import io
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hsvae.analysis.figures import SUMMARY_KEYS  # noqa: E402
from hsvae.atomic import atomic_path  # noqa: E402
from hsvae.models.registry import VAE_MODELS  # noqa: E402
from hsvae.pipeline.params import load, study_points  # noqa: E402
from hsvae.studies.run import StudyError, experiment_ref, study_runs  # noqa: E402

CORPUS_KEYS = ("class_kl_mean",)
# What a study's captions say of its runs, read from the params its experiments recorded
RECORDED = ("data.corpus", "data.per_class.train", "data.per_class.valid", "data.per_class.test", "arch.latent_dim",
            "arch.hidden_dim", "train.epochs", "train.precision")


def _setting_keys(study: dict) -> list:
    # `models` and `baselines` shape the pipeline; they are not settings to group runs by
    return list(dict.fromkeys(k for s in study_points(study) for k in s if k not in ("models", "baselines")))


def _commit(repo, rev="HEAD", short=False) -> str:
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", *(["--short"] if short else []), f"{rev}^{{commit}}"],
                           cwd=repo, capture_output=True, text=True)
    if found.returncode != 0:
        raise StudyError(f"--rev {rev}: not a commit of this repository")
    return found.stdout.strip()


def runs_table(name: str, repo=".", extra=(), rev="HEAD") -> pd.DataFrame:
    """One row per (run, model): the grid's params, the replicate's training seed, the model's
    test metrics and the corpus/gamma statistics of that run."""
    import dvc.api

    params = load(Path(repo) / "params.yaml")
    study, wanted = params["studies"][name], {n for n, _ in study_runs(params, name, extra)}
    commit = _commit(repo, rev)
    shown = pd.DataFrame(dvc.api.exp_show(repo=repo, revs=[commit]))
    shown = shown[shown["Experiment"].isin(wanted)]
    if shown.empty:
        raise StudyError(f"study {name!r}: no experiments of it for commit {commit[:7]}; run `hsvae study run {name}`")
    keys = _setting_keys(study)
    rows = []
    for _, exp in shown.iterrows():
        models = exp["models"] if isinstance(exp["models"], list) else ast.literal_eval(exp["models"])
        for model in models:
            row = {"experiment": exp["Experiment"], **{k: exp[k] if _describes(k, model) else None for k in keys},
                   "replicate": exp["train.seed"], "model": model}
            row.update({m: _number(exp.get(f"{model}.{m}")) for m in SUMMARY_KEYS})
            row["accuracy"] = _number(exp.get(f"{model}.accuracy"))
            row.update({k: _number(exp.get(k)) for k in CORPUS_KEYS})
            row["gamma_separation"] = _number(exp.get(f"{model}_gamma_separation"))
            row["active_fraction"] = _number(exp.get(f"{model}_active_fraction"))
            rows.append(row)
    table = pd.DataFrame(rows).dropna(axis=1, how="all")
    table = table.sort_values([*keys, "model", "replicate"], key=_sortable).reset_index(drop=True)
    first = shown.iloc[0]  # the params the runs recorded (the study's extras applied), for captions
    # exp_show's table holds numbers as floats where a column has gaps: 100.0 is shown as 100
    table.attrs["recorded"] = {k: int(v) if isinstance(v, float) and v.is_integer() else v
                               for k, v in ((k, first.get(k)) for k in RECORDED)}
    return table


def _describes(key: str, model: str) -> bool:
    """Whether a setting key describes a run of `model`: not another model's section (an HSVAE
    row says nothing of MAT-VAE's psi at its default)."""
    sections = {spec.section for spec in VAE_MODELS.values()}
    section = key.split(".")[0]
    return section not in sections or section == VAE_MODELS[model].section


def _number(value):
    """A metric from exp_show: None for a missing one (exp_show writes some as the string 'None')."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) else None


def _sortable(column):
    return column.astype(str) if column.dtype == object else column


def summary_table(runs: pd.DataFrame, keys) -> pd.DataFrame:
    """Per setting and model: mean and standard deviation (n - 1) over replicates, and n."""
    metrics = [c for c in runs.columns if c not in (*keys, "experiment", "replicate", "model")]
    grouped = runs.groupby([*keys, "model"], sort=False, dropna=False)[metrics]
    out = grouped.agg(["mean", "std"])
    out.columns = [f"{metric}_{stat}" for metric, stat in out.columns]
    out["replicates"] = grouped.size()
    return out.reset_index()


def curves(runs: pd.DataFrame, metric: str, repo=".", rev="HEAD") -> dict:
    """(experiment, model) -> validation `metric` per epoch, read from the experiment's commit."""
    commit = _commit(repo, rev)
    found = {}
    for exp, model in runs[["experiment", "model"]].drop_duplicates().itertuples(index=False):
        path = f"reports/pretrain/{model}/plots/metrics/valid/{metric}.tsv"
        text = subprocess.run(["git", "show", f"{experiment_ref(commit, exp)}:{path}"], cwd=repo,
                              capture_output=True, text=True)
        if text.returncode == 0:
            found[exp, model] = pd.read_csv(io.StringIO(text.stdout), sep="\t")[metric].to_numpy()
    return found


def _label(setting: dict) -> str:
    return ", ".join(f"{k.split('.')[-1]}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                     for k, v in setting.items())


def _varied(part: pd.DataFrame, keys) -> list:
    """The setting keys that vary within one model's runs (a model's own prior, not another
    model's params at their defaults); all of them when none varies."""
    varied = [k for k in keys if part[k].nunique(dropna=True) > 1]
    return varied or [k for k in keys if part[k].notna().any()]


def figure_stability(runs, keys, out: Path, repo, rev, caption):
    """Fig. 3 for families of runs: validation Average Hoyer per epoch, mean over replicates as a
    line and one standard deviation as a band; MAT-VAE on top, HSVAE below; samples and means.
    Then the final test Average Hoyer against the prior (HSVAE: alpha/(alpha+beta))."""
    models = [m for m in ("mat_vae", "hsvae") if m in set(runs["model"])]
    fig, axes = plt.subplots(len(models), 2, figsize=(12, 4 * len(models)), squeeze=False)
    rows = []  # the bands' data, for `dvc plots show` (curves.csv)
    for column, metric in enumerate(("ah_sample", "ah_mean")):
        found = curves(runs, metric, repo, rev)
        for row, model in enumerate(models):
            ax = axes[row][column]
            part = runs[runs["model"] == model]
            names = _varied(part, keys)
            for setting, group in part.groupby(names, sort=False):
                series = [found[e, model] for e in group["experiment"] if (e, model) in found]
                if not series:
                    continue
                length = min(map(len, series))
                stack = np.stack([s[:length] for s in series])
                epochs, mean, std = np.arange(1, length + 1), stack.mean(0), stack.std(0, ddof=1) if len(stack) > 1 else 0
                label = _label(dict(zip(names, np.atleast_1d(setting))))
                line, = ax.plot(epochs, mean, marker="o", ms=3, label=label)
                rows += [{"model": model, "setting": label, "metric": metric, "epoch": int(e), "mean": float(m),
                          "std": float(np.broadcast_to(std, mean.shape)[i]), "replicates": len(stack)}
                         for i, (e, m) in enumerate(zip(epochs, mean))]
                ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
            ax.set(title=f"{model}: Average Hoyer on {metric.split('_')[1]}s (valid)", xlabel="epoch",
                   ylabel="Average Hoyer (mean ± std over replicates)")
            ax.legend(fontsize=8)
    fig.suptitle(f"Fig. 3 over replicates - {caption}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "hoyer_epochs.png", dpi=110)
    plt.close(fig)
    pd.DataFrame(rows).to_csv(out / "curves.csv", index=False)

    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        part = runs[runs["model"] == model].copy()
        if model == "hsvae":
            part["x"] = part["model.alpha"] / (part["model.alpha"] + part["model.beta"])
            xlabel = "prior mean alpha / (alpha + beta)"
            # the points as data DVC can draw (plain column names: Vega reads dots as nesting)
            part[["x", "replicate", "ah_sample", "ah_mean"]].rename(columns={"x": "prior_mean"}).sort_values(
                ["prior_mean", "replicate"]).to_csv(out / "hsvae_prior.csv", index=False)
        else:
            part["x"] = [f"psi={p:g}\nlambda={lam:g}" for p, lam in zip(part["mat_vae.psi"], part["mat_vae.lambda"])]
            xlabel = "(psi, lambda)"
        stats = part.groupby("x", sort=model == "hsvae")[["ah_sample", "ah_mean"]].agg(["mean", "std"])
        positions = stats.index if model == "hsvae" else np.arange(len(stats))
        for metric, marker in (("ah_sample", "o"), ("ah_mean", "s")):
            ax.errorbar(positions, stats[metric]["mean"], yerr=stats[metric]["std"].fillna(0), marker=marker,
                        capsize=4, label=f"Average Hoyer on {metric.split('_')[1]}s (test)")
        if model != "hsvae":
            ax.set_xticks(positions, stats.index, fontsize=8)
        ax.set(title=f"{model}: final sparsity against its prior", xlabel=xlabel, ylabel="Average Hoyer (mean ± std)",
               ylim=(0, 1))
        ax.legend(fontsize=8)
    fig.suptitle(caption, fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "hoyer_prior.png", dpi=110)
    plt.close(fig)
    return [("Average Hoyer over training (mean ± std)", "hoyer_epochs.png"),
            ("Final Average Hoyer against the prior", "hoyer_prior.png")]


def matched_reconstruction(runs: pd.DataFrame) -> pd.DataFrame:
    """§4.2: for each sparse run, the dense VAE run whose test reconstruction loss is closest."""
    dense = runs[runs["model"] == "vae"].reset_index(drop=True)
    rows = []
    for _, sparse in runs[runs["model"].isin([n for n, spec in VAE_MODELS.items() if spec.sparse])].iterrows():
        if dense.empty:
            break
        match = dense.iloc[int((dense["rec"] - sparse["rec"]).abs().argmin())]
        rows.append({"sparse_model": sparse["model"], "sparse_experiment": sparse["experiment"],
                     "sparse_rec": sparse["rec"], "sparse_accuracy": sparse["accuracy"], "sparse_ah_sample": sparse["ah_sample"],
                     "vae_experiment": match["experiment"], "vae_psi": match.get("vae.psi"), "vae_rec": match["rec"],
                     "vae_accuracy": match["accuracy"], "vae_ah_sample": match["ah_sample"]})
    return pd.DataFrame(rows)


def figure_fig2(runs, keys, out: Path, repo, rev, caption):
    """Fig. 2 over runs: accuracy against Average Hoyer (samples) for every run, coloured by
    reconstruction loss; then each sparse run beside the dense VAE of closest reconstruction."""
    coded = runs[runs["ah_sample"].notna()]
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = dict(zip(VAE_MODELS, "osD^v<>"))
    scatter = None
    for model, part in coded.groupby("model"):
        scatter = ax.scatter(part["ah_sample"], part["accuracy"], c=part["rec"], cmap="viridis", vmin=coded["rec"].min(),
                             vmax=coded["rec"].max(), marker=markers.get(model, "o"), s=60, label=model, edgecolors="k")
    for _, base in runs[runs["ah_sample"].isna()].iterrows():
        ax.axhline(base["accuracy"], ls="--", color="grey", lw=1)
        ax.text(0.01, base["accuracy"], f" {base['model']} (no codes)", va="bottom", fontsize=8)
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="test reconstruction loss (nats / sentence)")
    ax.set(xlabel="Average Hoyer on samples (test)", ylabel="test accuracy", title=f"Fig. 2 over runs\n{caption}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_hoyer.png", dpi=110)
    plt.close(fig)
    matched = matched_reconstruction(runs)
    matched.to_csv(out / "matched.csv", index=False)
    figures = [("Accuracy against Average Hoyer, reconstruction as colour", "accuracy_hoyer.png")]
    if not matched.empty:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        x = np.arange(len(matched))
        labels = [f"{m}\nvs vae psi={p:g}" for m, p in zip(matched["sparse_model"], matched["vae_psi"])]
        for ax, metric, title in ((axes[0], "accuracy", "test accuracy"), (axes[1], "ah_sample", "Average Hoyer (samples)")):
            ax.bar(x - 0.2, matched[f"sparse_{metric}"], 0.4, label="sparse model")
            ax.bar(x + 0.2, matched[f"vae_{metric}"], 0.4, label="VAE at the closest reconstruction")
            ax.set_xticks(x, labels, fontsize=8)
            ax.set(ylabel=title, ylim=(0, 1.05))
            ax.legend(fontsize=8)
        fig.suptitle(f"Sparse models against the dense VAE of matched reconstruction loss - {caption}", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "matched.png", dpi=110)
        plt.close(fig)
        figures.append(("At matched reconstruction", "matched.png"))
    return figures


def figure_signal(runs, keys, out: Path, repo, rev, caption):
    """§4.4.1 over replicates: class KL, gamma separation and accuracy against the signal."""
    key = "data.synthetic.signal"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    corpus = runs.drop_duplicates("experiment").groupby(key)["class_kl_mean"].agg(["mean", "std"])
    axes[0].errorbar(corpus.index, corpus["mean"], yerr=corpus["std"].fillna(0), marker="o", capsize=4)
    axes[0].set(xlabel="signal", ylabel="mean KL between classes (nats)", title="classes' word distributions")
    gamma = runs[runs["gamma_separation"].notna()] if "gamma_separation" in runs else runs.iloc[:0]
    for model, part in gamma.groupby("model"):
        stats = part.groupby(key)["gamma_separation"].agg(["mean", "std"])
        axes[1].errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=4, label=model)
    axes[1].set(xlabel="signal", ylabel="gamma separation (mean distance of class rows)", title="gamma patterns")
    for model, part in runs.groupby("model"):
        stats = part.groupby(key)["accuracy"].agg(["mean", "std"])
        axes[2].errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=4, label=model)
    axes[2].set(xlabel="signal", ylabel="test accuracy (mean ± std)", title="frozen-encoder accuracy", ylim=(0, 1.05))
    for ax in axes[1:]:
        ax.legend(fontsize=8)
    fig.suptitle(f"Signal study over replicates - {caption}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "signal.png", dpi=110)
    plt.close(fig)
    return [("Class KL, gamma separation and accuracy against the signal", "signal.png")]


FIGURES = {"stability": figure_stability, "fig2": figure_fig2, "signal": figure_signal}


def _markdown(table: pd.DataFrame) -> list:
    fmt = lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    return ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns),
            *("| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False))]


def _mean_std(summary: pd.DataFrame, keys) -> pd.DataFrame:
    """The summary's main metrics as "mean ± std" cells, for reading."""
    shown = summary[[*keys, "model"]].copy()
    for metric in ("accuracy", "ah_sample", "ah_mean", "rec", "gamma_separation", "class_kl_mean"):
        if f"{metric}_mean" in summary:
            shown[metric] = [("" if np.isnan(m) else f"{m:.3f} ± {0 if np.isnan(s) else s:.3f}")
                             for m, s in zip(summary[f"{metric}_mean"], summary[f"{metric}_std"])]
    shown["n"] = summary["replicates"]
    return shown


def write_report(name: str, repo=".", out_root=Path("reports/studies"), extra=(), rev="HEAD") -> Path:
    """reports/studies/NAME/: runs.csv, summary.csv, figures and README.md, from the study's
    experiments on commit `rev`."""
    params = load(Path(repo) / "params.yaml")
    study_runs(params, name)  # a clear error for an unknown study
    study, keys = params["studies"][name], _setting_keys(params["studies"][name])
    runs = runs_table(name, repo, extra, rev)
    summary = summary_table(runs, keys)
    commit = _commit(repo, rev, short=True)
    r = runs.attrs["recorded"]
    caption = (f"corpus {r['data.corpus']} ({r['data.per_class.train']}/{r['data.per_class.valid']}/"
               f"{r['data.per_class.test']} per class), hidden {r['arch.hidden_dim']}, latent {r['arch.latent_dim']}, "
               f"{r['train.epochs']} epochs, {r['train.precision']}, commit {commit}"
               + (f", -S {' -S '.join(extra)}" if extra else ""))
    with atomic_path(out_root / name) as out:
        out.mkdir(parents=True)
        runs.to_csv(out / "runs.csv", index=False)
        summary.to_csv(out / "summary.csv", index=False)
        figures = FIGURES[name](runs, keys, out, repo, rev, caption) if name in FIGURES else []
        lines = [f"# Study `{name}`", "", f"{caption}; {study['replicates']} replicate(s) per setting "
                 f"(training seeds 0..{study['replicates'] - 1}); {runs['experiment'].nunique()} experiments. "
                 "Written by `hsvae study report " + name + "`; every run is a DVC experiment (`dvc exp show`).", "",
                 "## Mean ± standard deviation over replicates", "", *_markdown(_mean_std(summary, keys))]
        if (out / "matched.csv").exists():
            lines += ["", "## At matched reconstruction (§4.2)", "", *_markdown(pd.read_csv(out / "matched.csv"))]
        for title, file in figures:
            lines += ["", f"## {title}", "", f"![{title}]({file})"]
        lines += ["", "Runs: `runs.csv` (one row per run and model); summary: `summary.csv`"
                  + ("; the bands of the training curves: `curves.csv`." if (out / "curves.csv").exists() else ".")]
        (out / "README.md").write_text("\n".join(lines) + "\n")
    return out_root / name
