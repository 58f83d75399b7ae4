import torch

from hsvae.models.mmd import imq_kernel, mmd


def test_kernel_matches_its_definition():
    x, y = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 3.0]])
    expected = sum(2 * s / (2 * s + 1.0) + 2 * s / (2 * s + 4.0) for s in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0))
    assert torch.allclose(imq_kernel(x, y), torch.tensor([[expected]]))


def test_mmd_near_zero_for_one_distribution_and_positive_for_two():
    torch.manual_seed(0)
    same = mmd(torch.randn(500, 8), torch.randn(500, 8))
    different = mmd(torch.randn(500, 8), 0.5 + 2 * torch.randn(500, 8))
    assert abs(float(same)) < 0.05
    assert float(different) > 1.0
    assert float(different) > 20 * abs(float(same))
