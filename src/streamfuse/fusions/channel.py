"""``channel``: a learnable weight per stream and per channel (the "element-wise" Parameter).

    z_d = sum_i w_{i,d} x'_{i,d}       w_{:,d} = softmax_i(k theta_{:,d}) | sigmoid | 1 + k theta

Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights ``(N, S, D)`` (input-independent, broadcast).
``x_i'`` and ``k = logit_scale`` as in ``scalar``, whose forward this reuses: only the shape of
the weight parameter differs.
"""

from __future__ import annotations

from ..registry import register_fusion
from .scalar import ScalarFusion


@register_fusion("channel")
class ChannelFusion(ScalarFusion):
    """Per-stream, per-channel learnable weights.

    Args:
        normalize: ``"softmax"`` across streams per channel (default), ``"sigmoid"``, ``"none"``.
        logit_scale, project, stream_norm: as in ``scalar``.
    """

    weight_level = "channel"

    def param_shape(self) -> tuple[int, ...]:
        return (self.num_streams, self.dim)
