"""Sparsity and corpus metrics of the paper's analysis (§4.1.3, §4.4), and the classifiers'
accuracy (§4.2)."""
import math

import numpy as np
import torch


def hoyer(z: torch.Tensor) -> torch.Tensor:
    """Hoyer sparsity of each row, (sqrt(d) - |z|_1 / |z|_2) / (sqrt(d) - 1): 1 for a one-hot
    row, 0 for a constant one. An all-zero row counts as fully sparse (1)."""
    d = z.shape[-1]
    l1, l2 = z.abs().sum(-1), z.norm(dim=-1)
    ratio = torch.where(l2 > 0, l1 / l2.clamp_min(torch.finfo(z.dtype).tiny), torch.ones_like(l1))
    return (math.sqrt(d) - ratio) / (math.sqrt(d) - 1)


def average_hoyer(z: torch.Tensor, normalise: bool = True) -> float:
    """Average Hoyer (Eq. 3) over the rows of z (N, d). With `normalise`, each dimension is
    first divided by its standard deviation over the N rows (dimensions with zero spread are
    left as they are)."""
    z = z.double()
    if normalise:
        std = z.std(0, unbiased=False)
        z = z / torch.where(std > 0, std, torch.ones_like(std))
    return float(hoyer(z).mean())


def accuracy(labels, predictions) -> float:
    """The share of predictions equal to their label."""
    return float(np.mean(np.asarray(labels) == np.asarray(predictions)))


def class_word_distributions(sentences, labels, classes: int, vocab_size: int) -> np.ndarray:
    """Add-1 smoothed unigram distribution of each class, (classes, vocab_size)."""
    counts = np.ones((classes, vocab_size))
    for ids, label in zip(sentences, labels):
        np.add.at(counts[label], ids, 1)
    return counts / counts.sum(1, keepdims=True)


def pairwise_kl(distributions: np.ndarray) -> np.ndarray:
    """KL(P_i || P_j) for every pair of rows (nats)."""
    logp = np.log(distributions)
    return (distributions * logp).sum(1, keepdims=True) - distributions @ logp.T


def mean_off_diagonal(matrix: np.ndarray) -> float | None:
    """Mean of the off-diagonal entries; None (undefined) with fewer than 2 rows or a NaN entry
    (e.g. a class with no sentence in the split)."""
    n = matrix.shape[0]
    if n < 2:
        return None
    value = (matrix.sum() - np.trace(matrix)) / (n * (n - 1))
    return float(value) if np.isfinite(value) else None
