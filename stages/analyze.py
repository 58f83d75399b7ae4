"""analyze: gather the test metrics into reports/summary.json and reports/analysis.json, draw
the paper's figures and write reports/README.md; compare the explorers of the models
(reports/explore/index.html and metrics.json). Reads only reports/ and data/processed."""
import json
from pathlib import Path

import numpy as np

from hsvae.analysis.analyze import analyze
from hsvae.analysis.explore import METRICS
from hsvae.analysis.explore_page import index_page
from hsvae.analysis.figures import display_name, report_text, write_curves
from hsvae.core.atomic import atomic_path, write_json, write_text
from hsvae.core.errors import read_json, reading
from hsvae.pipeline.stage import DATA, check_made_with, fingerprint, folder_record, run, stage_config

REPORTS = Path("reports")
EXPLORE = REPORTS / "explore"


def check_inputs(cfg):
    """Every input analyze reads was made with the settings configs/analyze.json expects, and
    from the data/processed it reads; each classification from the model whose codes it reads.
    Checked upstream first (a model trained with other settings names pretrain, not classify)."""
    check_made_with(cfg, DATA, folder_record(DATA, "preprocess"))
    data, models = fingerprint(DATA), {}
    for path, expected in sorted(cfg.inputs.items(), key=lambda item: not item[0].endswith(".npz")):  # codes first
        if path.endswith(".npz"):
            with reading(path, expected["stage"]), np.load(path) as codes:
                recorded = json.loads(str(codes["made_with"]))
            check_made_with(cfg, path, recorded, {DATA: data})
            model = f"models/{Path(path).stem}.pt"
            models[model] = recorded.get(model)
        elif path.startswith("reports/explore/"):
            recorded = read_json(path, expected["stage"]).get("made_with")
            check_made_with(cfg, path, recorded, {DATA: data, f"reports/codes/{Path(path).stem}.npz":
                                                  fingerprint(f"reports/codes/{Path(path).stem}.npz")})
        elif path.startswith("reports/classify/"):
            model = f"models/{Path(path).name}.pt"
            sources = {DATA: data, **({model: models[model]} if model in models else {})}
            check_made_with(cfg, path, folder_record(path, expected["stage"]), sources)


def main():
    cfg = stage_config("analyze")
    check_inputs(cfg)
    with atomic_path(REPORTS / "figures") as figures, atomic_path(REPORTS / "gamma_class") as gamma_dir, \
            atomic_path(REPORTS / "curves") as curves:
        for folder in (figures, gamma_dir, curves):
            folder.mkdir()
        summary, analysis, drawn, caption = analyze(cfg, REPORTS, DATA, figures, gamma_dir)
        write_curves(REPORTS, cfg.models + cfg.baselines, curves)
    write_json(REPORTS / "summary.json", summary)
    write_json(REPORTS / "analysis.json", analysis)
    rows = [f"{display_name(name)},{entry['accuracy']:.4f},{entry.get('ah_sample', '')}"
            for name, entry in summary.items()]
    write_text(REPORTS / "accuracy.csv", "model,accuracy,ah_sample\n" + "\n".join(rows) + "\n")
    write_text(REPORTS / "README.md", report_text(summary, analysis, drawn, caption))
    compare_explorers(cfg.models)


def compare_explorers(models):
    """reports/explore/index.html (the models side by side, linking their pages) and the
    models' readability scores as DVC metrics, reports/explore/metrics.json."""
    explored = {name: read_json(EXPLORE / "models" / f"{name}.json", f"explore@{name}") for name in models}
    write_json(EXPLORE / "metrics.json", {name: {k: e["scores"][k] for k in METRICS} for name, e in explored.items()})
    write_text(EXPLORE / "index.html", index_page("What each dimension means: the models compared (test split)",
                                                  {display_name(n): (f"models/{n}.html", e["scores"])
                                                   for n, e in explored.items()}))


if __name__ == "__main__":
    run(main)
