import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from hsvae.analysis.metrics import (
    accuracy,
    average_hoyer,
    class_word_distributions,
    hoyer,
    mean_off_diagonal,
    pairwise_kl,
)


def test_hoyer_known_values():
    assert float(hoyer(torch.tensor([0.0, 0.0, 3.0, 0.0]))) == pytest.approx(1.0)
    assert float(hoyer(torch.full((16,), 2.5))) == pytest.approx(0.0, abs=1e-7)
    # two equal non-zeros of d = 4: l1/l2 = sqrt(2)
    assert float(hoyer(torch.tensor([1.0, -1.0, 0.0, 0.0]))) == pytest.approx((2 - math.sqrt(2)) / (2 - 1))
    assert float(hoyer(torch.zeros(5))) == 1.0


def test_average_hoyer_divides_each_dimension_by_its_std():
    torch.manual_seed(0)
    z = torch.randn(1000, 8) * torch.tensor([100.0, 1, 1, 1, 1, 1, 1, 1])
    # without normalisation the wide dimension dominates each row: it looks sparse
    assert average_hoyer(z, normalise=False) > 0.6
    expected = float(hoyer((z / z.std(0, unbiased=False)).double()).mean())
    assert average_hoyer(z) == pytest.approx(expected)
    assert average_hoyer(z) < 0.35
    # scaling a dimension does not change the normalised metric
    assert average_hoyer(z * torch.arange(1.0, 9.0)) == pytest.approx(average_hoyer(z))


def test_pairwise_kl_matches_scipy():
    sentences = [np.array([0, 1, 1]), np.array([2, 2]), np.array([0, 3])]
    p = class_word_distributions(sentences, [0, 1, 1], classes=2, vocab_size=4)
    assert np.allclose(p[0], np.array([2, 3, 1, 1]) / 7)
    kl = pairwise_kl(p)
    assert kl[0, 1] == pytest.approx(entropy(p[0], p[1]))
    assert kl[1, 0] == pytest.approx(entropy(p[1], p[0]))
    assert np.allclose(np.diag(kl), 0)
    assert mean_off_diagonal(kl) == pytest.approx((kl[0, 1] + kl[1, 0]) / 2)


def test_accuracy_is_sklearns_to_the_last_digit():
    from sklearn.metrics import accuracy_score

    rng = np.random.default_rng(0)
    for n in (1, 7, 300, 1401):
        labels, predictions = rng.integers(0, 14, n), rng.integers(0, 14, n)
        predictions[: n // 2] = labels[: n // 2]
        assert accuracy(labels, predictions) == accuracy_score(labels, predictions)
    assert accuracy([0, 1, 2, 2], np.array([0, 1, 1, 2])) == 0.75
