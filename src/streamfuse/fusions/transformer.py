"""``transformer``: ``nn.TransformerEncoder`` layers over stream tokens with a CLS token.

    pooled mode:  t_i = LN(W_i x_i) + e_i                      one token per stream, (N, S, D)
    tokens mode:  T_i = TokenEmbedding(x_i)                    all positions of all streams, (N, sum L_i, D)
    X = [cls; tokens] -> depth x TransformerEncoderLayer (pre-norm) -> z = LN(X[:, 0])

Shapes: pooled: S x ``(N, C_i)`` (maps are average-pooled) -> ``(N, D)``; tokens: S maps
``(N, C_i, *spatial_i)`` -> ``(N, D)``. ``e_i`` is a learned stream-type embedding. Absent
streams are removed by the key-padding mask.

Weights ``(N, S)``: the last layer's head-averaged attention of the CLS token, summed over each
stream's tokens and renormalised over streams. Unlike the weighting methods this is a diagnostic
read off the attention, not the coefficient that mixes the streams; it is computed only when
``return_weights=True`` (one extra attention pass). Architecture: Vaswani et al. 2017,
https://arxiv.org/abs/1706.03762; CLS pooling as in BERT/ViT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import torch
from torch import nn

from ..base import Fusion, InDims
from ..errors import StreamFuseError
from ..layers.tokens import TokenEmbedding
from ..options import (
    Option,
    choice,
    flag,
    module_class,
    positive_float,
    positive_int,
    probability,
)
from ..registry import register_fusion


@register_fusion("transformer")
class TransformerFusion(Fusion):
    """Transformer encoder fusion.

    Args:
        mode: ``"pooled"`` (one token per stream) or ``"tokens"`` (every position of every map).
        depth: number of encoder layers.
        num_heads: attention heads (D must be divisible by it).
        mlp_ratio: feed-forward width as a multiple of D.
        dropout: dropout inside the encoder layers.
        act_layer: feed-forward activation class.
        stream_norm: LayerNorm on each projected stream (pooled mode).
    """

    options: ClassVar[dict[str, Option]] = {
        "mode": choice("pooled", ("pooled", "tokens"), "one token per stream, or every position of every map"),
        "depth": positive_int(2, doc="encoder layers"),
        "num_heads": positive_int(4, doc="attention heads (D must be divisible by it)"),
        "mlp_ratio": positive_float(2.0, "feed-forward width as a multiple of D"),
        "dropout": probability(0.0, "dropout inside the encoder layers", recorded=False),
        "act_layer": module_class(nn.GELU, "feed-forward activation class"),
        "stream_norm": flag(True, doc="LayerNorm on each projected stream (pooled mode)"),
    }

    def __init__(
        self,
        in_dims: InDims,
        dim: int | None = None,
        *,
        mode: str = "pooled",
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        act_layer: type[nn.Module] = nn.GELU,
        stream_norm: bool = True,
        **base: Any,
    ) -> None:
        super().__init__(in_dims, dim, **base)
        mode, depth, num_heads = self.check_option("mode", mode), self.check_option("depth", depth), self.check_option("num_heads", num_heads)
        mlp_ratio, dropout = self.check_option("mlp_ratio", mlp_ratio), self.check_option("dropout", dropout)
        act_layer, stream_norm = self.check_option("act_layer", act_layer), self.check_option("stream_norm", stream_norm)
        if dim is None:  # default D = widest stream, rounded up so the heads split it evenly
            self.dim = -(-self.dim // num_heads) * num_heads
        if self.dim % num_heads:
            raise StreamFuseError(f"transformer: dim D={self.dim} must be divisible by num_heads={num_heads}")
        f, d = self.factory, self.dim
        self.mode = mode
        self.token_level = mode == "tokens"  # instance-level: the base pools maps unless this is set
        if self.token_level:
            self.embed = TokenEmbedding(self.in_dims, d, **f)
        else:
            self.proj = self.build_projection(None, stream_norm)
            self.stream_embed = nn.Parameter(torch.randn(self.num_streams, d, **f) * 0.02)
        self.cls = nn.Parameter(torch.randn(1, 1, d, **f) * 0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d, num_heads, int(d * mlp_ratio), dropout, activation=act_layer(), batch_first=True, norm_first=True, **f
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(d, **f)

    def no_weight_decay(self) -> set[str]:
        # The stream-type embedding is a per-stream preference in both modes (it sits on the
        # fusion in pooled mode and on the token embedding in tokens mode).
        return {"cls", "embed.stream_embed" if self.token_level else "stream_embed"}

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        n = xs[0].shape[0]
        if self.token_level:
            parts = [self.embed(x, i) for i, x in enumerate(xs)]
            lengths = [p.shape[1] for p in parts]
            tokens = torch.cat(parts, dim=1)
        else:
            tokens, lengths = self.proj(xs) + self.stream_embed, [1] * self.num_streams
        x = torch.cat([self.cls.expand(n, 1, self.dim), tokens], dim=1)
        pad = None
        if mask is not None and n > 0:  # (N = 0: the attention cannot reshape an empty padding mask)
            # One column per token: stream i's absence repeated over its L_i tokens (an expand per
            # stream, not repeat_interleave, which the dynamo ONNX exporter cannot convert).
            pad = torch.cat([mask.new_zeros(n, 1)] + [(~mask[:, i : i + 1]).expand(n, k) for i, k in enumerate(lengths)], dim=1)
        weights = None
        layers = cast("Sequence[nn.TransformerEncoderLayer]", self.layers)  # torch's ModuleList is not generic
        for k, layer in enumerate(layers):
            if need_weights and k == len(layers) - 1 and n > 0:  # (N = 0: no attention map; zero rows below)
                h = layer.norm1(x)
                _, attn = layer.self_attn(h, h, h, key_padding_mask=pad, need_weights=True)
                per_stream = torch.stack([s.sum(-1) for s in torch.split(attn[:, 0, 1:], lengths, dim=-1)], dim=1)
                weights = per_stream / per_stream.sum(dim=1, keepdim=True).clamp_min(1e-12)
            x = layer(x, src_key_padding_mask=pad)
        if need_weights and n == 0:
            weights = x.new_zeros(0, self.num_streams)
        return self.norm(x[:, 0]), weights
