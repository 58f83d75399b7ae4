"""Vocabulary projection fused with cross-entropy, computed in chunks of tokens.

The logits of a batch (tokens x 20k vocabulary) are the largest tensor of a training step:
at the paper's batch 256 they take about 0.7 GB in fp32, plus as much for their gradient.
Here each chunk's logits live only inside the chunk loop; the backward pass recomputes them
(one extra matmul) instead of storing them. Softmax and the loss are computed in fp32; the
matmuls run in the autocast dtype when autocast is on.
"""
import torch


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk, dtype):
        acc = torch.promote_types(dtype, torch.float32)  # softmax precision: at least fp32
        losses = torch.empty(hidden.shape[0], dtype=acc, device=hidden.device)
        w, b = weight.to(dtype), bias.to(dtype)
        for start in range(0, hidden.shape[0], chunk):
            rows = slice(start, start + chunk)
            logits = torch.addmm(b, hidden[rows].to(dtype), w.t()).to(acc)
            picked = logits.gather(1, targets[rows, None]).squeeze(1)
            losses[rows] = torch.logsumexp(logits, 1) - picked
        ctx.save_for_backward(hidden, weight, bias, targets)
        ctx.chunk, ctx.dtype = chunk, dtype
        return losses

    @staticmethod
    def backward(ctx, grad_losses):
        hidden, weight, bias, targets = ctx.saved_tensors
        dtype = ctx.dtype
        acc = torch.promote_types(dtype, torch.float32)
        w, b = weight.to(dtype), bias.to(dtype)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=acc, device=weight.device)
        grad_bias = torch.zeros(bias.shape, dtype=acc, device=bias.device)
        for start in range(0, hidden.shape[0], ctx.chunk):
            rows = slice(start, start + ctx.chunk)
            h = hidden[rows].to(dtype)
            probs = torch.softmax(torch.addmm(b, h, w.t()).to(acc), 1)
            probs[torch.arange(probs.shape[0], device=probs.device), targets[rows]] -= 1
            grad_logits = (probs * grad_losses[rows, None]).to(dtype)
            grad_hidden[rows] = (grad_logits @ w).to(hidden.dtype)
            grad_weight += (grad_logits.t() @ h).to(acc)
            grad_bias += grad_logits.to(acc).sum(0)
        return grad_hidden, grad_weight.to(weight.dtype), grad_bias.to(bias.dtype), None, None, None


def linear_cross_entropy(hidden, linear: torch.nn.Linear, targets, chunk: int = 2048):
    """Per-token cross-entropy of softmax(linear(hidden)) against `targets`, shape (N,)."""
    device_type = hidden.device.type
    dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else hidden.dtype
    with torch.autocast(device_type, enabled=False):
        return _LinearCrossEntropy.apply(hidden, linear.weight, linear.bias, targets, chunk, dtype)
