"""One optimisation step — forward, backward, gradient clipping, optimizer step — that leaves
everything on the device: the loss terms and the gradient norm come back as tensors for the
training loop's guards, and nothing in the step waits for the device.

`GraphedStep` captures that step as one CUDA graph per batch shape and replays it: a GRU-VAE
step at the paper's size is hundreds of small kernels, and launching them one by one from
Python, not the arithmetic, sets the pace of a GPU. `torch.compile` cannot capture `nn.GRU`
(pytorch#167275); a graph captures its cuDNN kernels as they are.
"""
from typing import Protocol

import torch
from tqdm import tqdm

from hsvae.core.device import autocast


class TrainingStep(Protocol):
    """What GraphedStep captures and the training loop calls: one whole step on a batch (a
    dataclass of tensors), gradients starting from none; returns (loss terms, gradient norm or
    None) as device tensors."""

    def __call__(self, batch) -> tuple[dict, torch.Tensor | None]: ...


class Step:
    """terms(batch) -> loss terms with a "total", minimised by `optimizer` over `parameters`."""

    def __init__(self, terms, optimizer, parameters, device, dtype=None, grad_clip=0.0, scaler=None,
                 cache_enabled=True):
        self.terms, self.optimizer, self.parameters = terms, optimizer, parameters
        self.device, self.dtype, self.grad_clip, self.scaler = device, dtype, grad_clip, scaler
        self.cache_enabled = cache_enabled

    def __call__(self, batch):
        """(loss terms, gradient norm) as device tensors; the norm is None under fp16, whose
        scaler skips steps with overflowed gradients itself."""
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.dtype, self.cache_enabled):
            values = self.terms(batch)
        scaled = self.scaler is not None and self.scaler.is_enabled()
        (self.scaler.scale(values["total"]) if scaled else values["total"]).backward()
        if scaled:
            self.scaler.unscale_(self.optimizer)
        if self.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self.parameters, self.grad_clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.parameters if p.grad is not None])
        if scaled:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            norm = None
        else:
            self.optimizer.step()
        return {k: v.detach() for k, v in values.items()}, norm


class GraphedStep:
    """The step as CUDA graphs, one per batch shape (rows, padded length), each captured after
    `WARMUP` eager steps of that shape (cuDNN and cuBLAS pick their kernels and workspaces
    there) and replayed for every later batch of the shape. A batch of fewer rows than the
    largest seen (an epoch's last) runs eagerly. The optimizer must be built with capturable=True.
    Each graph keeps its batch as static input; the step draws its noise from the default CUDA
    generator, which every graph registers."""

    WARMUP = 2

    def __init__(self, step: TrainingStep):
        self.step = step
        self.graphs = {}  # shape -> (graph, static batch, static outputs)
        self.seen = {}
        self.full_rows = None
        self.side = torch.cuda.Stream()
        self.failed = None  # why capturing failed; the run then goes on eagerly

    def __call__(self, batch):
        self.full_rows = max(self.full_rows or 0, len(batch))  # an epoch's last batch may come first
        shape = tuple(batch.tokens.shape)
        if len(batch) != self.full_rows or self.failed:
            return self.step(batch)
        if shape in self.graphs:
            graph, static, outputs = self.graphs[shape]
            for name, value in vars(batch).items():
                if torch.is_tensor(value):
                    getattr(static, name).copy_(value, non_blocking=True)
            graph.replay()
            return outputs
        self.seen[shape] = self.seen.get(shape, 0) + 1
        if self.seen[shape] <= self.WARMUP:
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                outputs = self.step(batch)
            torch.cuda.current_stream().wait_stream(self.side)
            return outputs
        return self._capture(shape, batch)

    def _capture(self, shape, batch):
        """Capture the step on `batch` (kept as the graph's static input) and replay it once:
        a capture records the kernels without running them."""
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize()
        try:
            with torch.cuda.graph(graph):
                outputs = self.step(batch)  # backward writes fresh gradients inside the graph
        except RuntimeError as error:  # an op this PyTorch cannot capture: the eager step is the fallback
            self.failed = str(error).splitlines()[0]
            tqdm.write(f"CUDA graph capture failed ({self.failed}); training eagerly")
            torch.cuda.synchronize()
            return self.step(batch)
        self.graphs[shape] = (graph, batch, outputs)
        graph.replay()
        return outputs


def make_step(terms, optimizer, device, dtype=None, grad_clip=0.0, scaler=None, graphs=False):
    """The step the training loop runs: batch -> (loss terms, gradient norm), as CUDA graphs
    when `graphs` (the optimizer built with capturable=True), eager otherwise."""
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    step = Step(terms, optimizer, parameters, device, dtype, grad_clip, scaler, cache_enabled=not graphs)
    return GraphedStep(step) if graphs else step
