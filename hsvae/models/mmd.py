"""Maximum mean discrepancy with the multi-scale inverse multiquadric kernel (MAT-VAE's D term).

k(x, y) = sum_s sum_i C_s / (C_s + (x_i - y_i)^2), C_s = 2 s, s in SCALES: the kernel is applied
per latent dimension and summed, as in the authors' code (Mathieu et al. 2019).
"""
import torch

SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def imq_kernel(x: torch.Tensor, y: torch.Tensor, scales=SCALES) -> torch.Tensor:
    """Kernel matrix between the rows of x (n, d) and y (m, d)."""
    squared = (x.unsqueeze(1) - y.unsqueeze(0)) ** 2  # (n, m, d)
    return sum((2 * s / (2 * s + squared)).sum(-1) for s in scales)


def mmd(x: torch.Tensor, y: torch.Tensor, scales=SCALES) -> torch.Tensor:
    """Unbiased MMD^2 estimate between samples x (n, d) and y (m, d); within-sample terms
    leave out the diagonal."""
    n, m = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = imq_kernel(x, x, scales), imq_kernel(y, y, scales), imq_kernel(x, y, scales)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within_x + within_y - 2 * k_xy.mean()
