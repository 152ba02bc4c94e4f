"""``cross_attention``: each stream's tokens attend to the other streams' tokens, then pool.

For token maps (positions before pooling). With S = 2 this is "x1 queries, x2 keys/values" and
the symmetric direction; with more streams each stream queries all the others at once.

    T_i  = LN(W_i tokens(x_i) + pos + e_i)          (N, L_i, D)   positions kept (``TokenEmbedding``)
    K_i  = [n_i; T_j for j != i, j present]          keys/values, plus a learned null token n_i
    H_i  = LN(T_i + MHA_i(T_i, K_i, K_i))            (N, L_i, D)
    s_i  = mean over L_i of H_i                      (N, D)        stream summary
    a    = softmax_i(v^T s_i + k b_i);  z = sum_i a_i s_i

Shapes: S maps ``(N, C_i, *spatial_i)`` -> ``(N, D)``; weights ``a`` ``(N, S)``. Each stream may
have its own rank and size. The null token lets a query attend to "nothing" and keeps the softmax
defined when every other stream is masked. Cost: ``O(sum_i L_i * sum_{j != i} L_j * D)`` time and
``O(heads * L_i * L_kv)`` attention memory per stream (quadratic in the token count; measured in
BENCHMARKS.md). ``attention_maps(streams)`` returns the attention of every query stream over
the others' tokens for inspection. Cross-modal attention as in Tsai et al. 2019 (MulT),
https://arxiv.org/abs/1906.00295
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..base import Fusion, InDims, Streams
from ..errors import StreamFuseError
from ..layers.masking import masked_softmax, weighted_sum
from ..layers.tokens import TokenEmbedding
from ..options import Option, positive_float, positive_int, probability
from ..registry import register_fusion


@register_fusion("cross_attention")
class CrossAttentionFusion(Fusion):
    """Cross-attention between stream token maps.

    Args:
        num_heads: attention heads (D must be divisible by it).
        dropout: attention dropout.
        logit_scale: scale of the per-stream prior in the final stream weights (see ``scalar``).
    """

    token_level = True
    min_streams = 2
    k: torch.Tensor  # logit_scale as a 0-dim buffer (Fusion.register_logit_scale)
    options: ClassVar[dict[str, Option]] = {
        "num_heads": positive_int(4, doc="attention heads (D must be divisible by it)"),
        "dropout": probability(0.0, "attention dropout", recorded=False),
        "logit_scale": positive_float(10.0, "scale of the per-stream prior in the stream weights"),
    }

    def __init__(self, in_dims: InDims, dim: int | None = None, *, num_heads: int = 4, dropout: float = 0.0, logit_scale: float = 10.0, **base: Any) -> None:
        super().__init__(in_dims, dim, **base)
        num_heads, dropout = self.check_option("num_heads", num_heads), self.check_option("dropout", dropout)
        if dim is None:  # default D = widest stream, rounded up so the heads split it evenly
            self.dim = -(-self.dim // num_heads) * num_heads
        if self.dim % num_heads:
            raise StreamFuseError(f"cross_attention: dim D={self.dim} must be divisible by num_heads={num_heads}")
        f, s, d = self.factory, self.num_streams, self.dim
        self.logit_scale: float = self.register_logit_scale(logit_scale)
        self.embed = TokenEmbedding(self.in_dims, d, **f)
        self.attn = nn.ModuleList(nn.MultiheadAttention(d, num_heads, dropout=dropout, batch_first=True, **f) for _ in range(s))
        self.null = nn.Parameter(torch.randn(s, 1, d, **f) * 0.02)
        self.norm = nn.LayerNorm(d, **f)
        self.score = nn.Linear(d, 1, bias=False, **f)
        self.stream_bias = nn.Parameter(torch.zeros(s, **f))
        # attention_maps: {query stream: ((N, L_q, 1 + sum L_k) attention, key stream names, key lengths L_k)}
        self._keep: dict[str, tuple[torch.Tensor, list[str], list[int]]] | None = None

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        n = xs[0].shape[0]
        tokens = [self.embed(x, i) for i, x in enumerate(xs)]
        # (N = 0: MultiheadAttention cannot reshape an empty key-padding mask; nothing to hide.)
        absent = None if mask is None or n == 0 else [(~mask[:, j]).unsqueeze(1).expand(n, t.shape[1]) for j, t in enumerate(tokens)]
        summaries = []
        for i, q in enumerate(tokens):
            others = [j for j in range(len(tokens)) if j != i]
            kv = torch.cat([self.null[i].expand(n, 1, self.dim)] + [tokens[j] for j in others], dim=1)
            pad = None
            if absent is not None:
                pad = torch.cat([absent[i].new_zeros(n, 1)] + [absent[j] for j in others], dim=1)
            out, attn = self.attn[i](q, kv, kv, key_padding_mask=pad, need_weights=self._keep is not None)
            if self._keep is not None:
                self._keep[self.stream_names[i]] = (attn, [self.stream_names[j] for j in others], [tokens[j].shape[1] for j in others])
            summaries.append(self.norm(q + out).mean(dim=1))
        p = torch.stack(summaries, dim=1)  # (N, S, D)
        a = masked_softmax(self.score(p).squeeze(-1) + self.stream_bias * self.k, mask, dim=1)
        return weighted_sum(p, a), a

    def no_weight_decay(self) -> set[str]:
        return {"stream_bias", "null", "embed.stream_embed"}

    @torch.no_grad()
    def attention_maps(self, streams: Streams, mask: torch.Tensor | None = None) -> dict[str, dict[str, torch.Tensor]]:
        """``{query stream: {key stream: (N, L_query, L_key)}}``, head-averaged attention.

        Each query stream's dict also holds ``"null"`` ``(N, L_query, 1)``, the mass given to the
        null token. Rows sum to 1 over the null token and all key streams.
        """
        self._keep = {}
        try:
            self(streams, mask=mask)
            maps = {}
            for name, (attn, others, lengths) in self._keep.items():
                parts = torch.split(attn, [1] + lengths, dim=-1)
                maps[name] = {"null": parts[0], **dict(zip(others, parts[1:]))}
            return maps
        finally:
            self._keep = None
