"""The `data` section of params.yaml: which corpus, how it is sampled, split and cut."""
from typing import Literal

from pydantic import Field

from hsvae.core.config import Real, Section, interval
from hsvae.data.corpora import CORPORA


class PerClass(Section):
    """Sentences sampled per class and split (paper 10,000/1,000/1,000)."""
    train: int = Field(1000, ge=1, description="training sentences per class")
    valid: int = Field(100, ge=1, description="validation sentences per class")
    test: int = Field(100, ge=1, description="test sentences per class")


class SyntheticSettings(Section):
    """The generated corpus of `data.corpus: synthetic` (docs/configuration.md)."""
    classes: int = Field(10, ge=2, description="classes")
    signal: Real = Field(0.7, ge=0, le=1, description="probability a content word comes from its class's topic "
                         "words: sets the classes' pairwise KL (§4.4.1)")
    background_vocab: int = Field(1500, ge=1, description="pseudo-words shared by every class (Zipf)")
    topic_words: int = Field(40, ge=1, description="topic words of each class")
    mean_phrases: interval(0, 100) = Field((1.5, 4.0), description="range of the classes' mean phrases per "
                                           "sentence (their sentence lengths)")


class DataSettings(Section):
    corpus: Literal[tuple(CORPORA)] = Field("synthetic", description="the corpus (docs/configuration.md#corpora)")
    seed: int = Field(0, ge=0, description="data seed: the corpus sample and its splits")
    local_dir: str = Field("data/local", description="folder of a `local` corpus (data/local/README.md); a DVC "
                           "dependency")
    source_dir: str = Field("", description="hsvae-* corpora: a folder holding the authors' files (verified by "
                            "git blob id) instead of downloading them; '' downloads")
    per_class: PerClass = PerClass()
    min_length: int = Field(1, ge=0, description="fewest tokens of a sentence (Table 2: DBpedia 1-60, Yahoo "
                            "5-30, Yelp 20-200)")
    max_length: int = Field(60, ge=1, description="most tokens of a sentence")
    vocab_size: int = Field(5000, ge=1, description="most frequent training words kept (paper 20000), plus <pad> "
                            "<eos> <unk>")
    oversample: Real = Field(1.5, ge=1, description="sampled candidates per needed sentence, before the length "
                             "limits")
    workers: int = Field(2, ge=1, description="processes tokenising raw text")
    synthetic: SyntheticSettings = SyntheticSettings()
