"""`hsvae study report NAME`: the study's experiments (DVC's Python API) as a pandas table,
means and standard deviations over replicates, the paper's figures for the family of runs,
and reports/studies/NAME/README.md."""
import ast
import io
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hsvae.analysis.figures import SUMMARY_KEYS, display_name
from hsvae.core.atomic import atomic_path
from hsvae.models.registry import VAE_MODELS
from hsvae.pipeline.params import load
from hsvae.studies.grid import STUDIES, load_studies, study_points
from hsvae.studies.run import StudyError, counted, experiment_ref, study_runs

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


def _finished(repo, commit: str, names: set) -> list:
    """When each experiment was committed (its run's end), ISO 8601."""
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(committerdate:iso-strict)",
                           f"refs/exps/{commit[:2]}/{commit[2:]}/"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.split("\n")
    return [date for ref, _, date in (line.partition(" ") for line in refs if line) if ref.rsplit("/", 1)[1] in names]


def time_span(dates) -> str:
    """ISO 8601 dates as '2026-12-02 09:12 and 09:19' in UTC; both dates where they differ."""
    finished = pd.to_datetime(dates, utc=True)
    first, last = finished.min(), finished.max()
    return f"{first:%Y-%m-%d %H:%M} and {last.strftime('%H:%M' if last.date() == first.date() else '%Y-%m-%d %H:%M')}"


def _studies(repo) -> dict:
    return load_studies(load(Path(repo) / "params.yaml"), Path(repo) / STUDIES)


def _reader(repo, commit):
    """show(experiment, path, binary=False): the file as the experiment (of `commit`) committed
    it, or None where it has none."""
    def show(experiment, path, binary=False):
        shown = subprocess.run(["git", "show", f"{experiment_ref(commit, experiment)}:{path}"], cwd=repo,
                               capture_output=True, text=not binary)
        return shown.stdout if shown.returncode == 0 else None
    return show


def runs_table(studies: dict, name: str, extra, repo, commit: str) -> pd.DataFrame:
    """One row per (run, model): the grid's params, the replicate's training seed, the model's
    test metrics and the corpus/gamma statistics of that run. attrs: "recorded" (params of the
    runs, for captions), "stats" (the corpus statistics of the first run), "missing" (the
    study's runs, as (name, overrides), that have no experiment), "finished" (when each ran)."""
    import dvc.api

    study, runs = studies[name], study_runs(studies, name, extra)
    shown = pd.DataFrame(dvc.api.exp_show(repo=repo, revs=[commit]))
    shown = shown[shown["Experiment"].isin({n for n, _ in runs})]
    if shown.empty:
        raise StudyError(f"study {name!r}: no experiments of it for commit {commit[:7]}; run `hsvae study run "
                         f"{name}{''.join(' -S ' + e for e in extra)}`")
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
        baselines = exp["baselines"] if isinstance(exp["baselines"], list) else ast.literal_eval(exp["baselines"])
        for baseline in baselines:  # supervised: an accuracy, no codes
            rows.append({"experiment": exp["Experiment"], **{k: exp[k] if _describes(k, baseline) else None for k in keys},
                         "replicate": exp["train.seed"], "model": baseline,
                         "accuracy": _number(exp.get(f"{baseline}.accuracy"))})
    table = pd.DataFrame(rows).dropna(axis=1, how="all")
    table = table.sort_values([*keys, "model", "replicate"], key=_sortable).reset_index(drop=True)
    first = shown.iloc[0]  # the params the runs recorded (the study's extras applied), for captions
    # exp_show's table holds numbers as floats where a column has gaps: 100.0 is shown as 100
    table.attrs["recorded"] = {k: int(v) if isinstance(v, float) and v.is_integer() else v
                               for k, v in ((k, first.get(k)) for k in RECORDED)}
    table.attrs["stats"] = json.loads(_reader(repo, commit)(table["experiment"].iloc[0], "reports/data/stats.json")
                                      or "{}")
    table.attrs["missing"] = [(n, o) for n, o in runs if n not in set(shown["Experiment"])]
    table.attrs["finished"] = _finished(repo, commit, set(shown["Experiment"]))
    return table


def _describes(key: str, model: str) -> bool:
    """Whether a setting key describes a run of `model`: not another model's section (an HSVAE
    row says nothing of MAT-VAE's psi at its default)."""
    sections = {spec.section for spec in VAE_MODELS.values()}
    section = key.split(".")[0]
    return section not in sections or (model in VAE_MODELS and section == VAE_MODELS[model].section)


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


def curves(runs: pd.DataFrame, metric: str, show) -> dict:
    """(experiment, model) -> validation `metric` per epoch, read from the experiment's commit."""
    found = {}
    for exp, model in runs[["experiment", "model"]].drop_duplicates().itertuples(index=False):
        text = show(exp, f"reports/pretrain/{model}/plots/metrics/valid/{metric}.tsv")
        if text is not None:
            found[exp, model] = pd.read_csv(io.StringIO(text), sep="\t")[metric].to_numpy()
    return found


GREEK = {"alpha": "α", "beta": "β", "psi": "ψ", "lambda": "λ", "gamma": "γ"}
GAMMA_SEPARATION = "γ separation: mean distance between\nclasses' shares of sentences per dimension on"


def _label(setting: dict) -> str:
    parts = ", ".join(f"{GREEK.get(k.split('.')[-1], k.split('.')[-1])}={v:g}" if isinstance(v, (int, float))
                      else f"{k}={v}" for k, v in setting.items())
    if {"model.alpha", "model.beta"} <= set(setting):
        return f"α/(α+β)={setting['model.alpha'] / (setting['model.alpha'] + setting['model.beta']):.2f} ({parts})"
    return parts


def _settings_in_order(part: pd.DataFrame, names: list) -> list:
    """[(setting dict, its runs)] ordered as the prior orders them (HSVAE: by alpha/(alpha+beta);
    otherwise by the settings' values), so legends and colours read in that order."""
    groups = [(dict(zip(names, np.atleast_1d(key))), group) for key, group in part.groupby(names, sort=False)]

    def order(item):
        setting = item[0]
        if {"model.alpha", "model.beta"} <= set(setting):
            return (setting["model.alpha"] / (setting["model.alpha"] + setting["model.beta"]),)
        return tuple(v if isinstance(v, (int, float)) else str(v) for v in setting.values())

    return sorted(groups, key=order)


def _replicates(runs: pd.DataFrame, keys) -> str:
    """'n = 3' runs per setting (or 'n = 2-3' where settings have different numbers), counted
    over the studied VAEs: a supervised baseline is trained in every experiment of a study."""
    runs = runs[runs["model"].isin(VAE_MODELS)]
    sizes = runs.groupby([*keys, "model"], dropna=False).size()
    low, high = int(sizes.min()), int(sizes.max())
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def _chance(ax, runs):
    classes = runs.attrs["stats"].get("classes")
    if classes:
        ax.axhline(1 / classes, color="grey", ls="--", lw=1, label=f"chance (1/{classes})")


def _varied(part: pd.DataFrame, keys) -> list:
    """The setting keys that vary within one model's runs (a model's own prior, not another
    model's params at their defaults); all of them when none varies."""
    varied = [k for k in keys if part[k].nunique(dropna=True) > 1]
    return varied or [k for k in keys if part[k].notna().any()]


def figure_stability(runs, keys, out: Path, show, caption):
    """Fig. 3 for families of runs: validation Average Hoyer per epoch, mean over replicates as a
    line and one standard deviation as a band; MAT-VAE on top, HSVAE below; samples and means,
    on one y scale. Then the final test Average Hoyer against the prior (HSVAE:
    alpha/(alpha+beta)) or the loss weights (MAT-VAE: psi, lambda). Settings keep one colour,
    in the prior's order."""
    models = [m for m in ("mat_vae", "hsvae") if m in set(runs["model"])]
    n = _replicates(runs, keys)
    fig = Figure(figsize=(11, 3.8 * len(models)))
    axes = fig.subplots(len(models), 2, squeeze=False, sharey=True)
    rows = []  # the bands' data, for `dvc plots show` (curves.csv)
    for column, (metric, what) in enumerate((("ah_sample", "samples of z"), ("ah_mean", "posterior means"))):
        found = curves(runs, metric, show)
        for row, model in enumerate(models):
            ax = axes[row][column]
            part = runs[runs["model"] == model]
            settings = _settings_in_order(part, _varied(part, keys))
            colours = colormaps["viridis"](np.linspace(0.0, 0.85, len(settings)))
            for colour, (setting, group) in zip(colours, settings):
                series = [found[e, model] for e in group["experiment"] if (e, model) in found]
                if not series:
                    continue
                length = min(map(len, series))
                stack = np.stack([s[:length] for s in series])
                epochs, mean, std = np.arange(1, length + 1), stack.mean(0), stack.std(0, ddof=1) if len(stack) > 1 else 0
                label = _label(setting)
                ax.plot(epochs, mean, marker="o", ms=3, color=colour, label=label)
                rows += [{"model": model, "setting": label, "metric": metric, "epoch": int(e), "mean": float(m),
                          "std": float(np.broadcast_to(std, mean.shape)[i]), "replicates": len(stack)}
                         for i, (e, m) in enumerate(zip(epochs, mean))]
                ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2)
            ax.set(title=f"{display_name(model)}: Average Hoyer on {what} (validation)", xlabel="epoch",
                   ylabel=f"Average Hoyer (mean ± std, {n})" if column == 0 else None)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=7, title="prior" if model == "hsvae" else "loss weights", title_fontsize=7)
    fig.suptitle(f"Fig. 3 over replicates — {caption}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "hoyer_epochs.png", dpi=100)
    pd.DataFrame(rows).to_csv(out / "curves.csv", index=False)

    fig = Figure(figsize=(5.5 * len(models), 4.2))
    axes = fig.subplots(1, len(models), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        part = runs[runs["model"] == model].copy()
        if model == "hsvae":
            part["x"] = part["model.alpha"] / (part["model.alpha"] + part["model.beta"])
            xlabel, title = "prior mean of γ: α / (α + β)", "HSVAE: final sparsity against its prior"
            # the points as data DVC can draw (plain column names: Vega reads dots as nesting)
            part[["x", "replicate", "ah_sample", "ah_mean"]].rename(columns={"x": "prior_mean"}).sort_values(
                ["prior_mean", "replicate"]).to_csv(out / "hsvae_prior.csv", index=False)
        else:
            part = part.sort_values(["mat_vae.psi", "mat_vae.lambda"])
            part["x"] = [f"ψ={p:g}\nλ={lam:g}" for p, lam in zip(part["mat_vae.psi"], part["mat_vae.lambda"])]
            xlabel = "loss weights: KL (ψ) and MMD (λ); the prior is fixed"
            title = f"{display_name(model)}: final sparsity against its loss weights"
        stats = part.groupby("x", sort=model == "hsvae")[["ah_sample", "ah_mean"]].agg(["mean", "std"])
        positions = stats.index if model == "hsvae" else np.arange(len(stats))
        for metric, marker, what in (("ah_sample", "o", "samples of z"), ("ah_mean", "s", "posterior means")):
            ax.errorbar(positions, stats[metric]["mean"], yerr=stats[metric]["std"].fillna(0), marker=marker,
                        capsize=4, label=f"on {what} (test)")
        if model != "hsvae":
            ax.set_xticks(positions, stats.index, fontsize=8)
        ax.set(title=title, xlabel=xlabel, ylabel=f"Average Hoyer (mean ± std, {n})" if model == models[0] else None,
               ylim=(0, 1))
        ax.legend(fontsize=8)
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "hoyer_prior.png", dpi=100)
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


def figure_fig2(runs, keys, out: Path, show, caption):
    """Fig. 2 over runs: accuracy against Average Hoyer (samples) for every run, coloured by
    reconstruction loss, the supervised baselines (no codes) as lines and chance; then each
    sparse run beside the dense VAE of closest reconstruction."""
    coded = runs[runs["ah_sample"].notna()]
    n = _replicates(coded, keys)
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    markers = dict(zip(VAE_MODELS, "osD^v<>"))
    scatter = None
    for model, part in coded.groupby("model"):
        scatter = ax.scatter(part["ah_sample"], part["accuracy"], c=part["rec"], cmap="viridis", vmin=coded["rec"].min(),
                             vmax=coded["rec"].max(), marker=markers.get(model, "o"), s=60, edgecolors="k",
                             label=display_name(model))
    if "vae.psi" in coded:  # the dense VAE's KL weights, which trade reconstruction for regularity
        for _, run in coded[coded["model"] == "vae"].iterrows():
            # left of the marker: the sparse models' markers lie to the right (higher Hoyer)
            ax.annotate(f"ψ={run['vae.psi']:g}", (run["ah_sample"], run["accuracy"]), xytext=(-8, 0),
                        textcoords="offset points", fontsize=7, ha="right", va="center")
    baselines = runs[runs["ah_sample"].isna()] if "ah_sample" in runs else runs.iloc[:0]
    for model, accuracy in baselines.groupby("model")["accuracy"].mean().items():
        ax.axhline(accuracy, ls="-.", color="black", lw=1)
        ax.text(0.01, accuracy, f" {display_name(model)}: {accuracy:.3f} (no codes)", va="bottom",
                fontsize=8, transform=ax.get_yaxis_transform())
    _chance(ax, runs)
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="test reconstruction loss (nats / sentence)")
    ax.set(xlabel="Average Hoyer on samples of z (test)", ylabel="test accuracy", ylim=(0, 1.05),
           title=f"Fig. 2 over runs: {counted(runs['experiment'].nunique(), 'experiment')}, {n} per setting\n{caption}")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_hoyer.png", dpi=100)
    matched = matched_reconstruction(runs)
    matched.to_csv(out / "matched.csv", index=False)
    figures = [("Accuracy against Average Hoyer, reconstruction as colour", "accuracy_hoyer.png")]
    if not matched.empty:
        fig = Figure(figsize=(11, 4))
        axes = fig.subplots(1, 2)
        x = np.arange(len(matched))
        labels = [f"{display_name(m)} (rec {r:.1f})\nvs VAE ψ={p:g} (rec {vr:.1f})" for m, r, p, vr in
                  zip(matched["sparse_model"], matched["sparse_rec"], matched["vae_psi"], matched["vae_rec"])]
        for ax, metric, title in ((axes[0], "accuracy", "test accuracy"),
                                  (axes[1], "ah_sample", "Average Hoyer on samples of z (test)")):
            ax.bar(x - 0.2, matched[f"sparse_{metric}"], 0.4, label="sparse model")
            ax.bar(x + 0.2, matched[f"vae_{metric}"], 0.4, label="VAE at the closest reconstruction")
            if metric == "accuracy":
                _chance(ax, runs)
            ax.set_xticks(x, labels, fontsize=8)
            ax.set(ylabel=title, ylim=(0, 1.05))
            ax.legend(fontsize=8)
        fig.suptitle(f"Sparse models against the dense VAE of matched reconstruction loss ({n} per setting)\n"
                     f"{caption}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "matched.png", dpi=100)
        figures.append(("At matched reconstruction", "matched.png"))
    return figures + one_run_figures(runs, show, out)


def one_run_figures(runs, show, out: Path) -> list:
    """Fig. 4 (HSVAE's gamma per class) and Fig. 5 (the classes' word-distribution KL) as the
    analyze stage drew them in the study's first experiment that trained HSVAE."""
    trained = runs[runs["model"] == "hsvae"]
    if trained.empty:
        return []
    experiment = trained["experiment"].iloc[0]
    found = []
    for file, title in (("fig4_gamma_class_hsvae.png", f"Fig. 4: HSVAE's γ per class (one run, {experiment})"),
                        ("fig5_class_kl.png", "Fig. 5: the classes' pairwise word-distribution KL")):
        shown = show(experiment, f"reports/figures/{file}", binary=True)
        if shown is not None:
            (out / file).write_bytes(shown)
            found.append((title, file))
    return found


def figure_signal(runs, keys, out: Path, show, caption):
    """§4.4.1 over replicates: class KL, gamma separation and accuracy against the signal."""
    key, n = "data.synthetic.signal", _replicates(runs, keys)
    fig = Figure(figsize=(15, 4.4))
    axes = fig.subplots(1, 3)
    corpus = runs.drop_duplicates("experiment").groupby(key)["class_kl_mean"].agg(["mean", "std"])
    axes[0].errorbar(corpus.index, corpus["mean"], yerr=corpus["std"].fillna(0), marker="o", capsize=4)
    axes[0].set(xlabel="signal (share of content words from the class's topic)",
                ylabel="mean KL between classes' word distributions (nats)", title="how different the classes are")
    gamma = runs[runs["gamma_separation"].notna()] if "gamma_separation" in runs else runs.iloc[:0]
    for model, part in gamma.groupby("model"):
        stats = part.groupby(key)["gamma_separation"].agg(["mean", "std"])
        axes[1].errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=4,
                         label=display_name(model))
    axes[1].set(xlabel="signal", ylabel=GAMMA_SEPARATION, title=f"γ patterns (mean ± std, {n})")
    for model, part in runs.groupby("model"):
        stats = part.groupby(key)["accuracy"].agg(["mean", "std"])
        axes[2].errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=4,
                         label=display_name(model))
    _chance(axes[2], runs)
    axes[2].set(xlabel="signal", ylabel="test accuracy", title=f"frozen-encoder accuracy (mean ± std, {n})",
                ylim=(0, 1.05))
    for ax in axes[1:]:
        ax.legend(fontsize=8)
    fig.suptitle(f"Signal study over replicates — {caption}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "signal.png", dpi=100)
    return [("Class KL, γ separation and accuracy against the signal", "signal.png")]


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
            shown[metric] = [("" if np.isnan(m) else f"{m:.3f}" if np.isnan(s) else f"{m:.3f} ± {s:.3f}")
                             for m, s in zip(summary[f"{metric}_mean"], summary[f"{metric}_std"])]  # n = 1: no std
    shown["n"] = summary["replicates"]
    return shown


def _shown(extra) -> list:
    """The study's overrides as a report shows them: a folder of the authors' files is this
    machine's path, named only as DIR (its files are verified by git blob id)."""
    return [f"data.source_dir=DIR" if e.startswith("data.source_dir=") and e != "data.source_dir=" else e
            for e in extra]


def _caption(runs, short, extra) -> str:
    """Corpus (its split sizes as preprocessed), sizes and commit of the study's runs."""
    r, stats = runs.attrs["recorded"], runs.attrs["stats"]
    sizes = "/".join(str(stats["splits"][s]["sentences"]) for s in ("train", "valid", "test")) if stats else "?"
    return (f"corpus {r['data.corpus']} ({sizes} train/valid/test sentences, vocabulary "
            f"{stats.get('vocabulary', '?')}), hidden {r['arch.hidden_dim']}, latent {r['arch.latent_dim']}, "
            f"{r['train.epochs']} epochs, {r['train.precision']}, commit {short}"
            + (f", -S {' -S '.join(_shown(extra))}" if extra else ""))


def write_report(name: str, repo=".", out: Path | None = None, extra=(), rev="HEAD", allow_missing=False) -> Path:
    """OUT (default reports/studies/NAME/): runs.csv, summary.csv, figures and README.md, from
    the study's experiments on commit `rev`. A run of the study without an experiment is an
    error naming it, unless `allow_missing` (the README then lists it). A report that cannot
    be made from the experiments removes the previous one at OUT, which would no longer
    describe the study."""
    out = Path(out or Path("reports/studies") / name)
    studies = _studies(repo)
    study_runs(studies, name)  # a clear error for an unknown study
    study, keys = studies[name], _setting_keys(studies[name])
    commit = _commit(repo, rev)  # a --rev that names no commit leaves the previous report alone
    short = _commit(repo, commit, short=True)
    try:
        runs = runs_table(studies, name, extra, repo, commit)
        missing = runs.attrs["missing"]
        if missing and not allow_missing:
            raise StudyError(f"study {name!r}: {counted(len(missing), 'run')} without an experiment for commit "
                             f"{short}: {'; '.join(n + ' (' + ' '.join(o) + ')' for n, o in missing)}"
                             f"; run `hsvae study run {name}` again, or report without them with --allow-missing")
    except StudyError as error:
        if out.exists():
            shutil.rmtree(out)
            raise StudyError(f"{error} (the previous report {out}/ was removed)") from None
        raise
    summary = summary_table(runs, keys)
    caption = _caption(runs, short, extra)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        runs.to_csv(tmp / "runs.csv", index=False)
        summary.to_csv(tmp / "summary.csv", index=False)
        wrapped = "\n".join(textwrap.wrap(caption, 100))  # figure titles: lines that fit an 8-inch figure
        figures = FIGURES[name](runs, keys, tmp, _reader(repo, commit), wrapped) if name in FIGURES else []
        settings = "".join(" -S " + e for e in _shown(extra))
        report = (f"hsvae study report {name}{settings}" + (f" --rev {short}" if rev != "HEAD"
                  else "") + (f" --out {out}" if out != Path("reports/studies") / name else ""))
        lines = [f"# Study `{name}`", "", f"{caption}; {study['replicates']} replicate(s) per setting "
                 f"(training seeds 0..{study['replicates'] - 1}); "
                 f"{counted(runs['experiment'].nunique(), 'experiment')}, "
                 f"finished between {time_span(runs.attrs['finished'])} UTC. Made by "
                 f"`hsvae study run {name}{settings}` (every run a DVC experiment: `dvc exp show`) on commit "
                 f"{short}, then `{report}`.", ""]
        if missing:
            lines += [f"**Not covered** ({counted(len(missing), 'run')} without an experiment): "
                      + "; ".join(f"`{n}` ({' '.join(o)})" for n, o in missing), ""]
        lines += ["## Mean ± standard deviation over replicates (the mean alone where n = 1)", "",
                  *_markdown(_mean_std(summary, keys))]
        if (tmp / "matched.csv").exists():
            lines += ["", "## At matched reconstruction (§4.2)", "", *_markdown(pd.read_csv(tmp / "matched.csv"))]
        for title, file in figures:
            lines += ["", f"## {title}", "", f"![{title}]({file})"]
        lines += ["", "Runs: `runs.csv` (one row per run and model); summary: `summary.csv`"
                  + ("; the bands of the training curves: `curves.csv`." if (tmp / "curves.csv").exists() else ".")]
        (tmp / "README.md").write_text("\n".join(lines) + "\n")
    return out
