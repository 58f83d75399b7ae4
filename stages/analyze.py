"""analyze: gather the test metrics into reports/summary.json and reports/analysis.json, draw
the paper's figures and write reports/README.md. Reads only reports/ and data/processed."""
from pathlib import Path

from hsvae.analysis.analyze import analyze
from hsvae.analysis.figures import report_text
from hsvae.atomic import atomic_path, write_json, write_text
from hsvae.pipeline.stage import DATA, run, stage_config

REPORTS = Path("reports")


def main():
    cfg = stage_config("analyze")
    with atomic_path(REPORTS / "figures") as figures, atomic_path(REPORTS / "gamma_class") as gamma_dir:
        figures.mkdir()
        gamma_dir.mkdir()
        summary, analysis, drawn, caption = analyze(cfg, REPORTS, DATA, figures, gamma_dir)
    write_json(REPORTS / "summary.json", summary)
    write_json(REPORTS / "analysis.json", analysis)
    rows = [f"{name},{entry['accuracy']:.4f},{entry.get('ah_sample', '')}" for name, entry in summary.items()]
    write_text(REPORTS / "accuracy.csv", "model,accuracy,ah_sample\n" + "\n".join(rows) + "\n")
    write_text(REPORTS / "README.md", report_text(summary, analysis, drawn, caption))


if __name__ == "__main__":
    run(main)
