"""``warmstart``: every encoder first trained alone, then joint fine-tuning with the per-stream
losses kept:

    loss = CE(fused) + mean_i CE(stream_i)

The recipe of MMAction2/pyskl's RGBPoseConv3D (Duan et al., "Revisiting Skeleton-based Action
Recognition", CVPR 2022, https://arxiv.org/abs/2104.13586): each pathway is pretrained on its own
modality, and the fused network is then fine-tuned with a classification loss per pathway beside
the fused one (RGBPoseHead). The loop trains and caches each ``single:<stream>`` model and loads
its encoder into the fusion model before the first epoch (``loop.train_model``).

Warm-start recipes may also keep the loaded encoders frozen for the first ``frozen_epochs``
epochs of a schedule (``schedules``), so that a fresh fusion head learns to read them before its
gradients reach them (``lpft`` for every method; ``masked`` tries it beside the plain schedule for
deep heads); ``warmstart`` itself trains everything from the start. Early stopping counts its
patience from the first fine-tuning epoch, so a frozen phase always ends in fine-tuning.
"""

from __future__ import annotations

import torch.nn.functional as F

from .base import BalanceRecipe, register_balance, stream_ces


@register_balance("warmstart")
class WarmStart(BalanceRecipe):
    """Each encoder first trained alone, then joint fine-tuning with per-stream losses kept:
    ``CE(fused) + mean_i CE(stream_i)`` (the per-pathway losses of MMAction2's RGBPoseHead)."""

    summary = "each stream alone first, then joint fine-tuning with per-stream losses"
    stream_heads = True
    warm_start = True

    def loss(self, out, y):
        scores, aux = out
        return F.cross_entropy(scores, y) + stream_ces(aux, y).mean()

    def on_epoch_start(self, model, epoch, epochs):
        frozen = epoch < (self.schedules(epochs)[0] if self.frozen_epochs is None else self.frozen_epochs)
        if frozen == model.frozen_encoders:
            return False
        model.encoders.requires_grad_(not frozen)
        model.frozen_encoders = frozen  # also keeps the encoders' BatchNorm in eval mode (models.py)
        model.train()
        return True

    def finish(self, model):
        # stopped early while frozen: hand back a model that trains like any other
        model.encoders.requires_grad_(True)
        model.frozen_encoders = False
