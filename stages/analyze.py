"""analyze: gather the test metrics into reports/summary.json and reports/analysis.json, draw
the paper's figures and write reports/README.md; compare the explorers of the models
(reports/explore/index.html and metrics.json). Reads only reports/ and data/processed."""
from pathlib import Path

from hsvae.analysis.analyze import analyze
from hsvae.analysis.explore import METRICS
from hsvae.analysis.explore_page import index_page
from hsvae.analysis.figures import display_name, report_text, write_curves
from hsvae.analysis.settings import AnalyzeSettings
from hsvae.core.atomic import atomic_path, write_json, write_text
from hsvae.core.errors import read_json
from hsvae.pipeline.stage import DATA, check_inputs, run, stage_config

REPORTS = Path("reports")
EXPLORE = REPORTS / "explore"


def main():
    cfg = stage_config("analyze", analyze=AnalyzeSettings)
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
