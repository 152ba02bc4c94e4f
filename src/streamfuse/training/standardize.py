"""Per-stream input standardisation with training statistics, stored inside the model.

A stream whose values reach 1e4 next to streams below 1 is hard for a network to read: with the
same learning rate its first layer's pre-activations are 1e4 times larger, LayerNorm/BatchNorm
statistics are dominated by it, and training settles on ignoring it (issue 15 measured 41.6 % for
such a stream's single-stream model against 74.4 % once standardised). The usual remedy
(z-scoring with training statistics, e.g. scikit-learn's ``StandardScaler``,
https://scikit-learn.org/stable/modules/preprocessing.html#standardization) is done here per
stream and per channel, inside the model:

    vector   (N, C)           one mean / std per feature
    sequence (N, C, L)        one mean / std per channel, over samples and positions
    image    (N, C, H, W)     likewise
    video    (N, C, T, H, W)  likewise

``channel_stats`` (``streamfuse/_stats.py``, below the data layer) is the one implementation of
these statistics; the built-in loaders' own ``standardize=`` options (mfeat, basicmotions) call
it too. A (near-)constant channel -- std at
most ``REL_EPS`` times its magnitude -- is centred only (divided by 1), so nothing is divided by
~0. ``StreamStandardizer`` holds the statistics as buffers, so they travel in the model's
``state_dict`` (and hence in checkpoints); ``explain``, ``stream_importance`` and any later
prediction apply the same transform without knowing about it. It is fitted once, by the training
loop, on the training split it is given (never the test split). With ``stacked`` training the
stage-1 single-stream encoders were fitted under statistics of their half of that split; the final
model uses the whole split's, which differ from them by sampling noise only.
"""

from __future__ import annotations

import torch
from torch import nn

from .._stats import REL_EPS, channel_stats  # noqa: F401 - REL_EPS re-exported
from ..errors import StreamFuseError


class _ChannelAffine(nn.Module):
    """``(x - mean) / std`` per channel; buffers ``mean``, ``std`` of shape ``(C,)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - self.mean.view(shape).to(x.dtype)) / self.std.view(shape).to(x.dtype)


class StreamStandardizer(nn.Module):
    """Standardise each stream with stored training statistics.

    ``StreamStandardizer(in_channels)`` with ``in_channels`` a name -> ``C_i`` dict (the model's
    stream order); starts as the identity until ``fit``. Call on a list of tensors in that order
    (``(N, C_i, *spatial)``); returns the standardised list. A list of another length is returned
    unchanged (the model's own check then names the problem).
    """

    def __init__(self, in_channels: dict[str, int]) -> None:
        super().__init__()
        self.stream_names = list(in_channels)
        self.stats = nn.ModuleDict({s: _ChannelAffine(int(c)) for s, c in in_channels.items()})

    @torch.no_grad()
    def fit(self, streams: dict[str, torch.Tensor]) -> StreamStandardizer:
        """Set every stream's statistics from ``streams`` (name -> ``(N, C_i, ...)``), the
        training split. Extra names are ignored; a missing stream or a channel-count mismatch is an
        error."""
        for s, affine in self.stats.items():
            if s not in streams:
                raise StreamFuseError(f"standardisation: stream {s!r} is missing from the training data; got {list(streams)}")
            mean, std = channel_stats(streams[s])
            if mean.shape != affine.mean.shape:
                raise StreamFuseError(
                    f"standardisation: stream {s!r} has {mean.shape[0]} channels in the training data; the model expects {affine.mean.shape[0]}"
                )
            affine.mean.copy_(mean)
            affine.std.copy_(std)
        return self

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        if len(xs) != len(self.stream_names):
            return list(xs)
        return [self.stats[s](x) for s, x in zip(self.stream_names, xs)]
