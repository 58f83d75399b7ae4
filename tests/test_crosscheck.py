"""The cross-check's parts that run without TensorFlow: finding and patching the authors'
scripts, reading their logs, the agreement criterion and the report."""
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from hsvae.core.errors import InputError
from hsvae.crosscheck import authors
from hsvae.crosscheck.compare import compare, verdict
from hsvae.crosscheck.report import write_report
from hsvae.crosscheck.run import write_authors_data
from hsvae.data.vocabulary import Vocabulary

AUTHORS_CODE = Path(__file__).resolve().parents[2] / "shared" / "authors-code"


def script_text():
    """A stand-in with each line the patches touch, between lines they leave alone."""
    return ("import tensorflow as tf\n"
            "from tensorflow.python.keras.utils import tf_utils\n"
            "from tensorflow.python.ops import math_ops\n"
            "from tensorflow.python.util.tf_export import tf_export\n"
            "def _init_rnn(self, units):\n"
            "    return tf.compat.v1.keras.layers.CuDNNGRU(units,kernel_initializer='lecun_normal')\n")


def test_patch_replaces_each_drifted_line_and_keeps_the_rest():
    patched = authors.patch(script_text())
    assert "tf_utils" not in patched and "tf_export" not in patched and "CuDNNGRU" not in patched
    assert "from tensorflow.python.ops import math_ops\n" in patched
    assert ("tf.keras.layers.GRU(units, reset_after=True, bias_initializer='zeros',"
            "kernel_initializer='lecun_normal')") in patched
    compile(patched, "patched", "exec")


def test_patch_refuses_a_script_it_does_not_know():
    text = script_text().replace("CuDNNGRU", "CuDNNLSTM")
    with pytest.raises(InputError, match=r"hsvae.py: the text to patch \(CuDNNGRU"):
        authors.patch(text, "hsvae.py")


def test_script_refuses_a_file_with_another_blob_id(tmp_path):
    path = tmp_path / authors.SCRIPTS["hsvae"][0]
    path.parent.mkdir(parents=True)
    path.write_text(script_text())
    with pytest.raises(InputError, match=r"git blob id [0-9a-f]{40}, expected 90ada228"):
        authors.script("hsvae", str(tmp_path), tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="mat_vae.py not found"):
        authors.script("mat_vae", str(tmp_path), tmp_path / "cache")


@pytest.mark.skipif(not AUTHORS_CODE.is_dir(), reason="the authors' code is not beside the repository")
@pytest.mark.parametrize("model", ["hsvae", "mat_vae"])
def test_the_authors_scripts_verify_and_patch(model, tmp_path):
    path = authors.script(model, str(AUTHORS_CODE), tmp_path)
    patched = authors.patch(path.read_text(), str(path))
    assert "CuDNNGRU" not in patched and patched.count("tf.keras.layers.GRU(units, reset_after=True") == 2
    compile(patched, str(path), "exec")


HSVAE_EPOCH = """Epoch {e}, Recon. Loss 187.3708,  KL Gamma 0.4783, KL Z 0.4502
sample from spike-and-slab: sparsity with std norm: tf.Tensor({ah}, shape=(), dtype=float32)
sample from spike-and-slab: sparsity without std norm: tf.Tensor(0.1, shape=(), dtype=float32)
mean of slab component: sparsity with std norm: tf.Tensor(0.2, shape=(), dtype=float32)
mean of slab component: sparsity without std norm: tf.Tensor(0.3, shape=(), dtype=float32)
mean of spike-and-slab: sparsity with std norm: tf.Tensor({mean}, shape=(), dtype=float32)
mean of spike-and-slab: sparsity without std norm: tf.Tensor(0.4, shape=(), dtype=float32)
Epoch {e}; Valid Rec Loss {rec};  Valid Gamma KL-loss {klg}; Valid Z KL-loss {klz} 
Time taken for 1 epoch 200.1 sec
"""

MAT_EPOCH = """Epoch {e}, NLL Loss 180.0,  MMD Loss 0.4, KL Loss 0.5
(gaussian dist) sample sparsity with std norm: tf.Tensor({ah}, shape=(), dtype=float32)
(gaussian dist) sample sparsity without std norm: tf.Tensor(0.1, shape=(), dtype=float32)
(gaussain dist) mean sparsity with std norm: tf.Tensor({mean}, shape=(), dtype=float32)
(gaussian dist) mean sparsity without std norm: tf.Tensor(0.3, shape=(), dtype=float32)
Epoch {e}; Valid Rec Loss {rec}; Valid KL-loss {klz}; Valid MMD-loss {mmd}
"""


def test_read_log_unweights_the_terms():
    log = "noise\n" + HSVAE_EPOCH.format(e=1, ah=0.4860417, mean=0.25, rec=174.1797, klg=0.2459, klz=0.2651)
    log += HSVAE_EPOCH.format(e=2, ah=0.5, mean=0.3, rec=150.0, klg=0.15, klz=0.2)
    rows = authors.read_log(log, "hsvae", psi=0.01, lam=0.01)
    assert rows[0] == pytest.approx({"epoch": 1, "rec": 174.1797, "kl_z": 26.51, "kl_gamma": 24.59,
                                     "ah_sample": 0.4860417, "ah_mean": 0.25})
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["kl_z"] == pytest.approx(20.0)
    mat = authors.read_log(MAT_EPOCH.format(e=1, ah=0.4, mean=0.2, rec=173.1, klz=0.5, mmd=1.8), "mat_vae",
                           psi=0.01, lam=4.0)
    assert mat == [pytest.approx({"epoch": 1, "rec": 173.1, "kl_z": 50.0, "mmd": 0.45, "ah_sample": 0.4,
                                  "ah_mean": 0.2})]


def test_read_log_refuses_a_run_cut_short():
    log = HSVAE_EPOCH.format(e=1, ah=0.4, mean=0.2, rec=1, klg=1, klz=1)
    log += HSVAE_EPOCH.split("Epoch {e};")[0].format(e=2, ah=0.5, mean=0.3)  # killed before validation
    with pytest.raises(InputError, match="2 validation lines|1 validation lines"):
        authors.read_log(log, "hsvae", 0.01, 0.01)
    with pytest.raises(InputError, match="0 validation lines"):
        authors.read_log("Traceback (most recent call last):", "mat_vae", 0.01, 0.01)


def results(authors_values, ours_values, term="rec"):
    """Results of one model whose `term` has these per-seed values at epochs 1 and 2."""
    runs = [{"implementation": impl, "model": "hsvae", "seed": seed,
             "epochs": [{"epoch": e, term: v + e} for e in (1, 2)]}
            for impl, values in (("authors", authors_values), ("ours", ours_values)) for seed, v in enumerate(values)]
    return {"runs": runs}


def test_agreement_criterion_against_an_independent_computation():
    theirs, ours = [100.0, 104.0, 98.0], [106.0, 109.0, 110.0]
    rows = compare(results(theirs, ours), "hsvae")
    assert [r["epoch"] for r in rows] == [2]  # epoch 1 is not judged
    allowed = 2 * max(statistics.stdev(theirs), statistics.stdev(ours)) + 0.03 * (statistics.mean(theirs) + 2)
    gap = statistics.mean(ours) - statistics.mean(theirs)
    assert rows[0]["allowed"] == pytest.approx(allowed) and rows[0]["gap"] == pytest.approx(gap)
    assert rows[0]["agrees"] is (gap <= allowed) is True
    far = [v + 20 for v in ours]
    assert verdict(compare(results(theirs, far), "hsvae")) is False
    assert verdict(compare(results(theirs, [107.0]), "hsvae")) is None  # one seed: no spread to judge by


def test_report_writes_figures_table_and_verdict(tmp_path):
    rng = np.random.default_rng(0)
    terms = ("rec", "kl_z", "kl_gamma", "ah_sample", "ah_mean")
    (tmp_path / "runs").mkdir()
    for impl in ("authors", "ours"):
        for seed in range(3):
            epochs = [{"epoch": e, **{t: 100.0 / e + rng.normal(0, 1) for t in terms}} for e in (1, 2, 3)]
            (tmp_path / "runs" / f"{impl}-hsvae-{seed}.json").write_text(json.dumps(
                {"implementation": impl, "model": "hsvae", "seed": seed, "overrides": ["preset=dbpedia-cpu"],
                 "settings": {}, "epochs": epochs}))
    write_report(tmp_path)
    agreement = json.loads((tmp_path / "agreement.json").read_text())
    assert agreement["hsvae"]["agrees"] is True and len(agreement["hsvae"]["rows"]) == 5 * 2
    assert "mat_vae" not in agreement and not (tmp_path / "mat_vae.png").exists()
    assert (tmp_path / "hsvae.png").stat().st_size > 10_000
    readme = (tmp_path / "README.md").read_text()
    assert "HSVAE: **agrees**" in readme and "| hsvae | kl_gamma |" in readme


def test_authors_data_are_the_same_token_sequences(tmp_path):
    processed = tmp_path / "processed"
    processed.mkdir()
    Vocabulary(["the", "cat", "sat"]).save(processed / "vocab.txt")
    (processed / "classes.txt").write_text("a\nb\n")
    sentences = {"train": [[3, 4, 2], [5]], "valid": [[4, 4]], "test": [[3]]}
    for split, rows in sentences.items():
        lengths = [len(r) for r in rows]
        np.savez(processed / f"{split}.npz", tokens=np.concatenate(rows), offsets=np.cumsum([0] + lengths),
                 labels=np.zeros(len(rows), dtype=np.int64))
        (processed / f"{split}.txt").write_text("\n".join("x" for _ in rows) + "\n")
    write_authors_data(processed, tmp_path / "out")
    assert (tmp_path / "out" / "train.txt").read_text() == "the cat _UNK\nsat\n"
    assert (tmp_path / "out" / "valid.txt").read_text() == "cat cat\n"
    assert (tmp_path / "out" / "vocab.txt").read_text() == "the\ncat\nsat\n_UNK\n"
