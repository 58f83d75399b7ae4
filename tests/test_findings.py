"""`hsvae findings`: each verdict from small runs that flip it, the criterion against an
independent computation, and README's table as the command's output."""
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hsvae import findings as F

ROOT = Path(__file__).resolve().parents[1]


def stability(hsvae_ah=(0.28, 0.33, 0.52, 0.55), mat_ah=(0.237, 0.240, 0.240, 0.240), hsvae_acc=0.30,
              mat_acc=0.59, jitter=0.005):
    rows = []
    for (alpha, beta), ah in zip(F.PRIORS, hsvae_ah):
        for seed, d in enumerate((-jitter, 0, jitter)):
            rows.append({"model": "hsvae", "model.alpha": alpha, "model.beta": beta, "replicate": seed,
                         "ah_sample": ah + d, "ah_mean": ah + d, "accuracy": hsvae_acc + d})
    for (psi, lam), ah in zip(F.MAT_WEIGHTS, mat_ah):
        for seed, d in enumerate((-jitter / 2, 0, jitter / 2)):
            rows.append({"model": "mat_vae", "mat_vae.psi": psi, "mat_vae.lambda": lam, "replicate": seed,
                         "ah_sample": ah + d, "accuracy": mat_acc + d})
    return pd.DataFrame(rows)


def fig2(hsvae=(0.27, 0.53, 115.9), mat=(0.62, 0.24, 109.9), vae_psi=None, l1_ah=0.235, classifier=0.91,
         separation=0.39, collapsed_kl=0.01):
    vae_psi = vae_psi or {0.01: (0.65, 0.223, 110.1, 54.0), 0.1: (0.52, 0.234, 113.7, 8.7),
                          0.3: (0.20, 0.238, 116.8, 1.1), 1.0: (0.07, 0.238, 117.7, collapsed_kl)}
    rows = [{"model": "vae", "vae.psi": p, "accuracy": a, "ah_sample": h, "rec": r, "kl_z": k}
            for p, (a, h, r, k) in vae_psi.items()]
    rows += [{"model": "hsvae", "accuracy": hsvae[0], "ah_sample": hsvae[1], "rec": hsvae[2],
              "gamma_separation": separation},
             {"model": "mat_vae", "accuracy": mat[0], "ah_sample": mat[1], "rec": mat[2]},
             {"model": "vae_l1", "accuracy": 0.51, "ah_sample": l1_ah, "rec": 113.9},
             {"model": "vae_l2", "accuracy": 0.52, "ah_sample": 0.234, "rec": 113.8},
             {"model": "classifier", "accuracy": classifier}]
    return pd.DataFrame(rows)


def verdicts(**inputs):
    return {f.id: f.verdict for f in F.decide(**inputs)}


def test_criterion_against_an_independent_computation():
    a_values, b_values = [0.50, 0.52, 0.51], [0.56, 0.60, 0.58]
    a = F.Group(statistics.mean(a_values), statistics.stdev(a_values), 3)
    b = F.Group(statistics.mean(b_values), statistics.stdev(b_values), 3)
    limit = 2 * max(statistics.stdev(a_values), statistics.stdev(b_values))  # 0.04
    assert F.tolerance(a, b) == pytest.approx(limit)
    assert F.above(b, a) is (statistics.mean(b_values) - statistics.mean(a_values) > limit) is True
    single = F.Group(0.5, float("nan"), 1)
    assert F.on_par(single, F.Group(0.519, float("nan"), 1)) and not F.on_par(single, F.Group(0.521, float("nan"), 1))


def test_prior_control_holds_partly_and_fails():
    assert verdicts(stability=stability())["prior-control"] == F.HOLDS
    assert verdicts(stability=stability(hsvae_ah=(0.28, 0.33, 0.52, 0.521)))["prior-control"] == F.PARTLY
    assert verdicts(stability=stability(hsvae_ah=(0.30, 0.30, 0.30, 0.30)))["prior-control"] == F.FAILS
    assert verdicts()["prior-control"] == F.NOT_MEASURED


def test_mat_control_and_accuracy_gap_flip():
    assert verdicts(stability=stability())["mat-no-control"] == F.HOLDS
    assert verdicts(stability=stability(mat_ah=(0.237, 0.240, 0.30, 0.240)))["mat-no-control"] == F.FAILS
    assert verdicts(stability=stability(hsvae_acc=0.30, mat_acc=0.59))["mat-accuracy"] == F.PARTLY  # not slight
    assert verdicts(stability=stability(hsvae_acc=0.55, mat_acc=0.59))["mat-accuracy"] == F.HOLDS
    assert verdicts(stability=stability(hsvae_acc=0.60, mat_acc=0.59))["mat-accuracy"] == F.FAILS


def test_fig2_findings_flip():
    base = verdicts(fig2=fig2())
    assert base["sparsest"] == F.HOLDS and base["penalties"] == F.HOLDS and base["kl-weight"] == F.HOLDS
    assert base["classifier"] == F.FAILS and base["gamma-classes"] == F.HOLDS
    assert verdicts(fig2=fig2(hsvae=(0.27, 0.24, 115.9)))["sparsest"] == F.FAILS
    assert verdicts(fig2=fig2(l1_ah=0.30))["penalties"] == F.FAILS
    assert verdicts(fig2=fig2(classifier=0.60))["classifier"] == F.HOLDS
    assert verdicts(fig2=fig2(collapsed_kl=5.0))["kl-weight"] == F.FAILS
    assert verdicts(fig2=fig2(separation=0.01))["gamma-classes"] == F.FAILS


def test_matched_reconstruction_picks_the_closest_vae():
    # HSVAE (rec 115.9) is matched with psi = 0.3 (116.8), MAT-VAE (109.9) with psi = 0.01 (110.1)
    assert verdicts(fig2=fig2(hsvae=(0.21, 0.53, 115.9), mat=(0.64, 0.24, 109.9)))["matched"] == F.HOLDS
    assert verdicts(fig2=fig2(hsvae=(0.27, 0.53, 115.9), mat=(0.64, 0.24, 109.9)))["matched"] == F.PARTLY
    assert verdicts(fig2=fig2(hsvae=(0.27, 0.53, 115.9), mat=(0.55, 0.24, 109.9)))["matched"] == F.FAILS
    # the same HSVAE accuracy, now matched with psi = 0.1 by its reconstruction
    assert verdicts(fig2=fig2(hsvae=(0.52, 0.53, 113.9), mat=(0.64, 0.24, 109.9)))["matched"] == F.HOLDS


def test_wide_latent_findings_flip():
    wide = fig2(hsvae=(0.80, 0.5, 100.0), mat=(0.79, 0.3, 99.0), vae_psi={0.1: (0.795, 0.2, 99.0, 8.0)})
    wide.loc[wide["model"].isin(["vae_l1", "vae_l2"]), "accuracy"] = 0.80
    assert verdicts(fig2_768=wide)["768d-alike"] == F.HOLDS  # 0.79-0.80: every pair within 0.02
    assert verdicts(fig2_768=wide)["768d-hsvae"] == F.HOLDS
    wide.loc[wide["model"] == "vae_l1", "accuracy"] = 0.90
    assert verdicts(fig2_768=wide)["768d-hsvae"] == F.PARTLY  # below VAE-L1, on par with the rest
    # 768D: 0.79-0.90, not alike; narrower than 32D's 0.27-0.62 (partly), wider than 0.51-0.55 (fails)
    assert verdicts(fig2=fig2(), fig2_768=wide)["768d-alike"] == F.PARTLY
    narrow = fig2(hsvae=(0.55, 0.53, 115.9), mat=(0.55, 0.24, 109.9))
    assert verdicts(fig2=narrow, fig2_768=wide)["768d-alike"] == F.FAILS
    assert verdicts(fig2_768=wide)["768d-alike"] == F.FAILS  # no 32D study to compare the range with
    wide.loc[wide["model"] == "vae_l1", "accuracy"] = 0.80
    wide.loc[wide["model"] == "hsvae", "accuracy"] = 0.86
    assert verdicts(fig2_768=wide)["768d-hsvae"] == F.PARTLY  # above every VAE, by more than slightly
    wide.loc[wide["model"] != "classifier", "accuracy"] = 0.60
    wide.loc[wide["model"] == "hsvae", "accuracy"] = 0.50
    assert verdicts(fig2_768=wide)["768d-hsvae"] == F.FAILS
    assert verdicts()["768d-alike"] == verdicts()["768d-hsvae"] == F.NOT_MEASURED


def test_the_crosscheck_finding_flips():
    agree = {"hsvae": {"agrees": True, "rows": []}, "mat_vae": {"agrees": True, "rows": []}}
    assert verdicts(crosscheck=agree)["authors-code"] == F.HOLDS
    agree["mat_vae"] = {"agrees": False, "rows": [{"term": "mmd", "agrees": False}]}
    found = {f.id: f for f in F.decide(crosscheck=agree)}["authors-code"]
    assert found.verdict == F.PARTLY and "differs in mmd" in found.measured


def test_readme_table_is_the_commands_output(tmp_path):
    """README's verdict table is exactly what `hsvae findings` writes from the committed reports."""
    done = subprocess.run([sys.executable, "-m", "hsvae", "findings", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "findings.md").read_text()
    table = written.split("\n## ")[0]  # the verdicts; the paper's words and criteria follow
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"<!-- hsvae findings -->\n(.*?)<!-- /hsvae findings -->", readme, re.S)
    assert shown is not None, "README lacks the findings table between its markers"
    assert shown.group(1) == table and table.count("\n| ") == len(F.decide())
    assert (ROOT / "reports" / "findings.md").read_text() == written
