"""``selective``: per-sample, per-channel softmax across streams from a squeeze of their sum.

Selective-kernel style fusion (Li et al. 2019, SKNet, https://arxiv.org/abs/1903.06586; also
attentional feature fusion, Dai et al. 2021, https://arxiv.org/abs/2009.14082):

    x_i' = LN(W_i x_i + b_i)                  (N, S, D)
    u    = sum_{i present} x_i'               fuse, (N, D)   (the inputs are already pooled: squeeze)
    s    = act(LN(W_r u))                     excite, (N, D/r)
    a    = softmax_i(W_i^a s)                 select, (N, S, D)
    z    = sum_i a_i * x_i'

Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights ``a`` ``(N, S, D)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..base import Fusion, InDims
from ..layers.masking import masked_softmax, weighted_sum
from ..options import Option, flag, module_class, positive_int
from ..registry import register_fusion


@register_fusion("selective")
class SelectiveFusion(Fusion):
    """SKNet-style selection across streams.

    Args:
        reduction: r, the squeeze ratio (hidden width ``max(D // r, 8)``).
        act_layer: activation of the squeeze MLP.
        norm_layer: normalisation of the squeeze MLP.
        project, stream_norm: as in ``sum``.
    """

    weight_level = "channel"
    options: ClassVar[dict[str, Option]] = {
        "reduction": positive_int(4, doc="squeeze ratio r (hidden width max(D // r, 8))"),
        "act_layer": module_class(nn.ReLU, "activation class of the squeeze MLP"),
        "norm_layer": module_class(nn.LayerNorm, "normalisation class of the squeeze MLP"),
        "project": flag(None, allow_none=True, doc="project each stream to D (None: only if some C_i != D)"),
        "stream_norm": flag(True, doc="non-affine LayerNorm on each projected stream"),
    }

    def __init__(
        self,
        in_dims: InDims,
        dim: int | None = None,
        *,
        reduction: int = 4,
        act_layer: type[nn.Module] = nn.ReLU,
        norm_layer: type[nn.Module] = nn.LayerNorm,
        project: bool | None = None,
        stream_norm: bool = True,
        **base: Any,
    ) -> None:
        super().__init__(in_dims, dim, **base)
        hidden = max(self.dim // self.check_option("reduction", reduction), 8)
        act_layer, norm_layer = self.check_option("act_layer", act_layer), self.check_option("norm_layer", norm_layer)
        self.proj = self.build_projection(self.check_option("project", project), self.check_option("stream_norm", stream_norm))
        self.squeeze = nn.Sequential(
            nn.Linear(self.dim, hidden, **self.factory), norm_layer(hidden, **self.factory), act_layer()
        )
        self.select = nn.Linear(hidden, self.num_streams * self.dim, **self.factory)

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.proj(xs)  # (N, S, D)
        u = x.sum(dim=1) if mask is None else (x * mask.unsqueeze(-1).to(x.dtype)).sum(dim=1)
        a = masked_softmax(self.select(self.squeeze(u)).view(x.shape), mask, dim=1)
        return weighted_sum(x, a), a
