"""``FoldedWeightedSum``: a trained weighted sum with its stream weights folded into constants.

    z = sum_i w_i x_i'        w = f(k theta) of the source fusion, computed once when folding

``scalar``, ``convex`` and ``channel`` compute their weights from their parameters alone, yet a
module forward recomputes them on every call: the logits ``k theta``, their softmax and, for two
streams, the first weight indexed out, three small kernels and the attribute reads around them.
With pre-projected streams at N=256, D=512 that is about a fifth of an inference call on CPU
(BENCHMARKS.md, "Folded weights"). Like folding a BatchNorm into the convolution before it, or
timm's ``reparameterize_model``, ``Fusion.fold()`` (and ``streamfuse.fold_weights`` for a whole
model) builds this module, which holds the normalised weights as buffers and returns the same
outputs and reported weights as the source, bit for bit, with and without a mask. The weights
no longer train: folding is for inference, after training. The source is not changed; the
projection is copied (``fold_weights`` shares it, having copied the whole model already or being
asked to fold in place).

Shapes as in the source: S x ``(N, C_i)`` -> ``(N, D)``; weights ``(N, S)``, or ``(N, S, D)`` for
a folded ``channel`` (``FoldedChannelWeightedSum``). The constants have the source's dtype at
folding time: convert the source (``.double()``) before folding, not after, to keep the
bit-for-bit equality in another dtype.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, cast

import torch

from ..base import Fusion
from ..layers.masking import NORMALIZATIONS, convex_pair, normalize_weights
from ..layers.projection import StreamProjection
from ..options import Option, choice


class FoldedWeightedSum(Fusion):
    """Weighted sum with constant stream weights. Built by ``Fusion.fold()``, not by name.

    Args:
        source: the trained fusion whose weights are folded (``scalar``, ``convex``; ``channel``
            folds into ``FoldedChannelWeightedSum``).
        logits: its weight logits ``k theta``, ``(S,)`` (``(S, D)`` per channel), detached.

    Buffers (saved in the state dict): ``logits``, for masked calls, which renormalise over the
    present streams as the source does; ``weights``, their normalisation; ``first_weight``,
    ``weights[0]``, for two softmax-weighted streams (summed as one ``lerp`` at inference).
    """

    name: ClassVar[str] = "folded"
    logits: torch.Tensor  # buffers, registered in __init__
    weights: torch.Tensor
    first_weight: torch.Tensor
    options: ClassVar[dict[str, Option]] = {
        "normalize": choice("softmax", NORMALIZATIONS, "how the source turned its logits into weights"),
    }

    def __init__(self, source: Fusion, logits: torch.Tensor, copy_projection: bool = True) -> None:
        proj = getattr(source, "proj", None)
        if not isinstance(proj, StreamProjection):
            raise TypeError(f"{source.name}: only a fusion with a StreamProjection can be folded, got {type(proj).__name__}")
        super().__init__(dict(zip(source.stream_names, source.in_dims)), source.dim,
                         stream_dropout=source.stream_dropout, check_finite=source.check_finite)
        self.source_name: str = source.name
        self.normalize: str = self.check_option("normalize", getattr(source, "normalize", "softmax"))
        # The source's recorded options that still shape the output once the weights are
        # constants (stream_norm, project...): not logit_scale, already inside the logits.
        self.source_options: dict[str, Any] = {k: v for k, v in source.recorded_options().items() if k != "logit_scale"}
        # a copy unless the caller replaces the source anyway (fold_weights), so that training
        # the source later cannot change the folded module, and an optimizer that already holds
        # the projection's parameters keeps training them after an in-place fold
        self.proj = copy.deepcopy(proj) if copy_projection else proj
        logits = logits.detach().clone()
        self.register_buffer("logits", logits)
        self.register_buffer("weights", self.shared_weights(logits, self.normalize, None))
        # Two softmax streams with no projection at all: the inference call is one lerp with this
        # weight, read straight from the registries below (nn.Module.__getattr__ first fails the
        # instance lookup, ~6,000 instructions a read on Python 3.11, as much as the input checks).
        self.pair_lerp: bool = (
            self.num_streams == 2 and self.normalize == "softmax" and proj.first is None and not proj.norm
        )
        if self.pair_lerp:
            self.register_buffer("first_weight", self.weights[0].clone())

    def recorded_options(self) -> dict[str, Any]:
        return {**self.source_options, **super().recorded_options()}

    def parameter_dtype(self) -> torch.dtype | None:
        return cast(torch.Tensor, self._buffers["logits"]).dtype  # (a read without __getattr__)

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.fuse_list_or_stack(xs, mask, need_weights)

    def fuse_stacked(
        self, x: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.fuse_list_or_stack(x, mask, need_weights)  # as the source's: project_and_sum reads the stack

    def fuse_list_or_stack(
        self, xs: list[torch.Tensor] | torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The folded math for a list of streams or their stack."""
        buffers: dict[str, Any] = self._buffers
        if mask is None:
            w = buffers["weights"]
            fused = None
            if self.pair_lerp and not torch.is_grad_enabled():
                a, b = xs.unbind(1) if isinstance(xs, torch.Tensor) else xs
                if a.dtype == b.dtype:
                    fused = convex_pair(a, b, buffers["first_weight"])  # as project_and_sum does
            if fused is None:
                fused = self.project_and_sum(xs, w, shared=True, convex=self.normalize == "softmax")
            return fused, (self.per_sample(w, fused.shape[0]) if need_weights else None)
        w = normalize_weights(self.per_sample(buffers["logits"], mask.shape[0]), self.normalize, mask)
        return self.project_and_sum(xs, w, convex=self.normalize == "softmax"), (w if need_weights else None)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, folded from {self.source_name!r}, normalize={self.normalize!r}"


class FoldedChannelWeightedSum(FoldedWeightedSum):
    """``FoldedWeightedSum`` of a ``channel`` fusion: weights ``(S, D)``, reported ``(N, S, D)``."""

    weight_level = "channel"
