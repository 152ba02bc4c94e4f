"""``sum`` and ``mean``: project every stream to D, then add (or average) them.

    x_i' = LN(W_i x_i + b_i)        z = sum_i x_i'   (sum)      z = (1/|P|) sum_{i in P} x_i'   (mean)

with P the present streams. Baselines for the learned weightings: the weights they report are
fixed (1 for ``sum``; ``1/|P|`` for ``mean``), shaped ``(N, S)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..base import Fusion, InDims
from ..options import Option, flag
from ..registry import register_fusion


@register_fusion("sum")
class SumFusion(Fusion):
    """Sum of projected streams. Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights ``(N, S)`` of ones.

    Args:
        project: project each stream to D (None: only if some ``C_i != D``).
        stream_norm: non-affine LayerNorm on each projected stream.
    """

    options: ClassVar[dict[str, Option]] = {
        "project": flag(None, allow_none=True, doc="project each stream to D (None: only if some C_i != D)"),
        "stream_norm": flag(True, doc="non-affine LayerNorm on each projected stream"),
    }

    def __init__(self, in_dims: InDims, dim: int | None = None, *, project: bool | None = None, stream_norm: bool = True, **base: Any) -> None:
        super().__init__(in_dims, dim, **base)
        self.proj = self.build_projection(self.check_option("project", project), self.check_option("stream_norm", stream_norm))

    def stream_weights(self, like: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None:
            return like.new_ones(like.shape[0], self.num_streams)
        return mask.to(like.dtype)

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.sum_streams(xs, xs[0], mask, need_weights)

    def fuse_stacked(
        self, x: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.sum_streams(x, x, mask, need_weights)  # one sum over the stack's dim 1

    def sum_streams(
        self, streams: list[torch.Tensor] | torch.Tensor, like: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The method's math for a list of streams or their stack; ``like`` has their N and dtype."""
        if mask is None:
            # Every weight is the same constant: add, then scale once (no per-stream multiplies).
            fused = self.project_and_sum(streams, None)
            if self.constant_weight() != 1.0:
                fused = fused * self.constant_weight()
            return fused, (self.stream_weights(like, None) if need_weights else None)
        w = self.stream_weights(like, mask)  # (N, S)
        return self.project_and_sum(streams, w), w

    def constant_weight(self) -> float:
        """Each stream's weight when no stream is masked."""
        return 1.0


@register_fusion("mean")
class MeanFusion(SumFusion):
    """Average of the present projected streams; weights ``(N, S)`` equal to ``1/|present|``."""

    def stream_weights(self, like: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        w = super().stream_weights(like, mask)
        return w / w.sum(dim=1, keepdim=True)

    def constant_weight(self) -> float:
        return 1.0 / self.num_streams
