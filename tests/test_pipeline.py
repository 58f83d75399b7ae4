"""End to end: `dvc repro` in a temporary copy of the repository on a tiny synthetic corpus."""
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.pipeline_utils import run, tiny_repo


def test_data_stages_run_under_dvc_and_are_deterministic(tmp_path):
    repo = tiny_repo(tmp_path)
    run(["dvc", "repro", "preprocess"], repo)
    stats = json.loads((repo / "reports/data/stats.json").read_text())
    assert stats["classes"] == 3
    assert {s: v["sentences"] for s, v in stats["splits"].items()} == {"train": 300, "valid": 60, "test": 60}
    first = (repo / "data/processed/train.npz").read_bytes()
    run(["dvc", "repro", "-f", "preprocess"], repo)
    assert (repo / "data/processed/train.npz").read_bytes() == first
    assert "didn't change" in run(["dvc", "repro", "preprocess"], repo).stdout


def test_full_pipeline_then_an_experiment_reruns_only_hsvae(tmp_path):
    repo = tiny_repo(tmp_path)
    run(["dvc", "repro"], repo)
    summary = json.loads((repo / "reports/summary.json").read_text())
    assert set(summary) == {"vae", "vae_l1", "vae_l2", "mat_vae", "hsvae", "classifier"}
    for name, entry in summary.items():
        assert 0.0 <= entry["accuracy"] <= 1.0
        if name != "classifier":
            assert 0.0 <= entry["ah_sample"] <= 1.0 and 0.0 <= entry["ah_mean"] <= 1.0 and entry["rec_loss"] > 0
    # high signal, 3 classes: the supervised baseline is far above chance (1/3)
    assert summary["classifier"]["accuracy"] > 0.6
    history = (repo / "reports/pretrain/hsvae/plots/metrics/valid/ah_sample.tsv").read_text().splitlines()
    assert len(history) == 1 + 2  # header + one row per epoch
    assert (repo / "reports/figures/gamma_class_hsvae.png").stat().st_size > 1000
    assert "Fig. 4" in (repo / "reports/README.md").read_text()

    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "results"], repo)
    out = run(["dvc", "exp", "run", "-S", "hsvae.alpha=8"], repo).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"pretrain@hsvae", "classify@hsvae", "analyze"}
    shown = run(["dvc", "exp", "show", "--json"], repo).stdout
    assert "hsvae" in shown and "accuracy" in shown


def test_pretrain_resumes_after_a_kill_and_matches_an_uninterrupted_run(tmp_path):
    repo = tiny_repo(tmp_path, {"train": {"epochs": 6}, "data": {"per_class": {"train": 150}}})
    run(["dvc", "repro", "preprocess"], repo)
    run([sys.executable, "-m", "stages.pretrain", "hsvae"], repo)
    straight = json.loads((repo / "reports/pretrain/hsvae/metrics.json").read_text())

    proc = subprocess.Popen([sys.executable, "-m", "stages.pretrain", "hsvae"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = repo / "checkpoints/hsvae.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists(), "the run ended before its first checkpoint"
    import torch

    done = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 1 <= done < 6
    run([sys.executable, "-m", "stages.pretrain", "hsvae"], repo)
    resumed = json.loads((repo / "reports/pretrain/hsvae/metrics.json").read_text())
    assert not checkpoint.exists()
    assert resumed == straight  # same seed on CPU: identical metrics, with or without the kill
    rows = (repo / "reports/pretrain/hsvae/plots/metrics/valid/rec.tsv").read_text().splitlines()
    assert len(rows) == 1 + 6


@pytest.mark.parametrize("override,message", [
    ("hsvae.alpha=-1", "hsvae.alpha = -1: expected a number > 0"),
    ("data.corpus=wikipedia", "data.corpus = 'wikipedia': expected one of synthetic, local, dbpedia"),
    ("train.precision=fp8", "train.precision = 'fp8': expected one of fp32, bf16, fp16, auto"),
])
def test_a_bad_param_fails_the_stage_with_one_line(tmp_path, override, message):
    repo = tiny_repo(tmp_path)
    key, value = override.split("=")
    import yaml

    params = yaml.safe_load((repo / "params.yaml").read_text())
    section, name = key.split(".")
    params[section][name] = yaml.safe_load(value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run([sys.executable, "-m", "stages.download"], repo, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: params.yaml: {message}" or message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (repo / "data/raw").exists()
