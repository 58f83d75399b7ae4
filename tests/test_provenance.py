"""A stage run by hand (`python -m stages.X`) checks what it reads: inputs made with other
settings, or from other files than the ones it uses with them, are refused naming the param or
file and the stage to re-run; a damaged input is one line naming the file and the stage that
makes it (exit 2)."""
import sys

import pytest
import yaml

from tests.pipeline_utils import run


@pytest.fixture
def repo(reproduced_copy):  # the tests' own copy of the repository after `dvc repro`
    return reproduced_copy


def stage(repo, *args):
    return run([sys.executable, "-m", f"stages.{args[0]}", *args[1:]], repo, check=False)


DATA_REFUSAL = "error: data/processed: preprocess made it with {key} = {old!r}, but params.yaml now says {new!r}; " \
               "re-run preprocess first (dvc repro)"
MODEL_REFUSAL = "error: {path}: pretrain@hsvae made it with {key} = {old!r}, but params.yaml now says {new!r}; " \
                "re-run pretrain@hsvae first (dvc repro)"

EDITS = [("data.per_class.train", 100, 150), ("data.seed", 0, 7), ("data.synthetic.signal", 0.9, 0.5),
         ("train.seed", 0, 3), ("train.epochs", 1, 4), ("train.lr", 0.003, 0.001), ("train.grad_clip", 5.0, 1.0)]


@pytest.mark.parametrize("key,old,new", EDITS)
def test_a_hand_edited_param_refuses_every_stage_run_on_inputs_made_without_it(repo, key, old, new):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    section, *path, last = key.split(".")
    target = params[section]
    for part in path:
        target = target[part]
    assert target[last] == old
    target[last] = new
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert stage(repo, "configure").returncode == 0
    before = {p: p.read_bytes() for p in (repo / "reports").rglob("*") if p.is_file()}
    # (the baseline, which trains from the data with its own train settings, reads no model)
    readers = ("classify hsvae", "baseline classifier", "analyze") if section == "data" else ("classify hsvae", "analyze")
    results = {args: stage(repo, *args.split()) for args in readers}
    if section == "data":
        expected = {args: DATA_REFUSAL.format(key=key, old=old, new=new) for args in results}
    else:
        expected = {"classify hsvae": MODEL_REFUSAL.format(path="models/hsvae.pt", key=key, old=old, new=new),
                    "analyze": MODEL_REFUSAL.format(path="reports/codes/hsvae.npz", key=key, old=old, new=new)}
    for args, result in results.items():
        assert (result.returncode, result.stderr.strip()) == (2, expected[args]), args
    if section == "data":  # nothing was written
        assert {p: p.read_bytes() for p in (repo / "reports").rglob("*") if p.is_file()} == before


def refusal(path, stage, source):
    return (2, f"error: {path}: {stage} made it from another {source} than the one here now; "
               f"re-run {stage} first (dvc repro)")


def test_inputs_made_from_other_data_than_is_there_now_are_refused(repo):
    """data/processed made again with the same params but other content (a local corpus
    edited, then download and preprocess run by hand): the model and its codes were made from
    the old data, and the stages that read them beside the new data refuse them."""
    from hsvae.pipeline.stage import recorded_with, write_record

    processed, classes = repo / "data/processed", repo / "data/processed/classes.txt"
    made_with = recorded_with(processed, "preprocess")
    classes.write_text("".join(f"renamed_{name}\n" for name in classes.read_text().split()))
    result = stage(repo, "pretrain", "hsvae")  # a file changed since its record was written
    assert (result.returncode, result.stderr.strip()) == (2, "error: data/processed/classes.txt: damaged or "
                                                              "changed since preprocess wrote it; re-run preprocess "
                                                              "(dvc repro)")
    write_record(processed, made_with)  # as preprocess writes the folder again
    before = {p: p.read_bytes() for p in (repo / "reports").rglob("*") if p.is_file()}
    expected = {"classify hsvae": refusal("models/hsvae.pt", "pretrain@hsvae", "data/processed"),
                "analyze": refusal("reports/codes/hsvae.npz", "pretrain@hsvae", "data/processed")}
    for args, refused in expected.items():
        result = stage(repo, *args.split())
        assert (result.returncode, result.stderr.strip()) == refused, args
    assert {p: p.read_bytes() for p in (repo / "reports").rglob("*") if p.is_file()} == before
    assert stage(repo, "baseline", "classifier").returncode == 0  # it reads the data alone


def test_a_classification_of_another_model_than_the_codes_is_refused(repo):
    """The model file replaced after pretraining (the same settings; here one extra entry) and
    classified again: the codes analyze reads are of the model pretrain made, not of this one."""
    import torch

    model = repo / "models/hsvae.pt"
    saved = torch.load(model, weights_only=True)
    torch.save({**saved, "note": "replaced"}, model)
    assert stage(repo, "classify", "hsvae").returncode == 0
    result = stage(repo, "analyze")
    assert (result.returncode, result.stderr.strip()) == refusal("reports/codes/hsvae.npz", "pretrain@hsvae",
                                                                 "models/hsvae.pt")


READS = {  # stage -> files it reads (and the stage that makes them, named in the error): each kind of file
    "preprocess": {"data/raw/made_with.json": "download", "data/raw/classes.txt": "download"},
    "pretrain hsvae": {"data/processed/train.npz": "preprocess", "data/processed/vocab.txt": "preprocess",
                       "configs/pretrain/hsvae.json": "configure"},
    "classify hsvae": {"models/hsvae.pt": "pretrain@hsvae", "data/processed/classes.txt": "preprocess"},
    "baseline classifier": {"data/processed/train.txt": "preprocess"},
    "analyze": {"reports/codes/hsvae.npz": "pretrain@hsvae", "reports/classify/hsvae/test.json": "classify@hsvae",
                "reports/classify/classifier/made_with.json": "baseline@classifier",
                "reports/pretrain/hsvae/plots/metrics/valid/rec.tsv": "pretrain@hsvae"},
}


@pytest.mark.parametrize("args,path,maker", [(a, p, m) for a, files in READS.items() for p, m in files.items()])
def test_every_input_of_every_stage_truncated_is_one_line(repo, args, path, maker):
    data = (repo / path).read_bytes()
    (repo / path).write_bytes(data[: len(data) // 2])
    result = stage(repo, *args.split())
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {path}"), result.stderr
    assert maker in result.stderr and "Traceback" not in result.stderr
