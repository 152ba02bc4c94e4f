"""``channel``: a learnable weight per stream and per channel (the "element-wise" Parameter).

    z_d = sum_i w_{i,d} x'_{i,d}       w_{:,d} = softmax_i(k theta_{:,d}) | sigmoid | 1 + k theta

Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights ``(N, S, D)`` (input-independent, broadcast).
``x_i'`` and ``k = logit_scale`` as in ``scalar``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..base import Fusion
from ..registry import register_fusion


@register_fusion("channel")
class ChannelFusion(Fusion):
    """Per-stream, per-channel learnable weights.

    Args:
        normalize: ``"softmax"`` across streams per channel (default), ``"sigmoid"``, ``"none"``.
        logit_scale, project, stream_norm: as in ``scalar``.
    """

    weight_level = "channel"

    def __init__(
        self,
        in_dims,
        dim=None,
        *,
        normalize: str = "softmax",
        logit_scale: float = 10.0,
        project: bool | None = None,
        stream_norm: bool = True,
        **base,
    ) -> None:
        super().__init__(in_dims, dim, **base)
        self.normalize = self.check_normalize(normalize)
        self.logit_scale = float(logit_scale)
        self.proj = self.build_projection(project, stream_norm)
        self.theta = nn.Parameter(torch.zeros(self.num_streams, self.dim, **self.factory))

    def fuse(self, xs, mask, need_weights):
        w = self.shared_weights(self.theta * self.logit_scale, self.normalize, mask)  # (1 or N, S, D)
        fused = self.project_and_sum(xs, w)
        return fused, (self.per_sample(w[0], xs[0].shape[0]) if mask is None else w)
