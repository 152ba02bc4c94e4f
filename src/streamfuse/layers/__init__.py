"""Building blocks shared by the fusion methods (not fusions themselves)."""

from .masking import (
    NORMALIZATIONS,
    convex_pair,
    masked_softmax,
    normalize_weights,
    stream_dropout_mask,
    weighted_sum,
    weighted_sum_list,
    weighted_sum_streams,
)
from .pooling import POOLS, GlobalPool, global_pool
from .projection import StreamProjection
from .stream_linear import StreamLinear
from .tokens import TokenEmbedding, sincos_positions

__all__ = [
    "NORMALIZATIONS",
    "POOLS",
    "GlobalPool",
    "StreamLinear",
    "StreamProjection",
    "TokenEmbedding",
    "convex_pair",
    "global_pool",
    "masked_softmax",
    "normalize_weights",
    "sincos_positions",
    "stream_dropout_mask",
    "weighted_sum",
    "weighted_sum_list",
    "weighted_sum_streams",
]
