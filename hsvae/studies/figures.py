"""The figures a study's report can draw, each a kind a study declares in conf/studies.yaml
(`figures: [KIND, ...]`): the paper's Fig. 3 over replicates (`hoyer`), Fig. 2 over runs
(`accuracy_hoyer`), §4.4.1's signal (`signal`) and training length (`epochs`). Which models
and params an axis shows comes from the models' registry: the sparse models, the dense
reference, a Beta prior's (alpha, beta)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hsvae.analysis.figures import display_name
from hsvae.models.registry import DENSE_REFERENCE, VAE_MODELS
from hsvae.studies.run import StudyError, counted
from hsvae.studies.runs import StudyRuns
from hsvae.studies.stats import curves, matched_reconstruction, replicates

GREEK = {"alpha": "α", "beta": "β", "psi": "ψ", "lambda": "λ", "gamma": "γ"}
GAMMA_SEPARATION = "γ separation: mean distance between\nclasses' shares of sentences per dimension on"
DPI = 100


def _prior_keys(model: str):
    """The (alpha, beta) params of a model with a Beta prior on gamma, or None."""
    spec = VAE_MODELS.get(model)
    return (f"{spec.section}.alpha", f"{spec.section}.beta") if spec is not None and spec.has_gamma else None


def _prior_mean(setting: dict):
    """alpha / (alpha + beta) of the Beta prior a setting names, or None."""
    for alpha in (k for k in setting if k.endswith(".alpha")):
        beta = alpha[: -len("alpha")] + "beta"
        if beta in setting:
            return setting[alpha] / (setting[alpha] + setting[beta])
    return None


def _label(setting: dict) -> str:
    parts = ", ".join(f"{GREEK.get(k.split('.')[-1], k.split('.')[-1])}={v:g}" if isinstance(v, (int, float))
                      else f"{k}={v}" for k, v in setting.items())
    prior = _prior_mean(setting)
    return parts if prior is None else f"α/(α+β)={prior:.2f} ({parts})"


def _settings_in_order(part: pd.DataFrame, names: list) -> list:
    """[(setting dict, its runs)] ordered as the prior orders them (by alpha/(alpha+beta) where
    the setting names a Beta prior; otherwise by the settings' values), so legends and colours
    read in that order."""
    groups = [(dict(zip(names, np.atleast_1d(key))), group) for key, group in part.groupby(names, sort=False)]

    def order(item):
        prior = _prior_mean(item[0])
        return (prior,) if prior is not None else tuple(v if isinstance(v, (int, float)) else str(v)
                                                        for v in item[0].values())

    return sorted(groups, key=order)


def _chance(ax, runs: StudyRuns):
    classes = runs.stats.get("classes")
    if classes:
        ax.axhline(1 / classes, color="grey", ls="--", lw=1, label=f"chance (1/{classes})")


def _varied(part: pd.DataFrame, keys) -> list:
    """The setting keys that vary within one model's runs (a model's own prior, not another
    model's params at their defaults); all of them when none varies."""
    varied = [k for k in keys if part[k].nunique(dropna=True) > 1]
    return varied or [k for k in keys if part[k].notna().any()]


def _one_key(runs: StudyRuns, kind: str) -> str:
    if len(runs.keys) != 1:
        raise StudyError(f"figure {kind!r} draws against one setting; the study varies {runs.keys or 'none'}")
    return runs.keys[0]


def _sparse_models(runs: StudyRuns) -> list:
    present = set(runs.table["model"])
    return [m for m, spec in VAE_MODELS.items() if spec.sparse and m in present]


def figure_hoyer(runs: StudyRuns, out: Path, caption: str) -> list:
    """Fig. 3 for families of runs: validation Average Hoyer per epoch, mean over replicates as a
    line and one standard deviation as a band, one row per sparse model; samples and means, on
    one y scale. Then the final test Average Hoyer against the prior (a Beta prior's
    alpha/(alpha+beta)) or the loss weights (a fixed prior). Settings keep one colour, in the
    prior's order."""
    models, n = _sparse_models(runs), replicates(runs)
    if not models:
        return []
    fig = Figure(figsize=(11, 3.8 * len(models)))
    axes = fig.subplots(len(models), 2, squeeze=False, sharey=True)
    rows = []  # the bands' data, for `dvc plots show` (curves.csv)
    for column, (metric, what) in enumerate((("ah_sample", "samples of z"), ("ah_mean", "posterior means"))):
        found = curves(runs, metric)
        for row, model in enumerate(models):
            ax = axes[row][column]
            part = runs.of(model)
            settings = _settings_in_order(part, _varied(part, runs.keys))
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
            ax.legend(fontsize=7, title="prior" if _prior_keys(model) else "loss weights", title_fontsize=7)
    fig.suptitle(f"Fig. 3 over replicates — {caption}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "hoyer_epochs.png", dpi=DPI)
    pd.DataFrame(rows).to_csv(out / "curves.csv", index=False)

    fig = Figure(figsize=(5.5 * len(models), 4.2))
    axes = fig.subplots(1, len(models), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        part = runs.of(model).copy()
        prior = _prior_keys(model)
        if prior is not None:
            part["x"] = part[prior[0]] / (part[prior[0]] + part[prior[1]])
            xlabel = "prior mean of γ: α / (α + β)"
            title = f"{display_name(model)}: final sparsity against its prior"
            # the points as data DVC can draw (plain column names: Vega reads dots as nesting)
            part[["x", "replicate", "ah_sample", "ah_mean"]].rename(columns={"x": "prior_mean"}).sort_values(
                ["prior_mean", "replicate"]).to_csv(out / f"{model}_prior.csv", index=False)
        else:
            weights = _varied(part, runs.keys)
            part = part.sort_values(weights)
            part["x"] = ["\n".join(f"{GREEK.get(k.split('.')[-1], k)}={v:g}" for k, v in zip(weights, values))
                         for values in part[weights].itertuples(index=False)]
            xlabel = "loss weights; the prior is fixed"
            title = f"{display_name(model)}: final sparsity against its loss weights"
        stats = part.groupby("x", sort=prior is not None)[["ah_sample", "ah_mean"]].agg(["mean", "std"])
        positions = stats.index if prior is not None else np.arange(len(stats))
        for metric, marker, what in (("ah_sample", "o", "samples of z"), ("ah_mean", "s", "posterior means")):
            ax.errorbar(positions, stats[metric]["mean"], yerr=stats[metric]["std"].fillna(0), marker=marker,
                        capsize=4, label=f"on {what} (test)")
        if prior is None:
            ax.set_xticks(positions, stats.index, fontsize=8)
        ax.set(title=title, xlabel=xlabel, ylabel=f"Average Hoyer (mean ± std, {n})" if model == models[0] else None,
               ylim=(0, 1))
        ax.legend(fontsize=8)
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "hoyer_prior.png", dpi=DPI)
    return [("Average Hoyer over training (mean ± std)", "hoyer_epochs.png"),
            ("Final Average Hoyer against the prior", "hoyer_prior.png")]


def figure_accuracy_hoyer(runs: StudyRuns, out: Path, caption: str) -> list:
    """Fig. 2 over runs: accuracy against Average Hoyer (samples) for every run, coloured by
    reconstruction loss, the supervised baselines (no codes) as lines and chance; then each
    sparse run beside the dense VAE of closest reconstruction."""
    table = runs.table
    coded = table[table["ah_sample"].notna()]
    n = replicates(runs)
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    markers = dict(zip(VAE_MODELS, "osD^v<>"))
    scatter = None
    for model, part in coded.groupby("model"):
        scatter = ax.scatter(part["ah_sample"], part["accuracy"], c=part["rec"], cmap="viridis", vmin=coded["rec"].min(),
                             vmax=coded["rec"].max(), marker=markers.get(model, "o"), s=60, edgecolors="k",
                             label=display_name(model))
    psi = f"{VAE_MODELS[DENSE_REFERENCE].section}.psi"
    if psi in coded:  # the dense VAE's KL weights, which trade reconstruction for regularity
        for _, run in coded[coded["model"] == DENSE_REFERENCE].iterrows():
            # left of the marker: the sparse models' markers lie to the right (higher Hoyer)
            ax.annotate(f"ψ={run[psi]:g}", (run["ah_sample"], run["accuracy"]), xytext=(-8, 0),
                        textcoords="offset points", fontsize=7, ha="right", va="center")
    baselines = table[table["ah_sample"].isna()]
    for model, accuracy in baselines.groupby("model")["accuracy"].mean().items():
        ax.axhline(accuracy, ls="-.", color="black", lw=1)
        ax.text(0.01, accuracy, f" {display_name(model)}: {accuracy:.3f} (no codes)", va="bottom",
                fontsize=8, transform=ax.get_yaxis_transform())
    _chance(ax, runs)
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="test reconstruction loss (nats / sentence)")
    ax.set(xlabel="Average Hoyer on samples of z (test)", ylabel="test accuracy", ylim=(0, 1.05),
           title=f"Fig. 2 over runs: {counted(table['experiment'].nunique(), 'experiment')}, {n} per setting\n{caption}")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_hoyer.png", dpi=DPI)
    matched = matched_reconstruction(table)
    matched.to_csv(out / "matched.csv", index=False)
    figures = [("Accuracy against Average Hoyer, reconstruction as colour", "accuracy_hoyer.png")]
    if not matched.empty:
        fig = Figure(figsize=(11, 4.4))
        axes = fig.subplots(1, 2)
        x = np.arange(len(matched))
        labels = [f"{display_name(m)} (rec {r:.1f})\nvs {display_name(DENSE_REFERENCE)} ψ={p:g} (rec {vr:.1f})"
                  for m, r, p, vr in zip(matched["sparse_model"], matched["sparse_rec"], matched["vae_psi"],
                                         matched["vae_rec"])]
        for ax, metric, title in ((axes[0], "accuracy", "test accuracy"),
                                  (axes[1], "ah_sample", "Average Hoyer on samples of z (test)")):
            ax.bar(x - 0.2, matched[f"sparse_{metric}"], 0.4, label="sparse model")
            ax.bar(x + 0.2, matched[f"vae_{metric}"], 0.4, label=f"{display_name(DENSE_REFERENCE)} at the closest "
                                                                  "reconstruction")
            if metric == "accuracy":
                _chance(ax, runs)
            ax.set_xticks(x, labels, fontsize=8)
            ax.set(ylabel=title, ylim=(0, 1.05))
        # one legend under both panels: inside, it covered the tallest bars
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8, frameon=False)
        fig.suptitle(f"Sparse models against the dense VAE of matched reconstruction loss ({n} per setting)\n"
                     f"{caption}", fontsize=9)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        fig.savefig(out / "matched.png", dpi=DPI)
        figures.append(("At matched reconstruction", "matched.png"))
    return figures + one_run_figures(runs, out)


def one_run_figures(runs: StudyRuns, out: Path) -> list:
    """Fig. 4 (gamma per class) and Fig. 5 (the classes' word-distribution KL) as the analyze
    stage drew them in the study's first experiment that trained a model with gamma."""
    trained = runs.table[runs.table["model"].map(lambda m: m in VAE_MODELS and VAE_MODELS[m].has_gamma)]
    if trained.empty:
        return []
    experiment, model = trained["experiment"].iloc[0], trained["model"].iloc[0]
    found = []
    for file, title in ((f"fig4_gamma_class_{model}.png",
                         f"Fig. 4: {display_name(model)}'s γ per class (one run, {experiment})"),
                        ("fig5_class_kl.png", "Fig. 5: the classes' pairwise word-distribution KL")):
        shown = runs.show(experiment, f"reports/figures/{file}", binary=True)
        if shown is not None:
            (out / file).write_bytes(shown)
            found.append((title, file))
    return found


def figure_signal(runs: StudyRuns, out: Path, caption: str) -> list:
    """§4.4.1 over replicates: class KL, gamma separation and accuracy against the study's
    one setting (the corpus's class signal)."""
    key, n, table = _one_key(runs, "signal"), replicates(runs), runs.table
    name = key.split(".")[-1]
    fig = Figure(figsize=(15, 4.4))
    axes = fig.subplots(1, 3)
    corpus = table.drop_duplicates("experiment").groupby(key)["class_kl_mean"].agg(["mean", "std"])
    axes[0].errorbar(corpus.index, corpus["mean"], yerr=corpus["std"].fillna(0), marker="o", capsize=4)
    axes[0].set(xlabel=key, ylabel="mean KL between classes' word distributions (nats)",
                title="how different the classes are")
    gamma = table[table["gamma_separation"].notna()] if "gamma_separation" in table else table.iloc[:0]
    for model, part in gamma.groupby("model"):
        stats = part.groupby(key)["gamma_separation"].agg(["mean", "std"])
        axes[1].errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=4,
                         label=display_name(model))
    axes[1].set(xlabel=name, ylabel=GAMMA_SEPARATION, title=f"γ patterns (mean ± std, {n})")
    for model, part in table.groupby("model"):
        stats = part.groupby(key)["accuracy"].agg(["mean", "std"])
        axes[2].errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=4,
                         label=display_name(model))
    _chance(axes[2], runs)
    axes[2].set(xlabel=name, ylabel="test accuracy", title=f"frozen-encoder accuracy (mean ± std, {n})",
                ylim=(0, 1.05))
    for ax in axes[1:]:
        ax.legend(fontsize=8)
    fig.suptitle(f"{name} over replicates — {caption}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "signal.png", dpi=DPI)
    return [(f"Class KL, γ separation and accuracy against {name}", "signal.png")]


def figure_epochs(runs: StudyRuns, out: Path, caption: str) -> list:
    """Training length: each model's validation reconstruction per epoch (its longest run) and
    its test accuracy against the number of epochs trained."""
    key, table = _one_key(runs, "epochs"), runs.table
    models = [m for m in VAE_MODELS if m in set(table["model"])]
    found = curves(runs, "rec")
    fig = Figure(figsize=(11, 4.2))
    rec_ax, acc_ax = fig.subplots(1, 2)
    rows = []
    for model in models:
        part = runs.of(model).sort_values(key)
        longest = part.iloc[-1]
        if (longest["experiment"], model) in found:
            rec = found[longest["experiment"], model]
            rec_ax.plot(np.arange(1, len(rec) + 1), rec, marker="o", ms=3, label=display_name(model))
            rows += [{"model": model, "epoch": e + 1, "valid_rec": float(v)} for e, v in enumerate(rec)]
        acc_ax.plot(part[key], part["accuracy"], marker="o", label=display_name(model))
    rec_ax.set(title="validation reconstruction per epoch (the longest run)", xlabel="epoch",
               ylabel="reconstruction (nats / sentence)")
    acc_ax.set(title="frozen-encoder test accuracy", xlabel=key, ylabel="test accuracy", ylim=(0, 1.05))
    _chance(acc_ax, runs)
    for ax in (rec_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    fig.suptitle(f"Training length — {caption}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "epochs.png", dpi=DPI)
    pd.DataFrame(rows).to_csv(out / "rec_per_epoch.csv", index=False)
    return [("Reconstruction per epoch and accuracy against training length", "epochs.png")]


def figure_explore(runs: StudyRuns, out: Path, caption: str) -> list:
    """The explorer pages of the study's runs (docs/explore.md): out/explore/MODEL[-SETTING].html,
    drawn by this version's page code from the JSON explore@MODEL saved in each experiment, and an
    index comparing their scores."""
    from hsvae.analysis.explore import saved_page
    from hsvae.analysis.explore_page import index_page

    folder = out / "explore"
    folder.mkdir(exist_ok=True)
    pages = {}
    for _, run in runs.table[runs.table["model"].isin(VAE_MODELS)].drop_duplicates(["experiment", "model"]).iterrows():
        model, experiment = run["model"], run["experiment"]
        data = runs.show(experiment, f"reports/explore/models/{model}.json")
        if data is None:
            continue
        saved = json.loads(data)
        setting = _label({k: run[k] for k in runs.keys if pd.notna(run.get(k))})
        name = model + "".join(f"-{k.split('.')[-1]}{run[k]:g}" for k in runs.keys if pd.notna(run.get(k))
                               and isinstance(run[k], (int, float)))
        (folder / f"{name}.html").write_text(saved_page(saved))
        pages[f"{display_name(model)} {setting}".strip()] = (f"{name}.html", saved["scores"])
    if not pages:
        return []
    (folder / "index.html").write_text(index_page(f"What each dimension means — {caption}", pages))
    return [("What each dimension means: the explorer of each run", "explore/index.html")]


FIGURE_KINDS = {"hoyer": figure_hoyer, "accuracy_hoyer": figure_accuracy_hoyer, "signal": figure_signal,
                "epochs": figure_epochs, "explore": figure_explore}
