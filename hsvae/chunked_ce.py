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


def _chunk_grads(hidden, w, b, targets, rows, acc):
    """Logits of the rows, their losses, and d(sum of losses)/d(logits)."""
    logits = torch.addmm(b, hidden[rows].to(w.dtype), w.t()).to(acc)
    log_z = torch.logsumexp(logits, 1)
    losses = log_z - logits.gather(1, targets[rows, None]).squeeze(1)
    grad_logits = torch.exp(logits - log_z[:, None])
    grad_logits[torch.arange(grad_logits.shape[0], device=grad_logits.device), targets[rows]] -= 1
    return losses, grad_logits


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk, dtype):
        acc = torch.promote_types(dtype, torch.float32)
        w, b = weight.to(dtype), bias.to(dtype)
        losses = torch.empty(hidden.shape[0], dtype=acc, device=hidden.device)
        grad_hidden = torch.empty(hidden.shape, dtype=acc, device=hidden.device)
        grad_weight = torch.zeros(weight.shape, dtype=acc, device=weight.device)
        grad_bias = torch.zeros(bias.shape, dtype=acc, device=bias.device)
        for start in range(0, hidden.shape[0], chunk):
            rows = slice(start, start + chunk)
            losses[rows], grad_logits = _chunk_grads(hidden, w, b, targets, rows, acc)
            grad_logits = grad_logits.to(dtype)
            grad_hidden[rows] = grad_logits @ w
            grad_weight += (grad_logits.t() @ hidden[rows].to(dtype)).to(acc)
            grad_bias += grad_logits.to(acc).sum(0)
        ctx.save_for_backward(hidden, weight, bias, targets, grad_hidden, grad_weight, grad_bias)
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
        acc = grad_weight.dtype
        w, b = weight.to(ctx.dtype), bias.to(ctx.dtype)
        grad_weight.zero_()
        grad_bias.zero_()
        for start in range(0, hidden.shape[0], ctx.chunk):
            rows = slice(start, start + ctx.chunk)
            _, grad_logits = _chunk_grads(hidden, w, b, targets, rows, acc)
            grad_logits = (grad_logits * grad_losses[rows, None]).to(ctx.dtype)
            grad_weight += (grad_logits.t() @ hidden[rows].to(ctx.dtype)).to(acc)
            grad_bias += grad_logits.to(acc).sum(0)
        return grad_hidden, grad_weight.to(weight.dtype), grad_bias.to(bias.dtype), None, None, None


def linear_cross_entropy(hidden, linear: torch.nn.Linear, targets, chunk: int = 2048):
    """Per-token cross-entropy of softmax(linear(hidden)) against `targets`, shape (N,)."""
    device_type = hidden.device.type
    dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else hidden.dtype
    with torch.autocast(device_type, enabled=False):
        return _LinearCrossEntropy.apply(hidden, linear.weight, linear.bias, targets, chunk, dtype)
