"""The authors' TensorFlow scripts (VictorProkhorov/HSVAE, GPL-3): found in a folder or
downloaded at a fixed commit, verified by git blob id, patched at run time where TensorFlow's
API has drifted since TF 2.3, and their training logs read back. Their code is never copied into
this repository; it runs in an environment of its own (requirements-crosscheck.txt)."""
import re
from pathlib import Path

from hsvae.core.errors import InputError, MissingInput
from hsvae.data.download import fetch, git_blob_id

COMMIT = "bf5e561ddb10a95c1ad69bb350e87c092e8c9cfa"
URL = "https://raw.githubusercontent.com/VictorProkhorov/HSVAE/{commit}/{path}"
# The scripts the cross-check runs: model name -> (path in their repository, git blob id at COMMIT).
SCRIPTS = {
    "hsvae": ("Scripts/Models/hsvae.py", "90ada2289db4eb0d425f1a125ea945d4a6e41eea"),
    "mat_vae": ("Scripts/Models/mat_vae.py", "4436ab047dc04532cc0ed3ca56bf7ddcbdf75f7f"),
}

# API drift between TF 2.3 and today, each (what, old text, new text); every old text must occur
# in the script, so a changed script is refused rather than half patched.
# - two private imports that no longer exist; neither name is used;
# - CuDNNGRU (TF1 compat, GPU only): Keras's GRU with reset_after=True is the cuDNN-compatible
#   cell (PyTorch's formulation too), here with the same initialisers and zero biases.
PATCHES = [
    ("unused private import", "from tensorflow.python.keras.utils import tf_utils\n", ""),
    ("unused private import", "from tensorflow.python.util.tf_export import tf_export\n", ""),
    ("CuDNNGRU", "tf.compat.v1.keras.layers.CuDNNGRU(units,",
     "tf.keras.layers.GRU(units, reset_after=True, bias_initializer='zeros',"),
]


def script(model: str, source: str | None, cache: Path) -> Path:
    """The authors' script of `model`: from the folder `source` (their repository's layout, as
    ../shared/authors-code) or downloaded into `cache`; either way verified by git blob id."""
    path, blob_id = SCRIPTS[model]
    if source:
        found = Path(source) / path
        if not found.is_file():
            raise MissingInput(f"--authors-code: {found} not found (the authors' {path} at commit {COMMIT[:7]})")
        got = git_blob_id(found)
        if got != blob_id:
            raise InputError(f"--authors-code: {found}: git blob id {got}, expected {blob_id} "
                             f"(their {path} at commit {COMMIT[:7]})")
        return found
    return fetch(URL.format(commit=COMMIT, path=path), cache / COMMIT[:7] / path, blob_id)


def patch(text: str, name: str = "script") -> str:
    """The script with every API-drift patch applied (each must match)."""
    for what, old, new in PATCHES:
        if old not in text:
            raise InputError(f"{name}: the text to patch ({what}: {old.strip()!r}) is not in it; "
                             f"expected the authors' script at commit {COMMIT[:7]}")
        text = text.replace(old, new)
    return text


# What their training loops print after each epoch, and the name each number gets here. Their
# KL and MMD lines print the weighted terms (psi KL_z, lambda KL_gamma, lambda MMD): `read_log`
# divides by the weights to report the terms themselves, as this repository's logs do.
_NUMBER = r"(?:tf\.Tensor\()?(-?[\d.]+(?:e[-+]?\d+)?|nan|inf)"
LINES = {
    "hsvae": {
        "ah_sample": r"sample from spike-and-slab: sparsity with std norm: " + _NUMBER,
        "ah_mean": r"mean of spike-and-slab: sparsity with std norm: " + _NUMBER,
        "valid": r"Epoch (\d+); Valid Rec Loss ([\d.eE+-]+|nan);\s+Valid Gamma KL-loss ([\d.eE+-]+|nan); "
                 r"Valid Z KL-loss ([\d.eE+-]+|nan)",
    },
    "mat_vae": {
        "ah_sample": r"\(gaussian dist\) sample sparsity with std norm: " + _NUMBER,
        "ah_mean": r"\(gaussain dist\) mean sparsity with std norm: " + _NUMBER,
        "valid": r"Epoch (\d+); Valid Rec Loss ([\d.eE+-]+|nan); Valid KL-loss ([\d.eE+-]+|nan); "
                 r"Valid MMD-loss ([\d.eE+-]+|nan)",
    },
}


def read_log(text: str, model: str, psi: float, lam: float) -> list:
    """The per-epoch validation curves in the authors' log of `model`: a list of {epoch, rec,
    kl_z, kl_gamma or mmd, ah_sample, ah_mean}, the KL and MMD terms unweighted."""
    lines = LINES[model]
    samples = [float(v) for v in re.findall(lines["ah_sample"], text)]
    means = [float(v) for v in re.findall(lines["ah_mean"], text)]
    valid = re.findall(lines["valid"], text)
    if not valid or not len(valid) == len(samples) == len(means):
        raise InputError(f"the authors' {model} log: {len(valid)} validation lines, {len(samples)} and {len(means)} "
                         "Average Hoyer lines; expected one of each per epoch (a run cut short?)")
    epochs = []
    for (epoch, rec, first, second), sample, mean in zip(valid, samples, means):
        row = {"epoch": int(epoch), "rec": float(rec)}
        if model == "hsvae":  # gamma's KL comes first in their line
            row.update(kl_z=float(second) / psi, kl_gamma=float(first) / lam)
        else:  # MAT-VAE: psi weighs the KL, lambda the MMD
            row.update(kl_z=float(first) / psi, mmd=float(second) / lam)
        epochs.append({**row, "ah_sample": sample, "ah_mean": mean})
    return epochs
