"""Token embedding for token-level fusions: maps become sequences that keep their positions.

A stream map ``(N, C_i, *spatial)`` of any rank (``(N, C, L)`` sequences, ``(N, C, H, W)``
images, ``(N, C, T, H, W)`` video) is flattened to ``L_i = prod(spatial)`` tokens ``(N, L_i, C_i)``,
projected to ``D``, and given (a) a fixed sine-cosine code of its position along every spatial
axis and (b) a learned stream-type embedding. The sine-cosine code (Vaswani et al. 2017,
https://arxiv.org/abs/1706.03762) is computed from the shape, so any map size works without
re-initialising parameters, and positions survive flattening.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.types import Device


def sincos_positions(spatial: Sequence[int], dim: int, device: Device = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return ``(prod(spatial), dim)``: the sum over axes of a sine-cosine code of each coordinate.

    Coordinates are normalised to [0, 1] along each axis, so a 7x7 and a 14x14 map of the same
    scene get comparable codes. Axis ``a`` gets its own phase offset so that axes are told apart.
    """
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * (-math.log(100.0) / max(half, 1)))
    grids = torch.meshgrid(
        *[torch.linspace(0.0, 1.0, n, device=device) if n > 1 else torch.zeros(1, device=device) for n in spatial],
        indexing="ij",
    )
    code = torch.zeros(math.prod(spatial), dim, device=device)
    for axis, grid in enumerate(grids):
        angle = (grid.reshape(-1, 1) * 2 * math.pi + axis) * freqs * 8
        code[:, : 2 * half] += torch.cat([angle.sin(), angle.cos()], dim=1)
    return (code / math.sqrt(max(len(spatial), 1))).to(dtype or torch.float32)


class TokenEmbedding(nn.Module):
    """Per-stream token projection + positional code + learned stream-type embedding.

    Shapes: stream ``i`` ``(N, C_i, *spatial_i)`` -> ``(N, L_i, D)`` with ``L_i = prod(spatial_i)``.
    """

    def __init__(self, in_dims: Sequence[int], dim: int, device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.dim = dim
        self.proj = nn.ModuleList(nn.Linear(c, dim, **factory) for c in in_dims)
        self.stream_embed = nn.Parameter(torch.randn(len(in_dims), dim, **factory) * 0.02)

    def forward(self, x: torch.Tensor, index: int) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # (N, L, C)
        pos = sincos_positions(x.shape[2:], self.dim, device=x.device, dtype=x.dtype)
        out = self.proj[index](tokens) + pos + self.stream_embed[index]
        return F.layer_norm(out, (self.dim,))
