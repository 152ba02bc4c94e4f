"""``MultiStreamHead``: the classification head of a multi-stream network, fusion included.

    per stream: pool -> flatten        (N, C_i, *spatial) -> (N, C_i)   (token-level fusions: skipped;
                                       streams stacked as (N, S, C, *spatial) -> (N, S, C))
    fuse                               S x (N, C_i) -> (N, D)
    dropout -> linear                  (N, D) -> (N, num_classes)

This is the head the two-stream 3D CNN question asks for (``pool -> flatten -> fuse -> dropout ->
fc``) with the fusion chosen by name. Token-level fusions (``cross_attention``,
``transformer`` with ``mode="tokens"``) receive the un-pooled maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn
from torch.types import Device

from .base import Fusion, InDims, Streams, parse_in_dims
from .errors import StreamFuseError
from .layers.pooling import global_pool
from .options import Option, choice, positive_int, probability
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
    ``(scores, weights)`` with the fusion's weights (see ``Fusion``); ``streams`` as ``Fusion``
    takes them (a list, a dict, or one tensor ``(N, S, C[, *spatial])``). The fusion is asked for its
    weights only when ``return_weights=True`` (``transformer`` computes them with an extra
    attention pass). Streams of another floating dtype are cast as ``Fusion`` documents;
    integer streams, and maps with an empty spatial axis, are refused by the fusion's checks.
    """

    options: ClassVar[dict[str, Option]] = {
        "num_classes": positive_int(None),
        "pool": choice("avg", ("avg", "max")),
        "dropout": probability(0.5, "dropout before the classifier"),
    }

    def __init__(
        self,
        in_channels: InDims,
        num_classes: int,
        fusion: str | Fusion = "adaptive",
        dim: int | None = None,
        pool: str = "avg",
        dropout: float = 0.5,
        device: Device = None,
        dtype: torch.dtype | None = None,
        **fusion_options: Any,
    ) -> None:
        super().__init__()
        num_classes = self.options["num_classes"].check("num_classes", num_classes, "MultiStreamHead")
        pool = self.options["pool"].check("pool", pool, "MultiStreamHead")
        dropout = self.options["dropout"].check("dropout", dropout, "MultiStreamHead")
        if isinstance(fusion, Fusion):
            if fusion_options or dim is not None:
                raise StreamFuseError("pass options and dim to the Fusion itself when giving a Fusion instance")
            names, widths = parse_in_dims(in_channels, method="MultiStreamHead")
            # a dict names the streams (their order is the fusion's: inputs are matched by name);
            # a list gives the widths in order
            named = isinstance(in_channels, Mapping)
            given = sorted(zip(names, widths)) if named else widths
            built = sorted(zip(fusion.stream_names, fusion.in_dims)) if named else fusion.in_dims
            if given != built:
                raise StreamFuseError(f"MultiStreamHead: in_channels {in_channels!r} differ from the given fusion's "
                                      f"streams {dict(zip(fusion.stream_names, fusion.in_dims))}; give the same streams")
            self.fusion = fusion
        else:
            self.fusion = create_fusion(fusion, in_channels, dim, device=device, dtype=dtype, **fusion_options)
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.fusion.dim, num_classes, device=device, dtype=dtype)

    @property
    def stream_names(self) -> list[str]:
        return self.fusion.stream_names

    def pool_stream(self, x: torch.Tensor, spatial_from: int = 2) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() <= spatial_from or not x.is_floating_point() or 0 in x.shape[spatial_from:]:
            return x  # vectors pass through; ints, empty axes and the rest are reported by the fusion's checks
        return global_pool(x, self.pool, spatial_from)

    def forward(
        self, streams: Streams, mask: torch.Tensor | None = None, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        if not self.fusion.token_level:
            if isinstance(streams, torch.Tensor):
                # streams stacked on dim 1, (N, S, C, *spatial); any other shape goes to the
                # fusion unpooled, whose error then shows the shape that was given
                if streams.dim() > 3 and streams.shape[1] == self.fusion.num_streams and set(self.fusion.in_dims) == {streams.shape[2]}:
                    streams = self.pool_stream(streams, spatial_from=3)
            elif isinstance(streams, Mapping):
                streams = {k: self.pool_stream(v) for k, v in streams.items()}
            elif isinstance(streams, Sequence):
                streams = [self.pool_stream(x) for x in streams]
        if not return_weights:
            scores: torch.Tensor = self.fc(self.dropout(self.fusion(streams, mask=mask)))
            return scores
        fused, weights = self.fusion(streams, mask=mask, return_weights=True)
        return self.fc(self.dropout(fused)), weights
