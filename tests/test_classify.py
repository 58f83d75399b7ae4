import copy

import numpy as np
import torch

from hsvae.models.classifier import ClassifierHead
from hsvae.training.settings import ClassifySettings
from hsvae.training.classify import marginal_log_probs, train_head
from tests.test_models import build


def test_marginal_is_the_mean_of_the_k_sample_probabilities():
    torch.manual_seed(0)
    head = ClassifierHead(4, 3, hidden=32)
    z = torch.randn(5, 7, 4)
    expected = torch.stack([torch.softmax(head(z[k]), -1) for k in range(5)]).mean(0)
    assert torch.allclose(marginal_log_probs(head, z).exp(), expected, atol=1e-6)
    # the layers are the paper's: two dense layers of 32 with LeakyReLU, then the logits
    assert [type(m).__name__ for m in head] == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]
    assert head[0].out_features == head[2].out_features == 32


def test_frozen_encoder_is_bit_identical_and_head_learns_separable_codes():
    model = build("hsvae")
    model.requires_grad_(False)
    rng = np.random.default_rng(0)
    labels = {s: rng.integers(0, 2, size=n) for s, n in (("train", 200), ("valid", 50), ("test", 50))}
    # encoder features whose first coordinate carries the class
    features = {s: torch.randn(len(y), 24) + 4.0 * torch.nn.functional.one_hot(torch.as_tensor(y), 24)
                for s, y in labels.items()}
    with torch.no_grad():
        model.loc_head.weight.zero_()
        model.loc_head.weight[:, 1] = 3.0  # the class coordinate drives every slab mean
        model.a_head.bias.fill_(-5.0)  # gamma ~ Beta(0.5, 5): slabs mostly switched on
        model.b_head.bias.fill_(5.0)
    before = copy.deepcopy(model.state_dict())
    calls = []

    def sample(rows):
        z = model.sample_from_features(rows, 5)
        calls.append(z.shape)
        return z

    cfg = ClassifySettings(hidden=32, lr=1e-2, epochs=15, batch_size=32)
    _, history, predictions = train_head("hsvae", features, labels, sample, 2, cfg, 0, torch.device("cpu"),
                                         progress=False)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(shape[0] == 5 for shape in calls)
    assert (predictions["test"] == labels["test"]).mean() > 0.7
    assert history[-1]["train/nll"] < history[0]["train/nll"]


def test_bert_encoder_stays_frozen_in_the_classify_path(tiny_bert):
    from hsvae.analysis.evaluation import encoder_features
    from hsvae.data.batching import collate
    from tests.conftest import ARCH, make_batch

    model = build("b_hsvae", ARCH.model_copy(update={"bert": tiny_bert}))
    model.requires_grad_(False)
    before = copy.deepcopy(model.state_dict())
    data = make_batch(n=40, seed=3)

    class Texts:  # a split-like view of one batch
        lengths = data.lengths.numpy()
        labels = data.labels.numpy()

        def __len__(self):
            return len(data)

        def batch(self, indices):
            return collate([data.tokens[i, : data.lengths[i]].numpy() for i in indices], data.labels[indices],
                           [data.texts[i] for i in indices])

    features = encoder_features(model.encoder, Texts(), 16, torch.device("cpu"))
    assert features.shape == (40, 16)
    split = {"train": features, "valid": features[:10], "test": features[10:20]}
    labels = {"train": Texts.labels, "valid": Texts.labels[:10], "test": Texts.labels[10:20]}
    cfg = ClassifySettings(hidden=32, lr=1e-2, epochs=2, batch_size=8)
    train_head("b_hsvae", split, labels, lambda rows: model.sample_from_features(rows, 5), 3, cfg, 0,
               torch.device("cpu"), progress=False)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
