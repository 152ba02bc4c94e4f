"""``gblend``: Gradient Blending, per-head loss weights from generalisation over overfitting.

Wang, Tran & Feiszli, "What Makes Training Multi-Modal Classification Networks Hard?", CVPR 2020,
https://arxiv.org/abs/1905.12681: with plain joint training the stream that fits the training set
fastest takes over. G-Blend trains one classifier per stream beside the fused one and weights
their losses by how much each head's validation loss fell (generalisation) against how much its
train/validation gap grew (overfitting) between two checkpoints (their eq. 6):

    loss = w_0 CE(fused) + sum_i w_i CE(stream_i)
    w_k ∝ ΔG_k / (ΔO_k^2 + eps),   ΔG_k = L_val,k(t0) - L_val,k(t1)  (0 if negative),
    ΔO_k = O_k(t1) - O_k(t0),       O_k = L_val,k - L_train,k

normalised to sum to 1. Online G-Blend: re-estimated every ``interval`` epochs, uniform until the
first estimate, kept when no head improved on validation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import BalanceRecipe, register_balance, stream_ces


@register_balance("gblend")
class GradientBlending(BalanceRecipe):
    """``w_0 CE(fused) + sum_i w_i CE(stream_i)`` with the weights of the module docstring, for
    each head k (fused first, then the streams in order) between two checkpoints ``interval``
    epochs apart, measured on the validation split."""

    summary = "Gradient Blending: per-stream loss weights from validation overfitting"
    stream_heads = True
    eps = 1e-3

    def __init__(self, num_streams: int, interval: int = 2, seed: int = 0) -> None:
        super().__init__(num_streams, seed)
        self.interval = interval
        self.weights = [1.0 / (num_streams + 1)] * (num_streams + 1)
        self.last: dict | None = None  # per-head losses at the previous checkpoint
        self.history: list[list[float]] = []

    def loss(self, out, y):
        scores, aux = out
        ces = torch.cat([F.cross_entropy(scores, y).reshape(1), stream_ces(aux, y)])
        return (ces * ces.new_tensor(self.weights)).sum()

    def wants_losses(self, epoch: int) -> bool:
        return epoch == 1 or epoch % self.interval == 0

    @classmethod
    def blend_weights(cls, before: dict, after: dict) -> list[float] | None:
        """Weights from per-head ``{"train": [...], "val": [...]}`` losses at two checkpoints;
        None when no head's validation loss fell (nothing to learn from)."""
        raw = []
        for k in range(len(after["val"])):
            gain = max(before["val"][k] - after["val"][k], 0.0)
            over = (after["val"][k] - after["train"][k]) - (before["val"][k] - before["train"][k])
            raw.append(gain / (over * over + cls.eps))
        total = sum(raw)
        return [r / total for r in raw] if total > 0 else None

    def on_epoch_end(self, epoch, losses):
        if losses is None:
            return
        if self.last is not None:
            new = self.blend_weights(self.last, losses)
            if new is not None:
                self.weights = new
        self.last = losses
        self.history.append(list(self.weights))

    def state(self):
        return {"blend_weights": self.history}
