"""``lpft``: ``warmstart`` whose first third of the epochs trains the heads only, then everything.

Linear probing then fine-tuning (Kumar et al., "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution", ICLR 2022, https://arxiv.org/abs/2202.10054): the encoders,
as trained alone, stay frozen for ``ceil(epochs / 3)`` epochs so a fresh fusion head learns to
read every stream before its gradients reach the encoders; the loss is ``warmstart``'s
``CE(fused) + mean_i CE(stream_i)`` throughout.
"""

from __future__ import annotations

import math

from .base import register_balance
from .warmstart import WarmStart


@register_balance("lpft")
class ProbeThenFineTune(WarmStart):
    """``warmstart`` whose first third of the epochs trains the heads only (encoders frozen, as
    trained alone), then everything: linear probing then fine-tuning (Kumar et al. 2022)."""

    summary = "warmstart with the encoders frozen for the first third of the epochs"

    def schedules(self, epochs):
        return (math.ceil(epochs / 3),)
