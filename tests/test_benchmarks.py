"""The benchmarks run what they say they run: the params composed as `dvc exp run -S` composes
them, recorded in their output."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.pipeline_utils import ROOT


def local_corpus(folder, per_class=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for split in ("train", "valid", "test"):
        labels = np.repeat(np.arange(classes), per_class)
        lines = [" ".join(f"w{c}{rng.integers(0, 9)}" for _ in range(rng.integers(2, 9))) for c in labels]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
        (folder / f"{split}_class_label.txt").write_text("\n".join(map(str, labels)) + "\n")
    return folder


def timing(tmp_path, *overrides):
    command = [sys.executable, "-m", "benchmarks.pipeline_timing", "--corpus", str(tmp_path / "corpus"), "--models",
               "hsvae", "--work", str(tmp_path / "work"), "--step-steps", "1", "--out", str(tmp_path / "out.json")]
    for override in overrides:
        command += ["-S", override]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow(seconds=8)
def test_pipeline_timing_runs_the_paper_preset_it_is_asked_for(tmp_path):
    local_corpus(tmp_path / "corpus")
    result = timing(tmp_path, "preset=paper", "train.epochs=1", "train.precision=fp32")
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["preset"] == "paper" and out["precision"] == "fp32"
    assert (out["arch"]["embedding_dim"], out["arch"]["hidden_dim"], out["train"]["batch_size"]) == (256, 512, 256)
    assert out["hsvae"]["epochs"] == 1 and out["hsvae"]["run_useful_tokens_per_s"] > 0
    assert out["hsvae"]["step"]["useful_tokens_per_s"] > 0


def test_pipeline_timing_refuses_an_unknown_key_in_one_line(tmp_path):
    local_corpus(tmp_path / "corpus")
    result = timing(tmp_path, "train.speed=11")
    assert result.returncode != 0 and not (tmp_path / "out.json").exists()
    assert result.stderr.strip().count("\n") == 0 and "train.speed" in result.stderr, result.stderr
