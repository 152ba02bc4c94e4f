"""The ``linear`` baseline as a torch module: logistic regression on pooled, standardised streams.

Fitted by ``streamfuse.bench.linear.train_linear`` (scikit-learn); this module only evaluates it,
so a saved ``linear`` checkpoint loads, predicts and is explained with torch alone. Features per
stream: a vector ``(N, C)`` as it is; a map ``(N, C, *spatial)`` as each channel's mean and std
over all positions ``(N, 2C)``; each standardised with stored statistics (buffers ``mean_i``,
``scale_i`` for the i-th stream), then ``logits = b + sum_s mask_s * W_s z_s``. Removing a stream
through the mask drops its term, which equals replacing its standardised features by their
training mean (0).
"""

from __future__ import annotations

import torch
from torch import nn

from .select import select_streams


def pooled_features(x: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` -> itself; ``(N, C, *spatial)`` -> per channel mean and std over positions ``(N, 2C)``."""
    x = x.detach().float()
    if x.dim() == 2:
        return x
    flat = x.flatten(2)
    return torch.cat([flat.mean(-1), flat.std(-1, correction=0)], dim=1)


class LinearBaseline(nn.Module):
    """``logits = b + sum_s mask_s * W_s ((pool(x_s) - mean_s) / scale_s)``; shapes: ``W_s`` ``(K, F_s)``."""

    @classmethod
    def from_spec(cls, spec: dict) -> LinearBaseline:
        """An unfitted module for a ``linear`` model spec (``streams``, ``kinds``, ``in_channels``, ``num_classes``)."""
        widths = {s: int(spec["in_channels"][s]) * (1 if spec["kinds"][s] == "vector" else 2) for s in spec["streams"]}
        return cls(spec["streams"], widths, int(spec["num_classes"]))

    def __init__(self, stream_names: list[str], widths: dict[str, int], num_classes: int) -> None:
        super().__init__()
        self.stream_names = list(stream_names)
        self.weights = nn.ParameterDict({s: nn.Parameter(torch.zeros(num_classes, widths[s])) for s in self.stream_names})
        self.bias = nn.Parameter(torch.zeros(num_classes))
        for i, s in enumerate(self.stream_names):  # the standardisation of stream i's pooled features
            self.register_buffer(f"mean_{i}", torch.zeros(widths[s]))
            self.register_buffer(f"scale_{i}", torch.ones(widths[s]))

    def _stats(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"mean_{i}"), getattr(self, f"scale_{i}")

    def forward(self, streams, mask=None):
        xs = select_streams(streams, self.stream_names, "linear baseline")
        out = self.bias.expand(xs[0].shape[0], -1)
        for i, (s, x) in enumerate(zip(self.stream_names, xs)):
            mean, scale = self._stats(i)
            term = ((pooled_features(x) - mean) / scale) @ self.weights[s].T
            out = out + (term if mask is None else term * mask[:, i : i + 1].to(term.dtype))
        return out
