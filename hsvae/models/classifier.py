"""The classification heads of §4.2: the frozen-encoder head and the supervised baseline."""
from torch import nn

from hsvae.data.vocabulary import PAD
from hsvae.models.nets import build_encoder


class SimpleClassifier(nn.Module):
    """The paper's "simple classifier": the GRU encoder trained end to end with the head."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, n_classes, head_dim=32, encoder="gru", bert=""):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.encoder = build_encoder(encoder, self.embedding, hidden_dim, bert)
        self.head = ClassifierHead(self.encoder.output_dim, n_classes, head_dim)

    def forward(self, batch):
        return self.head(self.encoder(batch))


class ClassifierHead(nn.Sequential):
    """Two dense layers of `hidden` units with LeakyReLU, then the class logits (§4.2)."""

    def __init__(self, in_dim, n_classes, hidden=32):
        super().__init__(
            nn.Linear(in_dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(),
            nn.Linear(hidden, n_classes),
        )
