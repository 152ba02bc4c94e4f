"""``concat``: concatenate the (pooled) streams and map them linearly to D. The baseline.

    z = W [x_1; x_2; ...; x_S] + b            x_i (N, C_i)  ->  z (N, D),  W (D, sum C_i)

It has no per-stream weights (``weights`` is None): every stream's influence is spread over the
columns of W. An absent stream enters as zeros.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..base import Fusion, InDims
from ..registry import register_fusion


@register_fusion("concat")
class ConcatFusion(Fusion):
    """Concatenation + ``Linear(sum C_i, D)``. Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights None."""

    weight_level = None

    def __init__(self, in_dims: InDims, dim: int | None = None, **base: Any) -> None:
        super().__init__(in_dims, dim, **base)
        self.proj = nn.Linear(sum(self.in_dims), self.dim, **self.factory)

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.proj(torch.cat(xs, dim=1)), None

    def fuse_stacked(
        self, x: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.proj(x.flatten(1)), None  # (N, S, C) -> (N, S * C): the concatenation, a view when contiguous
