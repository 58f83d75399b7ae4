"""Sentences as padded id tensors, and length-bucketed batch orders so padding stays small."""
from dataclasses import dataclass, field

import numpy as np
import torch

PAD, EOS, UNK = 0, 1, 2
SPECIALS = ("<pad>", "<eos>", "<unk>")


@dataclass
class Batch:
    tokens: torch.Tensor  # (B, T) word ids, PAD after each sentence's end
    lengths: torch.Tensor  # (B,) number of real tokens, at least 1
    labels: torch.Tensor  # (B,) class ids
    texts: list = field(default_factory=list)  # the sentences as strings (for BERT encoders)

    def to(self, device):
        return Batch(self.tokens.to(device), self.lengths.to(device), self.labels.to(device), self.texts)

    def __len__(self):
        return self.tokens.shape[0]


def collate(sentences, labels, texts=None) -> Batch:
    """Pad a list of id arrays. An empty sentence becomes a single PAD token so that every
    sentence has a defined encoding."""
    lengths = [max(len(s), 1) for s in sentences]
    tokens = np.full((len(sentences), max(lengths)), PAD, dtype=np.int64)
    for row, sentence in enumerate(sentences):
        tokens[row, : len(sentence)] = sentence
    return Batch(
        torch.from_numpy(tokens),
        torch.tensor(lengths, dtype=torch.long),
        torch.as_tensor(np.asarray(labels), dtype=torch.long),
        list(texts) if texts is not None else [],
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
    """The naive baseline: random batches, each padded to its longest sentence."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]
