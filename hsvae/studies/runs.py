"""A study's runs as DVC recorded them: one row per (experiment, model) with the study's
settings, the replicate's training seed and the model's test metrics (DVC's Python API), and
what the report says of them (`StudyRuns`)."""
import ast
import json
import subprocess
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from hsvae.analysis.explore import METRICS
from hsvae.analysis.figures import SUMMARY_KEYS
from hsvae.models.registry import VAE_MODELS
from hsvae.studies.grid import study_points
from hsvae.studies.run import StudyError, experiment_ref, study_runs

CORPUS_KEYS = ("class_kl_mean",)
# What a study's captions say of its runs, read from the params its experiments recorded
RECORDED = ("data.corpus", "data.per_class.train", "data.per_class.valid", "data.per_class.test", "arch.latent_dim",
            "arch.hidden_dim", "train.epochs", "train.precision")


@dataclass
class StudyRuns:
    """A study's runs: `table` one row per (run, model); `keys` the settings the study varies;
    `recorded` the params its runs recorded (for captions); `stats` the corpus statistics of the
    first run; `missing` the runs without an experiment, as (name, overrides); `finished` when
    each ran (ISO 8601); `show(experiment, path, binary=False)` a file as an experiment
    committed it, or None."""
    table: pd.DataFrame
    keys: list
    recorded: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)
    finished: list = field(default_factory=list)
    show: Callable = lambda experiment, path, binary=False: None

    def of(self, model: str) -> pd.DataFrame:
        return self.table[self.table["model"] == model]


def setting_keys(study: dict) -> list:
    # `models` and `baselines` shape the pipeline; they are not settings to group runs by
    return list(dict.fromkeys(k for s in study_points(study) for k in s if k not in ("models", "baselines")))


def commit_of(repo, rev="HEAD", short=False) -> str:
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


def _reader(repo, commit):
    """show(experiment, path, binary=False): the file as the experiment (of `commit`) committed
    it, or None where it has none."""
    def show(experiment, path, binary=False):
        shown = subprocess.run(["git", "show", f"{experiment_ref(commit, experiment)}:{path}"], cwd=repo,
                               capture_output=True, text=not binary)
        return shown.stdout if shown.returncode == 0 else None
    return show


def read_runs(studies: dict, name: str, extra, repo, commit: str) -> StudyRuns:
    """The study's runs on `commit`, from its experiments."""
    import dvc.api

    study, runs = studies[name], study_runs(studies, name, extra)
    shown = pd.DataFrame(dvc.api.exp_show(repo=repo, revs=[commit]))
    shown = shown[shown["Experiment"].isin({n for n, _ in runs})]
    if shown.empty:
        raise StudyError(f"study {name!r}: no experiments of it for commit {commit[:7]}; run `hsvae study run "
                         f"{name}{''.join(' -S ' + e for e in extra)}`")
    keys = setting_keys(study)
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
            row.update({f"explore_{m}": _number(exp.get(f"{model}.{m}")) for m in METRICS})
            rows.append(row)
        baselines = exp["baselines"] if isinstance(exp["baselines"], list) else ast.literal_eval(exp["baselines"])
        for baseline in baselines:  # supervised: an accuracy, no codes
            rows.append({"experiment": exp["Experiment"], **{k: exp[k] if _describes(k, baseline) else None for k in keys},
                         "replicate": exp["train.seed"], "model": baseline,
                         "accuracy": _number(exp.get(f"{baseline}.accuracy"))})
    table = pd.DataFrame(rows).dropna(axis=1, how="all")
    table = table.sort_values([*keys, "model", "replicate"], key=_sortable).reset_index(drop=True)
    first = shown.iloc[0]  # the params the runs recorded (the study's extras applied), for captions
    show = _reader(repo, commit)
    # exp_show's table holds numbers as floats where a column has gaps: 100.0 is shown as 100
    recorded = {k: int(v) if isinstance(v, float) and v.is_integer() else v
                for k, v in ((k, first.get(k)) for k in RECORDED)}
    return StudyRuns(table, keys, recorded,
                     stats=json.loads(show(table["experiment"].iloc[0], "reports/data/stats.json") or "{}"),
                     missing=[(n, o) for n, o in runs if n not in set(shown["Experiment"])],
                     finished=_finished(repo, commit, set(shown["Experiment"])), show=show)


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


