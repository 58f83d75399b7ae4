"""Vocabulary projection fused with cross-entropy, computed in chunks of tokens.

The logits of a batch (tokens x 20k vocabulary) are the largest tensors of a training step:
at the paper's batch 256, about 0.7 GB in fp32, with as much again for their softmax and
gradient, each pass over them bound by memory bandwidth. Here each chunk's logits exist only
inside the loop, and the gradients with respect to the hidden states, weight and bias are
computed in the forward pass while the chunk is in cache (the same three matmuls as usual,
no recomputation). Backward scales them by the upstream gradient: exact per token for the
hidden states; for the weight and bias when every token has the same upstream gradient (a sum
or mean of the losses, as in training), otherwise the chunks are recomputed.
Softmax and the loss are computed in at least fp32; the matmuls run in the autocast dtype.
"""
import torch

# The vocabulary is padded to a multiple of this inside the op: logits rows of 20,003 floats
# are misaligned and make the CPU's fp32 matmul 1.4x slower. Padded entries get bias -inf, so
# their probability and gradient are exactly zero.
ALIGN = 16
# Rows per softmax pass inside a chunk: 64 x 20k fp32 log-probabilities (5 MB) stay in cache
# between the passes over them (convert, log-softmax, exp, sums, write-back), while the matmuls
# run on whole chunks, where they are efficient.
SOFTMAX_ROWS = 64


def _chunk_grads(hidden, w, b, targets, acc, grad_bias=None):
    """Losses of the rows of `hidden`, and d(sum of losses)/d(logits) = softmax - one-hot in
    the matmul dtype, written over the logits; adds its column sums to `grad_bias` if given."""
    grad_logits = torch.addmm(b, hidden, w.t())
    losses = torch.empty(hidden.shape[0], dtype=acc, device=hidden.device)
    for start in range(0, hidden.shape[0], SOFTMAX_ROWS):
        rows = slice(start, start + SOFTMAX_ROWS)
        log_probs = torch.log_softmax(grad_logits[rows], 1, dtype=acc)
        index = torch.arange(log_probs.shape[0], device=hidden.device), targets[rows]
        losses[rows] = -log_probs[index]
        probs = log_probs.exp_()
        probs[index] -= 1
        if grad_bias is not None:
            grad_bias += probs.sum(0)
        grad_logits[rows] = probs
    return losses, grad_logits


def _add_matmul(total, a, b):
    """total += a @ b; in place, without a temporary, when the dtypes agree."""
    if total.dtype == a.dtype:
        total.addmm_(a, b)
    else:
        total += a @ b


def _padded(weight, bias, dtype):
    vocab = weight.shape[0]
    rows = -(-vocab // ALIGN) * ALIGN
    w = torch.zeros(rows, weight.shape[1], dtype=dtype, device=weight.device)
    b = torch.full((rows,), float("-inf"), dtype=dtype, device=bias.device)
    w[:vocab], b[:vocab] = weight, bias
    return w, b


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk, dtype):
        acc = torch.promote_types(dtype, torch.float32)
        w, b = _padded(weight, bias, dtype)
        losses = torch.empty(hidden.shape[0], dtype=acc, device=hidden.device)
        grad_hidden = torch.empty(hidden.shape, dtype=acc, device=hidden.device)
        grad_weight = torch.zeros(w.shape, dtype=acc, device=w.device)
        grad_bias = torch.zeros(b.shape, dtype=acc, device=b.device)
        for start in range(0, hidden.shape[0], chunk):
            rows = slice(start, start + chunk)
            h = hidden[rows].to(dtype)
            losses[rows], grad_logits = _chunk_grads(h, w, b, targets[rows], acc, grad_bias)
            grad_hidden[rows] = grad_logits @ w
            _add_matmul(grad_weight, grad_logits.t(), h)
        vocab = weight.shape[0]
        ctx.save_for_backward(hidden, weight, bias, targets, grad_hidden, grad_weight[:vocab], grad_bias[:vocab])
        ctx.chunk, ctx.dtype = chunk, dtype
        return losses

    @staticmethod
    def backward(ctx, grad_losses):
        hidden, weight, bias, targets, grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        grad_hidden = (grad_hidden * grad_losses[:, None]).to(hidden.dtype)
        if bool((grad_losses == grad_losses[0]).all()):
            scale = grad_losses[0]
            return grad_hidden, (grad_weight * scale).to(weight.dtype), (grad_bias * scale).to(bias.dtype), \
                None, None, None
        acc, dtype = grad_weight.dtype, ctx.dtype
        w, b = _padded(weight, bias, dtype)
        grad_weight = torch.zeros(w.shape, dtype=acc, device=w.device)
        grad_bias = torch.zeros(b.shape, dtype=acc, device=b.device)
        for start in range(0, hidden.shape[0], ctx.chunk):
            rows = slice(start, start + ctx.chunk)
            h = hidden[rows].to(dtype)
            _, grad_logits = _chunk_grads(h, w, b, targets[rows], acc)
            grad_logits = grad_logits.to(acc) * grad_losses[rows, None].to(acc)
            grad_bias += grad_logits.sum(0)
            _add_matmul(grad_weight, grad_logits.to(dtype).t(), h)
        vocab = weight.shape[0]
        return grad_hidden, grad_weight[:vocab].to(weight.dtype), grad_bias[:vocab].to(bias.dtype), None, None, None


def linear_cross_entropy(hidden, linear: torch.nn.Linear, targets, chunk: int = 2048):
    """Per-token cross-entropy of softmax(linear(hidden)) against `targets`, shape (N,)."""
    device_type = hidden.device.type
    dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else hidden.dtype
    with torch.autocast(device_type, enabled=False):
        return _LinearCrossEntropy.apply(hidden, linear.weight, linear.bias, targets, chunk, dtype)
