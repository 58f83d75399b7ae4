"""The preprocess stage's splits, loaded for training: id arrays, lengths, labels, text."""
from pathlib import Path

import numpy as np

from hsvae.data.batching import collate
from hsvae.core.digest import digest
from hsvae.core.errors import InputError, reading


class Split:
    def __init__(self, folder, name: str):
        folder = Path(folder)
        path = folder / f"{name}.npz"
        with reading(path, "preprocess"):
            arrays = np.load(path)
            tokens, offsets, self.labels = arrays["tokens"], arrays["offsets"], arrays["labels"]
            if offsets.ndim != 1 or len(offsets) != len(self.labels) + 1 or offsets[-1] != len(tokens):
                raise ValueError(f"{len(offsets)} offsets for {len(self.labels)} labels and {len(tokens)} tokens")
        self.digest = digest(path)  # identifies the data a run trained on
        self.sentences = [tokens[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
        self.lengths = np.diff(offsets)
        self.classes = len(class_names(folder))
        if len(self.labels) and not 0 <= self.labels.min() <= self.labels.max() < self.classes:
            raise InputError(f"{folder / 'classes.txt'}: {self.classes} classes, but {path.name} has labels "
                             f"{self.labels.min()}..{self.labels.max()}: damaged or not what preprocess writes; "
                             "re-run preprocess (dvc repro)")
        self._text_path = folder / f"{name}.txt"
        self._texts = None

    @property
    def texts(self):
        if self._texts is None:
            with reading(self._text_path, "preprocess"):
                self._texts = self._text_path.read_text(encoding="utf-8").splitlines()
            if len(self._texts) != len(self.sentences):
                raise InputError(f"{self._text_path}: {len(self._texts)} lines for {len(self.sentences)} sentences; "
                                 "re-run preprocess (dvc repro)")
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
    """The three splits, checked against the vocabulary they index."""
    splits = {name: Split(folder, name) for name in SPLITS}
    size = vocabulary_size(folder)
    for name, split in splits.items():
        largest = max((int(s.max()) for s in split.sentences if len(s)), default=-1)
        if largest >= size:
            raise InputError(f"{Path(folder, 'vocab.txt')}: {size} words, but {name}.npz uses word id {largest}: "
                             "damaged or not what preprocess writes; re-run preprocess (dvc repro)")
    return splits


def vocabulary_size(folder) -> int:
    path = Path(folder, "vocab.txt")
    with reading(path, "preprocess"):
        return len(path.read_text(encoding="utf-8").splitlines())


def class_names(folder) -> list:
    path = Path(folder, "classes.txt")
    with reading(path, "preprocess"):
        names = path.read_text(encoding="utf-8").split()
    if not names:
        raise InputError(f"{path}: no class names; re-run preprocess (dvc repro)")
    return names
