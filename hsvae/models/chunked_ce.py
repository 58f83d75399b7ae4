"""Vocabulary projection fused with a weighted sum of token cross-entropies, in chunks of tokens.

The logits of a batch (tokens x 20k vocabulary) are the largest tensors of a training step:
at the paper's batch 256, about 0.7 GB in fp32, with as much again for their softmax and
gradient, each pass over them bound by memory bandwidth. Here each chunk's logits exist only
inside the loop, and the gradients of the weighted loss sum(w_t * loss_t) with respect to the
hidden states, weight and bias are computed in the forward pass while the chunk is in cache
(the same three matmuls as usual, no recomputation). The op returns that one scalar, so the
backward pass only scales the stored gradients by the upstream one: exact, and with no host
round-trip (no data-dependent branch). Softmax and the loss are computed in at least fp32;
the matmuls run in the autocast dtype (bf16: no full-vocabulary fp32 copy of the logits).
"""
import torch

# The vocabulary is padded to a multiple of this inside the op: logits rows of 20,003 floats
# are misaligned and make the CPU's fp32 matmul 1.4x slower. Padded entries get bias -inf, so
# their probability and gradient are exactly zero.
ALIGN = 16
# Rows per softmax pass inside a chunk on the CPU: 64 x 20k fp32 log-probabilities (5 MB) stay
# in cache between the passes over them (convert, log-softmax, exp, sums, write-back), while
# the matmuls run on whole chunks. A GPU takes the chunk in one pass (fewer kernel launches).
CPU_SOFTMAX_ROWS = 64


def _chunk_grad_logits(hidden, w, b, targets, weights, acc):
    """Weighted losses of the rows of `hidden`, and d(sum w_t loss_t)/d(logits) =
    w_t (softmax - one-hot) in the matmul dtype, written over the logits."""
    grad_logits = torch.addmm(b, hidden, w.t())
    losses = torch.empty(hidden.shape[0], dtype=acc, device=hidden.device)
    step = CPU_SOFTMAX_ROWS if hidden.device.type == "cpu" else hidden.shape[0]
    for start in range(0, hidden.shape[0], step):
        rows = slice(start, start + step)
        log_probs = torch.log_softmax(grad_logits[rows], 1, dtype=acc)
        index = torch.arange(log_probs.shape[0], device=hidden.device), targets[rows]
        losses[rows] = -log_probs[index]
        probs = log_probs.exp_()
        probs[index] -= 1
        grad_logits[rows] = probs.mul_(weights[rows, None])
    return losses * weights, grad_logits


def _padded(weight, bias, dtype):
    vocab = weight.shape[0]
    rows = -(-vocab // ALIGN) * ALIGN
    w = torch.zeros(rows, weight.shape[1], dtype=dtype, device=weight.device)
    b = torch.full((rows,), float("-inf"), dtype=dtype, device=bias.device)
    w[:vocab], b[:vocab] = weight, bias
    return w, b


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, weights, chunk, dtype):
        acc = torch.promote_types(dtype, torch.float32)
        w, b = _padded(weight, bias, dtype)
        weights = weights.to(acc)
        total = torch.zeros((), dtype=acc, device=hidden.device)
        grad_hidden = torch.empty(hidden.shape, dtype=acc, device=hidden.device)
        grad_weight = torch.zeros(w.shape, dtype=acc, device=w.device)
        grad_bias = torch.zeros(b.shape, dtype=acc, device=b.device)
        for start in range(0, hidden.shape[0], chunk):
            rows = slice(start, start + chunk)
            h = hidden[rows].to(dtype)
            losses, grad_logits = _chunk_grad_logits(h, w, b, targets[rows], weights[rows], acc)
            total += losses.sum()
            grad_bias += grad_logits.sum(0, dtype=acc)
            grad_hidden[rows] = grad_logits @ w
            if grad_weight.dtype == grad_logits.dtype:
                grad_weight.addmm_(grad_logits.t(), h)
            else:
                grad_weight += grad_logits.t() @ h
        vocab = weight.shape[0]
        ctx.save_for_backward(grad_hidden.to(hidden.dtype), grad_weight[:vocab].to(weight.dtype),
                              grad_bias[:vocab].to(bias.dtype))
        return total

    @staticmethod
    def backward(ctx, grad_total):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        return grad_hidden * grad_total, grad_weight * grad_total, grad_bias * grad_total, None, None, None, None


@torch.no_grad()
def _weighted_loss(hidden, weight, bias, targets, weights, chunk, dtype):
    """The forward value alone, for evaluation: one matmul per chunk instead of three."""
    acc = torch.promote_types(dtype, torch.float32)
    w, b = _padded(weight, bias, dtype)
    total = torch.zeros((), dtype=acc, device=hidden.device)
    for start in range(0, hidden.shape[0], chunk):
        rows = slice(start, start + chunk)
        log_probs = torch.log_softmax(torch.addmm(b, hidden[rows].to(dtype), w.t()), 1, dtype=acc)
        losses = -log_probs.gather(1, targets[rows, None]).squeeze(1)
        total += (losses * weights[rows].to(acc)).sum()
    return total


def linear_cross_entropy(hidden, weight, bias, targets, weights, chunk: int = 2048):
    """sum_t weights[t] * cross-entropy(softmax(hidden[t] @ weight.T + bias), targets[t]), a
    scalar, computed `chunk` tokens at a time."""
    device_type = hidden.device.type
    dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else hidden.dtype
    needs_grad = torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)
    with torch.autocast(device_type, enabled=False):
        if not needs_grad:
            return _weighted_loss(hidden, weight, bias, targets, weights, chunk, dtype)
        return _LinearCrossEntropy.apply(hidden, weight, bias, targets, weights, chunk, dtype)
