"""``StreamProjection``: bring S streams of widths ``C_i`` to one width ``D``, stacked.

Shapes: a list of S tensors ``(N, C_i)``, or one stack ``(N, S, C)``, -> ``(N, S, D)``.

Why a normalisation follows the projection by default: if a stream's projection can shrink or
inflate its output, a learned fusion weight never has to move to ignore or favour that stream, and
the weight stops meaning anything. With a non-affine LayerNorm after the projection each stream
enters the fusion at unit scale, so how much a stream counts lives in the fusion weights alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.types import Device

from .stream_linear import StreamLinear


class StreamProjection(nn.Module):
    """Per-stream ``Linear`` (or two-layer MLP) to width ``dim``, then an optional LayerNorm.

    Args:
        in_dims: widths ``C_i`` of the S streams.
        dim: output width ``D``.
        project: False keeps the inputs as they are (all ``C_i`` must equal ``D``).
        mlp: use ``Linear -> act_layer -> Linear`` instead of one ``Linear`` (the "adaptive
            weights" recipe projects with an MLP).
        norm: apply a non-affine LayerNorm over ``D`` to each projected stream.
        act_layer: activation class for the MLP.

    When all widths are equal the S projections run as one batched matmul (``StreamLinear``);
    otherwise each stream has its own ``nn.Linear`` and the results are stacked (``forward``) or
    kept as a list (``project_each``).
    """

    def __init__(
        self,
        in_dims: Sequence[int],
        dim: int,
        project: bool = True,
        mlp: bool = False,
        norm: bool = True,
        act_layer: type[nn.Module] = nn.GELU,
        device: Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.in_dims, self.dim, self.norm = list(in_dims), dim, norm
        self.shared_width = len(set(self.in_dims)) == 1
        s = len(self.in_dims)
        self.first: StreamLinear | nn.ModuleList | None
        if not project:
            self.first = None
        elif self.shared_width:
            self.first = StreamLinear(s, self.in_dims[0], dim, **factory)
        else:
            self.first = nn.ModuleList(nn.Linear(c, dim, **factory) for c in self.in_dims)
        self.act = act_layer() if (project and mlp) else None
        self.second = StreamLinear(s, dim, dim, **factory) if (project and mlp) else None
        # True when the projection runs as batched matmuls over stacked streams (StreamLinear), so
        # forward's stacked layout is the cheap one; otherwise project_each's list is. Fixed by the
        # structure built above; a plain attribute, read on every call.
        self.batched: bool = isinstance(self.first, StreamLinear) or self.second is not None

    def project_each(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The S projected streams as a list of ``(N, D)`` tensors, never stacked.

        Without a batched projection (no projection, or one ``nn.Linear`` per stream of its own
        width) this saves the stack copy and lets a weighted sum read each stream directly;
        otherwise it unbinds ``forward``'s stacked result.
        """
        first = self.first
        if self.batched or isinstance(first, StreamLinear):  # (the isinstance narrows the type)
            return list(self(xs).unbind(1))
        out = list(xs) if first is None else [lin(x) for lin, x in zip(first, xs)]
        return [F.layer_norm(x, (self.dim,)) for x in out] if self.norm else out

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """``xs``: a list of S streams, or the streams already stacked ``(N, S, C)`` (not copied)."""
        stacked = xs if isinstance(xs, torch.Tensor) else None
        if self.first is None:
            out = stacked if stacked is not None else torch.stack(list(xs), dim=1)
        elif isinstance(self.first, StreamLinear):
            out = self.first(stacked if stacked is not None else torch.stack(list(xs), dim=1))
        else:  # one Linear per width (a stack has one width, so only lists come here in practice)
            out = torch.stack([lin(x) for lin, x in zip(self.first, stacked.unbind(1) if stacked is not None else xs)], dim=1)
        if self.second is not None and self.act is not None:  # set together (project and mlp)
            out = self.second(self.act(out))
        if self.norm:
            out = F.layer_norm(out, (self.dim,))
        return out
