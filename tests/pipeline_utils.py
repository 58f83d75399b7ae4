"""A temporary copy of the repository with tiny params, for end-to-end DVC tests."""
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "data": {"per_class": {"train": 100, "valid": 20, "test": 20}, "vocab_size": 300,
             "synthetic": {"classes": 3, "signal": 0.9, "background_vocab": 150, "topic_words": 15,
                           "mean_phrases": [1.5, 3.0]}},
    "arch": {"embedding_dim": 16, "hidden_dim": 32, "latent_dim": 8},
    "train": {"epochs": 2, "batch_size": 16, "eval_batch_size": 64, "lr": 0.003},
    "classify": {"epochs": 10, "lr": 0.003},
}


def overlay(base, changes):
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            overlay(base[key], value)
        else:
            base[key] = value
    return base


def run(cmd, cwd, check=True, **kwargs):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def compose_params(repo: Path, overrides=()):
    """Write params.yaml as `dvc exp run` composes it: from conf/ with Hydra overrides."""
    from hsvae.pipeline.params import compose

    (repo / "params.yaml").write_text(yaml.safe_dump(compose(overrides, conf=repo / "conf"), sort_keys=False))


def tiny_repo(tmp_path: Path, changes=None) -> Path:
    """Copy the tracked files (no data, no outputs), apply TINY + changes, commit."""
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if name == "dvc.lock" or not (ROOT / name).is_file():
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    # `dvc exp run` composes params.yaml from conf/: the tiny sizes go into conf/config.yaml;
    # studies, if given, replace conf/studies.yaml
    changes = dict(changes or {})
    if "studies" in changes:
        (repo / "conf/studies.yaml").write_text(yaml.safe_dump(changes.pop("studies"), sort_keys=False))
    config = yaml.safe_load((repo / "conf/config.yaml").read_text())
    overlay(config, TINY)
    overlay(config, changes)
    (repo / "conf/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    compose_params(repo)
    run(["git", "init", "-q"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "tiny"], repo)
    return repo


def data_settings(values: dict) -> SimpleNamespace:
    """The `data` settings as stages pass them (attributes), for a corpus a test registers
    itself (not one of the declared names); sections nest."""
    return SimpleNamespace(**{k: data_settings(v) if isinstance(v, dict) else v for k, v in values.items()})
