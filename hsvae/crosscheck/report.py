"""The cross-check's report: one figure per model (the authors' seeds against ours, per term),
the agreement of every term and epoch (agreement.json) and a README with the table."""
from pathlib import Path

from hsvae.core.atomic import write_json, write_text
from hsvae.core.errors import MissingInput
from hsvae.crosscheck.compare import FIRST_EPOCH, RELATIVE, SPREAD, TERMS, compare, figure, markdown, verdict
from hsvae.crosscheck.run import load_results
from hsvae.analysis.figures import display_name

TITLE = "{model} on DBpedia (released splits, dbpedia-cpu sizes): the authors' TensorFlow code against this repository"


def write_report(out: Path) -> Path:
    results = load_results(out)
    if not results["runs"]:
        raise MissingInput(f"{out / 'runs'}: no runs; make them with hsvae crosscheck run")
    agreement = {}
    for model in TERMS:
        if not any(r["model"] == model for r in results["runs"]):
            continue
        figure(results, model, out / f"{model}.png", TITLE.format(model=display_name(model)))
        rows = compare(results, model)
        agreement[model] = {"agrees": verdict(rows), "rows": rows}
    write_json(out / "agreement.json", agreement)
    seeds = sorted({r["seed"] for r in results["runs"]})
    lines = [
        "# The authors' code and this repository, side by side",
        "",
        "Made by `hsvae crosscheck run` and `hsvae crosscheck report` (docs/crosscheck.md). Settings: "
        f"`{' '.join('-S ' + o for o in results['overrides'])}`, seeds {', '.join(map(str, seeds))}; "
        "validation split, per epoch; KL and MMD terms unweighted.",
        "",
        f"Agreement, from epoch {FIRST_EPOCH} on: |mean of ours - mean of theirs| <= {SPREAD:g} x the larger seed "
        f"standard deviation + {RELATIVE:.0%} of their mean.",
        "",
        *(f"- {display_name(m)}: **{ {True: 'agrees', False: 'differs', None: 'not judged'}[a['agrees']] }**"
          for m, a in agreement.items()),
        "",
        markdown(results),
        *(f"![{display_name(m)}]({m}.png)\n" for m in agreement),
    ]
    write_text(out / "README.md", "\n".join(lines))
    return out
