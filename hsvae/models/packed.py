"""A pack: K VAEs of one class and size trained as one model (horizontal fusion, as HFTA).

Every weight is stacked into one [K, ...] tensor. The networks that do the work — embedding,
GRU encoder, GRU decoder, vocabulary projection — run as batched matmuls over the member
dimension, so each kernel does K times the work of one run's; the latent part (heads,
distributions, KL terms: [B, D] tensors) runs per member through the member's own model code,
with its own hyperparameters and its own random stream. Members never mix: member k's loss
depends on member k's weights and batch only, and the pack's loss is the sum of the members'.

`torch.func.vmap` cannot batch `nn.GRU` (pytorch#134606), hence `gru_layer`: PyTorch's GRU
equations with one batched matmul for the input projections of all time steps and one
`baddbmm` per step for the recurrence.
"""
import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hsvae.data.batching import EOS, PAD, to_device
from hsvae.models.chunked_ce import linear_cross_entropy
from hsvae.models.nets import GRUEncoder
from hsvae.models.vae import VAE


def gru_layer(x, w_ih, w_hh, b_ih, b_hh):
    """A one-layer GRU per member: x (K, B, T, I), weights as nn.GRU's stacked over K
    ((K, 3H, I), (K, 3H, H), (K, 3H), (K, 3H), gates r, z, n) -> states (K, B, T, H).
    Matmuls in the autocast dtype, the gates and the state in fp32."""
    k, b, t, _ = x.shape
    projected = torch.baddbmm(b_ih.unsqueeze(1), x.reshape(k, b * t, -1), w_ih.transpose(1, 2))
    dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else torch.float32
    return _Recurrence.apply(projected.view(k, b, t, -1).float(), w_hh, b_hh, dtype)


class _Recurrence(torch.autograd.Function):
    """The GRU's recurrence over time given the input projections, with its backward pass
    written out: per time step one batched matmul and a few elementwise ops each way, the
    weight gradients as one matmul over all time steps, and only the gates kept for it."""

    @staticmethod
    def forward(ctx, projected, w_hh, b_hh, dtype):
        k, b, t, three_h = projected.shape
        hidden = three_h // 3
        w_t = w_hh.to(dtype).transpose(1, 2)
        bias = b_hh.to(dtype).unsqueeze(1)
        states = projected.new_empty(k, b, t, hidden)
        rz_all = projected.new_empty(k, b, t, 2 * hidden)
        n_all, hn_all = projected.new_empty(k, b, t, hidden), projected.new_empty(k, b, t, hidden)
        h = projected.new_zeros(k, b, hidden)
        for step in range(t):  # each result written in place into what backward keeps: few ops per step
            gh = torch.baddbmm(bias, h.to(dtype), w_t)
            rz, n, hn = rz_all[:, :, step], n_all[:, :, step], hn_all[:, :, step]
            torch.add(projected[:, :, step, : 2 * hidden], gh[..., : 2 * hidden], out=rz).sigmoid_()
            hn.copy_(gh[..., 2 * hidden:])
            r, z = rz.chunk(2, -1)
            torch.addcmul(projected[:, :, step, 2 * hidden:], r, hn, out=n).tanh_()
            h = torch.lerp(n, h, z, out=states[:, :, step])  # (1 - z) n + z h
        ctx.save_for_backward(w_hh, states, rz_all, n_all, hn_all)
        ctx.dtype = dtype
        return states

    @staticmethod
    def backward(ctx, grad_states):
        w_hh, states, rz_all, n_all, hn_all = ctx.saved_tensors
        k, b, t, hidden = states.shape
        w = w_hh.to(ctx.dtype)
        grad_pre = states.new_empty(k, b, t, 3 * hidden)  # d loss / d (x W_ih + b_ih), gates r z n
        grad_hidden_pre = states.new_empty(k, b, t, 3 * hidden)  # d loss / d (h W_hh + b_hh)
        previous = torch.cat([states.new_zeros(k, b, 1, hidden), states[:, :, :-1]], 2)
        dh = grad_states.new_zeros(k, b, hidden)
        for step in reversed(range(t)):
            dh = dh + grad_states[:, :, step]
            r, z = rz_all[:, :, step].chunk(2, -1)
            n = n_all[:, :, step]
            d_n = dh * (1 - z) * (1 - n * n)
            d_z = dh * (previous[:, :, step] - n) * z * (1 - z)
            d_r = d_n * hn_all[:, :, step] * r * (1 - r)
            grad_pre[:, :, step] = torch.cat([d_r, d_z, d_n], -1)
            grad_hidden_pre[:, :, step] = torch.cat([d_r, d_z, d_n * r], -1)
            dh = dh * z + torch.bmm(grad_hidden_pre[:, :, step].to(ctx.dtype), w).float()
        flat = grad_hidden_pre.view(k, b * t, 3 * hidden)
        grad_w_hh = torch.bmm(flat.transpose(1, 2).to(ctx.dtype), previous.reshape(k, b * t, hidden).to(ctx.dtype))
        return grad_pre, grad_w_hh.to(w_hh.dtype), flat.sum(1).to(w_hh.dtype), None


@dataclass
class PackedBatch:
    """One step's batches of the members, padded to a common (rows, length); a member with
    no batch this step has `rows` 0. The decoder's scored positions index each member's
    flattened (B, T + 1) sequence, as in Batch; all members' are one tensor, `counts` long
    per member, so that a step moves six tensors to the device whatever K is."""
    tokens: torch.Tensor  # (K, B, T)
    lengths: torch.Tensor  # (K, B), 1 for padding rows
    rows: list  # real rows per member (host ints)
    row_counts: torch.Tensor  # the same, (K,) float64, for the device's sums
    counts: list  # scored positions per member (host ints)
    positions: torch.Tensor  # (sum of counts,)
    targets: torch.Tensor
    weights: torch.Tensor

    def to(self, device):
        moved = (to_device(t, device) for t in (self.tokens, self.lengths))
        return PackedBatch(*moved, self.rows, to_device(self.row_counts, device), self.counts,
                           *(to_device(t, device) for t in (self.positions, self.targets, self.weights)))

    def __len__(self):
        """The rows of the smallest member's batch: a CUDA graph, whose row counts are fixed,
        replays only steps where every member's batch is full (its rows are the graph's)."""
        return min(self.rows)

    def member(self, k: int):
        """Member k's (positions, targets, weights): views of the packed tensors."""
        start = sum(self.counts[:k])
        part = slice(start, start + self.counts[k])
        return self.positions[part], self.targets[part], self.weights[part]


def pack_batches(batches: list, length_multiple: int = 0) -> PackedBatch:
    """The members' Batches (None: no batch for that member) as one PackedBatch. With
    `length_multiple` k > 0 the common length is rounded up to a multiple of k and every
    position of every member is scored (padding with weight 0), as `collate` does for one
    run: the tensors' shapes then depend only on (K, rows, rounded length) — one CUDA graph each."""
    present = [b for b in batches if b is not None]
    rows = max(len(b) for b in present)
    width = max(b.tokens.shape[1] for b in present)
    if length_multiple:
        width = -(-width // length_multiple) * length_multiple
    tokens = torch.full((len(batches), rows, width), PAD, dtype=torch.long)
    lengths = torch.ones(len(batches), rows, dtype=torch.long)
    grid = rows * (width + 1)
    positions, targets, weights = [], [], []
    for k, batch in enumerate(batches):
        scored = torch.arange(grid) if length_multiple else torch.zeros(0, dtype=torch.long)
        member_targets, member_weights = torch.full((len(scored),), PAD), torch.zeros(len(scored))
        if batch is not None:
            n, length = batch.tokens.shape
            tokens[k, :n, :length], lengths[k, :n] = batch.tokens, batch.lengths
            row, step = batch.positions // (length + 1), batch.positions % (length + 1)
            own = row * (width + 1) + step  # the member's scored positions on the common grid
            if length_multiple:
                member_targets[own], member_weights[own] = batch.targets, batch.weights
            else:
                scored, member_targets, member_weights = own, batch.targets, batch.weights
        positions.append(scored)
        targets.append(member_targets)
        weights.append(member_weights)
    rows_of = [len(b) if b is not None else 0 for b in batches]
    return PackedBatch(tokens, lengths, rows_of, torch.tensor(rows_of, dtype=torch.float64), [len(p) for p in positions],
                       torch.cat(positions), torch.cat(targets), torch.cat(weights))


class MemberRandomness:
    """Each member's random stream, swapped into the global generators around its draws, so
    that member k draws exactly what its own run draws from torch.manual_seed. The CUDA
    generator swaps state objects (graphsafe_set_state: no copy between host and device,
    which would wait for the device at every swap); the CPU generator's state is copied."""

    def __init__(self, device: torch.device):
        self.cuda = (torch.cuda.default_generators[device.index if device.index is not None
                                                   else torch.cuda.current_device()]
                     if device.type == "cuda" else None)
        self.states = {}

    def seed(self, k: int, seed: int):
        torch.manual_seed(seed)
        cuda = self.states[k][1] if k in self.states else self.cuda.clone_state() if self.cuda else None
        if cuda is not None:
            cuda.manual_seed(seed)  # in place: CUDA graphs hold the member's state object
        self.states[k] = torch.get_rng_state(), cuda

    def generators(self) -> list:
        """The members' CUDA states, which a CUDA graph of their draws must register."""
        return [cuda for _, cuda in self.states.values() if cuda is not None]

    @contextlib.contextmanager
    def member(self, k: int):
        cpu, cuda = self.states[k]
        outside_cpu = torch.get_rng_state()
        torch.set_rng_state(cpu)
        if self.cuda:
            outside_cuda = self.cuda.graphsafe_get_state()
            self.cuda.graphsafe_set_state(cuda)  # draws now advance the member's own state object
        try:
            yield
        finally:
            self.states[k] = torch.get_rng_state(), cuda
            torch.set_rng_state(outside_cpu)
            if self.cuda:
                self.cuda.graphsafe_set_state(outside_cuda)


class _Latent(nn.Module):
    """A member's latent part, callable with torch.func.functional_call on slices of the pack."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, features):
        return self.model.latent_terms(features)


class Pack(nn.Module):
    """K GRU VAEs of one class and size; `members` are built as their own runs build them
    (the pack starts from their weights) and hold each member's hyperparameters."""

    def __init__(self, members: list):
        super().__init__()
        first = members[0]
        for m in members:
            if type(m) is not type(first) or not isinstance(m.encoder, GRUEncoder):
                raise ValueError("a pack holds GRU-encoder models of one class")
        self.names = [name for name, _ in first.named_parameters()]
        for m in members[1:]:
            if [(n, p.shape) for n, p in m.named_parameters()] != [(n, p.shape) for n, p in first.named_parameters()]:
                raise ValueError("a pack holds models of one size")
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([dict(m.named_parameters())[n].detach().clone() for m in members]))
            for n in self.names)
        self.heads = [n for n in self.names if n.split(".")[0] not in ("embedding", "encoder", "decoder")]
        self.latents = [_Latent(m) for m in members]  # a plain list: the members' own weights are not the pack's
        self.models = members
        self.ce_chunk = first.decoder.ce_chunk

    def stacked(self, name: str) -> torch.Tensor:
        return self.weights[self.names.index(name)]

    @torch.no_grad()
    def member(self, k: int) -> VAE:
        """Member k as its own model, holding its current weights."""
        model = self.models[k]
        own = dict(model.named_parameters())
        for name, weight in zip(self.names, self.weights):
            own[name].copy_(weight[k])
        return model

    def _embed(self, tokens):
        # Member k's rows of the stacked table start at k * V. PAD's row is zero and gets no
        # gradient, as nn.Embedding's padding_idx does.
        table = self.stacked("embedding.weight")
        k, vocab = table.shape[:2]
        offsets = torch.arange(k, device=tokens.device).view(k, 1, 1) * vocab
        embedded = F.embedding(tokens + offsets, table.reshape(k * vocab, -1))
        return embedded * (tokens != PAD).unsqueeze(-1).to(embedded.dtype)

    def _gru(self, prefix, x):
        return gru_layer(x, *(self.stacked(f"{prefix}.gru.{w}_l0") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))

    def loss_terms(self, batch: PackedBatch, randomness: MemberRandomness, computed) -> list:
        """Each member's loss terms (as its own model's loss_terms), None for a member not
        `computed` or with no batch this step."""
        tokens, lengths = batch.tokens, batch.lengths
        k, rows, width = tokens.shape
        states = self._gru("encoder", self._embed(tokens))
        last = (lengths - 1).view(k, rows, 1, 1).expand(k, rows, 1, states.shape[-1])
        # Members' slices by unbind: its backward stacks the K gradients in one op, where K
        # separate index ops would each add a full-size zero gradient.
        features = states.gather(2, last).squeeze(2).unbind(0)
        heads = {name: self.stacked(name).unbind(0) for name in self.heads}
        results, codes = [None] * k, []
        for m in range(k):
            n = batch.rows[m]
            if computed[m] and n:
                with randomness.member(m):
                    weights = {f"model.{name}": heads[name][m] for name in self.heads}
                    z, results[m] = torch.func.functional_call(self.latents[m], weights, (features[m][:n],))
                codes.append(F.pad(z, (0, 0, 0, rows - n)))
            else:
                codes.append(features[m].new_zeros(rows, self.models[m].latent_dim))
        z = torch.stack(codes)
        inputs = torch.cat([torch.full((k, rows, 1), EOS, dtype=tokens.dtype, device=tokens.device), tokens], 2)
        embedded = self._embed(inputs)
        steps = torch.cat([embedded, z.to(embedded.dtype).unsqueeze(2).expand(-1, -1, width + 1, -1)], -1)
        states = self._gru("decoder", steps).unbind(0)
        out_weight, out_bias = self.stacked("decoder.output.weight").unbind(0), self.stacked("decoder.output.bias").unbind(0)
        for m, terms in enumerate(results):
            if terms is None:
                continue
            positions, targets, weights = batch.member(m)
            scored = states[m].reshape(rows * (width + 1), -1).index_select(0, positions)
            if self.ce_chunk:
                total = linear_cross_entropy(scored, out_weight[m], out_bias[m], targets, weights, self.ce_chunk)
            else:
                token_loss = F.cross_entropy(F.linear(scored, out_weight[m], out_bias[m]).float(), targets,
                                             reduction="none")
                total = (token_loss * weights).sum()
            terms = {"rec": total / batch.rows[m], **terms}
            results[m] = {**terms, "total": self.models[m].weighted_total(terms)}
        return results
