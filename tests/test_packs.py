"""Packs (hsvae/models/packed.py, hsvae/training/pack.py): the batched GRU is nn.GRU, members
never mix, one pack step is each member's own step, and a failing member stops alone."""
import copy

import numpy as np
import pytest
import torch

from hsvae.data.batching import collate
from hsvae.data.splits import Split
from hsvae.models.packed import MemberRandomness, Pack, gru_layer, pack_batches
from hsvae.models.registry import build_vae
from hsvae.training.pack import Member, PackStep, StackedAdam, make_pack_step, pretrain_pack
from hsvae.training.pretrain import training_setup, validation_metrics
from hsvae.training.step import make_step
from hsvae.training.train import fit
from tests.conftest import ARCH, HPARAMS

CPU = torch.device("cpu")


def stacked_grus(k=3, inputs=5, hidden=7, seed=0):
    torch.manual_seed(seed)
    grus = [torch.nn.GRU(inputs, hidden, batch_first=True) for _ in range(k)]
    weights = [torch.stack([getattr(g, f"{w}_l0").detach() for g in grus]).requires_grad_()
               for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return grus, weights


def test_the_batched_gru_is_nn_gru_forward_and_backward():
    grus, weights = stacked_grus()
    x = torch.randn(3, 4, 6, 5)
    out = gru_layer(x, *weights)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    for k, gru in enumerate(grus):
        expected, _ = gru(x[k])
        assert torch.allclose(out[k], expected, rtol=1e-5, atol=1e-6)
        (expected * upstream[k]).sum().backward()
        for stacked, name in zip(weights, ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            assert torch.allclose(stacked.grad[k], getattr(gru, f"{name}_l0").grad, rtol=1e-5, atol=1e-6)


def test_members_are_independent_to_the_bit():
    _, weights = stacked_grus()
    x = torch.randn(3, 4, 6, 5)
    before = gru_layer(x, *weights).detach()
    changed = [w.detach().clone() for w in weights]
    for w in changed:
        w[2] += torch.randn_like(w[2])
    after = gru_layer(x, *changed)
    assert torch.equal(after[:2], before[:2]) and not torch.equal(after[2], before[2])


def batches_of(seed, sizes, longest=9):
    """Batches of different rows and lengths, as members' batch orders differ."""
    rng = np.random.default_rng(seed)
    return [collate([rng.integers(3, 30, size=rng.integers(1, longest + 1)) for _ in range(n)], np.zeros(n))
            for n in sizes]


MEMBERS = {  # (seed, hparams) per member: different seeds and different priors or weights
    "hsvae": [(0, {"alpha": 1.0, "beta": 4.0}), (1, {"alpha": 4.0}), (2, {"alpha": 19.0, "lambda": 0.5})],
    "mat_vae": [(0, {}), (1, {"psi": 0.1, "lambda": 1.0}), (2, {"gamma": 0.5})],
    "vae_l1": [(0, {}), (1, {"weight": 0.1}), (2, {"psi": 1.0})],
}


# On a GPU too (its random streams are other generators); cuDNN's GRU in full fp32 there.
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(MEMBERS))
@pytest.mark.parametrize("ce_chunk", [0, 64])
def test_pack_steps_are_the_members_own_steps(name, ce_chunk, device, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    device = torch.device(device)
    members = MEMBERS[name]
    lrs, clip = [1e-3, 3e-3, 1e-2], 1.0  # small enough that some members' gradients are clipped
    models = []
    for seed, hparams in members:
        torch.manual_seed(seed)
        models.append(build_vae(name, 30, ARCH, {**HPARAMS[name], **hparams}, ce_chunk=ce_chunk).to(device))
    pack = Pack([copy.deepcopy(m) for m in models])
    # Adam divides each gradient by its own running size: an element whose gradient is at
    # rounding level (1e-9 here, 1e-5 relative to the largest) may step by up to lr either way.
    # A larger eps keeps the comparison to what the pack computes; the Adam test below
    # checks the update at the default eps on identical gradients.
    optimizer = StackedAdam(pack.weights, lrs, eps=1e-3)
    randomness = MemberRandomness(device)
    batches = [[b.to(device) for b in batches_of(seed, [6, 4][::1 if seed % 2 else -1])] for seed, _ in members]
    for k, (seed, _) in enumerate(members):
        randomness.seed(k, seed * 100_003)
    step_of_pack = PackStep(pack, optimizer, randomness, device, None, clip)
    packed = []
    for step in range(2):
        values, _, stepping = step_of_pack.eager(pack_batches([b[step].to("cpu") for b in batches]).to(device))
        assert stepping.all()
        packed.append({key: values[:, i] for i, key in enumerate(step_of_pack.keys)})
    clipped = 0
    for k, ((seed, _), model) in enumerate(zip(members, models)):
        optimizer = torch.optim.Adam(model.parameters(), lr=lrs[k], eps=1e-3)
        run_step = make_step(model.loss_terms, optimizer, device, grad_clip=clip)
        torch.manual_seed(seed * 100_003)
        for step in range(2):
            values, norm = run_step(batches[k][step])
            clipped += float(norm) > clip
            for key, value in values.items():
                # abs: the MMD estimate is a difference of kernel means that cancel, so its rounding
                # is that of the means (on an H200 one member's differed by more than 1e-6)
                assert float(packed[step][key][k]) == pytest.approx(float(value), rel=1e-5, abs=1e-5), (
                    k, step, key)
        # weights to 1e-5 relative, or within a thousandth of one learning-rate step (on CUDA
        # the reductions' order differs: gaps of up to 4e-7 measured on an H200)
        for key, value in model.state_dict().items():
            found = pack.member(k).state_dict()[key]
            gap = float(((found - value).abs() - 1e-5 * value.abs()).max())
            assert torch.allclose(found, value, rtol=1e-5, atol=1e-3 * lrs[k]), (k, key, f"gap {gap:.3g}")
    assert clipped > 0


def seeded_pack(device, name="hsvae", ce_chunk=0):
    """A pack of MEMBERS[name], each initialised from its seed, and their random streams."""
    models = []
    for seed, hparams in MEMBERS[name]:
        torch.manual_seed(seed)
        models.append(build_vae(name, 30, ARCH, {**HPARAMS[name], **hparams}, ce_chunk=ce_chunk).to(device))
    randomness = MemberRandomness(device)
    for k, (seed, _) in enumerate(MEMBERS[name]):
        randomness.seed(k, seed * 100_003)
    return Pack(models), randomness


def test_scoring_every_position_of_the_common_grid_gives_the_same_steps():
    """The shapes CUDA graphs need (pack_batches with a length multiple: padding scored with
    weight 0) train the members as the scored positions alone do."""
    runs = []
    for multiple in (0, 8):
        pack, randomness = seeded_pack(CPU, ce_chunk=64)
        step = PackStep(pack, StackedAdam(pack.weights, [1e-3, 3e-3, 1e-2]), randomness, CPU, None, 1.0)
        values = []
        for i in range(2):
            batch = pack_batches([batches_of(seed, [6, 4][::1 if seed % 2 else -1])[i] for seed, _ in MEMBERS["hsvae"]],
                                 multiple)
            if multiple:  # one count per member, fixed by the shape
                assert batch.tokens.shape[2] % multiple == 0
                assert batch.counts == [batch.tokens.shape[1] * (batch.tokens.shape[2] + 1)] * 3
            values.append(step.eager(batch)[0])
        runs.append((torch.stack(values), [w.detach() for w in pack.weights]))
    (values, weights), (grid_values, grid_weights) = runs
    assert torch.allclose(grid_values, values, rtol=1e-5, atol=1e-6)
    for found, expected in zip(grid_weights, weights):
        assert torch.allclose(found, expected, rtol=1e-5, atol=1e-7)


def test_a_stopped_member_computed_and_masked_out_leaves_the_others_as_skipping_it():
    """Under CUDA graphs a stopped member is still computed (the graph is fixed) and masked
    out: its NaN loss and gradients must not reach the others, who train to the bit as when
    it is skipped."""
    runs = []
    for masked in (False, True):
        pack, randomness = seeded_pack(CPU, "vae_l1")
        step = PackStep(pack, StackedAdam(pack.weights, [1e-3] * 3), randomness, CPU, None, 1.0, graphs=masked)
        batches = [batches_of(seed, [6, 6, 6]) for seed, _ in MEMBERS["vae_l1"]]
        step.eager(pack_batches([b[0] for b in batches], 8))
        step.stop(1)
        with torch.no_grad():
            for w in pack.weights:
                w[1] = float("nan")  # as a member whose training blew up
        for i in (1, 2):
            values, _, stepping = step.eager(pack_batches([b[i] for b in batches], 8))
            assert stepping.tolist() == [True, False, True]
            assert masked == bool(values[1].isnan().all())  # computed (NaN) when masked, skipped (zeros) otherwise
        runs.append([w.detach()[[0, 2]] for w in pack.weights])
    for skipped, masked in zip(*runs):
        assert torch.isfinite(masked).all() and torch.equal(masked, skipped)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_a_graphed_pack_trains_as_the_eager_pack(monkeypatch):
    """Steps of one shape (two warm-up steps, a capture, replays), each member's smaller
    batch at another step (eager: a graph's row counts are fixed) and a smaller last batch of
    all: the same losses, noise included, and weights as the eager pack."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    device = torch.device("cuda")
    runs = []
    for graphs in (False, True):
        pack, randomness = seeded_pack(device)
        _, run = make_pack_step(pack.to(device), StackedAdam(pack.weights, [1e-3, 3e-3, 1e-2]), randomness,
                                   device, None, 1.0, graphs)
        sizes = [[4 if i in (3 + 2 * k, 9) else 6 for i in range(10)] for k in range(3)]  # short at 3, 5, 7; all at 9
        batches = [batches_of(seed, rows, longest=8) for (seed, _), rows in zip(MEMBERS["hsvae"], sizes)]
        values = [run(pack_batches([b[i] for b in batches], 8).to(device))[0].clone() for i in range(10)]
        runs.append((torch.stack(values), [w.detach().clone() for w in pack.weights], run))
    (values, weights, _), (graph_values, graph_weights, graphed) = runs
    assert graphed.failed is None and len(graphed.graphs) == 1
    assert torch.allclose(graph_values, values, rtol=1e-5, atol=1e-6)
    for found, expected in zip(graph_weights, weights):
        assert torch.allclose(found, expected, rtol=1e-5, atol=1e-6)


def test_stacked_adam_is_torch_adam_for_each_member_and_leaves_a_resting_member_alone():
    torch.manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(3, 4, 5)), torch.nn.Parameter(torch.randn(3, 6))]
    own = [[torch.nn.Parameter(w[k].detach().clone()) for w in weights] for k in range(3)]
    lrs = [1e-3, 1e-2, 0.1]
    stacked = StackedAdam(weights, lrs)
    optimizers = [torch.optim.Adam(own[k], lr=lrs[k]) for k in range(3)]
    for step in range(3):
        stepping = torch.tensor([True, step != 1, True])  # member 1 rests at step 1
        for w in weights:
            w.grad = torch.randn_like(w) * 10.0 ** -step
        for k in range(3):
            if stepping[k]:
                for p, w in zip(own[k], weights):
                    p.grad = w.grad[k].clone()
                optimizers[k].step()
        stacked.step(stepping)
    for k in range(3):
        for p, w in zip(own[k], weights):
            assert torch.allclose(w[k], p, rtol=1e-6, atol=1e-7)
        restored = torch.optim.Adam(own[k], lr=lrs[k])
        restored.load_state_dict(stacked.member_state(k, torch.nn.ParameterList(own[k])))
        assert float(restored.state[own[k][0]]["step"]) == (2 if k == 1 else 3)
        assert torch.allclose(restored.state[own[k][0]]["exp_avg_sq"], optimizers[k].state[own[k][0]]["exp_avg_sq"])


def write_split(folder, name, n, seed):
    rng = np.random.default_rng(seed)
    sentences = [rng.integers(3, 30, size=rng.integers(1, 9)) for _ in range(n)]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])])
    np.savez(folder / f"{name}.npz", tokens=np.concatenate(sentences), offsets=offsets, labels=rng.integers(0, 3, n))
    (folder / f"{name}.txt").write_text("\n".join(" ".join(map(str, s)) for s in sentences) + "\n")
    return Split(folder, name)


def stage_config(name, seed, hparams, epochs=2):
    train = {"seed": seed, "epochs": epochs, "batch_size": 16, "eval_batch_size": 64, "lr": 3e-3, "bert_lr": 1e-4,
             "grad_clip": 5.0, "ce_chunk": 0, "cuda_graphs": "auto"}  # graphs on a GPU
    return {"name": name, "arch": ARCH, "train": train, "hparams": {**HPARAMS[name], **hparams}}


@pytest.fixture
def splits(tmp_path):
    (tmp_path / "classes.txt").write_text("a b c\n")
    return write_split(tmp_path, "train", 120, 0), write_split(tmp_path, "valid", 30, 1)


@pytest.mark.parametrize("device", DEVICES)
def test_a_pack_leaves_each_member_the_checkpoint_of_its_own_finished_run(splits, device):
    train, valid = splits
    device = torch.device(device)
    members = [Member(f"run{seed}", stage_config("hsvae", seed, {"alpha": alpha})) for seed, alpha in ((0, 1.0), (1, 8.0))]
    finished = pretrain_pack(members, train, valid, 30, device, None, progress=False)
    for member in members:
        cfg, saved = member.cfg, finished[member.name]
        setup = training_setup(cfg, train, 30, device, None)
        alone = fit(name=member.name, model=setup.model, optimizer=setup.optimizer, terms=setup.model.loss_terms,
                    batches=setup.batches, load=setup.load, epochs=2, seed=cfg["train"]["seed"], device=device,
                    evaluate=lambda: validation_metrics(setup.model, valid, cfg["train"], device), grad_clip=5.0,
                    progress=False, graphs=setup.graphs)
        assert saved["epoch"] == 2 and len(saved["history"]) == 2
        for packed_epoch, own_epoch in zip(saved["history"], alone):
            # two epochs of float reordering: the step test's 1e-5 grows (on an H200, kl_gamma by 1.1e-4:
            # the Beta KL's lgamma and digamma of nearly equal posteriors)
            for key, value in own_epoch.items():
                assert packed_epoch[key] == pytest.approx(value, rel=1e-4 if device.type == "cpu" else 5e-4), key
        assert set(saved["history"][0]) == set(alone[0]) and "valid/ah_sample" in alone[0]
        # the stage resumes it as its own finished run: the optimizer state loads into its own Adam
        setup.optimizer.load_state_dict(saved["optimizer"])
        state = setup.optimizer.state[next(iter(setup.model.parameters()))]
        assert float(state["step"]) == 2 * 8  # 120 sentences in batches of 16, two epochs


@pytest.mark.parametrize("device", DEVICES)
def test_a_member_that_fails_is_stopped_by_name_and_the_others_finish(splits, device):
    train, valid = splits
    members = [Member("good", stage_config("vae", 0, {})), Member("bad", stage_config("vae", 1, {"psi": 1e38})),
               Member("also-good", stage_config("vae", 2, {"psi": 0.5}))]
    finished = pretrain_pack(members, train, valid, 30, torch.device(device), None, progress=False)
    assert finished["bad"] == "bad: epoch 1, step 1: gradient is not finite"
    for name in ("good", "also-good"):
        assert finished[name]["epoch"] == 2
        assert all(np.isfinite(v) for epoch in finished[name]["history"] for v in epoch.values())
