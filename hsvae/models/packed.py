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
    The gates run in fp32 under autocast (the matmuls in its dtype)."""
    k, b, t, _ = x.shape
    hidden = w_hh.shape[-1]
    projected = torch.baddbmm(b_ih.unsqueeze(1), x.reshape(k, b * t, -1), w_ih.transpose(1, 2))
    projected = projected.view(k, b, t, 3 * hidden).float()
    w_hh_t, b_hh = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
    h = x.new_zeros(k, b, hidden, dtype=torch.float32)
    states = []
    for step in range(t):
        x_r, x_z, x_n = projected[:, :, step].chunk(3, -1)
        h_r, h_z, h_n = torch.baddbmm(b_hh, h, w_hh_t).float().chunk(3, -1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = n + z * (h - n)  # (1 - z) n + z h
        states.append(h)
    return torch.stack(states, 2)


@dataclass
class PackedBatch:
    """One step's batches of the members, padded to a common (rows, length); a member with
    no batch this step has `rows` 0. The decoder's scored positions index each member's
    flattened (B, T + 1) sequence, as in Batch."""
    tokens: torch.Tensor  # (K, B, T)
    lengths: torch.Tensor  # (K, B), 1 for padding rows
    rows: list  # real rows per member
    positions: list  # per member (N_k,)
    targets: list
    weights: list

    def to(self, device):
        move = [to_device(t, device) for t in (self.tokens, self.lengths)]
        return PackedBatch(*move, self.rows, *([to_device(t, device) for t in ts]
                                               for ts in (self.positions, self.targets, self.weights)))


def pack_batches(batches: list) -> PackedBatch:
    """The members' Batches (None: no batch for that member) as one PackedBatch."""
    present = [b for b in batches if b is not None]
    rows = max(len(b) for b in present)
    width = max(b.tokens.shape[1] for b in present)
    tokens = torch.full((len(batches), rows, width), PAD, dtype=torch.long)
    lengths = torch.ones(len(batches), rows, dtype=torch.long)
    positions, targets, weights, counts = [], [], [], []
    for k, batch in enumerate(batches):
        if batch is None:
            counts.append(0)
            positions.append(torch.zeros(0, dtype=torch.long))
            targets.append(torch.zeros(0, dtype=torch.long))
            weights.append(torch.zeros(0))
            continue
        n, length = batch.tokens.shape
        tokens[k, :n, :length], lengths[k, :n] = batch.tokens, batch.lengths
        row, step = batch.positions // (length + 1), batch.positions % (length + 1)
        positions.append(row * (width + 1) + step)
        targets.append(batch.targets)
        weights.append(batch.weights)
        counts.append(n)
    return PackedBatch(tokens, lengths, counts, positions, targets, weights)


class MemberRandomness:
    """Each member's random stream: the global generators' states swapped in around its
    draws, so that member k draws exactly what its own run draws from torch.manual_seed."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.states = {}

    def _get(self):
        return torch.get_rng_state(), torch.cuda.get_rng_state() if self.cuda else None

    def _set(self, state):
        torch.set_rng_state(state[0])
        if self.cuda:
            torch.cuda.set_rng_state(state[1])

    def seed(self, k: int, seed: int):
        torch.manual_seed(seed)
        self.states[k] = self._get()

    @contextlib.contextmanager
    def member(self, k: int):
        outside = self._get()
        self._set(self.states[k])
        try:
            yield
        finally:
            self.states[k] = self._get()
            self._set(outside)


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

    def __len__(self):
        return len(self.models)

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

    def loss_terms(self, batch: PackedBatch, randomness: MemberRandomness, active) -> list:
        """Each member's loss terms (as its own model's loss_terms), None for a member that is
        not `active` or has no batch this step."""
        tokens, lengths = batch.tokens, batch.lengths
        k, rows, width = tokens.shape
        states = self._gru("encoder", self._embed(tokens))
        last = (lengths - 1).view(k, rows, 1, 1).expand(k, rows, 1, states.shape[-1])
        features = states.gather(2, last).squeeze(2)
        results, codes = [None] * k, []
        for m in range(k):
            n = batch.rows[m]
            if active[m] and n:
                with randomness.member(m):
                    weights = {f"model.{name}": self.stacked(name)[m] for name in self.heads}
                    z, results[m] = torch.func.functional_call(self.latents[m], weights, (features[m, :n],))
                codes.append(F.pad(z, (0, 0, 0, rows - n)))
            else:
                codes.append(features.new_zeros(rows, self.models[m].latent_dim))
        z = torch.stack(codes)
        inputs = torch.cat([torch.full((k, rows, 1), EOS, dtype=tokens.dtype, device=tokens.device), tokens], 2)
        embedded = self._embed(inputs)
        steps = torch.cat([embedded, z.to(embedded.dtype).unsqueeze(2).expand(-1, -1, width + 1, -1)], -1)
        states = self._gru("decoder", steps)
        out_weight, out_bias = self.stacked("decoder.output.weight"), self.stacked("decoder.output.bias")
        for m, terms in enumerate(results):
            if terms is None:
                continue
            scored = states[m].reshape(rows * (width + 1), -1).index_select(0, batch.positions[m])
            if self.ce_chunk:
                total = linear_cross_entropy(scored, out_weight[m], out_bias[m], batch.targets[m], batch.weights[m],
                                             self.ce_chunk)
            else:
                token_loss = F.cross_entropy(F.linear(scored, out_weight[m], out_bias[m]).float(), batch.targets[m],
                                             reduction="none")
                total = (token_loss * batch.weights[m]).sum()
            terms = {"rec": total / batch.rows[m], **terms}
            results[m] = {**terms, "total": self.models[m].weighted_total(terms)}
        return results
