"""The networks every model shares (paper §4.1.2): sentence encoders and the GRU decoder."""
import torch
import torch.nn.functional as F
from torch import nn

from hsvae.data.vocabulary import EOS, PAD
from hsvae.models.chunked_ce import linear_cross_entropy


class GRUEncoder(nn.Module):
    """GRU over the embedded sentence followed by <eos>, as the authors' encoder reads it; its
    state at that <eos> is the feature. Without the <eos> step the feature is dominated by the
    last word and the VAEs use z a third as much (KL_z 8 against 25 nats after one epoch on
    DBpedia, docs/crosscheck.md). The GRU is causal, so that state does not depend on the
    padding after it. The padded tensor runs as is rather than packed: PyTorch's packed GRU
    trained 2.4x slower on CPU (batch 256 x 36 tokens, GRU 512)."""

    def __init__(self, embedding: nn.Embedding, hidden_dim: int):
        super().__init__()
        self.embedding = embedding
        self.gru = nn.GRU(embedding.embedding_dim, hidden_dim, batch_first=True)
        self.output_dim = hidden_dim

    def forward(self, batch):
        ends = batch.lengths.unsqueeze(1)
        tokens = F.pad(batch.tokens, (0, 1), value=PAD).scatter(1, ends, EOS)
        states, _ = self.gru(self.embedding(tokens))
        return states.gather(1, ends.unsqueeze(2).expand(-1, 1, states.shape[2])).squeeze(1)


class BertEncoder(nn.Module):
    """A pretrained BERT (name or local path), mean-pooled over the last layer's token states.
    The sentences are re-tokenised with BERT's own tokenizer from their text."""

    def __init__(self, name_or_path: str, max_length: int = 128):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        self.bert = AutoModel.from_pretrained(name_or_path, add_pooling_layer=False)
        self.max_length = max_length
        self.output_dim = self.bert.config.hidden_size

    def forward(self, batch):
        if len(batch.texts) != len(batch):
            raise ValueError("a BERT encoder needs the sentences' text in the batch (Batch.texts)")
        device = next(self.bert.parameters()).device
        inputs = self.tokenizer(
            batch.texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        states = self.bert(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1)


def build_encoder(kind: str, embedding: nn.Embedding, hidden_dim: int, bert: str):
    if kind == "gru":
        return GRUEncoder(embedding, hidden_dim)
    if kind == "bert":
        return BertEncoder(bert)
    raise ValueError(f"encoder kind: expected 'gru' or 'bert', got {kind!r}")


class GRUDecoder(nn.Module):
    """GRU language model conditioned on z, which is concatenated to the input word embedding
    at every step. Teacher forcing: inputs are <eos> w_1 .. w_n, targets w_1 .. w_n <eos>."""

    def __init__(self, embedding: nn.Embedding, hidden_dim: int, latent_dim: int, ce_chunk: int = 0):
        super().__init__()
        self.embedding = embedding
        self.gru = nn.GRU(embedding.embedding_dim + latent_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, embedding.num_embeddings)
        # Tokens per chunk of the fused projection + cross-entropy (0: one ordinary pass).
        self.ce_chunk = ce_chunk

    def reconstruction_loss(self, z: torch.Tensor, batch) -> torch.Tensor:
        """Token cross-entropy summed over each sentence, averaged over the batch's sentences
        (a scalar). Only the positions the batch lists are projected onto the vocabulary (the
        step's largest cost), gathered by index: no data-dependent shapes."""
        tokens = batch.tokens
        n, length = tokens.shape
        inputs = torch.cat([torch.full((n, 1), EOS, dtype=tokens.dtype, device=tokens.device), tokens], 1)
        embedded = self.embedding(inputs)
        steps = torch.cat([embedded, z.to(embedded.dtype).unsqueeze(1).expand(-1, length + 1, -1)], -1)
        states, _ = self.gru(steps)
        scored = states.reshape(n * (length + 1), -1).index_select(0, batch.positions)
        if self.ce_chunk:
            total = linear_cross_entropy(scored, self.output.weight, self.output.bias, batch.targets, batch.weights,
                                         self.ce_chunk)
        else:
            token_loss = F.cross_entropy(self.output(scored).float(), batch.targets, reduction="none")
            total = (token_loss * batch.weights).sum()
        return total / n
