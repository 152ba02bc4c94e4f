"""Global pooling of a stream's feature map over every position: ``(N, C, *spatial) -> (N, C)``.

    avg    mean over the ``prod(spatial)`` positions of each channel
    max    maximum over them

``MultiStreamHead`` pools each stream this way before a pooled-level fusion (its ``pool``
option), and the reference networks of ``streamfuse.training`` pool their per-stream classifiers'
inputs with the same function, so ``pool="max"`` means one thing everywhere.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import unknown_choice

POOLS = ("avg", "max")


def global_pool(x: torch.Tensor, pool: str = "avg", spatial_from: int = 2) -> torch.Tensor:
    """``(N, C, *spatial)`` -> ``(N, C)``: the mean (``"avg"``) or maximum (``"max"``) over positions.

    A map with no spatial axis, ``(N, C)``, is returned as it is. ``spatial_from=3`` pools streams
    stacked on dim 1, ``(N, S, C, *spatial)`` -> ``(N, S, C)``."""
    if pool not in POOLS:
        raise unknown_choice("pool", pool, POOLS)
    if x.dim() <= spatial_from:
        return x
    flat = x.flatten(spatial_from)
    return flat.mean(-1) if pool == "avg" else flat.amax(-1)


class GlobalPool(nn.Module):
    """``global_pool`` as a module (for ``nn.Sequential``); no parameters."""

    def __init__(self, pool: str = "avg") -> None:
        super().__init__()
        if pool not in POOLS:
            raise unknown_choice("pool", pool, POOLS)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return global_pool(x, self.pool)

    def extra_repr(self) -> str:
        return f"pool={self.pool!r}"
