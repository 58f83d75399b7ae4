"""The paper's findings decided by code: `hsvae findings` reads the committed study reports
(runs.csv of `stability`, `fig2` and `fig2` at 768 dimensions) and the cross-check's agreement,
decides each finding by one criterion, and writes reports/findings.json and reports/findings.md.
README's verdict table is that markdown; re-running the studies at another size and then
`hsvae findings` gives that size's table with no hand edit.

The criterion, stated once: two groups of runs differ when their means differ by more than
2 x the larger standard deviation over seeds, or by more than 0.02 where either group is a
single run (no spread to judge by); otherwise they are on par."""
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from hsvae.core.atomic import write_json, write_text
from hsvae.core.errors import InputError

SPREAD = 2.0          # times the larger seed standard deviation
SINGLE_RUN = 0.02     # the tolerance where a group has one run
SLIGHT = 0.05         # "slightly" more accurate: a gap no larger than this
HOLDS, PARTLY, FAILS = "holds", "partly", "does not hold"
NOT_MEASURED, NOT_COMPARABLE = "not measured", "cannot be compared here"


@dataclass(frozen=True)
class Group:
    """A metric over a group of runs (one setting, its seeds)."""
    mean: float
    std: float  # NaN for one run
    n: int

    def __str__(self):
        return f"{self.mean:.3f}" if self.n < 2 else f"{self.mean:.3f} ± {self.std:.3f}"


def tolerance(a: Group, b: Group) -> float:
    if a.n < 2 or b.n < 2:
        return SINGLE_RUN
    return SPREAD * max(a.std, b.std)


def above(a: Group, b: Group) -> bool:
    """a's mean exceeds b's by more than the tolerance."""
    return a.mean - b.mean > tolerance(a, b)


def on_par(a: Group, b: Group) -> bool:
    return abs(a.mean - b.mean) <= tolerance(a, b)


@dataclass
class Finding:
    id: str
    claim: str
    paper: str  # what the paper says
    measured: str
    criterion: str
    verdict: str


def group(runs: pd.DataFrame, metric: str, **where) -> Group | None:
    """`metric` over the runs matching `where` (column -> value; None: the column is empty)."""
    rows = runs
    for column, value in where.items():
        if column not in rows:
            return None
        rows = rows[rows[column].isna()] if value is None else rows[rows[column] == value]
    values = rows[metric].dropna() if metric in rows else pd.Series(dtype=float)
    if values.empty:
        return None
    return Group(float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan, len(values))


PRIORS = [(1.0, 4.0), (1.0, 1.0), (4.0, 1.0), (19.0, 1.0)]  # alpha / (alpha + beta) = 0.2, 0.5, 0.8, 0.95
MAT_WEIGHTS = [(0.01, 0.01), (0.1, 0.1), (0.1, 1.0), (1.0, 4.0)]


def _hsvae(runs, metric, alpha, beta):
    return group(runs, metric, model="hsvae", **{"model.alpha": alpha, "model.beta": beta})


def _mat(runs, metric, psi, lam):
    return group(runs, metric, model="mat_vae", **{"mat_vae.psi": psi, "mat_vae.lambda": lam})


def _rising(groups) -> str:
    """holds: every step up beyond the tolerance; partly: first to last up; else does not hold."""
    steps = [above(b, a) for a, b in zip(groups, groups[1:])]
    return HOLDS if all(steps) else PARTLY if above(groups[-1], groups[0]) else FAILS


def sparsity_follows_prior(stability, metric, fid, claim, paper):
    groups = [_hsvae(stability, metric, a, b) for a, b in PRIORS] if stability is not None else [None]
    criterion = "each step up the prior's α/(α+β) raises the mean beyond the tolerance (partly: first to last only)"
    if None in groups:
        return Finding(fid, claim, paper, "the stability study's HSVAE runs are missing", criterion, NOT_MEASURED)
    measured = " → ".join(map(str, groups)) + " at α/(α+β) = 0.2, 0.5, 0.8, 0.95"
    return Finding(fid, claim, paper, f"{metric}: {measured}", criterion, _rising(groups))


def mat_does_not_follow(stability):
    claim, paper = ("MAT-VAE's sparsity does not follow its weights (ψ, λ) (§4.3, Fig. 3)",
                    "struggles to achieve steady and consistent AH regardless of its hyperparameters")
    criterion = "every pair of weight settings on par in Average Hoyer (samples)"
    groups = [_mat(stability, "ah_sample", p, l) for p, l in MAT_WEIGHTS] if stability is not None else [None]
    if None in groups:
        return Finding("mat-no-control", claim, paper, "the stability study's MAT-VAE runs are missing", criterion,
                       NOT_MEASURED)
    flat = all(on_par(a, b) for i, a in enumerate(groups) for b in groups[i + 1:])
    measured = ", ".join(map(str, groups)) + " at (ψ, λ) = " + ", ".join(f"({p:g}, {l:g})" for p, l in MAT_WEIGHTS)
    return Finding("mat-no-control", claim, paper, f"ah_sample: {measured}", criterion, HOLDS if flat else FAILS)


def _fig2(fig2, model, metric, psi=None):
    if fig2 is None:
        return None
    return group(fig2, metric, model=model, **({"vae.psi": psi} if psi is not None else {}))


def hsvae_sparsest(fig2, fid="sparsest", claim="HSVAE's codes are sparser than the dense VAEs' (§4.2, Fig. 2a/b)",
                   paper="HSVAE has the highest Average Hoyer of the VAEs"):
    criterion = "HSVAE's Average Hoyer (samples) above every other VAE's beyond the tolerance"
    hsvae = _fig2(fig2, "hsvae", "ah_sample")
    others = {m: _fig2(fig2, m, "ah_sample", 0.1 if m == "vae" else None) for m in ("vae", "vae_l1", "vae_l2", "mat_vae")}
    if hsvae is None or None in others.values():
        return Finding(fid, claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
    measured = f"HSVAE {hsvae} against " + ", ".join(f"{m} {g}" for m, g in others.items())
    return Finding(fid, claim, paper, measured, criterion,
                   HOLDS if all(above(hsvae, g) for g in others.values()) else FAILS)


def matched_reconstruction(fig2):
    """Each sparse model against the VAE (over psi) of the closest reconstruction."""
    claim = "Sparse codes classify on par with dense codes of comparable reconstruction (§4.2, Fig. 2)"
    paper = "HSVAE and MAT-VAE accuracy on par with the VAEs on DBpedia"
    criterion = "each sparse model's accuracy on par with the VAE of closest reconstruction (partly: one of two)"
    if fig2 is None or "vae.psi" not in fig2:
        return Finding("matched", claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
    vaes = fig2[(fig2["model"] == "vae") & fig2["vae.psi"].notna()]
    parts, par = [], []
    for model in ("hsvae", "mat_vae"):
        acc, rec = _fig2(fig2, model, "accuracy"), _fig2(fig2, model, "rec")
        if acc is None or vaes.empty:
            return Finding("matched", claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
        psi = min(vaes["vae.psi"].unique(), key=lambda p: abs(group(vaes, "rec", **{"vae.psi": p}).mean - rec.mean))
        vae_acc, vae_rec = group(vaes, "accuracy", **{"vae.psi": psi}), group(vaes, "rec", **{"vae.psi": psi})
        parts.append(f"{model} {acc} (rec {rec.mean:.1f}) against the VAE at ψ = {psi:g}, {vae_acc} (rec {vae_rec.mean:.1f})")
        par.append(on_par(acc, vae_acc))
    verdict = HOLDS if all(par) else PARTLY if any(par) else FAILS
    return Finding("matched", claim, paper, "; ".join(parts), criterion, verdict)


def mat_more_accurate(stability):
    claim = "MAT-VAE is slightly more accurate than HSVAE at 32D, at lower sparsity (§4.2)"
    paper = "a small accuracy gap"
    criterion = f"MAT-VAE above HSVAE beyond the tolerance by at most {SLIGHT} (partly: by more)"
    mat = _mat(stability, "accuracy", 0.01, 0.01) if stability is not None else None
    hsvae = _hsvae(stability, "accuracy", 4.0, 1.0) if stability is not None else None
    if mat is None or hsvae is None:
        return Finding("mat-accuracy", claim, paper, "the stability study's default points are missing", criterion,
                       NOT_MEASURED)
    measured = f"MAT-VAE {mat} against HSVAE {hsvae} (paper's settings)"
    verdict = (HOLDS if mat.mean - hsvae.mean <= SLIGHT else PARTLY) if above(mat, hsvae) else FAILS
    return Finding("mat-accuracy", claim, paper, measured, criterion, verdict)


def penalties_no_sparser(fig2):
    claim = "L1/L2 on the posterior's parameters do not raise Average Hoyer above the VAE (§4.2)"
    paper = "no higher AH"
    criterion = "neither VAE-L1 nor VAE-L2 above the VAE (ψ = 0.1) beyond the tolerance"
    vae = _fig2(fig2, "vae", "ah_sample", 0.1)
    l1, l2 = _fig2(fig2, "vae_l1", "ah_sample"), _fig2(fig2, "vae_l2", "ah_sample")
    if None in (vae, l1, l2):
        return Finding("penalties", claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
    return Finding("penalties", claim, paper, f"VAE-L1 {l1}, VAE-L2 {l2} against the VAE {vae}", criterion,
                   FAILS if above(l1, vae) or above(l2, vae) else HOLDS)


def classifier_not_better(fig2):
    claim = "The supervised classifier is on par with or below the VAEs (§4.2, Yelp)"
    paper = "VAEs at or above the simple classifier"
    criterion = "the best VAE's accuracy on par with or above the classifier's"
    if fig2 is None:
        return Finding("classifier", claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
    classifier = group(fig2, "accuracy", model="classifier")
    vaes = fig2[fig2["model"].isin(["vae", "vae_l1", "vae_l2", "mat_vae", "hsvae"])]
    if classifier is None or vaes.empty:
        return Finding("classifier", claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
    best = vaes.loc[vaes["accuracy"].idxmax()]
    best_group = Group(float(best["accuracy"]), math.nan, 1)
    return Finding("classifier", claim, paper, f"classifier {classifier} against the best VAE ({best['model']}) "
                   f"{best_group}", criterion, FAILS if above(classifier, best_group) else HOLDS)


COLLAPSED = 1.0  # nats: a posterior this close to the prior carries (almost) nothing


def kl_weight_needed(fig2):
    claim = "A KL weight ψ < 1 is needed against KL collapse (§4.1.2)"
    paper = "all models use ψ, λ < 1"
    criterion = f"the VAE at ψ = 1 collapses (KL_z < {COLLAPSED:g} nat) and classifies below the VAE at ψ = 0.1"
    kl, at_one, at_tenth = (_fig2(fig2, "vae", m, p) for m, p in (("kl_z", 1.0), ("accuracy", 1.0), ("accuracy", 0.1)))
    if None in (kl, at_one, at_tenth):
        return Finding("kl-weight", claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
    measured = f"VAE at ψ = 1: KL_z {kl.mean:.3f} nats, accuracy {at_one}; at ψ = 0.1: {at_tenth}"
    return Finding("kl-weight", claim, paper, measured, criterion,
                   HOLDS if kl.mean < COLLAPSED and above(at_tenth, at_one) else FAILS)


def gamma_patterns(fig2):
    claim = "γ patterns differ between DBpedia's classes at 32D (§4.4, Fig. 4a)"
    paper = "distinct rows of γ_class per class"
    criterion = "HSVAE's γ separation (the classes' mean pairwise distance of γ_class) above zero beyond the tolerance"
    separation = _fig2(fig2, "hsvae", "gamma_separation")
    if separation is None:
        return Finding("gamma-classes", claim, paper, "the fig2 study is missing", criterion, NOT_MEASURED)
    return Finding("gamma-classes", claim, paper, f"γ separation {separation}", criterion,
                   HOLDS if above(separation, Group(0.0, math.nan, 1)) else FAILS)


def class_kl_ranking():
    return Finding("class-kl", "DBpedia's classes have the most distinct word distributions of the three corpora "
                   "(§4.4.1, Fig. 5a)", "the largest pairwise class KL", "only DBpedia's text is available here",
                   "needs Yahoo and Yelp at the paper's preprocessing", NOT_COMPARABLE)


VAES = ("vae", "vae_l1", "vae_l2", "mat_vae", "hsvae")


def _accuracies(fig2) -> dict | None:
    """Each VAE's accuracy at its own settings (the VAE at ψ = 0.1); None where one is missing."""
    found = {m: _fig2(fig2, m, "accuracy", 0.1 if m == "vae" else None) for m in VAES}
    return None if None in found.values() else found


def _range(groups: dict) -> tuple:
    means = [g.mean for g in groups.values()]
    return min(means), max(means)


def wide_latent_alike(fig2, fig2_768):
    claim = "At 768 dimensions the VAEs' accuracies become almost identical (§4.2, Fig. 2b)"
    paper = "the classification performance of all the VAE models becomes almost identical from 32D to 768D"
    criterion = (f"every pair of the five VAEs on par at 768D (partly: their range, best − worst, narrower than at "
                 f"32D by more than {SINGLE_RUN:g})")
    wide, narrow = _accuracies(fig2_768), _accuracies(fig2)
    if wide is None:
        return Finding("768d-alike", claim, paper, "the fig2 study at arch.latent_dim=768 is missing", criterion,
                       NOT_MEASURED)
    groups = list(wide.values())
    alike = all(on_par(a, b) for i, a in enumerate(groups) for b in groups[i + 1:])
    low, high = _range(wide)
    measured = f"accuracy {low:.3f}–{high:.3f} at 768D"  # each VAE's: the next finding's row
    narrower = False
    if narrow is not None:
        low32, high32 = _range(narrow)
        measured += f" against {low32:.3f}–{high32:.3f} at 32D"
        narrower = (high32 - low32) - (high - low) > SINGLE_RUN
    return Finding("768d-alike", claim, paper, measured, criterion, HOLDS if alike else PARTLY if narrower else FAILS)


def wide_latent_hsvae(fig2_768):
    claim = "At 768 dimensions HSVAE classifies slightly above every other VAE (§4.2, Fig. 2b, DBpedia)"
    paper = "HSVAE slightly outperforming all other VAEs on the DBpedia corpus"
    criterion = (f"HSVAE on par with or above every other VAE, and at most {SLIGHT:g} above the best of them "
                 "(partly: on par with or above some, or more than slightly above all)")
    wide = _accuracies(fig2_768)
    if wide is None:
        return Finding("768d-hsvae", claim, paper, "the fig2 study at arch.latent_dim=768 is missing", criterion,
                       NOT_MEASURED)
    hsvae = wide.pop("hsvae")
    fine = [on_par(hsvae, g) or above(hsvae, g) for g in wide.values()]
    slight = hsvae.mean - max(g.mean for g in wide.values()) <= SLIGHT
    measured = f"HSVAE {hsvae} against " + ", ".join(f"{m} {g}" for m, g in wide.items())
    verdict = HOLDS if all(fine) and slight else PARTLY if any(fine) else FAILS
    return Finding("768d-hsvae", claim, paper, measured, criterion, verdict)


def trains_as_authors(crosscheck):
    claim = "This repository's HSVAE and MAT-VAE train as the authors' TensorFlow code does"
    paper = "(the implementation's claim, not the paper's)"
    criterion = "the cross-check's agreement for both models (docs/crosscheck.md)"
    if crosscheck is None or not {"hsvae", "mat_vae"} <= set(crosscheck):
        return Finding("authors-code", claim, paper, "the cross-check is missing", criterion, NOT_MEASURED)
    verdicts = {m: crosscheck[m]["agrees"] for m in ("hsvae", "mat_vae")}
    failing = {m: sorted({r["term"] for r in crosscheck[m]["rows"] if r["agrees"] is False}) for m in verdicts}
    measured = "; ".join(f"{m}: " + ("agrees" if v else f"differs in {', '.join(failing[m])}" if v is False
                                      else "not judged") for m, v in verdicts.items())
    verdict = (HOLDS if all(verdicts.values()) else PARTLY if any(verdicts.values()) else
               NOT_MEASURED if all(v is None for v in verdicts.values()) else FAILS)
    return Finding("authors-code", claim, paper, measured, criterion, verdict)


def read_runs(folder: Path | None) -> pd.DataFrame | None:
    """A study report's runs.csv, or None where the folder has none."""
    if folder is None or not (folder / "runs.csv").is_file():
        return None
    return pd.read_csv(folder / "runs.csv")


def decide(stability=None, fig2=None, fig2_768=None, crosscheck=None) -> list:
    """Every finding's verdict from the runs given (DataFrames of runs.csv; the cross-check's
    agreement as read from agreement.json); a missing input gives "not measured"."""
    return [
        trains_as_authors(crosscheck),
        sparsity_follows_prior(stability, "ah_sample", "prior-control",
                               "HSVAE controls its sparsity with the Beta prior (α, β) (§4.3, Fig. 3)",
                               "AH rises with α/(α+β), narrow bands over 3 runs"),
        mat_does_not_follow(stability),
        sparsity_follows_prior(stability, "ah_mean", "prior-control-means",
                               "The same on posterior means (§4.3: AH on the mean and on samples)",
                               "HSVAE controls sparsity"),
        hsvae_sparsest(fig2),
        matched_reconstruction(fig2),
        mat_more_accurate(stability),
        penalties_no_sparser(fig2),
        classifier_not_better(fig2),
        gamma_patterns(fig2),
        class_kl_ranking(),
        kl_weight_needed(fig2),
        wide_latent_alike(fig2, fig2_768),
        wide_latent_hsvae(fig2_768),
    ]


def markdown(findings: list) -> str:
    """The verdicts, as README shows them."""
    lines = ["| finding | measured | verdict |", "|---|---|---|"]
    for f in findings:
        lines.append(f"| {f.claim} | {f.measured} | **{f.verdict}** |")
    return "\n".join(lines) + "\n"


def in_full(findings: list) -> str:
    """Each finding with the paper's words and its criterion."""
    lines = ["| finding | the paper | criterion | verdict |", "|---|---|---|---|"]
    for f in findings:
        lines.append(f"| {f.claim} | {f.paper} | {f.criterion} | **{f.verdict}** |")
    return "\n".join(lines) + "\n"


def write_findings(out: Path, stability: Path | None, fig2: Path | None, fig2_768: Path | None,
                   crosscheck: Path | None) -> list:
    agreement = None
    if crosscheck is not None and (crosscheck / "agreement.json").is_file():
        try:
            agreement = json.loads((crosscheck / "agreement.json").read_text())
        except json.JSONDecodeError as error:
            raise InputError(f"{crosscheck / 'agreement.json'}: not JSON ({error}); re-run hsvae crosscheck report")
    findings = decide(read_runs(stability), read_runs(fig2), read_runs(fig2_768), agreement)
    sources = {"stability": stability, "fig2": fig2, "fig2_768": fig2_768, "crosscheck": crosscheck}
    write_json(out / "findings.json", {
        "criterion": {"spread": SPREAD, "single_run": SINGLE_RUN, "slight": SLIGHT},
        "sources": {k: str(v) if v is not None else None for k, v in sources.items()},
        "findings": [asdict(f) for f in findings]})
    write_text(out / "findings.md", f"{markdown(findings)}\n## The paper's words and each criterion\n\n"
                                    f"Two groups differ beyond {SPREAD:g} × the larger seed standard deviation, or "
                                    f"{SINGLE_RUN:g} where a group is one run (`hsvae/findings.py`).\n\n"
                                    f"{in_full(findings)}")
    return findings
