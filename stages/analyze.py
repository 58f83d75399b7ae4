"""analyze: gather the test metrics into reports/summary.json and reports/analysis.json, draw
the paper's figures and write reports/README.md. Reads only reports/ and data/processed."""
import json
from pathlib import Path

import numpy as np

from hsvae.analysis.analyze import analyze
from hsvae.analysis.figures import display_name, report_text, write_curves
from hsvae.atomic import atomic_path, write_json, write_text
from hsvae.pipeline.stage import DATA, check_trained_with, run, stage_config

REPORTS = Path("reports")


def main():
    cfg = stage_config("analyze")
    for name in cfg["models"]:
        path = REPORTS / "codes" / f"{name}.npz"
        with np.load(path) as codes:
            trained = json.loads(str(codes["settings"])) if "settings" in codes else {}
        check_trained_with(path, name, trained, {"arch": cfg["arch"], "hparams": cfg["hparams"][name]})
    with atomic_path(REPORTS / "figures") as figures, atomic_path(REPORTS / "gamma_class") as gamma_dir, \
            atomic_path(REPORTS / "curves") as curves:
        for folder in (figures, gamma_dir, curves):
            folder.mkdir()
        summary, analysis, drawn, caption = analyze(cfg, REPORTS, DATA, figures, gamma_dir)
        write_curves(REPORTS, cfg["models"] + cfg["baselines"], curves)
    write_json(REPORTS / "summary.json", summary)
    write_json(REPORTS / "analysis.json", analysis)
    rows = [f"{display_name(name)},{entry['accuracy']:.4f},{entry.get('ah_sample', '')}"
            for name, entry in summary.items()]
    write_text(REPORTS / "accuracy.csv", "model,accuracy,ah_sample\n" + "\n".join(rows) + "\n")
    write_text(REPORTS / "README.md", report_text(summary, analysis, drawn, caption))


if __name__ == "__main__":
    run(main)
