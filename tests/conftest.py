import fcntl
import os
import shutil

import numpy as np
import pytest
import torch

from hsvae.data.batching import collate
from hsvae.models.registry import VAE_MODELS
from hsvae.models.settings import ArchSettings
from tests.pipeline_utils import run, tiny_repo

ARCH = ArchSettings(embedding_dim=16, hidden_dim=24, latent_dim=8, bert="")
# every model's settings at their declared defaults (the one declaration: each config section in hsvae/models/)
HPARAMS = {name: spec.config() for name, spec in VAE_MODELS.items()}
WORDS = "the a of and in is was river town album film school company band species village".split()


if os.environ.get("PYTEST_XDIST_WORKER"):  # workers share the cores: one thread each, here and in
    os.environ["OMP_NUM_THREADS"] = "1"     # the stages they start (more threads than cores spin)
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """The end-to-end tests first, longest first: under `-n 2` (pyproject.toml) they start at
    once on both workers and the short tests fill in behind them."""
    def seconds(item):
        mark = item.get_closest_marker("slow")
        return mark.kwargs["seconds"] if mark else 0

    items.sort(key=seconds, reverse=True)


def make_batch(n=6, vocab=30, seed=0, max_len=9):
    rng = np.random.default_rng(seed)
    sentences = [rng.integers(3, vocab, size=rng.integers(1, max_len)) for _ in range(n)]
    texts = [" ".join(WORDS[i % len(WORDS)] for i in s) for s in sentences]
    return collate(sentences, rng.integers(0, 3, size=n), texts)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A tiny random BERT saved like a pretrained one, loaded by path through the users' code."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=5 + len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory):
    """A tiny repository after `dvc repro` (HSVAE and the supervised baseline); read-only. Made
    once per pytest run: the first xdist worker to need it makes it under a lock, the other
    waits for it. (An `xdist_group` cannot pin its users to one worker: pytest-xdist 3.8 groups
    nothing under pytest 9.2, pytest-dev/pytest-xdist#1386.)"""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's folder, above each worker's own
    folder = base / "reproduced"
    with open(base / "reproduced.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "made").exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            repo = tiny_repo(folder, {"models": ["hsvae"], "baselines": ["classifier"], "train": {"epochs": 1},
                                      "classify": {"epochs": 2}})
            run(["dvc", "repro"], repo)
            (folder / "made").touch()
    return folder / "repo"


@pytest.fixture
def reproduced_copy(reproduced, tmp_path):
    """A test's own copy of `reproduced`: git history, DVC cache, outputs."""
    copy = tmp_path / "repo"
    shutil.copytree(reproduced, copy, symlinks=True)
    return copy
