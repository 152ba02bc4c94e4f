"""Reference per-stream encoders: the branches that feed a ``MultiStreamHead``.

One small encoder per kind of stream, sized to train in seconds on two CPU cores:

    video     (N, C, T, H, W) -> (N, width, T', H', W')   3D CNN, the seed's two-branch backbone in miniature
    image     (N, C, H, W)    -> (N, width, H', W')       2D CNN (user data)
    sequence  (N, C, L)       -> (N, width, L')           1D CNN for sensor channels
    vector    (N, C)          -> (N, width, 1)            MLP for feature vectors (a one-token map)

Every encoder returns a channels-first map, so token-level fusions see positions and
vector-level fusions pool them (the head does the pooling).
"""

from __future__ import annotations

from torch import nn

from ..errors import unknown_choice


def _conv_block(conv: type[nn.Module], bn: type[nn.Module], cin: int, cout: int, stride) -> nn.Sequential:
    return nn.Sequential(conv(cin, cout, 3, stride=stride, padding=1, bias=False), bn(cout), nn.ReLU(inplace=True))


class VideoEncoder(nn.Sequential):
    """Three 3D conv blocks: ``(N, C, T, H, W) -> (N, width, T/2, H/4, W/4)``.

    Small on purpose: 3D convolutions dominate the bench's time on a CPU. On the ``video`` data it
    reaches 0.67 (RGB alone) and 0.76 (pose alone) test accuracy at width 64 in 30 epochs
    (the ``single:`` rows of the video tables in BENCHMARKS.md).
    """

    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__(
            _conv_block(nn.Conv3d, nn.BatchNorm3d, in_channels, width // 2, (1, 2, 2)),
            _conv_block(nn.Conv3d, nn.BatchNorm3d, width // 2, width, (2, 2, 2)),
            _conv_block(nn.Conv3d, nn.BatchNorm3d, width, width, 1),
        )


class ImageEncoder(nn.Sequential):
    """Two strided 2D conv blocks: ``(N, C, H, W) -> (N, width, H/4, W/4)``."""

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__(
            _conv_block(nn.Conv2d, nn.BatchNorm2d, in_channels, width // 2, 2),
            _conv_block(nn.Conv2d, nn.BatchNorm2d, width // 2, width, 2),
        )


class SequenceEncoder(nn.Sequential):
    """Three 1D conv blocks: ``(N, C, L) -> (N, width, L/4)``."""

    def __init__(self, in_channels: int, width: int = 64) -> None:
        super().__init__(
            _conv_block(nn.Conv1d, nn.BatchNorm1d, in_channels, width // 2, 1),
            _conv_block(nn.Conv1d, nn.BatchNorm1d, width // 2, width, 2),
            _conv_block(nn.Conv1d, nn.BatchNorm1d, width, width, 2),
        )


class VectorEncoder(nn.Module):
    """Two-layer MLP with dropout: ``(N, C) -> (N, width, 1)``."""

    def __init__(self, in_channels: int, width: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_channels, width), nn.LayerNorm(width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, width), nn.GELU()
        )

    def forward(self, x):
        return self.net(x.flatten(1)).unsqueeze(-1)


ENCODERS: dict[str, type[nn.Module]] = {"video": VideoEncoder, "image": ImageEncoder, "sequence": SequenceEncoder, "vector": VectorEncoder}


def make_encoder(kind: str, in_channels: int, width: int) -> nn.Module:
    if kind not in ENCODERS:
        raise unknown_choice("stream kind", kind, ENCODERS)
    return ENCODERS[kind](in_channels, width)
