"""`hsvae study report NAME`: the study's runs (runs.py), their statistics (stats.py) and the
figures the study declares (figures.py), written as reports/studies/NAME/: runs.csv,
summary.csv, the figures and README.md."""
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from hsvae.core.atomic import atomic_path
from hsvae.pipeline.params import load
from hsvae.studies.figures import FIGURE_KINDS
from hsvae.studies.grid import STUDIES, load_studies
from hsvae.studies.run import StudyError, counted, study_runs
from hsvae.studies.runs import StudyRuns, commit_of, read_runs, time_span
from hsvae.studies.stats import summary_table


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
    return ["data.source_dir=DIR" if e.startswith("data.source_dir=") and e != "data.source_dir=" else e
            for e in extra]


def _caption(runs: StudyRuns, short, extra) -> str:
    """Corpus (its split sizes as preprocessed), sizes and commit of the study's runs."""
    r, stats = runs.recorded, runs.stats
    sizes = "/".join(str(stats["splits"][s]["sentences"]) for s in ("train", "valid", "test")) if stats else "?"
    return (f"corpus {r['data.corpus']} ({sizes} train/valid/test sentences, vocabulary "
            f"{stats.get('vocabulary', '?')}), hidden {r['arch.hidden_dim']}, latent {r['arch.latent_dim']}, "
            f"{r['train.epochs']} epochs, {r['train.precision']}, commit {short}"
            + (f", -S {' -S '.join(_shown(extra))}" if extra else ""))


def figure_kinds(study: dict, name: str) -> list:
    """The figures the study declares, each a kind figures.py draws."""
    kinds = study.get("figures", [])
    unknown = [k for k in kinds if k not in FIGURE_KINDS]
    if unknown:
        raise StudyError(f"{STUDIES}: {name}.figures: unknown figure {unknown[0]!r}; expected any of "
                         f"{', '.join(FIGURE_KINDS)}")
    return kinds


def _reported_commit(out: Path) -> str | None:
    """The (short) commit the report at `out` was made on, as its README names it; None if none."""
    readme = out / "README.md"
    found = (re.search(r"\) on commit ([0-9a-f]{7,40}), then `hsvae study report", readme.read_text())
             if readme.is_file() else None)
    return found[1] if found else None


def write_report(name: str, repo=".", out: Path | None = None, extra=(), rev="HEAD", allow_missing=False,
                 figures=None) -> Path:
    """OUT (default reports/studies/NAME/): runs.csv, summary.csv, figures and README.md, from
    the study's experiments on commit `rev`. A run of the study without an experiment is an
    error naming it, unless `allow_missing` (the README then lists it). A report that cannot
    be made removes the previous one at OUT if that was made on the same commit (its runs are
    no longer all there); one of another commit, such as a committed report in a fresh clone,
    is left as it is. `figures`: some of the study's figures, drawn instead of all."""
    out = Path(out or Path("reports/studies") / name)
    studies = load_studies(load(Path(repo) / "params.yaml"), Path(repo) / STUDIES)
    study_runs(studies, name)  # a clear error for an unknown study
    study = studies[name]
    kinds = figure_kinds(study, name)
    if figures is not None:
        other = [f for f in figures if f not in kinds]
        if other:
            raise StudyError(f"--figures {other[0]}: not a figure of study {name!r}; its figures: {', '.join(kinds)}")
        kinds = list(figures)
    commit = commit_of(repo, rev)  # a --rev that names no commit leaves the previous report alone
    short = commit_of(repo, commit, short=True)
    try:
        runs = read_runs(studies, name, extra, repo, commit)
        if runs.missing and not allow_missing:
            raise StudyError(f"study {name!r}: {counted(len(runs.missing), 'run')} without an experiment for commit "
                             f"{short}: {'; '.join(n + ' (' + ' '.join(o) + ')' for n, o in runs.missing)}"
                             f"; run `hsvae study run {name}` again, or report without them with --allow-missing")
    except StudyError as error:
        made_on = _reported_commit(out)
        if made_on is not None and commit.startswith(made_on):
            shutil.rmtree(out)
            raise StudyError(f"{error} (the previous report {out}/, of the same commit, was removed)") from None
        raise
    summary = summary_table(runs)
    caption = _caption(runs, short, extra)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        runs.table.to_csv(tmp / "runs.csv", index=False)
        summary.to_csv(tmp / "summary.csv", index=False)
        wrapped = "\n".join(textwrap.wrap(caption, 100))  # figure titles: lines that fit an 8-inch figure
        figures = [drawn for kind in kinds for drawn in FIGURE_KINDS[kind](runs, tmp, wrapped)]
        settings = "".join(" -S " + e for e in _shown(extra))
        report = (f"hsvae study report {name}{settings}" + (f" --rev {short}" if rev != "HEAD"
                  else "") + (f" --out {out}" if out != Path("reports/studies") / name else "")
                  + (f" --figures {' '.join(kinds)}" if figures is not None else ""))
        lines = [f"# Study `{name}`", "", f"{caption}; {study['replicates']} replicate(s) per setting "
                 f"(training seeds 0..{study['replicates'] - 1}); "
                 f"{counted(runs.table['experiment'].nunique(), 'experiment')}, "
                 f"finished between {time_span(runs.finished)} UTC. Made by "
                 f"`hsvae study run {name}{settings}` (every run a DVC experiment: `dvc exp show`) on commit "
                 f"{short}, then `{report}`.", ""]
        if runs.missing:
            lines += [f"**Not covered** ({counted(len(runs.missing), 'run')} without an experiment): "
                      + "; ".join(f"`{n}` ({' '.join(o)})" for n, o in runs.missing), ""]
        lines += ["## Mean ± standard deviation over replicates (the mean alone where n = 1)", "",
                  *_markdown(_mean_std(summary, runs.keys))]
        if (tmp / "matched.csv").exists():
            lines += ["", "## At matched reconstruction (§4.2)", "", *_markdown(pd.read_csv(tmp / "matched.csv"))]
        for title, file in figures:
            lines += ["", f"## {title}", "", f"![{title}]({file})"]
        lines += ["", "Runs: `runs.csv` (one row per run and model); summary: `summary.csv`"
                  + ("; the bands of the training curves: `curves.csv`." if (tmp / "curves.csv").exists() else ".")]
        (tmp / "README.md").write_text("\n".join(lines) + "\n")
    return out
