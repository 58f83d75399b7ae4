"""Bad input gets one clear error; interrupted stages leave old outputs or none; training
stops on NaN with the term named."""
import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from hsvae.params import ParamError, validate
from hsvae.store import CorruptFile, load_vae, save
from hsvae.train import TrainingError, fit
from tests.pipeline_utils import ROOT, run, tiny_repo
from tests.test_models import build

BAD_PARAMS = [
    ("model.alpha", 0, "model.alpha = 0: expected a finite number > 0"),
    ("model.alpha", -2.5, "model.alpha = -2.5: expected a finite number > 0"),
    ("model.temperature", 0, "model.temperature = 0: expected a finite number > 0"),
    ("model.alpha", "four", "model.alpha = 'four': expected a finite number > 0"),
    ("train.lr", float("inf"), "train.lr = inf: expected a finite number > 0"),
    ("train.lr", float("nan"), "train.lr = nan: expected a finite number > 0"),
    ("arch.latent_dim", 1, "arch.latent_dim = 1: expected an integer >= 2"),
    ("mat_vae.gamma", 1.5, "mat_vae.gamma = 1.5: expected a finite number >= 0 and <= 1"),
    ("hsvae.alpha", 4, "hsvae: unknown key; expected one of preset, data"),
    ("models", [], "models = []: expected a list of distinct names from vae"),
    ("models", ["vae", "hsvea"], "models = ['vae', 'hsvea']: expected a list of distinct names from vae, vae_l1"),
    ("data.corpus", "imdb", "data.corpus = 'imdb': expected one of synthetic, local, dbpedia, yahoo, yelp, "
                            "hsvae-dbpedia, hsvae-yahoo"),
    ("data.per_class.train", 0, "data.per_class.train = 0: expected an integer >= 1"),
    ("arch.latent_dim", 0, "arch.latent_dim = 0: expected an integer >= 2"),
    ("arch.latent_dim", 3.5, "arch.latent_dim = 3.5: expected an integer >= 2"),
    ("train.device", "gpu", "train.device = 'gpu': expected auto, cpu, cuda or cuda:N"),
    ("data.synthetic.signal", 1.5, "data.synthetic.signal = 1.5: expected a finite number >= 0 and <= 1"),
    ("data.vocab_sise", 100, "data.vocab_sise: unknown key; expected one of corpus, seed, local_dir, per_class"),
    ("model.beta_clamp", [5, 1], "model.beta_clamp = [5, 1]: expected [low, high] with 0.001 <= low <= high"),
    ("data.min_length", 70, "data.min_length = 70: expected <= data.max_length = 60"),
]


def default_params():
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def set_key(params, dotted, value):
    *path, last = dotted.split(".")
    for key in path:
        params = params.setdefault(key, {})
    params[last] = value


@pytest.mark.parametrize("key,value,message", BAD_PARAMS)
def test_bad_params_are_named_with_what_is_allowed(key, value, message):
    params = default_params()
    set_key(params, key, value)
    with pytest.raises(ParamError) as error:
        validate(params)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_number_written_as_yaml_1_1_reads_it_is_accepted():
    params = default_params()
    params["train"]["lr"] = "1e-3"  # YAML 1.1 (PyYAML) reads `lr: 1e-3` as a string
    assert validate(params)["train"]["lr"] == 0.001


def test_a_bad_study_point_is_named_before_anything_runs():
    params = default_params()
    params["studies"]["stability"]["groups"][0]["points"][0]["model.alpha"] = -1
    with pytest.raises(ParamError, match=r"^studies.stability: setting .*model.alpha = -1: expected a finite"):
        validate(params)


def test_the_committed_params_are_conf_composed_and_the_paper_preset_is_valid():
    """params.yaml is what `dvc exp run` composes from conf/; the paper preset's values are
    in the composed file itself (what DVC records is what the stages use)."""
    from hsvae.params import compose

    assert compose(conf=ROOT / "conf") == default_params()
    paper = validate(compose(["preset=paper"], conf=ROOT / "conf"))
    assert paper["preset"] == "paper"
    assert paper["arch"]["hidden_dim"] == 512 and paper["data"]["per_class"]["train"] == 10_000
    assert paper["baselines"] == ["classifier", "bert"]


@pytest.mark.parametrize("stage", ["configure", "download", "preprocess", "pretrain hsvae", "classify hsvae",
                                   "baseline classifier", "analyze"])
def test_every_stage_checks_params_first_and_writes_nothing(tmp_path, stage):
    repo = tiny_repo(tmp_path)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"]["temperature"] = -1
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    before = {p: p.stat().st_mtime_ns for p in repo.rglob("*") if ".git" not in p.parts}
    result = run([sys.executable, "-m", f"stages.{stage.split()[0]}", *stage.split()[1:]], repo, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params.yaml: model.temperature = -1: expected a finite number > 0"
    after = {p: p.stat().st_mtime_ns for p in repo.rglob("*") if ".git" not in p.parts and "__pycache__" not in p.parts}
    assert after == {p: t for p, t in before.items() if "__pycache__" not in p.parts}


def test_a_killed_preprocess_leaves_the_previous_output(tmp_path):
    repo = tiny_repo(tmp_path, {"data": {"per_class": {"train": 3000}}})
    run(["dvc", "repro", "download"], repo)
    run([sys.executable, "-m", "stages.preprocess"], repo)
    old = {p.name: p.read_bytes() for p in (repo / "data/processed").iterdir()}
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["seed"] = 7  # a different sample: the new output would differ
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.Popen([sys.executable, "-m", "stages.preprocess"], cwd=repo)
    deadline = time.time() + 60
    while not list((repo / "data").glob(".processed.tmp-*")) and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert {p.name: p.read_bytes() for p in (repo / "data/processed").iterdir()} == old
    run([sys.executable, "-m", "stages.preprocess"], repo)  # the next run cleans the killed run's leftovers
    assert not list((repo / "data").glob(".processed.tmp-*"))
    assert (repo / "data/processed/train.npz").read_bytes() != old["train.npz"]


def test_nan_in_a_loss_term_stops_training_with_its_name(tmp_path):
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def terms(indices):
        calls.append(1)
        loss = model(torch.ones(len(indices), 2)).pow(2).mean()
        kl = loss * (math.nan if len(calls) == 3 else 1.0)
        return {"rec": loss, "kl_z": kl, "total": loss + kl}

    with pytest.raises(TrainingError, match=r"^hsvae: epoch 1, step 3: kl_z is nan$"):
        fit(name="hsvae", model=model, optimizer=optimizer, terms=terms,
            batches=lambda rng: [np.arange(4)] * 5, evaluate=dict, epochs=2, seed=0,
            device=torch.device("cpu"), checkpoint=tmp_path / "ck.pt", progress=False)
    assert not (tmp_path / "ck.pt").exists()


def test_nan_weights_in_a_real_model_are_caught(tmp_path):
    model = build("hsvae")
    with torch.no_grad():
        model.decoder.output.weight[0, 0] = math.inf
    from tests.conftest import make_batch

    with pytest.raises(TrainingError, match=r"epoch 1, step 1: rec is nan"):
        fit(name="hsvae", model=model, optimizer=torch.optim.Adam(model.parameters()),
            terms=lambda i: model.loss_terms(make_batch()), batches=lambda rng: [np.arange(6)], evaluate=dict,
            epochs=1, seed=0, device=torch.device("cpu"), progress=False)


def test_corrupt_or_truncated_model_files_are_named(tmp_path):
    model = build("vae")
    save(tmp_path / "vae.pt", model.state_dict(), name="vae", vocab_size=30,
         arch={"embedding_dim": 16, "hidden_dim": 24, "latent_dim": 8, "bert": ""}, hparams={"psi": 0.1})
    loaded, config = load_vae(tmp_path / "vae.pt")
    assert config["name"] == "vae"
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    data = (tmp_path / "vae.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    for name in ("cut.pt", "junk.pt"):
        with pytest.raises(CorruptFile, match=rf"{name}: cannot be read as a saved model or checkpoint"):
            load_vae(tmp_path / name)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(CorruptFile, match="other.pt: not a model saved by the pretrain stage"):
        load_vae(tmp_path / "other.pt")
