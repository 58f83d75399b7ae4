"""Pretraining K runs of one model class and size as one pack (hsvae/models/packed.py).

Each member is the run its stage config describes, trained as that run would be: its weights
initialised from its own seed, its own batch order and sampling noise from (seed, epoch), its
own Adam state and learning rate, its gradient clipped by its own norm, its own validation
after each epoch. A member whose loss or gradient is not finite, or that diverges, is stopped
and reported by name; the others go on. What a pack leaves for each member is the checkpoint
`fit` writes after a run's last epoch, so the pretrain stage of that run finds it finished
(`dvc exp run` then writes its model and logs without training it again).
"""
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from hsvae.device import autocast
from hsvae.models.packed import MemberRandomness, Pack, pack_batches
from hsvae.training.pretrain import (
    GRAPH_LENGTH_MULTIPLE,
    run_fingerprint,
    training_setup,
    uniform_loss,
    validation_metrics,
)
from hsvae.training.step import GraphedStep
from hsvae.training.train import CHECK_EVERY, Guard, TrainingError, check_finite, check_not_diverging


@dataclass
class Member:
    name: str  # how messages name the run (a study names it by its experiment)
    cfg: dict  # its pretrain stage config: name, arch, train, hparams


class StackedAdam:
    """torch.optim.Adam over [K, ...] weights, member by member: a learning rate and a step
    count per member; members not `stepping` keep their weights and moments."""

    def __init__(self, params, lrs, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        device = self.params[0].device
        self.lrs = torch.tensor(lrs, dtype=torch.float64, device=device)
        self.betas, self.eps = betas, eps
        self.steps = torch.zeros(len(lrs), dtype=torch.float64, device=device)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, stepping: torch.Tensor):
        beta1, beta2 = self.betas
        self.steps += stepping
        steps = self.steps.clamp(min=1)
        step_size = self.lrs / (1 - beta1**steps)
        correction2_sqrt = (1 - beta2**steps).sqrt()
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            shape = (-1,) + (1,) * (p.dim() - 1)
            on, grad = stepping.view(shape), p.grad
            m.copy_(torch.where(on, m.lerp(grad, 1 - beta1), m))
            v.copy_(torch.where(on, v * beta2 + (1 - beta2) * grad * grad, v))
            denom = v.sqrt() / correction2_sqrt.view(shape).to(v.dtype) + self.eps
            p.copy_(torch.where(on, p - step_size.view(shape).to(p.dtype) * m / denom, p))

    def member_state(self, k: int, model: torch.nn.Module) -> dict:
        """Member k's state as torch.optim.Adam's state dict for `model` (its own run's)."""
        optimizer = torch.optim.Adam(model.parameters(), lr=float(self.lrs[k]), betas=self.betas, eps=self.eps)
        for p, m, v in zip(model.parameters(), self.exp_avg, self.exp_avg_sq):
            optimizer.state[p] = {"step": torch.tensor(float(self.steps[k])), "exp_avg": m[k].detach().clone(),
                                  "exp_avg_sq": v[k].detach().clone()}
        return optimizer.state_dict()


class PackStep:
    """One step of every running member that has a batch — the pack's forward and backward,
    each member's gradient clipped by its own norm (as its run's is), the stacked Adam step —
    with everything left on the device: batch -> ((K, keys) loss terms, (K,) gradient norms,
    (K,) the members that stepped). Under CUDA graphs every member is computed and a stopped
    one masked out (`running`, a device tensor the graphs read); eagerly it is skipped."""

    def __init__(self, pack: Pack, optimizer: StackedAdam, randomness: MemberRandomness, device, dtype,
                 grad_clip=0.0, graphs=False):
        self.pack, self.optimizer, self.randomness = pack, optimizer, randomness
        self.device, self.dtype, self.grad_clip, self.graphs = device, dtype, grad_clip, graphs
        self.running = torch.ones(len(pack.models), dtype=torch.bool, device=device)
        self.stopped = set()
        self.keys = None  # the loss terms' names, in the order of the values' columns

    def stop(self, k: int):
        self.running[k] = False
        self.stopped.add(k)

    def generators(self) -> list:
        return self.randomness.generators()

    def eager(self, batch):
        computed = [self.graphs or k not in self.stopped for k in range(len(self.pack.models))]
        with autocast(self.device, self.dtype, cache_enabled=not self.graphs):
            results = self.pack.loss_terms(batch, self.randomness, computed)
        stepping = self.running & (batch.row_counts > 0)
        self.keys = self.keys or list(next(r for r in results if r is not None))
        none = torch.zeros(len(self.keys), dtype=torch.float64, device=self.device)
        values = torch.stack([torch.stack([r[key].double() for key in self.keys]) if r is not None else none
                              for r in results])
        # A member that does not step adds nothing to the loss; if it is computed (under graphs), its
        # gradients (NaN, if it blew up) stay in its own slices, which StackedAdam leaves alone.
        torch.where(stepping, values[:, self.keys.index("total")], 0).sum().backward()
        grads = [p.grad for p in self.pack.weights]
        norms = torch.stack([g.float().pow(2).flatten(1).sum(1) for g in grads]).sum(0).sqrt()
        if self.grad_clip:
            scale = (self.grad_clip / (norms + 1e-6)).clamp(max=1.0)
            for g in grads:
                g.mul_(scale.view((-1,) + (1,) * (g.dim() - 1)).to(g.dtype))
        self.optimizer.step(stepping)
        for p in self.pack.weights:
            p.grad = None
        return values.detach(), norms, stepping


def make_pack_step(pack, optimizer, randomness, device, dtype, grad_clip=0.0, graphs=False):
    """The step pretrain_pack runs: as CUDA graphs (one memory pool for all batch shapes: a
    pack's step holds K runs' activations) when `graphs`, eager otherwise."""
    step = PackStep(pack, optimizer, randomness, device, dtype, grad_clip, graphs)
    return step, (GraphedStep(step, shared_pool=True) if graphs else step.eager)


def pretrain_pack(members, train_split, valid_split, vocab_size, device, dtype, progress=True) -> dict:
    """Train the members' runs as one pack on shared data. Returns {member name: the
    checkpoint its run's `fit` leaves after the last epoch, or the error that stopped it}."""
    if dtype == torch.float16:
        raise TrainingError("train.precision fp16: a pack has no loss scaling; use bf16 (or fp32, tf32)")
    setups = [training_setup(m.cfg, train_split, vocab_size, device, dtype) for m in members]
    trains = [m.cfg["train"] for m in members]
    pack = Pack([s.model for s in setups]).to(device)
    randomness = MemberRandomness(device)
    graphs = setups[0].graphs  # as the members' own runs: CUDA graphs on a GPU
    step_of_pack, run_step = make_pack_step(pack, StackedAdam(pack.weights, [t["lr"] for t in trains]), randomness,
                                            device, dtype, trains[0]["grad_clip"], graphs)
    names = [m.name for m in members]
    errors, histories = {}, [[] for _ in members]
    ceiling = uniform_loss(train_split, vocab_size)

    def stop(k, error):
        step_of_pack.stop(k)
        errors[names[k]] = error
        tqdm.write(f"pack: {error}")

    epochs = trains[0]["epochs"]
    for epoch in tqdm(range(epochs), desc=f"pack of {len(members)} epochs", disable=None if progress else True):
        orders = []
        for k, train in enumerate(trains):  # as fit: noise from (seed, epoch), batch order from rng [seed, epoch]
            randomness.seed(k, train["seed"] * 100_003 + epoch)
            orders.append(setups[k].batches(np.random.default_rng([train["seed"], epoch])))
        steps = max(len(o) for o in orders)
        guard = sums = None
        counts = np.zeros(len(members))
        for step in tqdm(range(1, steps + 1), desc=f"epoch {epoch + 1} steps", leave=False,
                         disable=None if progress else True):
            # a stopped member gets its batch too: it keeps the step's shape (CUDA graphs) and is not computed
            batches = [train_split.batch(o[step - 1]) if step <= len(o) else None for o in orders]
            if not any(b is not None for b in batches):
                break
            packed = pack_batches(batches, GRAPH_LENGTH_MULTIPLE if graphs else 0).to(device)
            values, norms, stepping = run_step(packed)
            if guard is None:
                guard = Guard(names, step_of_pack.keys, device, ceiling)
                sums = torch.zeros(len(members), len(guard.keys), dtype=torch.float64, device=device)
            guard.update(step, values, norms, stepping)
            sums += torch.where(stepping[:, None], values * packed.row_counts[:, None], 0)
            counts += packed.rows
            if step % CHECK_EVERY == 0:
                for k, error in guard.read(epoch, step).items():
                    stop(k, error)
        if guard is not None:
            for k, error in guard.read(epoch, steps).items():
                stop(k, error)
        means = (sums / torch.tensor(np.maximum(counts, 1), device=device)[:, None]).tolist() if guard else None
        for k in range(len(members)):
            if k in step_of_pack.stopped:
                continue
            metrics = {f"train/{key}": value for key, value in zip(guard.keys, means[k])}
            model = pack.member(k).eval()  # member k as its own model (no dropout: eval changes nothing else)
            with torch.no_grad(), autocast(device, dtype):
                metrics.update(validation_metrics(model, valid_split, trains[k], device))
            try:
                check_finite(metrics, f"{names[k]}: epoch {epoch + 1}, evaluation")
                check_not_diverging(names[k], histories[k], metrics, epoch)
            except TrainingError as error:
                stop(k, str(error))
                continue
            metrics["epoch"] = epoch + 1
            histories[k].append(metrics)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    finished = {}
    for k, (member, setup) in enumerate(zip(members, setups)):
        if k in step_of_pack.stopped:
            finished[member.name] = errors[member.name]
            continue
        finished[member.name] = {
            "model": pack.member(k).state_dict(), "optimizer": step_of_pack.optimizer.member_state(k, setup.model),
            "scaler": scaler.state_dict(), "history": histories[k], "epoch": epochs,
            "fingerprint": run_fingerprint(member.cfg, vocab_size, train_split, valid_split)}
    return finished
