"""The embedded default corpus: labelled pseudo-English generated from a seed.

Each class has its own topic words; every content slot of a sentence takes a word from its
class's topic distribution with probability `signal`, otherwise from a Zipf-distributed
background vocabulary shared by all classes. `signal` therefore sets how different the
classes' word distributions are (their pairwise KL, paper §4.4.1). Sentences are built from
phrase templates with function words and punctuation, so a GRU decoder has structure to
learn, and each class has its own typical length.
"""
import numpy as np

_ONSETS = "b c d f g h j k l m n p r s t v w z br cr dr fl gr kl pl pr sk st tr".split()
_VOWELS = "a e i o u ai ea ou".split()
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "k", "nd", "st"]

# Phrase templates; "{}" marks a content slot.
_PHRASES = [
    "the {} {}", "a {}", "of the {}", "in {} {}", "{} and {}", "is {}", "was a {} {} ,",
    "with the {}", "for {}", "by {} {}", "on a {}", "{}",
]


def pseudo_words(n: int, rng: np.random.Generator, exclude=frozenset()) -> list:
    """n distinct pronounceable words of two or three syllables."""
    words, seen = [], set(exclude)
    while len(words) < n:
        syllables = rng.integers(2, 4)
        word = "".join(
            _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))] for _ in range(syllables)
        ) + _CODAS[rng.integers(len(_CODAS))]
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf(n: int, exponent: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


class SyntheticCorpus:
    """Vocabularies and length profiles fixed by `seed`; `sentences` draws labelled text."""

    def __init__(self, classes=10, signal=0.5, background_vocab=2000, topic_words=60,
                 mean_phrases=(2.0, 6.0), seed=0):
        if not 0.0 <= signal <= 1.0:
            raise ValueError(f"data.synthetic.signal: expected a number in [0, 1], got {signal}")
        rng = np.random.default_rng(seed)
        self.classes, self.signal = classes, signal
        self.background = pseudo_words(background_vocab, rng)
        self.topics = []
        for _ in range(classes):
            self.topics.append(pseudo_words(topic_words, rng, exclude=set(self.background).union(*self.topics)))
        self.background_p, self.topic_p = zipf(background_vocab), zipf(topic_words)
        # Each class has its own typical number of phrases, hence its own sentence length.
        low, high = mean_phrases
        self.mean_phrases = np.linspace(low, high, classes)[rng.permutation(classes)]
        self.class_names = [f"topic_{self.topics[c][0]}" for c in range(classes)]

    def sentence(self, label: int, rng: np.random.Generator) -> str:
        phrases = [_PHRASES[i] for i in rng.integers(len(_PHRASES), size=1 + rng.poisson(self.mean_phrases[label]))]
        slots = sum(p.count("{}") for p in phrases)
        from_topic = rng.random(slots) < self.signal
        topic = rng.choice(len(self.topics[label]), size=slots, p=self.topic_p)
        background = rng.choice(len(self.background), size=slots, p=self.background_p)
        words = iter(
            self.topics[label][t] if use_topic else self.background[b]
            for use_topic, t, b in zip(from_topic, topic, background)
        )
        text = " ".join(p.format(*(next(words) for _ in range(p.count("{}")))) for p in phrases)
        text = text.rstrip(" ,") + " ."
        return text[0].upper() + text[1:]

    def sentences(self, per_class: int, rng: np.random.Generator):
        """(label, text) pairs, `per_class` of each class, classes interleaved."""
        for _ in range(per_class):
            for label in range(self.classes):
                yield label, self.sentence(label, rng)
