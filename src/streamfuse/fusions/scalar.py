"""``scalar`` and ``convex``: one learnable weight per stream.

    z = sum_i w_i x_i'        w = softmax(k theta) | sigmoid(k theta) | 1 + k theta      (``normalize``)
    convex (S = 2):  z = w x_1' + (1 - w) x_2',   w = sigmoid(k theta)

``x_i'`` is stream i projected to D and layer-normalised (so a stream's scale cannot stand in for
its weight). ``k = logit_scale`` (default 10) is a reparametrisation for optimisation only: Adam
moves a parameter by about one learning rate per step whatever its gradient, so with ``k = 1`` a
weight logit travels only ~0.3 in 300 steps at lr 1e-3 and the weights stay near uniform however
informative the streams are. Scaling the logit by k lets the weight settle within an ordinary
training budget; see BENCHMARKS.md for the measurement. The ``masked`` training recipe builds
``scalar``, ``convex``, ``channel`` and ``attention`` with ``k = 1`` instead: it leaves noise
streams out before the fused model trains, the job a fast-moving weight did, and validation
preferred k = 1 there. The value is recorded with the weights (``Fusion.recorded_options``), so
weights trained under one k never load silently into a module built with another. Weights are
input-independent and are reported broadcast to ``(N, S)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..base import Fusion, InDims
from ..layers.masking import NORMALIZATIONS
from ..options import Option, choice, flag, positive_float
from ..registry import register_fusion
from .folded import FoldedChannelWeightedSum, FoldedWeightedSum


@register_fusion("scalar")
class ScalarFusion(Fusion):
    """Learnable scalar weight per stream. Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights ``(N, S)``.

    Args:
        normalize: ``"softmax"`` (weights sum to 1), ``"sigmoid"`` or ``"none"``.
        logit_scale: k in ``w = f(k * theta)``; see the module docstring.
        project, stream_norm: as in ``sum``.
    """

    k: torch.Tensor  # logit_scale as a 0-dim buffer (Fusion.register_logit_scale)
    options: ClassVar[dict[str, Option]] = {
        "normalize": choice("softmax", NORMALIZATIONS, "how the stream logits become weights"),
        "logit_scale": positive_float(10.0, "k in w = f(k * theta)"),
        "project": flag(None, allow_none=True, doc="project each stream to D (None: only if some C_i != D)"),
        "stream_norm": flag(True, doc="non-affine LayerNorm on each projected stream"),
    }

    def __init__(
        self,
        in_dims: InDims,
        dim: int | None = None,
        *,
        normalize: str = "softmax",
        logit_scale: float = 10.0,
        project: bool | None = None,
        stream_norm: bool = True,
        **base: Any,
    ) -> None:
        super().__init__(in_dims, dim, **base)
        # convex fixes normalize (and does not declare it): only a declared option is checked.
        self.normalize: str = self.check_option("normalize", normalize) if "normalize" in self.options else normalize
        self.logit_scale: float = self.register_logit_scale(logit_scale)
        self.proj = self.build_projection(self.check_option("project", project), self.check_option("stream_norm", stream_norm))
        self.theta = nn.Parameter(torch.zeros(self.param_shape(), **self.factory))

    def param_shape(self) -> tuple[int, ...]:
        return (self.num_streams,)

    def no_weight_decay(self) -> set[str]:
        return {"theta"}

    def logits(self) -> torch.Tensor:
        # From the registries when they hold them (the every-call case: nn.Module.__getattr__
        # costs ~6,000 instructions a read on Python 3.11, 6 % of an inference call at N=256,
        # D=512 for the two); by attribute otherwise (a parametrized theta lives elsewhere).
        theta, k = self._parameters.get("theta"), self._buffers.get("k")
        return (self.theta if theta is None else theta) * (self.k if k is None else k)

    def fold(self, copy_projection: bool = True) -> FoldedWeightedSum:
        """The weights ``f(k theta)`` as constants, for inference (``fusions/folded.py``)."""
        cls = FoldedChannelWeightedSum if self.weight_level == "channel" else FoldedWeightedSum
        # ordinary tensors even when folded inside inference_mode, so the result also runs outside it
        with torch.inference_mode(False), torch.no_grad():
            return cls(self, self.logits(), copy_projection)

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.fuse_list_or_stack(xs, mask, need_weights)

    def fuse_stacked(
        self, x: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.fuse_list_or_stack(x, mask, need_weights)  # project_and_sum reads the stack (N, S, C) as it is

    def fuse_list_or_stack(
        self, streams: list[torch.Tensor] | torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The method's math for a list of streams or their stack."""
        w = self.shared_weights(self.logits(), self.normalize, mask)  # (S[, D]) or with a mask (N, S[, D])
        fused = self.project_and_sum(streams, w, shared=mask is None, convex=self.normalize == "softmax")
        if not need_weights:
            return fused, None
        return fused, (self.per_sample(w, fused.shape[0]) if mask is None else w)


@register_fusion("convex")
class ConvexFusion(ScalarFusion):
    """Two streams, ``w x_1' + (1 - w) x_2'`` with one parameter. Weights ``(N, 2) = [w, 1 - w]``.

    Implemented as a softmax over the logits ``(k theta / 2, -k theta / 2)``, which equals
    ``sigmoid(k theta)`` and renormalises to 1 for the remaining stream when one is masked.
    """

    min_streams = max_streams = 2
    signs: torch.Tensor  # buffer (k/2, -k/2), set in __init__
    options: ClassVar[dict[str, Option]] = {k: v for k, v in ScalarFusion.options.items() if k != "normalize"}  # fixed to softmax

    def __init__(self, in_dims: InDims, dim: int | None = None, *, logit_scale: float = 10.0, project: bool | None = None, stream_norm: bool = True, **base: Any) -> None:
        super().__init__(in_dims, dim, normalize="softmax", logit_scale=logit_scale, project=project,
                         stream_norm=stream_norm, **base)
        # (k/2, -k/2): one broadcast multiply gives both logits (cheaper than scale, negate, cat).
        signs = torch.tensor([0.5, -0.5], device=self.theta.device, dtype=self.theta.dtype) * self.logit_scale
        self.register_buffer("signs", signs, persistent=False)

    def param_shape(self) -> tuple[int, ...]:
        return (1,)

    def logits(self) -> torch.Tensor:
        theta, signs = self._parameters.get("theta"), self._buffers.get("signs")  # as in ScalarFusion.logits
        return (self.theta if theta is None else theta) * (self.signs if signs is None else signs)
