"""The preprocess stage's splits, loaded for training: id arrays, lengths, labels, text."""
import hashlib
import zipfile
from pathlib import Path

import numpy as np

from hsvae.data.batching import collate
from hsvae.errors import InputError


class Split:
    def __init__(self, folder, name: str):
        folder = Path(folder)
        path = folder / f"{name}.npz"
        try:
            arrays = np.load(path)
            tokens, offsets, self.labels = arrays["tokens"], arrays["offsets"], arrays["labels"]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise InputError(f"{path}: not a readable split ({error}); re-run the preprocess stage") from None
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()  # identifies the data a run trained on
        self.sentences = [tokens[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
        self.lengths = np.diff(offsets)
        self.classes = len((folder / "classes.txt").read_text().split())
        self._text_path = folder / f"{name}.txt"
        self._texts = None

    @property
    def texts(self):
        if self._texts is None:
            self._texts = self._text_path.read_text(encoding="utf-8").splitlines()
        return self._texts

    def __len__(self):
        return len(self.sentences)

    def batch(self, indices, length_multiple=0):
        """The sentences at `indices` as a Batch: ids, lengths, labels and text (what a BERT
        encoder reads; the split's text file is read on first use)."""
        texts = self.texts
        return collate([self.sentences[i] for i in indices], self.labels[indices], [texts[i] for i in indices],
                       length_multiple)


SPLITS = ("train", "valid", "test")


def load_splits(folder) -> dict:
    return {name: Split(folder, name) for name in SPLITS}


def vocabulary_size(folder) -> int:
    return len(Path(folder, "vocab.txt").read_text(encoding="utf-8").splitlines())


def class_names(folder) -> list:
    return Path(folder, "classes.txt").read_text(encoding="utf-8").split()
