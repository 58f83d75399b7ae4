"""Sparse sentence codes for users: encode any text with a trained model and find sentences
that switch on the same dimensions (paper §1, footnote 2).

    from hsvae.encode import load_encoder
    encoder = load_encoder("models/hsvae.pt")     # the model file is all it needs
    codes = encoder.encode(["the river flows through the town ."])
    codes["active"][0]   # indices of the dimensions whose slab is on
"""
import numpy as np
import torch

from hsvae.analysis.evaluation import codes
from hsvae.data.batching import collate
from hsvae.data.preprocess import Tokenizer, tokenize
from hsvae.data.vocabulary import SPECIALS, Vocabulary
from hsvae.models.hsvae import HSVAE
from hsvae.core.errors import CorruptFile
from hsvae.models.store import load_vae

GAMMA_THRESHOLD = 0.5  # HSVAE: a dimension is active when its mean spike probability is below this


class TokenLists:
    """Tokenised sentences as a split-like view (`lengths`, `batch`) for `map_split`."""

    def __init__(self, token_lists, vocab: Vocabulary):
        self.token_lists, self.vocab = token_lists, vocab
        self.lengths = [len(t) for t in token_lists]

    def __len__(self):
        return len(self.token_lists)

    def batch(self, indices):
        return collate([self.vocab.encode(self.token_lists[i]) for i in indices], np.zeros(len(indices)),
                       [" ".join(self.token_lists[i]) for i in indices])


class SentenceEncoder:
    """A trained VAE with the vocabulary and tokenizer of the data it was trained on."""

    def __init__(self, model, vocab: Vocabulary, scale, device="cpu", active_threshold=0.5, batch_size=256):
        self.model, self.vocab, self.scale = model, vocab, np.asarray(scale, dtype=np.float32)
        self.device, self.active_threshold, self.batch_size = torch.device(device), active_threshold, batch_size
        self.tokenizer = Tokenizer()

    @property
    def sparse(self):
        return isinstance(self.model, HSVAE)

    def encode_tokens(self, token_lists):
        """Posterior means and (HSVAE) mean gamma of tokenised sentences, one encoder pass each."""
        found = codes(self.model, TokenLists(token_lists, self.vocab), self.batch_size, self.device)
        return found["mean"], found.get("gamma")


    def encode(self, sentences) -> dict:
        """Codes of raw sentences, cleaned and tokenised as the training data was: `mean`
        (posterior mean of z), `gamma` (mean of q(gamma|x), HSVAE only), `active` (indices of
        active dimensions per sentence) and `n_active`."""
        token_lists = tokenize(list(sentences), self.tokenizer)
        means, gammas = self.encode_tokens(token_lists)
        if self.sparse:
            mask = gammas < GAMMA_THRESHOLD
        else:
            mask = np.abs(means) / self.scale > self.active_threshold
        known = [sum(w in self.vocab.index for w in tokens) for tokens in token_lists]
        unk_rate = np.array([1 - k / len(t) if t else 0.0 for k, t in zip(known, token_lists)], dtype=np.float32)
        return {"mean": means, "gamma": gammas, "active": [np.flatnonzero(row) for row in mask],
                "n_active": mask.sum(1), "unk_rate": unk_rate, "tokens": [len(t) for t in token_lists]}


def load_encoder(path="models/hsvae.pt", device="cpu", **kwargs) -> SentenceEncoder:
    """A model file written by the pretrain stage, self-contained: its vocabulary and the
    dimension scale travel inside it."""
    model, config = load_vae(path, device, advice="expected a model file written by the pretrain stage "
                                                  "(models/NAME.pt)")
    if not config.get("vocab") or "dimension_scale" not in config:
        raise CorruptFile(f"{path}: a model file of an older format (no vocabulary inside); re-run its pretrain "
                          "stage (dvc repro pretrain@NAME) to encode text with it")
    vocab = Vocabulary(config["vocab"][len(SPECIALS):])
    if len(vocab) != model.embedding.num_embeddings:
        raise CorruptFile(f"{path}: {len(vocab)} vocabulary words for {model.embedding.num_embeddings} embeddings")
    return SentenceEncoder(model, vocab, config["dimension_scale"], device, **kwargs)


def jaccard(a: set, b: set) -> float:
    """Overlap of two sets of active dimensions; two empty sets are identical (1)."""
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def chunks(items, size):
    """Lists of up to `size` consecutive items of any iterable (streams stay streamed)."""
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def neighbours(encoder: SentenceEncoder, query: str, sentences, k=5, by="jaccard", chunk=10_000):
    """The k sentences most similar to `query`, streamed in chunks: by overlap of active
    dimensions (Jaccard; ties broken by cosine) or by cosine of the posterior means.
    Returns [(score, index, sentence)], best first."""
    q = encoder.encode([query])
    q_active, q_mean = set(q["active"][0].tolist()), q["mean"][0]
    best, offset = [], 0
    for texts in chunks(sentences, chunk):
        codes = encoder.encode(texts)
        norms = np.maximum(np.linalg.norm(codes["mean"], axis=1) * np.linalg.norm(q_mean), 1e-12)
        cosine = codes["mean"] @ q_mean / norms
        overlap = [jaccard(q_active, set(a.tolist())) for a in codes["active"]] if by == "jaccard" else cosine
        ranked = [((o, c), offset + i, t) for i, (o, c, t) in enumerate(zip(overlap, cosine, texts))]
        best = sorted(best + ranked, key=lambda item: (-item[0][0], -item[0][1], item[1]))[:k]
        offset += len(texts)
    return [(float(score[0]), index, sentence) for score, index, sentence in best]
