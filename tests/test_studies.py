"""Studies: the grid's runs, the report's statistics, and real runs on Ray (embedded, killed and
resumed; and a two-node local cluster started by the test)."""
import csv
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hsvae.pipeline.params import validate
from hsvae.studies.runs import StudyRuns, time_span
from hsvae.studies.stats import matched_reconstruction, summary_table
from hsvae.studies.grid import check_studies, load_studies
from hsvae.studies.run import StudyError, clones_folder, format_value, study_runs
from tests.pipeline_utils import ROOT, run, tiny_repo
from tests.test_reliability import default_params

HSVAE_BIN = str(Path(sys.executable).parent / "hsvae")


def test_a_study_is_its_settings_times_its_replicates():
    params = validate(default_params())
    studies = load_studies(params, ROOT / "conf/studies.yaml")
    runs = study_runs(studies, "stability")
    assert len(runs) == (4 + 4) * 3
    assert len({name for name, _ in runs}) == len(runs)  # one experiment name per run
    assert runs == study_runs(studies, "stability")  # names are stable: a killed study resumes
    first = runs[0][1]
    assert first == ["models=[hsvae]", "baselines=[]", "model.alpha=1.0", "model.beta=4.0", "train.seed=0"]
    # replicate by replicate: seed 0 of every setting first, so a stopped study stays balanced
    assert [o[-1] for _, o in runs[:8]] == ["train.seed=0"] * 8 and runs[8][1][-1] == "train.seed=1"
    signal_runs = study_runs(studies, "signal", extra=["preset=paper"])
    assert len(signal_runs) == 4 * 3 and all(o[0] == "preset=paper" for _, o in signal_runs)
    assert {o[3] for _, o in signal_runs} == {f"data.synthetic.signal={s}" for s in (0.2, 0.4, 0.7, 0.9)}
    assert all(o[1:3] == ["models=[vae,hsvae]", "baselines=[]"] for _, o in signal_runs)
    assert format_value([1, 2.5, "a"]) == "[1,2.5,a]"


def test_summary_means_and_stds_are_those_of_the_replicates():
    runs = pd.DataFrame({"model.alpha": [1.0, 1.0, 1.0, 8.0, 8.0], "model": ["hsvae"] * 5,
                         "experiment": list("abcde"), "replicate": [0, 1, 2, 0, 1],
                         "accuracy": [0.5, 0.7, 0.6, 0.2, 0.3], "ah_sample": [0.3, 0.35, 0.4, 0.6, 0.8]})
    summary = summary_table(StudyRuns(runs, ["model.alpha"])).set_index("model.alpha")
    for alpha, rows in ((1.0, slice(0, 3)), (8.0, slice(3, 5))):
        for metric in ("accuracy", "ah_sample"):
            values = runs[metric][rows].tolist()
            assert summary.loc[alpha, f"{metric}_mean"] == pytest.approx(statistics.mean(values))
            assert summary.loc[alpha, f"{metric}_std"] == pytest.approx(statistics.stdev(values))
        assert summary.loc[alpha, "replicates"] == len(runs[rows])


def test_a_report_dates_its_runs_in_utc_and_names_both_days_past_midnight():
    assert time_span(["2026-12-02T09:12:00+00:00", "2026-12-02T10:19:30+01:00"]) == "2026-12-02 09:12 and 09:19"
    assert time_span(["2026-12-03T01:10:00+01:00", "2026-12-02T23:50:00+00:00"]) == \
        "2026-12-02 23:50 and 2026-12-03 00:10"


def test_each_sparse_run_is_matched_with_the_closest_dense_reconstruction():
    runs = pd.DataFrame({"experiment": ["d1", "d2", "d3", "s1", "s2"],
                         "model": ["vae", "vae", "vae", "hsvae", "mat_vae"], "vae.psi": [0.01, 0.3, 1.0, None, None],
                         "rec": [20.0, 30.0, 40.0, 33.0, 19.0], "accuracy": [0.9, 0.8, 0.5, 0.7, 0.6],
                         "ah_sample": [0.2, 0.2, 0.2, 0.5, 0.25]})
    matched = matched_reconstruction(runs)
    assert matched["sparse_experiment"].tolist() == ["s1", "s2"]
    assert matched["vae_experiment"].tolist() == ["d2", "d1"]  # |33-30| and |19-20| are the smallest gaps


STABILITY_KEYS = ["model.alpha", "model.beta", "mat_vae.psi", "mat_vae.lambda"]
# experiment -> (model, its setting in STABILITY_KEYS' order, replicate, validation AH on samples per epoch)
STABILITY_RUNS = {
    "a0": ("hsvae", (1.0, 4.0, None, None), 0, [0.30, 0.40, 0.50]),
    "a1": ("hsvae", (1.0, 4.0, None, None), 1, [0.32, 0.38, 0.58]),
    "b0": ("hsvae", (4.0, 1.0, None, None), 0, [0.60, 0.70, 0.75]),
    "b1": ("hsvae", (4.0, 1.0, None, None), 1, [0.64, 0.66, 0.79]),
    "m0": ("mat_vae", (None, None, 0.01, 0.01), 0, [0.20, 0.21, 0.22]),
    "m1": ("mat_vae", (None, None, 0.01, 0.01), 1, None),  # its experiment has no curve file
}


def experiment_files(files: dict):
    """show(experiment, path, binary) as the report reads an experiment's files (`git show`)."""
    return lambda experiment, path, binary=False: files.get((experiment, path))


def test_the_stability_figures_are_the_mean_and_std_of_the_replicates(tmp_path):
    """Fig. 3 over replicates: per setting and epoch, the band is the mean and standard deviation
    (n - 1) of the replicates' validation curves (a run without its curve file is left out);
    the final sparsity is plotted against the prior mean alpha / (alpha + beta)."""
    rows, files = [], {}
    for experiment, (model, setting, replicate, curve) in STABILITY_RUNS.items():
        rows.append({"experiment": experiment, **dict(zip(STABILITY_KEYS, setting)), "replicate": replicate,
                     "model": model, "ah_sample": 0.5 + replicate / 10, "ah_mean": 0.2})
        for metric, scale in (("ah_sample", 1.0), ("ah_mean", 0.5)):
            if curve is not None:
                files[experiment, f"reports/pretrain/{model}/plots/metrics/valid/{metric}.tsv"] = (
                    f"step\t{metric}\n" + "".join(f"{e}\t{v * scale}\n" for e, v in enumerate(curve)))
    runs = pd.DataFrame(rows)
    from hsvae.studies.figures import figure_hoyer

    figures = figure_hoyer(StudyRuns(runs, STABILITY_KEYS, show=experiment_files(files)), tmp_path, "a caption")
    assert [file for _, file in figures] == ["hoyer_epochs.png", "hoyer_prior.png"]
    assert all((tmp_path / file).read_bytes().startswith(b"\x89PNG") for _, file in figures)
    bands = pd.read_csv(tmp_path / "curves.csv")
    assert len(bands) == 3 * 3 * 2  # (two HSVAE priors + one MAT-VAE setting) x 3 epochs x 2 metrics
    for (model, setting), group in bands.groupby(["model", "setting"]):
        members = [e for e, (m, s, _, c) in STABILITY_RUNS.items() if m == model and c is not None
                   and (model == "mat_vae" or f"α={s[0]:g}, β={s[1]:g}" in setting)]
        for _, band in group.iterrows():
            scale = 1.0 if band["metric"] == "ah_sample" else 0.5
            values = [STABILITY_RUNS[e][3][band["epoch"] - 1] * scale for e in members]
            assert band["replicates"] == len(values) == (1 if model == "mat_vae" else 2)
            assert band["mean"] == pytest.approx(statistics.mean(values))
            assert band["std"] == pytest.approx(statistics.stdev(values) if len(values) > 1 else 0.0)
    prior = pd.read_csv(tmp_path / "hsvae_prior.csv")
    assert prior["prior_mean"].tolist() == pytest.approx([0.2, 0.2, 0.8, 0.8])
    assert prior["ah_sample"].tolist() == pytest.approx([0.5, 0.6, 0.5, 0.6])


def test_the_fig2_report_shows_the_first_hsvae_runs_class_figures_as_it_drew_them(tmp_path):
    """Fig. 2 over runs, the matched reconstruction table, and Fig. 4/5 copied byte for byte from
    the first experiment that trained HSVAE."""
    runs = pd.DataFrame({"experiment": ["e1", "e1", "e1", "e2"], "vae.psi": [0.1, None, None, 0.3],
                         "replicate": [0, 0, 0, 0], "model": ["vae", "hsvae", "classifier", "vae"],
                         "rec": [30.0, 31.0, None, 40.0], "accuracy": [0.8, 0.7, 0.95, 0.6],
                         "ah_sample": [0.24, 0.45, None, 0.23]})
    files = {("e1", "reports/figures/fig4_gamma_class_hsvae.png"): b"\x89PNG fig4 of e1",
             ("e1", "reports/figures/fig5_class_kl.png"): b"\x89PNG fig5 of e1"}
    from hsvae.studies.figures import figure_accuracy_hoyer

    figures = figure_accuracy_hoyer(StudyRuns(runs, ["vae.psi"], stats={"classes": 4}, show=experiment_files(files)),
                                    tmp_path, "a caption")
    assert [file for _, file in figures] == ["accuracy_hoyer.png", "matched.png", "fig4_gamma_class_hsvae.png",
                                             "fig5_class_kl.png"]
    assert (tmp_path / "fig4_gamma_class_hsvae.png").read_bytes() == b"\x89PNG fig4 of e1"
    assert (tmp_path / "fig5_class_kl.png").read_bytes() == b"\x89PNG fig5 of e1"
    matched = pd.read_csv(tmp_path / "matched.csv")
    assert matched[["sparse_model", "vae_psi", "vae_rec"]].values.tolist() == [["hsvae", 0.1, 30.0]]


def test_a_study_names_its_figures_and_an_unknown_one_is_refused():
    from hsvae.core.config import ParamError
    from hsvae.studies.report import figure_kinds

    params = validate(default_params())
    studies = load_studies(params, ROOT / "conf/studies.yaml")
    assert {n: figure_kinds(s, n) for n, s in studies.items()} == {
        "stability": ["hoyer"], "signal": ["signal"], "fig2": ["accuracy_hoyer", "explore"], "epochs": ["epochs"]}
    with pytest.raises(StudyError, match=r"conf/studies.yaml: renamed.figures: unknown figure 'fig3'; expected any of "
                                         r"hoyer, accuracy_hoyer, signal, epochs, explore"):
        figure_kinds({**studies["stability"], "figures": ["fig3"]}, "renamed")
    bad = {"tiny": {**TINY_STUDY, "figures": "hoyer"}}
    with pytest.raises(ParamError, match="tiny.figures: expected a list of figure kinds"):
        check_studies(bad, params)


TINY_STUDY = {"replicates": 2, "groups": [{"set": {"models": ["hsvae"]},
                                           "points": [{"model.alpha": 1.0}, {"model.alpha": 8.0}]}]}
# one HSVAE prior, two replicate seeds, Fig. 3 over replicates declared
REPLICATED = {"replicates": 2, "figures": ["hoyer"], "groups": [{"set": {"models": ["hsvae"]},
                                           "points": [{"model.alpha": 1.0, "model.beta": 1.0}]}]}


def study_repo(tmp_path, studies):
    return tiny_repo(tmp_path, {"models": ["hsvae"], "baselines": [], "train": {"epochs": 1}, "classify": {"epochs": 2},
                                "studies": studies})


def experiment_refs(repo) -> dict:
    out = run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps/"], repo).stdout
    return {ref.rsplit("/", 1)[1]: sha for ref, sha in (line.split() for line in out.splitlines())
            if "/exec/" not in ref}


def ray_env(tmp_path):
    """The test's own Ray temp dir (short: Ray's socket paths are limited), so that stopping its
    Ray never touches another Ray on the machine."""
    ray_dir = Path(f"/tmp/rt{os.getpid()}{abs(hash(str(tmp_path))) % 10_000}")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "RAY_TMPDIR": str(ray_dir),
           "RAY_AUTH_MODE": "disabled"}
    return env, ray_dir


def ray_processes(ray_dir) -> list:
    """Processes started with this test's RAY_TMPDIR: Ray's and those of the runs."""
    marker, found = f"RAY_TMPDIR={ray_dir}".encode(), []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except (OSError, ValueError):
            pass
    return found


def stop_ray(ray_dir):
    """Kill this test's Ray processes: those naming its temp dir, and those started with it as
    RAY_TMPDIR (Ray's agents rename their process title, so their command line does not name it)."""
    subprocess.run(["pkill", "-9", "-f", str(ray_dir)], capture_output=True)
    for pid in ray_processes(ray_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:  # gone already
            pass


def recorded_experiments(repo) -> dict:
    """name -> (params, metrics) of every experiment, as `dvc exp show --json` lists them."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    return {e["name"]: (e["revs"][0]["data"]["params"], e["revs"][0]["data"]["metrics"])
            for commit in shown for e in commit.get("experiments") or []}


@pytest.mark.slow(seconds=66)
def test_a_study_killed_on_ray_resumes_without_ray_and_reports(tmp_path):
    """The study killed on the embedded Ray after its first run landed resumes without Ray
    (--jobs): runs that landed are not run again; a Ray run whose experiment was removed is
    made again without Ray with the params and metrics Ray's recorded, to the last digit.
    The report sums the replicates; a removed run is named, and the report refused."""
    repo = study_repo(tmp_path, {"prior": {**REPLICATED, "figures": ["hoyer", "explore"]}})  # any name
    env, ray_dir = ray_env(tmp_path)
    with open(repo / "README.md", "a") as readme:  # as dvc repro changes dvc.lock: not what the runs run
        readme.write("a local edit\n")
    # one run at a time (1.5 of Ray's 2 CPUs per run: one thread, which spins less on a machine the
    # other test worker keeps busy), killed once the first has landed
    extra = ["-S", "train.epochs=2"]  # the workspace's params say 1 epoch: captions must say 2
    proc = subprocess.Popen([HSVAE_BIN, "study", "run", "prior", *extra, "--cpus-per-run", "1.5"], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not experiment_refs(repo) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    clones = clones_folder("prior", repo)
    assert any(clones.iterdir()), "the second run is training in its clone"
    proc.send_signal(signal.SIGKILL)  # the driver alone, as `kill -9 PID` does
    proc.wait()
    try:  # its reaper stops Ray, the training processes and removes the clones (Ray's session files too)
        deadline = time.time() + 60
        while (ray_processes(ray_dir) or clones.exists()) and time.time() < deadline:
            time.sleep(0.5)
        assert ray_processes(ray_dir) == [] and not clones.exists()
    finally:
        stop_ray(ray_dir)
    first = experiment_refs(repo)
    assert 1 <= len(first) <= 2, first
    on_ray = recorded_experiments(repo)
    removed = sorted(first)[0]
    run(["dvc", "exp", "remove", removed], repo)

    out = subprocess.run([HSVAE_BIN, "study", "run", "prior", *extra, "--jobs", "1", "--cpus-per-run", "1.5"],
                         cwd=repo, env=env, capture_output=True, text=True, check=True).stdout
    again = subprocess.run([HSVAE_BIN, "study", "run", "prior", *extra, "--jobs", "1"], cwd=repo, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert f"{len(first) - 1} already done" in out and f"{3 - len(first)} to run" in out
    refs = experiment_refs(repo)
    assert len(refs) == 2 and all(refs[name] == sha for name, sha in first.items() if name != removed)
    assert refs[removed] != first[removed]  # made again, without Ray
    recorded = recorded_experiments(repo)
    assert recorded[removed] == on_ray[removed]  # the same params and metrics, to the last digit
    assert sorted((p["params.yaml"]["data"]["model"]["alpha"], p["params.yaml"]["data"]["train"]["seed"])
                  for p, _ in recorded.values()) == [(1.0, 0), (1.0, 1)]
    assert {p["params.yaml"]["data"]["train"]["epochs"] for p, _ in recorded.values()} == {2}
    assert "2 runs, 2 already done" in again

    run([HSVAE_BIN, "study", "report", "prior", *extra], repo)
    folder = repo / "reports/studies/prior"
    with open(folder / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {r["model"] for r in rows} == {"hsvae"}
    with open(folder / "summary.csv") as f:
        (summary,) = csv.DictReader(f)
    values = [float(r["ah_sample"]) for r in rows]  # the summary is the replicates' mean and sample std, by hand
    assert float(summary["ah_sample_mean"]) == pytest.approx(statistics.mean(values))
    assert float(summary["ah_sample_std"]) == pytest.approx(statistics.stdev(values))
    assert int(summary["replicates"]) == 2
    report = (folder / "README.md").read_text()
    assert "Mean ± standard deviation" in report
    assert "2 epochs" in report and "-S train.epochs=2" in report  # the runs' recorded params, not the workspace's
    assert "![Average Hoyer over training (mean ± std)](hoyer_epochs.png)" in report  # Fig. 3 from the runs' curves
    bands = pd.read_csv(folder / "curves.csv")
    assert set(bands["epoch"]) == {1, 2} and set(bands["replicates"]) == {2}

    # a run's experiment removed: the report names it and refuses, and the stale report (this commit's) goes
    run(["dvc", "exp", "remove", removed], repo)
    refused = subprocess.run([HSVAE_BIN, "study", "report", "prior", *extra], cwd=repo, env=env, capture_output=True,
                             text=True)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "study 'prior': 1 run without an experiment for commit" in refused.stderr and removed in refused.stderr
    assert "--allow-missing" in refused.stderr and not folder.exists()
    run([HSVAE_BIN, "study", "report", "prior", *extra, "--allow-missing"], repo)
    assert "; 1 experiment, finished" in (folder / "README.md").read_text()
    assert f"**Not covered** (1 run without an experiment): `{removed}`" in (folder / "README.md").read_text()
    assert (folder / "explore" / "index.html").is_file()
    # --figures draws some of the study's figures, and the report says so; one it does not declare is refused
    run([HSVAE_BIN, "study", "report", "prior", *extra, "--allow-missing", "--figures", "hoyer"], repo)
    assert not (folder / "explore").exists() and (folder / "hoyer_epochs.png").is_file()
    assert "--figures hoyer`" in (folder / "README.md").read_text()
    other = subprocess.run([HSVAE_BIN, "study", "report", "prior", *extra, "--figures", "signal"], cwd=repo, env=env,
                           capture_output=True, text=True)
    assert other.returncode == 2 and other.stderr == (
        "error: --figures signal: not a figure of study 'prior'; its figures: hoyer, explore\n")
    assert (folder / "hoyer_epochs.png").is_file()  # refused before the report is touched
    # a commit without experiments, as in a fresh clone: refused, and the other commit's report stays
    run(["git", "commit", "-q", "--allow-empty", "-m", "a later commit"], repo)
    later = subprocess.run([HSVAE_BIN, "study", "report", "prior", *extra], cwd=repo, env=env, capture_output=True,
                           text=True)
    assert later.returncode == 2 and "no experiments of it for commit" in later.stderr, later.stderr
    assert "removed" not in later.stderr and "**Not covered**" in (folder / "README.md").read_text()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow(seconds=29)
def test_a_study_runs_on_a_two_node_ray_cluster_and_a_failed_run_is_reported(tmp_path):
    """A head and a worker started on 127.0.0.1 (one CPU each); one point cannot run (a BERT
    path that does not exist): it is reported by name, and the other lands in the repository."""
    studies = {"two": {"replicates": 1, "groups": [
        {"set": {"models": ["hsvae"]}},
        {"set": {"models": ["b_vae"], "arch.bert": str(tmp_path / "no-such-bert")}}]}}
    repo = study_repo(tmp_path, studies)
    env, ray_dir = ray_env(tmp_path)
    port = free_port()
    try:
        subprocess.run(["ray", "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=1",
                        "--include-dashboard=false"], env=env, check=True, capture_output=True)
        subprocess.run(["ray", "start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", "--num-cpus=1"],
                       env=env, check=True, capture_output=True)
        result = subprocess.run([HSVAE_BIN, "study", "run", "two", "--address", f"127.0.0.1:{port}"], cwd=repo,
                                env=env, capture_output=True, text=True, timeout=600)
    finally:
        stop_ray(ray_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    names = [name for name, _ in study_runs(load_studies(validate(yaml_params(repo)), repo / "conf/studies.yaml"),
                                            "two")]
    assert f"failed: {names[1]}: " in result.stderr and "no-such-bert" in result.stderr
    assert "1 ran, 0 already done, 1 failed" in result.stdout
    assert set(experiment_refs(repo)) == {names[0]}
    landed = run(["dvc", "exp", "show", "--json"], repo).stdout
    assert names[0] in landed


def yaml_params(repo):
    import yaml

    return yaml.safe_load((repo / "params.yaml").read_text())


@pytest.mark.parametrize("args,message", [
    (["-S", "train.epochs=0"], "-S train.epochs=0: train.epochs = 0: expected an integer >= 1"),
    (["-S", "train.speed=3"], "-S train.speed=3: Could not override 'train.speed'"),
])
def test_a_study_checks_every_run_before_any_clone(tmp_path, args, message):
    repo = study_repo(tmp_path, {"tiny": TINY_STUDY})
    result = subprocess.run([HSVAE_BIN, "study", "run", "tiny", *args], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and not clones_folder("tiny", repo).exists()


def test_a_study_refuses_uncommitted_code_or_settings_and_names_them(tmp_path):
    repo = study_repo(tmp_path, {"tiny": TINY_STUDY})
    with open(repo / "conf/config.yaml", "a") as config:
        config.write("# an edit\n")
    result = subprocess.run([HSVAE_BIN, "study", "run", "tiny"], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == (
        "error: a study runs the committed code and settings: commit these first: conf/config.yaml\n")


def test_a_report_of_an_unknown_revision_is_one_line_and_leaves_the_report_alone(tmp_path):
    repo = study_repo(tmp_path, {"tiny": TINY_STUDY})
    previous = repo / "reports/studies/tiny/README.md"
    previous.parent.mkdir(parents=True)
    previous.write_text("# Study `tiny`, as reported before\n")
    result = subprocess.run([HSVAE_BIN, "study", "report", "tiny", "--rev", "nosuchrev"], cwd=repo,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == "error: --rev nosuchrev: not a commit of this repository\n"
    assert previous.read_text() == "# Study `tiny`, as reported before\n"


def test_a_study_file_with_a_bad_or_twice_given_key_is_one_line(tmp_path):
    repo = study_repo(tmp_path, {"tiny": TINY_STUDY})
    studies = (repo / "conf/studies.yaml").read_text()
    (repo / "conf/studies.yaml").write_text(studies.replace("replicates: 2", "replicates: 0"))
    result = subprocess.run([HSVAE_BIN, "study", "run", "tiny"], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == (
        "error: conf/studies.yaml: tiny.replicates = 0: expected an integer >= 1\n")
    (repo / "conf/studies.yaml").write_text(studies.replace("replicates: 2", "replicates: 2\n  replicates: 3"))
    result = subprocess.run([HSVAE_BIN, "study", "report", "tiny"], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == (
        "error: conf/studies.yaml, line 3: duplicate key 'replicates'; give it once\n")


def test_a_study_leaves_another_checkouts_clones_of_its_name_alone(tmp_path):
    """Clones live in a folder per study and repository: a study run here neither uses nor
    removes the clones of a study of the same name running from another checkout."""
    studies = {"bad": {"replicates": 1, "groups": [{"set": {"models": ["b_vae"],
                                                            "arch.bert": str(tmp_path / "no-such-bert")}}]}}
    repo = study_repo(tmp_path, studies)
    other = clones_folder("bad", tmp_path / "another-checkout")
    (other / "running-point").mkdir(parents=True)
    try:
        result = run([HSVAE_BIN, "study", "run", "bad", "--jobs", "1"], repo, check=False, timeout=300)
        assert result.returncode == 1 and "0 ran, 0 already done, 1 failed" in result.stdout, result.stderr
        assert (other / "running-point").is_dir() and not clones_folder("bad", repo).exists()
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_the_epochs_figure_draws_the_longest_runs_curve_and_accuracy_per_length(tmp_path):
    from hsvae.studies.figures import figure_epochs

    runs = pd.DataFrame({"experiment": ["short", "long", "short", "long"], "train.epochs": [2, 4, 2, 4],
                         "model": ["vae", "vae", "hsvae", "hsvae"], "replicate": 0, "accuracy": [0.3, 0.5, 0.2, 0.4]})
    files = {(e, f"reports/pretrain/{m}/plots/metrics/valid/rec.tsv"): "step\trec\n" + "".join(
        f"{i}\t{100 - i - (m == 'vae')}\n" for i in range(n)) for e, n in (("short", 2), ("long", 4))
        for m in ("vae", "hsvae")}
    figures = figure_epochs(StudyRuns(runs, ["train.epochs"], show=experiment_files(files)), tmp_path, "a caption")
    assert figures == [("Reconstruction per epoch and accuracy against training length", "epochs.png")]
    assert (tmp_path / "epochs.png").read_bytes().startswith(b"\x89PNG")
    rec = pd.read_csv(tmp_path / "rec_per_epoch.csv")
    assert rec.groupby("model")["epoch"].max().to_dict() == {"hsvae": 4, "vae": 4}  # the 4-epoch runs' curves
    assert rec[rec["model"] == "vae"]["valid_rec"].tolist() == [99, 98, 97, 96]
    with pytest.raises(StudyError, match="figure 'epochs' draws against one setting"):
        figure_epochs(StudyRuns(runs, ["train.epochs", "vae.psi"]), tmp_path, "a caption")


def test_the_explore_figure_draws_each_runs_page_from_its_json_and_compares_their_scores(tmp_path):
    from hsvae.analysis import explore as E
    from hsvae.studies.figures import figure_explore
    from tests.test_explore import codes

    runs = pd.DataFrame({"experiment": ["e1", "e1", "e2", "e1"], "vae.psi": [None, None, 0.3, None],
                         "model": ["hsvae", "vae", "vae", "classifier"], "replicate": 0})
    files, saved = {}, {}
    for seed, (experiment, model, dims) in enumerate((("e1", "hsvae", 6), ("e1", "vae", 6), ("e2", "vae", 4))):
        mean, gamma, labels, texts = codes(seed, dims=dims)
        explored = E.explore(mean, gamma, np.ones(dims), texts, labels, ["River", "Album", "Plant"], texts)
        E.write_explorer(tmp_path / experiment, model, f"{model} of {experiment}", explored, {"params": {}})
        saved[experiment, model] = json.loads((tmp_path / experiment / f"{model}.json").read_text())
        files[experiment, f"reports/explore/models/{model}.json"] = json.dumps(saved[experiment, model])
        files[experiment, f"reports/explore/models/{model}.html"] = "<html>an older commit's page</html>"
    out = tmp_path / "report"
    out.mkdir()
    figures = figure_explore(StudyRuns(runs, ["vae.psi"], show=experiment_files(files)), out, "a caption")
    assert figures == [("What each dimension means: the explorer of each run", "explore/index.html")]
    assert sorted(p.name for p in (out / "explore").iterdir()) == ["hsvae.html", "index.html", "vae-psi0.3.html",
                                                                     "vae.html"]
    page = (out / "explore" / "vae-psi0.3.html").read_text()
    assert "<title>vae of e2</title>" in page and "older commit" not in page
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)[1])
    assert data["dimensions"] == 4 and data["cards"] == saved["e2", "vae"]["cards"]
    index = (out / "explore" / "index.html").read_text()
    purities = [found["scores"]["mean_purity"] for found in saved.values()]
    assert len(set(purities)) == 3 and all(f'<td class="num">{p}</td>' in index for p in purities)
    assert 'href="vae-psi0.3.html"' in index
