"""``adaptive``: per-sample, per-channel weights predicted from each projected stream.

The recipe from the two-stream question this library answers:

    x_i' = LN(MLP_i(x_i))            project stream i to D with a two-layer MLP
    W_i  = MLP_w,i(x_i')             predict per-sample, per-channel weight logits
    W    = softmax_i(W) | sigmoid(W) normalise across streams (``normalize``)
    z    = sum_i x_i' * W_i

Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights ``(N, S, D)``. Both MLP stacks run batched over
streams (``StreamLinear``) after the first projection. A learned per-stream bias ``k b_i`` is
added to the weight logits (k = ``logit_scale``) so the stream-level prior converges as fast as
the ``scalar`` weights do, while the MLP supplies the per-sample part.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..base import Fusion, InDims
from ..layers.masking import NORMALIZATIONS, normalize_weights, weighted_sum
from ..layers.stream_linear import StreamLinear
from ..options import Option, choice, flag, module_class, positive_float, positive_int
from ..registry import register_fusion


@register_fusion("adaptive")
class AdaptiveWeightFusion(Fusion):
    """MLP-projected streams weighted by MLP-predicted per-sample, per-channel weights.

    Args:
        normalize: ``"softmax"`` across streams (default), ``"sigmoid"`` (independent gates) or
            ``"none"`` (``1 + logits``).
        hidden: hidden width of the weight MLP (default D).
        act_layer: activation class used in both MLPs.
        logit_scale: scale of the per-stream prior bias (see ``scalar``).
        stream_norm: non-affine LayerNorm on each projected stream.
    """

    weight_level = "channel"
    k: torch.Tensor  # logit_scale as a 0-dim buffer (Fusion.register_logit_scale)
    options: ClassVar[dict[str, Option]] = {
        "normalize": choice("softmax", NORMALIZATIONS, "how the weight logits become weights"),
        "hidden": positive_int(None, allow_none=True, doc="hidden width of the weight MLP (None: D)"),
        "act_layer": module_class(nn.GELU, "activation class of both MLPs"),
        "logit_scale": positive_float(10.0, "scale of the per-stream prior bias"),
        "stream_norm": flag(True, doc="non-affine LayerNorm on each projected stream"),
    }

    def __init__(
        self,
        in_dims: InDims,
        dim: int | None = None,
        *,
        normalize: str = "softmax",
        hidden: int | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        logit_scale: float = 10.0,
        stream_norm: bool = True,
        **base: Any,
    ) -> None:
        super().__init__(in_dims, dim, **base)
        self.normalize: str = self.check_option("normalize", normalize)
        self.logit_scale: float = self.register_logit_scale(logit_scale)
        hidden = self.check_option("hidden", hidden) or self.dim
        act_layer = self.check_option("act_layer", act_layer)
        stream_norm = self.check_option("stream_norm", stream_norm)
        self.proj = self.build_projection(True, stream_norm, mlp=True, act_layer=act_layer)
        self.weight_in = StreamLinear(self.num_streams, self.dim, hidden, **self.factory)
        self.act = act_layer()
        self.weight_out = StreamLinear(self.num_streams, hidden, self.dim, **self.factory)
        self.stream_bias = nn.Parameter(torch.zeros(self.num_streams, 1, **self.factory))

    def no_weight_decay(self) -> set[str]:
        return {"stream_bias"}

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.proj(xs)  # (N, S, D)
        logits = self.weight_out(self.act(self.weight_in(x))) + self.stream_bias * self.k
        w = normalize_weights(logits, self.normalize, mask)
        return weighted_sum(x, w), w
