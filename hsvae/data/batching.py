"""Sentences as padded id tensors, and length-bucketed batch orders so padding stays small."""
from dataclasses import dataclass, field

import numpy as np
import torch

from hsvae.data.vocabulary import EOS, PAD


def to_device(tensor: torch.Tensor, device) -> torch.Tensor:
    """A host tensor on `device`. To a GPU through pinned memory without blocking: a plain
    copy from pageable memory waits until the GPU has finished all the work queued before it."""
    if torch.device(device).type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


@dataclass
class Batch:
    """A padded batch and the decoder's targets, all built on the host: the training step
    needs no data-dependent indexing (each boolean mask would be a host round-trip)."""
    tokens: torch.Tensor  # (B, T) word ids, PAD after each sentence's end
    lengths: torch.Tensor  # (B,) number of real tokens, at least 1
    labels: torch.Tensor  # (B,) class ids
    texts: list = field(default_factory=list)  # the sentences as strings (for BERT encoders)
    # The decoder scores positions of the flattened (B, T + 1) teacher-forced sequence:
    positions: torch.Tensor = None  # (N,) flat indices of the scored positions
    targets: torch.Tensor = None  # (N,) the word expected there (<eos> after the last word)
    weights: torch.Tensor = None  # (N,) 1 for a real position, 0 for padding scored for a fixed shape

    def to(self, device):
        return Batch(*(to_device(t, device) for t in (self.tokens, self.lengths, self.labels)), self.texts,
                     *(to_device(t, device) for t in (self.positions, self.targets, self.weights)))

    def __len__(self):
        return self.tokens.shape[0]


def collate(sentences, labels, texts=None, length_multiple: int = 0) -> Batch:
    """Pad a list of id arrays. An empty sentence becomes a single PAD token so that every
    sentence has a defined encoding. With `length_multiple` k > 0 the padded length is rounded
    up to a multiple of k and every position is scored (padding with weight 0): the tensors'
    shapes then depend only on the row count and the rounded length (one CUDA graph each)."""
    lengths = np.array([max(len(s), 1) for s in sentences])
    width = int(lengths.max())
    if length_multiple:
        width = -(-width // length_multiple) * length_multiple
    tokens = np.full((len(sentences), width), PAD, dtype=np.int64)
    for row, sentence in enumerate(sentences):
        tokens[row, : len(sentence)] = sentence
    # Targets w_1 .. w_n <eos> for inputs <eos> w_1 .. w_n: position t of row r is r * (T + 1) + t.
    targets = np.concatenate([tokens, np.full((len(sentences), 1), PAD, dtype=np.int64)], 1)
    targets[np.arange(len(sentences)), lengths] = EOS
    real = np.arange(width + 1)[None, :] <= lengths[:, None]
    if length_multiple:
        positions, weights = np.arange(real.size), real.ravel().astype(np.float32)
    else:
        positions = np.flatnonzero(real)
        weights = np.ones(len(positions), dtype=np.float32)
    return Batch(
        torch.from_numpy(tokens),
        torch.from_numpy(lengths.astype(np.int64)),
        torch.as_tensor(np.asarray(labels), dtype=torch.long),
        list(texts) if texts is not None else [],
        torch.from_numpy(positions.astype(np.int64)),
        torch.from_numpy(targets.ravel()[positions]),
        torch.from_numpy(weights),
    )


def bucketed_batches(lengths, batch_size: int, rng: np.random.Generator | None = None, pool: int = 50):
    """Index lists of batches of sentences of similar length.

    With `rng` the order is random: sentences are shuffled, sorted by length inside pools of
    `pool` batches, cut into batches, and the batches shuffled. Without it, sentences are
    sorted by length (deterministic evaluation order)."""
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    batches = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def random_batches(n: int, batch_size: int, rng: np.random.Generator):
    """Batches of `batch_size` in a random order, the last one smaller (MAT-VAE's order, each
    batch padded to its longest sentence; the classifier head's on fixed codes)."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]
