"""Pretraining a VAE on the corpus (paper §4.2)."""
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hsvae.analysis.evaluation import evaluate, posterior_means
from hsvae.data.batching import random_batches
from hsvae.core.device import resolve_graphs
from hsvae.core.digest import digest
from hsvae.models.registry import VAE_MODELS, build_vae
from hsvae.models.store import save
from hsvae.training.train import Checkpoint, Objective, fit

# Padded lengths under CUDA graphs are multiples of this: one graph per multiple (8 for
# DBpedia's 1-60 tokens) against ~4 tokens of padding per sentence, scored with weight 0.
GRAPH_LENGTH_MULTIPLE = 8


def run_identity(cfg, vocab_size, train_split, valid_split) -> dict:
    """What a checkpoint must have been written for to be resumed: the same settings, the
    same training data, the same code (every module of the package, in whichever process asks)."""
    return {"settings": cfg.params(), "vocab_size": vocab_size, "train": train_split.digest,
            "valid": valid_split.digest, "code": digest(Path(__file__).resolve().parents[1], "*.py")}


def uniform_loss(split, vocab_size) -> float:
    """Mean summed cross-entropy per sentence of a model that guesses every word (and <eos>)
    uniformly: what an untrained model scores, the yardstick of divergence."""
    return float(np.mean(split.lengths + 1)) * math.log(vocab_size)


@dataclass
class Training:
    """What a pretraining run trains with; benchmarks time the same objects."""
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batches: object  # rng -> the epoch's batch index arrays
    load: object  # indices -> Batch on the device
    graphs: bool


def training_setup(cfg, train_split, vocab_size, device, dtype) -> Training:
    """The VAE of the stage config `cfg` (name, arch, train, hparams), its optimizer and its
    batches, seeded from train.seed."""
    train, spec = cfg.train, VAE_MODELS[cfg.name]
    torch.manual_seed(train.seed)
    model = build_vae(cfg.name, vocab_size, cfg.arch, cfg.hparams, ce_chunk=train.ce_chunk).to(device)
    graphs = resolve_graphs(train.cuda_graphs, device, spec.encoder, dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=train.bert_lr if spec.encoder == "bert" else train.lr,
                                 capturable=graphs)

    def load(indices):
        return train_split.batch(indices, GRAPH_LENGTH_MULTIPLE if graphs else 0).to(device)

    def batches(rng):
        # The authors' order: the whole corpus shuffled each epoch. Batches of similar lengths pad
        # less but trained HSVAE's reconstruction 3.5 nats worse after 4 epochs on DBpedia
        # (docs/crosscheck.md), and MAT-VAE's MMD needs each batch to sample q(z) as a whole.
        return random_batches(len(train_split), train.batch_size, rng)

    return Training(model, optimizer, batches, load, graphs)


def validation_metrics(model, valid_split, train, device) -> dict:
    """What the training loop logs of the model after each epoch."""
    found = evaluate(model, valid_split, train.eval_batch_size, device, train.seed)
    return {f"valid/{k}": v for k, v in found.items()}


def pretrain(cfg, train_split, valid_split, vocab_size, device, dtype, model_path,
             checkpoint=None, live=None, progress=True, vocab_words=None):
    """Train the VAE of the stage config `cfg` (name, arch, train, hparams); save it to
    `model_path` with what encoding new text needs (`vocab_words`, and the per-dimension
    standard deviation of the posterior means over the training split, which scores the
    activity of models without gamma); return the model and the per-epoch history."""
    train = cfg.train
    setup = training_setup(cfg, train_split, vocab_size, device, dtype)
    model = setup.model

    objective = Objective(model.loss_terms, setup.optimizer, train.grad_clip, dtype, setup.graphs)
    resume = None if checkpoint is None else Checkpoint(
        Path(checkpoint), run_identity(cfg, vocab_size, train_split, valid_split))
    history = fit(cfg.name, model, objective, setup.batches, lambda: validation_metrics(model, valid_split, train, device),
                  epochs=train.epochs, seed=train.seed, device=device, load=setup.load, checkpoint=resume,
                  live=live, progress=progress, loss_ceiling=uniform_loss(train_split, vocab_size))
    model.eval()
    std = posterior_means(model, train_split, train.eval_batch_size, device).std(0)
    save(model_path, model.state_dict(), name=cfg.name, vocab_size=vocab_size, arch=cfg.arch.params(),
         hparams=cfg.hparams.params(), made_with=cfg.made_with,
         vocab=list(vocab_words) if vocab_words is not None else None,
         dimension_scale=[float(s) if s > 0 else 1.0 for s in std])
    return model, history
