"""The training step waits for the device at most once every CHECK_EVERY steps (each wait
drains a GPU's queue), and its CUDA-graph form computes what the eager step computes."""
import sys

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from hsvae.data.batching import collate
from hsvae.models.registry import build_vae
from hsvae.training.train import CHECK_EVERY, Objective, fit
from tests.conftest import ARCH, HPARAMS

# Tensor methods that copy a value to the host (on a GPU: wait for every queued kernel)
HOST_READS = {"item", "__float__", "__int__", "__bool__", "__index__", "tolist", "nonzero", "masked_select",
              "unique", "argwhere"}


class CountHostReads(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        boolean_mask = name == "__getitem__" and any(
            torch.is_tensor(a) and a.dtype == torch.bool
            for a in (args[1] if isinstance(args[1], tuple) else (args[1],)))
        # Adam keeps its step counters on the host (unless capturable) and reads them there:
        # no device wait, so reads made inside torch.optim are not counted.
        in_optimizer = "torch/optim/" in sys._getframe(1).f_code.co_filename
        if (name in HOST_READS or boolean_mask) and not in_optimizer:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


def random_corpus(n=800, vocab=30, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(3, vocab, size=rng.integers(1, 12)) for _ in range(n)]


@pytest.mark.parametrize("name,ce_chunk", [("hsvae", 0), ("hsvae", 64), ("mat_vae", 64), ("vae_l1", 0)])
def test_the_step_reads_the_device_once_every_check_interval(name, ce_chunk):
    sentences = random_corpus()
    torch.manual_seed(0)
    model = build_vae(name, 30, ARCH, HPARAMS[name], ce_chunk=ce_chunk)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = 2 * CHECK_EVERY + 7
    order = [np.arange(i * 6, i * 6 + 6) for i in range(steps)]
    with CountHostReads() as counter:
        history = fit(name, model, Objective(model.loss_terms, optimizer, grad_clip=5.0), lambda rng: order, dict,
                      load=lambda idx: collate([sentences[i] for i in idx], np.zeros(6)), epochs=1, seed=0,
                      device=torch.device("cpu"), progress=False)
    assert history[0]["train/total"] > 0
    # two reads of the guards mid-epoch, one at the epoch's end, one for the epoch's sums
    assert len(counter.calls) == steps // CHECK_EVERY + 2, counter.calls


def test_the_counter_sees_a_host_read_and_a_boolean_mask():
    x = torch.randn(8)
    with CountHostReads() as counter:
        float(x.sum())
        x[x > 0]
        x[torch.arange(3)]
    assert counter.calls == ["__float__", "__getitem__"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_a_graphed_step_gives_the_eager_steps_losses_and_weights():
    """Batches of two shapes, replayed after capture. The objective is the VAE's decoder loss
    at the posterior mean: no sampling noise, whose random stream differs under a graph."""
    from hsvae.training.step import GraphedStep, Step

    sentences, device = random_corpus(), torch.device("cuda")
    batches = [collate([sentences[i] for i in range(j, j + 8)], np.zeros(8), length_multiple=4).to(device)
               for j in range(0, 160, 8)]
    assert len({tuple(b.tokens.shape) for b in batches}) >= 2
    losses, weights = {}, {}
    for graphed in (False, True):
        torch.manual_seed(0)
        model = build_vae("vae", 30, ARCH, HPARAMS["vae"], ce_chunk=64).to(device)

        def terms(batch):
            rec = model.decoder.reconstruction_loss(model.posterior(model.encoder(batch)).mean, batch)
            return {"rec": rec, "total": rec}

        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=True)
        step = Step(terms, optimizer, list(model.parameters()), device, grad_clip=5.0, cache_enabled=False)
        run = GraphedStep(step) if graphed else step
        losses[graphed] = [float(run(b)[0]["rec"]) for b in batches]
        weights[graphed] = model.decoder.output.weight.detach().clone()
        if graphed:
            assert run.failed is None and len(run.graphs) >= 1
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
    assert torch.allclose(weights[True], weights[False], rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="counts CUDA synchronisations")
@pytest.mark.parametrize("graphs", [False, True])
def test_the_cuda_training_loop_synchronises_once_every_check_interval(graphs):
    import warnings

    sentences, device = random_corpus(), torch.device("cuda")
    torch.manual_seed(0)
    model = build_vae("hsvae", 30, ARCH, HPARAMS["hsvae"], ce_chunk=64).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=graphs)
    steps = 2 * CHECK_EVERY + 7
    order = [np.arange(i * 6, i * 6 + 6) for i in range(steps)]
    load = lambda idx: collate([sentences[i] for i in idx], np.zeros(6), length_multiple=16 if graphs else 0).to(device)  # noqa: E731
    fit("warm-up", model, Objective(model.loss_terms, optimizer, graphs=graphs), lambda rng: order[:8], dict,
        load=load, epochs=1, seed=0, device=device, progress=False)
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit("hsvae", model, Objective(model.loss_terms, optimizer, grad_clip=5.0, graphs=graphs),
                lambda rng: order, dict, load=load, epochs=1, seed=0, device=device, progress=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message) for w in caught if "synchroniz" in str(w.message)]
    # graphs: each shape's capture synchronises once more (one shape here)
    assert len(syncs) <= steps // CHECK_EVERY + 2 + (1 if graphs else 0), syncs
