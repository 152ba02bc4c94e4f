"""Hand-written reference implementations of the fusion methods, for the benchmark only.

Each reference computes the same function as its streamfuse method, written the plain way one
would write it in a training script: one ``nn.Linear`` per stream, a Python loop over streams,
``softmax`` on the parameter, a running sum ``w[0] * x_0 + w[1] * x_1 + ...``, attention as
explicit ``softmax(q k^T / sqrt(d)) v``. A reference is built *from* a fusion module
(``build_reference(fusion)``) and gets its own copies of that module's parameters, so it has the
same parameter count, does the same work, and must give the same output; the benchmark checks
that before timing anything, and the test-suite (tests/fusions/test_references.py) checks every
method and option variant against its reference, with and without a mask. References take a list
of streams and an optional bool ``(N, S)`` mask, written out the plain way: absent streams are
zeroed, their weights are zero and the rest renormalised, their tokens are never attended to.
Pooled methods average-pool maps first, as the library does.

Nothing here is imported by streamfuse.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from streamfuse.layers.stream_linear import StreamLinear
from streamfuse.layers.tokens import sincos_positions


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    """An ``nn.Linear`` holding copies of ``weight`` ``(out, in)`` and ``bias``."""
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)
    return lin


def per_stream_linears(layer) -> nn.ModuleList:
    """Split a ``StreamLinear`` (or copy a ``ModuleList`` of ``nn.Linear``) into S ``nn.Linear``."""
    if isinstance(layer, StreamLinear):
        bias = [None] * layer.num_streams if layer.bias is None else list(layer.bias)
        return nn.ModuleList(_linear(w.t(), b) for w, b in zip(layer.weight, bias))
    return copy.deepcopy(layer)


def _pool(xs):
    return [x.flatten(2).mean(-1) if x.dim() > 2 else x for x in xs]


def _present(xs, mask):
    """Absent streams set to zero (as the library does before a method sees them)."""
    if mask is None:
        return list(xs)
    return [torch.where(mask[:, i].view((-1,) + (1,) * (x.dim() - 1)), x, torch.zeros_like(x)) for i, x in enumerate(xs)]


def _ones_mask(n, s, device):
    return torch.ones(n, s, dtype=torch.bool, device=device)


def _per_sample(mask, like):
    """``mask`` ``(N, S)`` shaped to broadcast against ``like`` ``(N, S[, D])``."""
    return mask.view(mask.shape + (1,) * (like.dim() - 2))


def _weights(logits, mode, mask):
    """Per-sample weights ``(N, S[, D])`` from logits ``(N, S[, D])``: ``softmax`` over the
    present streams only, ``sigmoid`` / ``1 + logits`` zeroed where absent."""
    m = _per_sample(mask, logits)
    if mode == "softmax":
        e = torch.exp(logits - logits.masked_fill(~m, float("-inf")).amax(dim=1, keepdim=True)) * m
        return e / e.sum(dim=1, keepdim=True)
    return (torch.sigmoid(logits) if mode == "sigmoid" else 1.0 + logits) * m


def _mix(x, w):
    """``w[:, 0] * x[0] + w[:, 1] * x[1] + ...``; ``w`` ``(N, S)`` or ``(N, S, D)``."""
    w = w.unsqueeze(-1) if w.dim() == 2 else w
    z = w[:, 0] * x[0]
    for i in range(1, len(x)):
        z = z + w[:, i] * x[i]
    return z


class NaiveProjection(nn.Module):
    """``x_i' = LN(Linear_i(x_i))`` (or ``LN(Linear2_i(act(Linear1_i(x_i))))``), one stream at a time.

    Mirrors a ``StreamProjection``; returns a list of S tensors ``(N, D)``, never a stacked one.
    """

    def __init__(self, proj) -> None:
        super().__init__()
        self.dim, self.norm = proj.dim, proj.norm
        self.first = None if proj.first is None else per_stream_linears(proj.first)
        self.act = copy.deepcopy(proj.act)
        self.second = None if proj.second is None else per_stream_linears(proj.second)

    def forward(self, xs):
        out = []
        for i, x in enumerate(xs):
            if self.first is not None:
                x = self.first[i](x)
            if self.second is not None:
                x = self.second[i](self.act(x))
            if self.norm:
                x = F.layer_norm(x, (self.dim,))
            out.append(x)
        return out


def _normalize(logits, mode, dim=0):
    if mode == "softmax":
        return torch.softmax(logits, dim=dim)
    return torch.sigmoid(logits) if mode == "sigmoid" else 1.0 + logits


class SumRef(nn.Module):
    """``z = x_1' + ... + x_S'`` (``mean``: divided by S)."""

    def __init__(self, fusion, mean: bool = False) -> None:
        super().__init__()
        self.proj, self.mean = NaiveProjection(fusion.proj), mean

    def forward(self, xs, mask=None):
        x = self.proj(_present(_pool(xs), mask))
        if mask is None:
            z = x[0]
            for xi in x[1:]:
                z = z + xi
            return z / len(x) if self.mean else z
        w = mask.float()
        return _mix(x, w / w.sum(dim=1, keepdim=True) if self.mean else w)


class ScalarRef(nn.Module):
    """``w = softmax(k theta)``; ``z = w[0] * x_1' + w[1] * x_2' + ...`` (``sigmoid``/``none`` alike)."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.proj = NaiveProjection(fusion.proj)
        self.theta = nn.Parameter(fusion.theta.detach().clone())
        self.k, self.mode = fusion.logit_scale, fusion.normalize

    def forward(self, xs, mask=None):
        x = self.proj(_present(_pool(xs), mask))
        if mask is None:
            w = _normalize(self.theta * self.k, self.mode)
            z = w[0] * x[0]
            for i in range(1, len(x)):
                z = z + w[i] * x[i]
            return z
        logits = (self.theta * self.k).unsqueeze(0).expand((mask.shape[0],) + tuple(self.theta.shape))
        return _mix(x, _weights(logits, self.mode, mask))


class ConvexRef(nn.Module):
    """``w = sigmoid(k theta)``; ``z = w * x_1' + (1 - w) * x_2'``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.proj = NaiveProjection(fusion.proj)
        self.theta = nn.Parameter(fusion.theta.detach().clone())
        self.k = fusion.logit_scale

    def forward(self, xs, mask=None):
        x1, x2 = self.proj(_present(_pool(xs), mask))
        w = torch.sigmoid(self.theta * self.k)
        if mask is None:
            return w * x1 + (1 - w) * x2
        m1, m2 = mask[:, :1].float(), mask[:, 1:].float()
        w1 = m1 * w / (m1 * w + m2 * (1 - w))  # renormalised over the present streams
        return w1 * x1 + (1 - w1) * x2


class ChannelRef(ScalarRef):
    """``w = softmax(k theta, over streams)`` with ``theta (S, D)``; ``z = w[0] * x_1' + ...``."""


class AttentionRef(nn.Module):
    """Per-stream loop: ``e_i = v^T tanh(U x_i') + k b_i``; ``a = softmax(e)``; ``z = sum_i a_i x_i'``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.proj = NaiveProjection(fusion.proj)
        self.scorer, self.k, self.dim = fusion.scorer, fusion.logit_scale, fusion.dim
        if self.scorer == "mlp":
            self.score = copy.deepcopy(fusion.score)
        else:
            self.query = nn.Parameter(fusion.query.detach().clone())
        self.stream_bias = nn.Parameter(fusion.stream_bias.detach().clone())

    def forward(self, xs, mask=None):
        x = self.proj(_present(_pool(xs), mask))
        scores = []
        for i, xi in enumerate(x):
            e = self.score(xi)[:, 0] if self.scorer == "mlp" else (xi @ self.query) / math.sqrt(self.dim)
            scores.append(e + self.stream_bias[i] * self.k)
        scores = torch.stack(scores, dim=1)
        a = torch.softmax(scores, dim=1) if mask is None else _weights(scores, "softmax", mask)
        z = a[:, 0:1] * x[0]
        for i in range(1, len(x)):
            z = z + a[:, i : i + 1] * x[i]
        return z


class AdaptiveRef(nn.Module):
    """The naive per-stream loop: ``x_i' = LN(mlp_i(x_i))``, ``W_i = mlp_w_i(x_i') + k b_i``,
    ``W = softmax over streams``, ``z = sum_i W_i * x_i'``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.proj = NaiveProjection(fusion.proj)
        self.weight_in = per_stream_linears(fusion.weight_in)
        self.weight_out = per_stream_linears(fusion.weight_out)
        self.act = copy.deepcopy(fusion.act)
        self.stream_bias = nn.Parameter(fusion.stream_bias.detach().clone())
        self.k, self.mode = fusion.logit_scale, fusion.normalize

    def forward(self, xs, mask=None):
        x = self.proj(_present(_pool(xs), mask))
        logits = [self.weight_out[i](self.act(self.weight_in[i](xi))) + self.stream_bias[i] * self.k for i, xi in enumerate(x)]
        logits = torch.stack(logits, dim=1)
        w = _normalize(logits, self.mode, dim=1) if mask is None else _weights(logits, self.mode, mask)
        z = w[:, 0] * x[0]
        for i in range(1, len(x)):
            z = z + w[:, i] * x[i]
        return z


class GMURef(nn.Module):
    """``h_i = tanh(Linear_i x_i)``; ``g = Linear([x_1; ...; x_S])``; ``z = softmax_i(g)``; ``sum_i z_i h_i``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.proj = NaiveProjection(fusion.proj)
        self.gate = copy.deepcopy(fusion.gate)

    def forward(self, xs, mask=None):
        xs = _present(_pool(xs), mask)
        h = [torch.tanh(hi) for hi in self.proj(xs)]
        g = self.gate(torch.cat(xs, dim=1)).view(h[0].shape[0], len(h), -1)
        z = torch.softmax(g, dim=1) if mask is None else _weights(g, "softmax", mask)
        out = z[:, 0] * h[0]
        for i in range(1, len(h)):
            out = out + z[:, i] * h[i]
        return out


class SelectiveRef(nn.Module):
    """SKNet: ``u = sum_i x_i'``; ``a = softmax_i(Linear(act(LN(Linear(u)))))``; ``z = sum_i a_i x_i'``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.proj = NaiveProjection(fusion.proj)
        self.squeeze = copy.deepcopy(fusion.squeeze)
        self.select = copy.deepcopy(fusion.select)

    def forward(self, xs, mask=None):
        x = self.proj(_present(_pool(xs), mask))
        m = _ones_mask(x[0].shape[0], len(x), x[0].device) if mask is None else mask
        u = m[:, :1] * x[0]
        for i in range(1, len(x)):
            u = u + m[:, i : i + 1] * x[i]  # the squeeze sums the present streams only
        logits = self.select(self.squeeze(u)).view(u.shape[0], len(x), -1)
        a = torch.softmax(logits, dim=1) if mask is None else _weights(logits, "softmax", mask)
        z = a[:, 0] * x[0]
        for i in range(1, len(x)):
            z = z + a[:, i] * x[i]
        return z


class ConcatRef(nn.Module):
    """``Linear([x_1; ...; x_S])``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.proj = copy.deepcopy(fusion.proj)

    def forward(self, xs, mask=None):
        return self.proj(torch.cat(_present(_pool(xs), mask), dim=1))


class LowRankRef(nn.Module):
    """``z = sum_r w_r prod_i (W_i^r [x_i; 1]) + b``, the product taken one stream at a time."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.factors = copy.deepcopy(fusion.factors)
        self.rank_weight = nn.Parameter(fusion.rank_weight.detach().clone())
        self.bias = nn.Parameter(fusion.bias.detach().clone())
        self.rank, self.dim = fusion.rank, fusion.dim

    def forward(self, xs, mask=None):
        xs = _present(_pool(xs), mask)
        factors = [lin(x) for lin, x in zip(self.factors, xs)]
        if mask is not None:  # an absent stream's factor is 1, the neutral element of the product
            factors = [torch.where(mask[:, i : i + 1], f, torch.ones_like(f)) for i, f in enumerate(factors)]
        prod = factors[0]
        for f in factors[1:]:
            prod = prod * f
        prod = prod.view(-1, self.rank, self.dim)
        z = self.bias + self.rank_weight[0] * prod[:, 0]
        for r in range(1, self.rank):
            z = z + self.rank_weight[r] * prod[:, r]
        return z


class NaiveMHA(nn.Module):
    """``nn.MultiheadAttention`` (no dropout) as explicit matrix products per head:
    ``softmax(q k^T / sqrt(d_head)) v``, materialising the ``(N, heads, L_q, L_kv)`` attention.
    ``key_present`` (bool ``(N, L_kv)``, optional): keys that may be attended to."""

    def __init__(self, mha: nn.MultiheadAttention) -> None:
        super().__init__()
        self.heads = mha.num_heads
        wq, wk, wv = mha.in_proj_weight.chunk(3)
        bq, bk, bv = mha.in_proj_bias.chunk(3)
        self.q, self.k, self.v = _linear(wq, bq), _linear(wk, bk), _linear(wv, bv)
        self.out = _linear(mha.out_proj.weight, mha.out_proj.bias)

    def forward(self, query, kv, key_present=None):
        n, lq, d = query.shape
        h, dh = self.heads, d // self.heads

        def split(t):  # (N, L, D) -> (N, h, L, dh)
            return t.view(n, -1, h, dh).transpose(1, 2)

        q, k, v = split(self.q(query)), split(self.k(kv)), split(self.v(kv))
        scores = q @ k.transpose(-2, -1) / math.sqrt(dh)
        if key_present is not None:
            scores = scores.masked_fill(~key_present[:, None, None, :], float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        return self.out((attn @ v).transpose(1, 2).reshape(n, lq, d))


class NaiveTokens(nn.Module):
    """``TokenEmbedding`` written out: ``LN(Linear_i(tokens) + sincos positions + e_i)``."""

    def __init__(self, embed) -> None:
        super().__init__()
        self.dim = embed.dim
        self.proj = copy.deepcopy(embed.proj)
        self.stream_embed = nn.Parameter(embed.stream_embed.detach().clone())

    def forward(self, x, i):
        tokens = x.flatten(2).transpose(1, 2)
        pos = sincos_positions(x.shape[2:], self.dim, device=x.device, dtype=x.dtype)
        return F.layer_norm(self.proj[i](tokens) + pos + self.stream_embed[i], (self.dim,))


class CrossAttentionRef(nn.Module):
    """Naive loop over query streams with explicit attention (``NaiveMHA``), then mean-pool and
    softmax stream weights: ``z = sum_i a_i mean_L LN(T_i + MHA_i(T_i, [n_i; T_j]))``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.embed = NaiveTokens(fusion.embed)
        self.attn = nn.ModuleList(NaiveMHA(m) for m in fusion.attn)
        self.null = nn.Parameter(fusion.null.detach().clone())
        self.norm = copy.deepcopy(fusion.norm)
        self.score = copy.deepcopy(fusion.score)
        self.stream_bias = nn.Parameter(fusion.stream_bias.detach().clone())
        self.k = fusion.logit_scale

    def forward(self, xs, mask=None):
        tokens = [self.embed(x, i) for i, x in enumerate(_present(xs, mask))]
        n, s = tokens[0].shape[0], len(tokens)
        m = _ones_mask(n, s, tokens[0].device) if mask is None else mask
        summaries, scores = [], []
        for i, q in enumerate(tokens):
            others = [j for j in range(s) if j != i]
            kv = torch.cat([self.null[i].expand(n, 1, -1)] + [tokens[j] for j in others], dim=1)
            # The null token is always there; another stream's tokens only when it is present.
            present = torch.cat([m[:, :1] | True] + [m[:, j : j + 1].expand(n, tokens[j].shape[1]) for j in others], dim=1)
            summary = self.norm(q + self.attn[i](q, kv, present)).mean(dim=1)
            summaries.append(summary)
            scores.append(self.score(summary)[:, 0] + self.stream_bias[i] * self.k)
        a = _weights(torch.stack(scores, dim=1), "softmax", m)
        z = a[:, 0:1] * summaries[0]
        for i in range(1, s):
            z = z + a[:, i : i + 1] * summaries[i]
        return z


class NaiveEncoderLayer(nn.Module):
    """Pre-norm ``nn.TransformerEncoderLayer`` written out: ``x += MHA(LN1 x)``; ``x += FF(LN2 x)``."""

    def __init__(self, layer: nn.TransformerEncoderLayer) -> None:
        super().__init__()
        self.attn = NaiveMHA(layer.self_attn)
        self.norm1, self.norm2 = copy.deepcopy(layer.norm1), copy.deepcopy(layer.norm2)
        self.linear1, self.linear2 = copy.deepcopy(layer.linear1), copy.deepcopy(layer.linear2)
        self.act = copy.deepcopy(layer.activation)

    def forward(self, x, key_present=None):
        h = self.norm1(x)
        x = x + self.attn(h, h, key_present)
        return x + self.linear2(self.act(self.linear1(self.norm2(x))))


class TransformerRef(nn.Module):
    """CLS token + stream tokens through naive pre-norm encoder layers; ``z = LN(x[:, 0])``."""

    def __init__(self, fusion) -> None:
        super().__init__()
        self.tokens_mode, self.dim = fusion.token_level, fusion.dim
        if self.tokens_mode:
            self.embed = NaiveTokens(fusion.embed)
        else:
            self.proj = NaiveProjection(fusion.proj)
            self.stream_embed = nn.Parameter(fusion.stream_embed.detach().clone())
        self.cls = nn.Parameter(fusion.cls.detach().clone())
        self.layers = nn.ModuleList(NaiveEncoderLayer(layer) for layer in fusion.layers)
        self.norm = copy.deepcopy(fusion.norm)

    def forward(self, xs, mask=None):
        if self.tokens_mode:
            parts = [self.embed(x, i) for i, x in enumerate(_present(xs, mask))]
        else:
            parts = [(x + self.stream_embed[i]).unsqueeze(1) for i, x in enumerate(self.proj(_present(_pool(xs), mask)))]
        n = parts[0].shape[0]
        x = torch.cat([self.cls.expand(n, 1, self.dim)] + parts, dim=1)
        present = None
        if mask is not None:  # the CLS token, then each stream's tokens while it is present
            present = torch.cat([mask[:, :1] | True] + [mask[:, i : i + 1].expand(n, p.shape[1]) for i, p in enumerate(parts)], dim=1)
        for layer in self.layers:
            x = layer(x, present)
        return self.norm(x[:, 0])


REFERENCES = {
    "adaptive": AdaptiveRef,
    "attention": AttentionRef,
    "channel": ChannelRef,
    "concat": ConcatRef,
    "convex": ConvexRef,
    "cross_attention": CrossAttentionRef,
    "gmu": GMURef,
    "lowrank": LowRankRef,
    "mean": lambda f: SumRef(f, mean=True),
    "scalar": ScalarRef,
    "selective": SelectiveRef,
    "sum": SumRef,
    "transformer": TransformerRef,
}


def build_reference(fusion) -> nn.Module | None:
    """The hand-written reference for ``fusion`` (same math, copied parameters), or None."""
    make = REFERENCES.get(fusion.name)
    return None if make is None else make(fusion)
