"""``lowrank``: low-rank multimodal (tensor) fusion (Liu et al. 2018, LMF), S streams.

Tensor fusion takes the outer product of the streams, each padded with a 1, and maps it linearly
to D; LMF factorises that weight tensor into ``rank`` modality-specific factors, so

    f_i^r = W_i^r [x_i; 1]                       (N, D)   per stream i and rank r
    z     = sum_r w_r prod_i f_i^r + b           (N, D)

Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights None (a multiplicative fusion has no per-stream
weight). An absent stream's factor is set to 1, the neutral element of the product. Factors are
initialised near 1 (bias 1, small weights) so the product starts close to an additive fusion
and stays well scaled for many streams. Paper: "Efficient Low-rank Multimodal Fusion with
Modality-Specific Factors", https://arxiv.org/abs/1806.00064
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import torch
from torch import nn

from ..base import Fusion, InDims
from ..options import Option, positive_int
from ..registry import register_fusion


@register_fusion("lowrank")
class LowRankFusion(Fusion):
    """Low-rank tensor fusion.

    Args:
        rank: number of factors per stream (the paper finds 4 enough on its tasks).
    """

    weight_level = None
    options: ClassVar[dict[str, Option]] = {"rank": positive_int(4, doc="factors per stream")}

    def __init__(self, in_dims: InDims, dim: int | None = None, *, rank: int = 4, **base: Any) -> None:
        super().__init__(in_dims, dim, **base)
        self.rank: int = self.check_option("rank", rank)
        rank = self.rank
        self.factors = nn.ModuleList(nn.Linear(c, rank * self.dim, **self.factory) for c in self.in_dims)
        self.rank_weight = nn.Parameter(torch.full((rank,), 1.0 / rank, **self.factory))
        self.bias = nn.Parameter(torch.zeros(self.dim, **self.factory))
        with torch.no_grad():
            for lin, c in zip(cast("Sequence[nn.Linear]", self.factors), self.in_dims):  # ModuleList is not generic
                lin.weight.uniform_(-1, 1).mul_(1.0 / math.sqrt(c * self.num_streams))
                lin.bias.fill_(1.0)

    def no_weight_decay(self) -> set[str]:
        return {"rank_weight", "bias"}

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        n = xs[0].shape[0]
        prod = None
        for i, (lin, x) in enumerate(zip(self.factors, xs)):
            f = lin(x).view(n, self.rank, self.dim)
            if mask is not None:
                f = torch.where(mask[:, i].view(n, 1, 1), f, torch.ones((), dtype=f.dtype, device=f.device))
            prod = f if prod is None else prod * f
        return torch.einsum("r,nrd->nd", self.rank_weight, prod) + self.bias, None
