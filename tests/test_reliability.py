"""Bad input gets one clear error; interrupted stages leave old outputs or none; training
stops on NaN with the term named."""
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hsvae.core.errors import CorruptFile
from hsvae.models.store import load_vae, save
from hsvae.pipeline.params import ParamError, validate
from hsvae.training.train import Checkpoint, Objective, TrainingError, fit
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
                            "hsvae-dbpedia, hsvae-dbpedia-released, hsvae-yahoo"),
    ("data.per_class.train", 0, "data.per_class.train = 0: expected an integer >= 1"),
    ("arch.latent_dim", 0, "arch.latent_dim = 0: expected an integer >= 2"),
    ("arch.latent_dim", 3.5, "arch.latent_dim = 3.5: expected an integer >= 2"),
    ("train.device", "gpu", "train.device = 'gpu': expected auto, cpu, cuda or cuda:N"),
    ("data.synthetic.signal", 1.5, "data.synthetic.signal = 1.5: expected a finite number >= 0 and <= 1"),
    ("data.vocab_sise", 100, "data.vocab_sise: unknown key; expected one of corpus, seed, local_dir, source_dir, per_class"),
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
    assert validate(params).train.lr == 0.001


def test_a_bad_study_point_is_named_before_anything_runs():
    from hsvae.studies.grid import check_studies

    studies = yaml.safe_load((ROOT / "conf/studies.yaml").read_text())
    studies["stability"]["groups"][0]["points"][0]["model.alpha"] = -1
    with pytest.raises(ParamError, match=r"^conf/studies.yaml: stability: setting .*model.alpha = -1: expected a "
                                         r"finite"):
        check_studies(studies, validate(default_params()))


def test_the_committed_params_are_conf_composed_and_the_paper_preset_is_valid():
    """params.yaml is what `dvc exp run` composes from conf/; the paper preset's values are
    in the composed file itself (what DVC records is what the stages use)."""
    from hsvae.pipeline.params import compose

    assert compose(conf=ROOT / "conf") == default_params()
    paper = validate(compose(["preset=paper"], conf=ROOT / "conf"))
    assert paper.preset == "paper"
    assert paper.arch.hidden_dim == 512 and paper.data.per_class.train == 10_000
    assert paper.baselines == ["classifier", "bert"]


SETTINGS_OF = {"download": "data", "preprocess": "data", "pretrain hsvae": "pretrain/hsvae",
               "classify hsvae": "classify/hsvae", "baseline classifier": "baseline/classifier", "analyze": "analyze"}


@pytest.mark.parametrize("stage", ["configure", *SETTINGS_OF])
def test_every_stage_checks_its_settings_first_and_writes_nothing(tmp_path, stage):
    """configure, the one stage that reads params.yaml, refuses a bad value; every later stage
    reads only its configs/ file and refuses to run without it — one line each, nothing written."""
    repo = tiny_repo(tmp_path)
    if stage == "configure":
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["model"]["temperature"] = -1
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        expected = "error: params.yaml: model.temperature = -1: expected a finite number > 0"
    else:
        shutil.rmtree(repo / "configs")
        expected = (f"error: configs/{SETTINGS_OF[stage]}.json: missing"
                    f"{' (is it in params.yaml' + chr(39) + 's models or baselines?)' if '/' in SETTINGS_OF[stage] else ''}"
                    "; run `python -m stages.configure` (or dvc repro) first")
    def state():  # every path, and each file's time: a folder's time changes when Python caches bytecode in it
        return {p: p.stat().st_mtime_ns if p.is_file() else None for p in repo.rglob("*")
                if ".git" not in p.parts and "__pycache__" not in p.parts}

    before = state()
    result = run([sys.executable, "-m", f"stages.{stage.split()[0]}", *stage.split()[1:]], repo, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == expected
    assert state() == before


def test_a_twice_given_key_in_params_yaml_is_one_line(tmp_path):
    """DVC refuses a YAML file with a key given twice; configure refuses it too (not the last value)."""
    repo = tiny_repo(tmp_path)
    params = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(params.replace("  alpha: 4.0\n", "  alpha: 4.0\n  alpha: 8.0\n"))
    line = params.splitlines().index("  alpha: 4.0") + 2
    result = run([sys.executable, "-m", "stages.configure"], repo, check=False)
    assert result.returncode == 2
    assert result.stderr == f"error: params.yaml, line {line}: duplicate key 'alpha'; give it once\n"


@pytest.mark.slow(seconds=11)
def test_a_killed_preprocess_leaves_the_previous_output(tmp_path):
    """Killed while it writes its new output aside, preprocess leaves the previous one whole.
    A kill that lands only after the swap (a busy machine can delay it past the write) proves
    nothing: that attempt's output is then the previous one, and another seed is tried."""
    repo = tiny_repo(tmp_path, {"data": {"per_class": {"train": 3000}}})
    run(["dvc", "repro", "download"], repo)
    run([sys.executable, "-m", "stages.preprocess"], repo)

    def processed():
        return {p.name: p.read_bytes() for p in (repo / "data/processed").iterdir()}

    old = processed()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for seed in range(7, 12):  # a different sample each time: the new output would differ
        params["data"]["seed"] = seed
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        run([sys.executable, "-m", "stages.configure"], repo)
        run([sys.executable, "-m", "stages.download"], repo)
        proc = subprocess.Popen([sys.executable, "-m", "stages.preprocess"], cwd=repo)
        deadline = time.time() + 60
        while not list((repo / "data").glob(".processed.tmp-*")) and time.time() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if list((repo / "data").glob(".processed.tmp-*")):  # killed before the swap
            break
        old = processed()
    else:
        pytest.fail("every kill landed after preprocess had swapped its output in")
    assert processed() == old
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
        fit("hsvae", model, Objective(terms, optimizer), lambda rng: [np.arange(4)] * 5, dict, epochs=2, seed=0,
            device=torch.device("cpu"), checkpoint=Checkpoint(tmp_path / "ck.pt", "run"), progress=False)
    assert not (tmp_path / "ck.pt").exists()


def test_nan_weights_in_a_real_model_are_caught(tmp_path):
    model = build("hsvae")
    with torch.no_grad():
        model.decoder.output.weight[0, 0] = math.inf
    from tests.conftest import make_batch

    with pytest.raises(TrainingError, match=r"epoch 1, step 1: rec is nan"):
        fit("hsvae", model, Objective(lambda i: model.loss_terms(make_batch()), torch.optim.Adam(model.parameters())),
            lambda rng: [np.arange(6)], dict, epochs=1, seed=0, device=torch.device("cpu"), progress=False)


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


# ---- local corpora: labels and lines checked, the raw corpora's rules applied, content tracked

def local_corpus(folder, labels=None, texts=None, classes=("a", "b", "c")):
    folder.mkdir(parents=True, exist_ok=True)
    words = "one two three four five six seven".split()
    for split in ("train", "valid", "test"):
        split_labels = (labels or {}).get(split, [0, 1, 2] * 4)
        split_texts = (texts or {}).get(split, [" ".join(words[: 2 + i % 4]) for i in range(len(split_labels))])
        (folder / f"{split}.txt").write_bytes(b"\n".join(t if isinstance(t, bytes) else t.encode() for t in split_texts) + b"\n")
        (folder / f"{split}_class_label.txt").write_bytes(
            b"\n".join(str(v).encode() if not isinstance(v, bytes) else v for v in split_labels) + b"\n")
    if classes:
        (folder / "classes.txt").write_text("\n".join(classes) + "\n")
    return folder


def local_data(folder, **changes):
    data = default_params()["data"]
    return validate({**default_params(), "data": {**data, "corpus": "local", "local_dir": str(folder), **changes}}).data


@pytest.mark.parametrize("labels,classes,message", [
    ({"train": [0, 1, 2, 7] * 3}, ("a", "b", "c"), "train_class_label.txt, line 4: class 7 is outside 0..2"),
    ({"valid": [0, 1, -1, 2] * 3}, ("a", "b", "c"), "valid_class_label.txt, line 3: class -1 is outside 0..2"),
    ({"test": [0, 1, "x", 2] * 3}, ("a", "b", "c"), "test_class_label.txt, line 3: 'x' is not an integer class"),
    ({"test": [0, 1] * 6}, ("a", "b", "c"), "test_class_label.txt: no sentence of class 2 (of 3) in the test split"),
    ({"train": [0] * 12, "valid": [0] * 12, "test": [0] * 12}, None, "1 class; a classification corpus needs at least 2"),
    ({"train": [0, 1, b"\xff2"] * 4}, ("a", "b", "c"), "train_class_label.txt, line 3: not UTF-8 text (byte 0xff)"),
])
def test_local_labels_are_checked_with_file_and_line(tmp_path, labels, classes, message):
    from hsvae.data.preprocess import preprocess

    folder = local_corpus(tmp_path / "corpus", labels, classes=classes)
    with pytest.raises(ValueError) as error:
        preprocess(folder, tmp_path / "out", local_data(folder), 0)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_local_corpora_get_the_raw_corpora_rules(tmp_path):
    """A form feed is not a line break; empty lines and sentences outside the length limits are
    dropped and counted; non-ASCII bytes are removed, never vocabulary words."""
    from hsvae.data.preprocess import preprocess

    texts = ["one two", "", "caf\xe9 two three".encode("latin-1"), "one \f two", " ".join(["one"] * 50), "one two three",
             "two", "three four", "one", "four five", "five six", "six seven"]
    folder = local_corpus(tmp_path / "corpus", texts={"train": texts})
    stats = preprocess(folder, tmp_path / "out", local_data(folder, max_length=10), 0)
    assert stats["dropped"] == {"empty": 1, "length": 1}
    assert stats["splits"]["train"]["sentences"] == 10
    train = (tmp_path / "out/train.txt").read_text().splitlines()
    assert train[1] == "caf two three" and train[2] == "one two"
    assert all(w.isascii() for w in (tmp_path / "out/vocab.txt").read_text().split())


def test_errors_of_a_local_corpus_name_the_users_file_not_the_copy(tmp_path):
    from hsvae.data.corpora import download
    from hsvae.data.preprocess import preprocess

    folder = local_corpus(tmp_path / "corpus", {"train": [0, 1, 2, 7] * 3}, classes=("a", "b", "c"))
    download(local_data(folder), 0, tmp_path / "raw", tmp_path / "cache")
    with pytest.raises(ValueError, match=rf"^{folder / 'train_class_label.txt'}, line 4: class 7 is outside 0..2"):
        preprocess(tmp_path / "raw", tmp_path / "out", local_data(folder), 0)


@pytest.mark.parametrize("vocab", [b"one\r\ntwo\r\nthree\r\n", b"one\t40\ntwo\t30\nthree\t9\n", b" one \ntwo\n\nthree\n"])
def test_a_vocabulary_file_is_read_for_what_it_is(tmp_path, vocab):
    """CRLF line ends, `word<TAB>count` lines and stray white space give the same words."""
    from hsvae.data.preprocess import preprocess

    folder = local_corpus(tmp_path / "corpus")
    (folder / "vocab.txt").write_bytes(vocab)
    stats = preprocess(folder, tmp_path / "out", local_data(folder), 0)
    assert (tmp_path / "out/vocab.txt").read_text().split()[3:] == ["one", "two", "three"]
    assert stats["splits"]["train"]["unk_rate"] < 0.5


@pytest.mark.parametrize("vocab,message", [
    (b"one two three\nfour\n", "vocab.txt, line 1: 'one two three'; expected one word per line (or a word and its count)"),
    (b"zebra\nyak\n", "train.txt: 100% of its words are not in the vocabulary (more than 50%); check vocab.txt"),
])
def test_a_vocabulary_that_leaves_the_corpus_unknown_is_refused(tmp_path, vocab, message):
    from hsvae.data.corpora import download
    from hsvae.data.preprocess import preprocess

    folder = local_corpus(tmp_path / "corpus")
    (folder / "vocab.txt").write_bytes(vocab)
    download(local_data(folder), 0, tmp_path / "raw", tmp_path / "cache")
    with pytest.raises(ValueError) as error:
        preprocess(tmp_path / "raw", tmp_path / "out", local_data(folder), 0)
    assert str(error.value).startswith(f"{folder}/{message}")  # the user's file, not the pipeline's copy


def test_editing_a_local_corpus_is_seen_by_dvc_and_re_runs_from_the_copy(tmp_path):
    """Through DVC itself, up to the stages that read the corpus (`dvc status/repro preprocess`)."""
    folder = local_corpus(tmp_path / "corpus")
    repo = tiny_repo(tmp_path, {"data": {"corpus": "local", "local_dir": str(folder)}})
    run(["dvc", "repro", "preprocess"], repo)
    status = run(["dvc", "status"], repo).stdout  # the later stages have not run: only they are listed
    assert "download:" not in status and "preprocess:" not in status and "pretrain@hsvae:" in status
    (folder / "test_class_label.txt").write_text("2\n1\n0\n" * 4)
    status = run(["dvc", "status"], repo).stdout
    assert "download:" in status and f"modified:           {folder}" in status
    assert "configure:" not in status
    repro = run(["dvc", "repro", "preprocess"], repo).stdout
    assert "Running stage 'download'" in repro and "Running stage 'preprocess'" in repro
    assert (repo / "data/raw/test_class_label.txt").read_text() == "2\n1\n0\n" * 4
    (folder / "notes.txt").write_text("a file added to the folder\n")
    assert "download:" in run(["dvc", "status"], repo).stdout


def test_a_learning_rate_that_diverges_in_the_first_epoch_is_stopped_by_name(tmp_path):
    """train.lr = 1.0: the loss is many times what guessing words uniformly scores within the
    first epoch; before, the run "succeeded" with a reconstruction 20x the normal one."""
    from hsvae.data.corpora import download
    from hsvae.data.preprocess import preprocess
    from hsvae.data.splits import load_splits, vocabulary_size
    from hsvae.pipeline.configs import stage_configs
    from hsvae.training.pretrain import pretrain
    from tests.pipeline_utils import TINY, overlay

    params = overlay(default_params(), TINY)
    params["train"].update(lr=1.0, epochs=3)
    params = validate(params)
    download(params.data, 0, tmp_path / "raw", tmp_path / "cache")
    preprocess(tmp_path / "raw", tmp_path / "data", params.data, 0)
    splits = load_splits(tmp_path / "data")
    with pytest.raises(TrainingError, match=r"^vae: diverged: mean training loss [\d.]+ over epoch 1's steps 1-\d+, "
                                            r"above 2 x [\d.]+ \(what guessing every word uniformly scores\); "
                                            r"lower train.lr$"):
        pretrain(stage_configs(params)["pretrain/vae"], splits["train"], splits["valid"],
                 vocabulary_size(tmp_path / "data"), torch.device("cpu"), None, tmp_path / "m.pt", progress=False)


# ---- metrics files hold no NaN; training that diverges is stopped

def test_undefined_statistics_are_null_and_nan_is_never_written(tmp_path):
    from hsvae.analysis.figures import class_separation
    from hsvae.core.atomic import write_json

    assert class_separation(np.ones((1, 4))) is None  # one class: no pair to compare
    assert class_separation(np.array([[0.0, 1.0], [np.nan, 1.0]])) is None  # a class missing from the split
    write_json(tmp_path / "ok.json", {"separation": None})
    assert (tmp_path / "ok.json").read_text() == '{\n  "separation": null\n}\n'
    with pytest.raises(ValueError, match=r"bad.json: a value is not finite"):
        write_json(tmp_path / "bad.json", {"kl": float("nan")})
    assert not (tmp_path / "bad.json").exists()


def test_a_diverging_run_ends_with_a_named_error():
    model = torch.nn.Linear(2, 1)
    epochs = []

    def terms(indices):
        loss = model(torch.ones(len(indices), 2)).pow(2).mean() * 0 + 1.0 + 30.0 * len(epochs)
        return {"rec": loss, "total": loss}

    def evaluate():
        epochs.append(1)
        return {}

    with pytest.raises(TrainingError, match=r"^m: diverged: the training loss grew from 1 \(epoch 1\) to 31 \(epoch 2\); "
                                            r"lower train.lr$"):
        fit("m", model, Objective(terms, torch.optim.SGD(model.parameters(), lr=0.1)), lambda rng: [np.arange(4)],
            evaluate, epochs=5, seed=0, device=torch.device("cpu"), progress=False)


def test_a_checkpoint_resumes_only_the_run_of_its_data(tmp_path):
    """Kill after epoch 1 on corpus A, then train on corpus B (same vocabulary size): the run
    starts from epoch 1 and equals an uninterrupted run on B."""
    from hsvae.data.corpora import download
    from hsvae.data.preprocess import preprocess
    from hsvae.data.splits import load_splits, vocabulary_size
    from hsvae.pipeline.configs import stage_configs
    from hsvae.training.pretrain import pretrain
    from tests.pipeline_utils import TINY, overlay

    params = overlay(default_params(), TINY)
    params["train"]["epochs"] = 2
    params["data"]["vocab_size"] = 100  # both corpora have more words: the same vocabulary size
    params = validate(params)
    cfg = stage_configs(params)["pretrain/vae"]
    corpora = {}
    for name, seed in (("a", 0), ("b", 1)):
        download(params.data, seed, tmp_path / f"raw-{name}", tmp_path / "cache")
        preprocess(tmp_path / f"raw-{name}", tmp_path / name, params.data, seed)
        corpora[name] = load_splits(tmp_path / name)
    vocab = vocabulary_size(tmp_path / "a")
    assert vocabulary_size(tmp_path / "b") == vocab
    # Same settings on corpus A leave a checkpoint (the stage deletes it only after success):
    # resumed by mistake, a run on B would skip training and return A's history.
    checkpoint = tmp_path / "vae-checkpoint.pt"
    _, history_a = pretrain(cfg, corpora["a"]["train"], corpora["a"]["valid"], vocab, torch.device("cpu"), None,
                            tmp_path / "a.pt", checkpoint=checkpoint, progress=False)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2
    _, straight = pretrain(cfg, corpora["b"]["train"], corpora["b"]["valid"], vocab, torch.device("cpu"), None,
                           tmp_path / "b-straight.pt", progress=False)
    _, resumed = pretrain(cfg, corpora["b"]["train"], corpora["b"]["valid"], vocab, torch.device("cpu"), None,
                          tmp_path / "b.pt", checkpoint=checkpoint, progress=False)
    assert resumed == straight and resumed != history_a


def test_a_truncated_split_file_is_named(tmp_path):
    from hsvae.data.splits import Split
    from hsvae.core.errors import UserError

    np.savez(tmp_path / "train.npz", tokens=np.arange(50), offsets=np.array([0, 20, 50]), labels=np.array([0, 1]))
    (tmp_path / "classes.txt").write_text("a\nb\n")
    assert len(Split(tmp_path, "train")) == 2
    data = (tmp_path / "train.npz").read_bytes()
    (tmp_path / "train.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"train.npz: damaged or not what preprocess writes \(.*\); re-run preprocess "
                                        r"\(dvc repro\)$"):
        Split(tmp_path, "train")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full gives a real ENOSPC")
def test_a_full_disk_is_one_line_and_keeps_the_previous_file(tmp_path):
    from hsvae.core.atomic import atomic_path
    from hsvae.core.errors import UserError

    (tmp_path / "ck.pt").write_bytes(b"previous")
    with pytest.raises(UserError, match=r"^no space left on the disk of .* while writing ck.pt \(needed more than "
                                        r"the \d+ MB written\); free space and re-run; .*ck.pt is as it was$"):
        with atomic_path(tmp_path / "ck.pt") as tmp:
            tmp.write_bytes(b"x" * 2**20)
            with open("/dev/full", "wb") as full:  # the device the kernel answers every write with ENOSPC
                full.write(b"x" * 2**16)
                full.flush()
    assert (tmp_path / "ck.pt").read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]
