"""``attention``: attention pooling over the S stream tokens -> one weight per stream and sample.

    x_i' = LN(W_i x_i + b_i)                          stream tokens, (N, S, D)
    e_i  = q^T x_i' / sqrt(D) + k b_i   (scorer="query", default: a learned query vector)
    e_i  = v^T tanh(U x_i') + k b_i     (scorer="mlp", additive attention, Bahdanau et al. 2015)
    a    = softmax_i(e)  over present streams;        z = sum_i a_i x_i'

Shapes: S x ``(N, C_i)`` -> ``(N, D)``; weights ``a`` ``(N, S)``. ``b`` is a learned per-stream
prior scaled by ``k = logit_scale`` (see ``scalar`` for why). This is the per-sample "which
stream matters" weight; ``stream_importance`` checks it against ablation and Shapley values.
Additive attention: https://arxiv.org/abs/1409.0473

Why the query scorer is the default: on the default bench it was as accurate as the MLP scorer
(5 seeds: validation 0.697 vs 0.658, test 64.3 vs 60.3 %; mfeat and basicmotions no lower;
BENCHMARKS.md "attention scorer"), and it adds no matrix product to the projection, so at
C=[2048, 512], D=512 it costs what torchmultimodal's ``AttentionFusionModule`` does, where the
MLP scorer adds ~20 % of the FLOPs.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from ..base import Fusion, InDims
from ..errors import StreamFuseError
from ..layers.masking import masked_softmax, weighted_sum
from ..options import Option, choice, flag, positive_float, positive_int
from ..registry import register_fusion


@register_fusion("attention")
class AttentionFusion(Fusion):
    """Softmax attention over streams.

    Args:
        scorer: ``"query"`` (a learned query vector, default) or ``"mlp"`` (additive attention).
        hidden: hidden width of the scoring MLP (default D // 2, at least 8).
        logit_scale, project, stream_norm: as in ``scalar``.
    """

    k: torch.Tensor  # logit_scale as a 0-dim buffer (Fusion.register_logit_scale)
    options: ClassVar[dict[str, Option]] = {
        "scorer": choice("query", ("query", "mlp"), "a learned query vector or an additive-attention MLP"),
        "hidden": positive_int(None, allow_none=True, doc="hidden width of the scoring MLP (None: max(D // 2, 8))"),
        "logit_scale": positive_float(10.0, "scale of the per-stream prior"),
        "project": flag(None, allow_none=True, doc="project each stream to D (None: only if some C_i != D)"),
        "stream_norm": flag(True, doc="non-affine LayerNorm on each projected stream"),
    }

    def __init__(
        self,
        in_dims: InDims,
        dim: int | None = None,
        *,
        scorer: str = "query",
        hidden: int | None = None,
        logit_scale: float = 10.0,
        project: bool | None = None,
        stream_norm: bool = True,
        **base: Any,
    ) -> None:
        super().__init__(in_dims, dim, **base)
        self.scorer: str = self.check_option("scorer", scorer)
        self.logit_scale: float = self.register_logit_scale(logit_scale)
        hidden = self.check_option("hidden", hidden)
        if hidden is not None and self.scorer != "mlp":
            raise StreamFuseError(f"attention: hidden={hidden} sizes the scoring MLP; it needs scorer='mlp', got scorer={self.scorer!r}")
        self.proj = self.build_projection(self.check_option("project", project), self.check_option("stream_norm", stream_norm))
        if self.scorer == "mlp":
            hidden = hidden or max(self.dim // 2, 8)
            self.score = nn.Sequential(
                nn.Linear(self.dim, hidden, **self.factory), nn.Tanh(), nn.Linear(hidden, 1, bias=False, **self.factory)
            )
        else:
            self.query = nn.Parameter(torch.randn(self.dim, **self.factory) / math.sqrt(self.dim))
        self.stream_bias = nn.Parameter(torch.zeros(self.num_streams, **self.factory))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # the default scorer was "mlp" before it became "query": say which one a state dict needs
        saved = "mlp" if prefix + "score.0.weight" in state_dict else "query" if prefix + "query" in state_dict else None
        if saved is not None and saved != self.scorer:
            raise StreamFuseError(
                f"attention: the state dict was saved with scorer={saved!r} (parameters "
                f"{'score.*' if saved == 'mlp' else 'query'}), this module has scorer={self.scorer!r}; "
                f"create it with scorer={saved!r} (the default was 'mlp' before it became 'query')"
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def no_weight_decay(self) -> set[str]:
        return {"stream_bias"} | ({"query"} if self.scorer == "query" else set())

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.proj(xs)  # (N, S, D)
        if self.scorer == "mlp":
            e = self.score(x).squeeze(-1)
        else:
            e = (x @ self.query) / math.sqrt(self.dim)
        a = masked_softmax(e + self.stream_bias * self.k, mask, dim=1)
        return weighted_sum(x, a), a
