"""Whether this repository's models train as the authors' code does: the criterion, stated
once, and the figure and table of the cross-check's curves.

Agreement: from epoch 2 on, for every term, |mean over our seeds - mean over the authors'
seeds| <= 2 x the larger of the two seed standard deviations + 3 % of the authors' mean."""
import math

import numpy as np

FIRST_EPOCH = 2  # epoch 1 is mostly the start: both implementations are far from converged
SPREAD = 2.0     # times the larger seed standard deviation
RELATIVE = 0.03  # of the authors' mean
TERMS = {"hsvae": ("rec", "kl_z", "kl_gamma", "ah_sample", "ah_mean"),
         "mat_vae": ("rec", "kl_z", "mmd", "ah_sample", "ah_mean")}
LABELS = {"rec": "reconstruction (nats)", "kl_z": "KL_z (nats)", "kl_gamma": "KL_γ (nats)", "mmd": "MMD",
          "ah_sample": "Average Hoyer, samples", "ah_mean": "Average Hoyer, means"}


def curves(results: dict, implementation: str, model: str, term: str) -> np.ndarray:
    """(seeds, epochs) of one term (empty where no run has it); runs of different lengths are an error."""
    rows = [[e[term] for e in run["epochs"]] for run in results["runs"]
            if run["implementation"] == implementation and run["model"] == model and term in run["epochs"][0]]
    if not rows:
        return np.empty((0, 0))
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"{implementation} {model}: runs of different lengths {sorted({len(r) for r in rows})}")
    return np.array(rows, dtype=float)


def compare(results: dict, model: str) -> list:
    """One row per (term, epoch >= FIRST_EPOCH): both means and stds, the allowed gap, and
    whether it holds (None where either side has fewer than two seeds: no spread to judge by)."""
    rows = []
    for term in TERMS[model]:
        theirs, ours = curves(results, "authors", model, term), curves(results, "ours", model, term)
        if theirs.size == 0 or ours.size == 0:
            continue
        for epoch in range(FIRST_EPOCH, min(theirs.shape[1], ours.shape[1]) + 1):
            a, o = theirs[:, epoch - 1], ours[:, epoch - 1]
            judged = len(a) >= 2 and len(o) >= 2
            spread = max(a.std(ddof=1), o.std(ddof=1)) if judged else math.nan
            allowed = SPREAD * spread + RELATIVE * abs(a.mean())
            gap = abs(o.mean() - a.mean())
            rows.append({"term": term, "epoch": epoch, "authors_mean": float(a.mean()), "ours_mean": float(o.mean()),
                         "authors_std": float(a.std(ddof=1)) if len(a) > 1 else None,
                         "ours_std": float(o.std(ddof=1)) if len(o) > 1 else None,
                         "seeds": [len(a), len(o)], "gap": float(gap),
                         "allowed": float(allowed) if judged else None, "agrees": bool(gap <= allowed) if judged else None})
    return rows


def verdict(rows: list):
    """True when every judged row agrees, False when one does not, None when none was judged."""
    judged = [r["agrees"] for r in rows if r["agrees"] is not None]
    return all(judged) if judged else None


def figure(results: dict, model: str, path, title: str):
    """One panel per term: the authors' seeds as a band (min to max) with their mean, ours the same."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    terms = TERMS[model]
    fig = Figure(figsize=(3.2 * len(terms), 3.0), constrained_layout=True)
    axes = fig.subplots(1, len(terms))
    for ax, term in zip(axes, terms):
        for implementation, colour, label in (("authors", "#444444", "the authors' code (TF)"),
                                              ("ours", "#d62728", "this repository")):
            c = curves(results, implementation, model, term)
            if c.size == 0:
                continue
            epochs = np.arange(1, c.shape[1] + 1)
            ax.fill_between(epochs, c.min(0), c.max(0), color=colour, alpha=0.2, linewidth=0)
            ax.plot(epochs, c.mean(0), color=colour, marker="o", markersize=3, label=f"{label}, {len(c)} seeds")
        ax.set_title(LABELS[term], fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=120)


def markdown(results: dict) -> str:
    """The cross-check's table: per model and term, both means ± std at the last epoch, the
    widest gap against its allowance from epoch FIRST_EPOCH on, and the verdict."""
    lines = ["| model | term | authors, last epoch | this repository, last epoch | worst gap / allowed (epoch) | agrees |",
             "|---|---|---|---|---|---|"]
    for model in TERMS:
        rows = compare(results, model)
        for term in TERMS[model]:
            mine = [r for r in rows if r["term"] == term]
            if not mine:
                continue
            last = mine[-1]
            worst = max(mine, key=lambda r: r["gap"] / r["allowed"] if r["allowed"] else math.inf)
            fmt = (lambda m, s: f"{m:.3f} ± {s:.3f}") if term.startswith("ah") else (lambda m, s: f"{m:.1f} ± {s:.1f}")
            agrees = {True: "yes", False: "**no**", None: "n/a"}[verdict(mine)]
            ratio = f"{worst['gap']:.3g} / {worst['allowed']:.3g} ({worst['epoch']})" if worst["allowed"] else "n/a"
            lines.append(f"| {model} | {term} | {fmt(last['authors_mean'], last['authors_std'] or 0)} | "
                         f"{fmt(last['ours_mean'], last['ours_std'] or 0)} | {ratio} | {agrees} |")
    return "\n".join(lines) + "\n"
