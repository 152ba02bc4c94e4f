"""``MultiStreamHead``: the classification head of a multi-stream network, fusion included.

    per stream: pool -> flatten        (N, C_i, *spatial) -> (N, C_i)   (token-level fusions: skipped)
    fuse                               S x (N, C_i) -> (N, D)
    dropout -> linear                  (N, D) -> (N, num_classes)

This is the head the two-stream 3D CNN question asks for (``pool -> flatten -> fuse -> dropout ->
fc``) with the fusion chosen by name. Token-level fusions (``cross_attention``,
``transformer`` with ``mode="tokens"``) receive the un-pooled maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .base import Fusion
from .errors import StreamFuseError
from .registry import create_fusion


class MultiStreamHead(nn.Module):
    """Pool, fuse, dropout and classify S streams.

    Args:
        in_channels: stream widths ``C_i`` (list, or name->width dict for named streams).
        num_classes: number of output scores.
        fusion: a registered method name (see ``streamfuse.list_fusions()``) or a ``Fusion``.
        dim: fused width D (default: the method's default, the widest stream).
        pool: ``"avg"`` or ``"max"`` global pooling of maps.
        dropout: dropout probability before the classifier.
        **fusion_options: passed to the fusion (e.g. ``normalize="sigmoid"``, ``stream_dropout=0.2``).

    Call: ``head(streams, mask=None, return_weights=False)`` -> scores ``(N, num_classes)``, or
    ``(scores, weights)`` with the fusion's weights (see ``Fusion``).
    """

    def __init__(
        self,
        in_channels,
        num_classes: int,
        fusion: str | Fusion = "adaptive",
        dim: int | None = None,
        pool: str = "avg",
        dropout: float = 0.5,
        device=None,
        dtype=None,
        **fusion_options,
    ) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise StreamFuseError(f"pool={pool!r} is not valid; choose one of avg, max")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise StreamFuseError(f"num_classes must be a positive int, got {num_classes!r}")
        if isinstance(fusion, Fusion):
            if fusion_options or dim is not None:
                raise StreamFuseError("pass options and dim to the Fusion itself when giving a Fusion instance")
            self.fusion = fusion
        else:
            self.fusion = create_fusion(fusion, in_channels, dim, device=device, dtype=dtype, **fusion_options)
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.fusion.dim, num_classes, device=device, dtype=dtype)

    @property
    def stream_names(self) -> list[str]:
        return self.fusion.stream_names

    def pool_stream(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() <= 2:
            return x  # vectors pass through; anything else is reported by the fusion's checks
        flat = x.flatten(2)
        return flat.mean(-1) if self.pool == "avg" else flat.amax(-1)

    def forward(self, streams, mask: torch.Tensor | None = None, return_weights: bool = False):
        if not self.fusion.token_level:
            if isinstance(streams, Mapping):
                streams = {k: self.pool_stream(v) for k, v in streams.items()}
            elif isinstance(streams, Sequence):
                streams = [self.pool_stream(x) for x in streams]
        fused, weights = self.fusion(streams, mask=mask, return_weights=True)
        scores = self.fc(self.dropout(fused))
        return (scores, weights) if return_weights else scores
