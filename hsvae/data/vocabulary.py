"""The vocabulary: word <-> id, with the special ids every layer shares. Free of torch, so
the data stages start without it."""
from collections import Counter
from itertools import repeat
from pathlib import Path

import numpy as np

from hsvae.core.errors import reading

PAD, EOS, UNK = 0, 1, 2
SPECIALS = ("<pad>", "<eos>", "<unk>")
# Unknown-word markers of the authors' preprocessed corpora.
UNK_MARKERS = {"_UNK", "_unk"}


class Vocabulary:
    """Word <-> id; ids 0, 1, 2 are <pad>, <eos>, <unk>."""

    def __init__(self, words):
        self.words = list(SPECIALS) + [w for w in words if w not in SPECIALS and w not in UNK_MARKERS]
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_counts(cls, counts: Counter, size: int):
        # Most frequent first; ties broken alphabetically so the result is deterministic.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return cls([w for w, _ in ranked if w not in UNK_MARKERS and w not in SPECIALS][:size])

    @classmethod
    def load(cls, path):
        with reading(path, "preprocess"):
            return cls(Path(path).read_text(encoding="utf-8").splitlines()[len(SPECIALS):])

    def save(self, path):
        Path(path).write_text("\n".join(self.words) + "\n", encoding="utf-8")

    def __len__(self):
        return len(self.words)

    def encode(self, tokens) -> np.ndarray:
        return np.fromiter(map(self.index.get, tokens, repeat(UNK)), dtype=np.int32, count=len(tokens))
