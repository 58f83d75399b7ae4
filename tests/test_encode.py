import json

import numpy as np
import pytest
import torch
import yaml

from hsvae.cli import main as cli
from hsvae.data.corpora import download
from hsvae.data.preprocess import preprocess
from hsvae.data.splits import Split
from hsvae.data.vocabulary import Vocabulary
from hsvae.encode import jaccard, load_encoder, neighbours
from hsvae.pipeline.configs import stage_configs
from hsvae.pipeline.params import validate
from hsvae.training.pretrain import pretrain
from tests.pipeline_utils import ROOT, TINY, overlay


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny HSVAE and VAE trained for one epoch on a tiny synthetic corpus."""
    folder = tmp_path_factory.mktemp("encode")
    params = overlay(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    params["train"]["epochs"] = 1
    params = validate(params)
    download(params.data, 0, folder / "raw", folder / "cache")
    preprocess(folder / "raw", folder / "data", params.data, 0)
    vocab_size = len((folder / "data/vocab.txt").read_text().splitlines())
    train, valid = Split(folder / "data", "train"), Split(folder / "data", "valid")
    configs = stage_configs(params)
    for name in ("hsvae", "vae"):
        pretrain(configs[f"pretrain/{name}"], train, valid, vocab_size, torch.device("cpu"), None,
                 folder / f"{name}.pt", progress=False, vocab_words=Vocabulary.load(folder / "data/vocab.txt").words)
    return folder


def sentences(folder, n=30):
    return (folder / "data/train.txt").read_text().splitlines()[:n]


def test_same_sentence_same_code_in_any_batch(trained):
    encoder = load_encoder(trained / "hsvae.pt", batch_size=4)
    text = sentences(trained)
    alone = encoder.encode([text[7]])
    together = encoder.encode(text)
    assert np.allclose(alone["mean"][0], together["mean"][7], atol=1e-6)
    assert np.allclose(alone["gamma"][0], together["gamma"][7], atol=1e-6)
    assert alone["active"][0].tolist() == together["active"][7].tolist()


def test_active_dimensions_are_those_with_gamma_below_half(trained):
    codes = load_encoder(trained / "hsvae.pt").encode(sentences(trained))
    for gamma, active, count in zip(codes["gamma"], codes["active"], codes["n_active"]):
        assert active.tolist() == np.flatnonzero(gamma < 0.5).tolist()
        assert count == len(active)


def test_edge_cases_have_defined_codes(trained):
    encoder = load_encoder(trained / "hsvae.pt")
    codes = encoder.encode(["", "qqqzzz xxyyzz wwvvuu", " ".join(sentences(trained, 50)) * 3])
    assert codes["mean"].shape == (3, 8)
    assert np.isfinite(codes["mean"]).all() and np.isfinite(codes["gamma"]).all()
    unknown = encoder.encode(["qqqzzz", "xxyyzz"])  # every unknown word maps to <unk>: one code
    assert np.allclose(unknown["mean"][0], unknown["mean"][1])


def test_non_hsvae_models_use_the_scaled_threshold(trained):
    encoder = load_encoder(trained / "vae.pt", active_threshold=0.5)
    codes = encoder.encode(sentences(trained))
    assert codes["gamma"] is None
    expected = np.abs(codes["mean"]) / encoder.scale > 0.5
    assert [a.tolist() for a in codes["active"]] == [np.flatnonzero(r).tolist() for r in expected]
    # the scale: the std of the posterior means of the training sentences, here re-encoded from their text
    train_means = encoder.encode((trained / "data/train.txt").read_text().splitlines())["mean"]
    assert np.allclose(encoder.scale, train_means.std(0), rtol=1e-4)


def test_neighbours_of_a_sentence_start_with_itself(trained):
    encoder = load_encoder(trained / "vae.pt")
    text = sentences(trained)
    found = neighbours(encoder, text[3], text, k=3, by="cosine", chunk=7)
    assert found[0][1] == 3 and found[0][0] == pytest.approx(1.0, abs=1e-5)
    assert len(found) == 3 and found[0][0] >= found[1][0] >= found[2][0]
    by_overlap = neighbours(load_encoder(trained / "hsvae.pt"), text[3], text, k=3)
    assert by_overlap[0][:2] == (1.0, 3)
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3) and jaccard(set(), set()) == 1.0


def test_cli_writes_jsonl_and_npz(trained, tmp_path, capsys):
    text = sentences(trained, 12)
    (tmp_path / "in.txt").write_text("\n".join(text) + "\n")
    args = ["--model", str(trained / "hsvae.pt"), "--input", str(tmp_path / "in.txt"),
            "--quiet", "--chunk", "5"]
    assert cli(["encode", *args, "--output", str(tmp_path / "out.jsonl")]) == 0
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(r["n_active"] == len(r["active"]) for r in records)
    assert cli(["encode", *args, "--format", "npz", "--output", str(tmp_path / "out.npz")]) == 0
    arrays = np.load(tmp_path / "out.npz")
    assert arrays["mean"].shape == (12, 8)
    assert np.allclose(arrays["mean"][4], records[4]["mean"], atol=5e-5)  # JSON Lines keep 4 decimals
    assert np.flatnonzero(arrays["active"][4]).tolist() == records[4]["active"]
    assert arrays["unk_rate"].shape == (12,)
    assert cli(["encode", "--model", str(tmp_path / "missing.pt"), "--input", str(tmp_path / "in.txt")]) == 2
    assert "missing.pt: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--input", "MISSING"], "error: --input MISSING: not a file"),
    (["--input", "."], "error: --input .: not a file"),
    (["--input", "IN", "--model", "MISSING"], "MISSING: no such file"),
    (["--input", "IN", "--model", "IN"], "IN: cannot be read as a saved model or checkpoint"),
])
def test_a_failed_encode_keeps_the_existing_output(trained, tmp_path, capsys, args, message):
    (tmp_path / "in.txt").write_text("a\n")
    (tmp_path / "codes.jsonl").write_text("previous codes\n")
    args = [a.replace("MISSING", str(tmp_path / "missing")).replace("IN", str(tmp_path / "in.txt")) for a in args]
    message = message.replace("MISSING", str(tmp_path / "missing")).replace("IN", str(tmp_path / "in.txt"))
    full = ["encode", "--model", str(trained / "hsvae.pt"), "--quiet", *args,
            "--output", str(tmp_path / "codes.jsonl")]
    assert cli(full) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert (tmp_path / "codes.jsonl").read_text() == "previous codes\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".codes")] == []


def test_batch_size_zero_is_refused_by_name(trained, capsys):
    with pytest.raises(SystemExit) as stop:
        cli(["encode", "--batch-size", "0"])
    assert stop.value.code == 2
    assert "--batch-size: expected an integer >= 1, got 0" in capsys.readouterr().err


def test_a_closed_pipe_ends_encode_quietly(trained, tmp_path):
    import subprocess
    import sys

    (tmp_path / "in.txt").write_text("\n".join(sentences(trained, 30) * 200) + "\n")
    command = (f"{sys.executable} -m hsvae encode --quiet --model {trained / 'hsvae.pt'} "
               f"--input {tmp_path / 'in.txt'} --chunk 50 | head -1")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True)
    assert result.stdout.count("\n") == 1 and json.loads(result.stdout)["n_active"] >= 0
    assert result.stderr == "" and result.returncode == 0


def test_a_model_file_alone_encodes_as_beside_its_data(trained, tmp_path, monkeypatch):
    """The model file carries its vocabulary and dimension scale: copied alone into an empty
    folder it gives the codes the pipeline's folder gives."""
    import shutil

    text = sentences(trained, 20)
    (tmp_path / "in.txt").write_text("\n".join(text) + "\n")
    outputs = {}
    for name in ("hsvae", "vae"):
        alone = tmp_path / f"alone-{name}"
        alone.mkdir()
        shutil.copy(trained / f"{name}.pt", alone / "model.pt")
        monkeypatch.chdir(alone)
        assert sorted(p.name for p in alone.iterdir()) == ["model.pt"]
        assert cli(["encode", "--model", "model.pt", "--input", str(tmp_path / "in.txt"), "--output", "codes.jsonl",
                    "--quiet", "--text"]) == 0
        outputs[name] = [json.loads(line) for line in (alone / "codes.jsonl").read_text().splitlines()]
        beside = load_encoder(trained / f"{name}.pt").encode(text)
        for record, mean, active, sentence in zip(outputs[name], beside["mean"], beside["active"], text):
            assert np.allclose(record["mean"], mean, atol=1e-4) and record["active"] == active.tolist()
            assert record["text"] == sentence and record["unk_rate"] == 0.0  # training sentences: all known
    assert all(len(json.dumps(r["mean"])) < 9 * 8 for r in outputs["hsvae"])  # rounded to 4 decimals


def test_unknown_words_are_reported_per_record_and_warned_once(trained, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("qqq zzz " + sentences(trained, 1)[0] + "\nxxyy wwvv\n")
    assert cli(["encode", "--model", str(trained / "hsvae.pt"), "--input", str(tmp_path / "in.txt"),
                "--output", str(tmp_path / "codes.jsonl"), "--quiet"]) == 0
    first, second = [json.loads(line) for line in (tmp_path / "codes.jsonl").read_text().splitlines()]
    words = len(sentences(trained, 1)[0].split())
    assert first["unk_rate"] == pytest.approx(round(2 / (words + 2), 4)) and second["unk_rate"] == 1.0
    assert capsys.readouterr().err.count("warning: ") == 1


def test_an_older_model_file_gets_a_clear_error(trained, tmp_path, capsys):
    saved = torch.load(trained / "vae.pt", weights_only=True)
    del saved["config"]["vocab"]
    torch.save(saved, tmp_path / "old.pt")
    (tmp_path / "in.txt").write_text("a\n")
    assert cli(["encode", "--model", str(tmp_path / "old.pt"), "--input", str(tmp_path / "in.txt")]) == 2
    assert "old.pt: a model file of an older format (no vocabulary inside)" in capsys.readouterr().err


def test_encode_never_replaces_its_input(trained, tmp_path, capsys):
    text = "\n".join(sentences(trained, 5)) + "\n"
    (tmp_path / "five.txt").write_text(text)
    (tmp_path / "link.txt").hardlink_to(tmp_path / "five.txt")
    for output in ("five.txt", "link.txt"):
        assert cli(["encode", "--model", str(trained / "hsvae.pt"), "--quiet", "--input", str(tmp_path / "five.txt"),
                    "--output", str(tmp_path / output)]) == 2
        assert f"--output {tmp_path / output}: this is the input file" in capsys.readouterr().err
    assert (tmp_path / "five.txt").read_text() == text


@pytest.mark.parametrize("args,message", [
    (["--output", "FOLDER"], "--output FOLDER: a folder; expected a file name"),
    (["--device", "foo"], "--device = 'foo': expected auto, cpu, cuda or cuda:N"),
])
def test_a_bad_output_or_device_is_one_line(trained, tmp_path, capsys, args, message):
    (tmp_path / "in.txt").write_text("a\n")
    (tmp_path / "folder").mkdir()
    args = [a.replace("FOLDER", str(tmp_path / "folder")) for a in args]
    assert cli(["encode", "--model", str(trained / "hsvae.pt"), "--quiet", "--input", str(tmp_path / "in.txt"),
                *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message.replace("FOLDER", str(tmp_path / "folder")) in err and "\n" not in err


@pytest.mark.parametrize("value", ["nan", "-1"])
def test_a_non_finite_or_negative_threshold_is_a_usage_error(capsys, value):
    with pytest.raises(SystemExit) as stop:
        cli(["encode", "--threshold", value])
    assert stop.value.code == 2 and f"--threshold: expected a finite number >= 0, got {value}" in capsys.readouterr().err


def test_lines_are_split_as_wc_counts_them_and_npz_follows_the_file_name(trained, tmp_path, capsys):
    (tmp_path / "in.txt").write_bytes(b"the river\rflows\nthe town\r\n")  # 2 lines for wc -l
    assert cli(["encode", "--model", str(trained / "hsvae.pt"), "--quiet", "--input", str(tmp_path / "in.txt"),
                "--output", str(tmp_path / "codes.npz")]) == 0
    assert np.load(tmp_path / "codes.npz")["mean"].shape[0] == 2
    with pytest.raises(SystemExit):
        cli(["encode", "--format", "jsonl", "--output", str(tmp_path / "x.npz")])
    assert "--format jsonl with --output" in capsys.readouterr().err


def test_study_sub_commands_have_their_own_options(capsys):
    with pytest.raises(SystemExit) as stop:
        cli(["study", "report", "stability", "--gpus-per-run", "1"])
    assert stop.value.code == 2 and "unrecognized arguments: --gpus-per-run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("hsvae ")
