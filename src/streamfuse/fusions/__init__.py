"""Every fusion method, one file each. Importing this package registers them all."""

from .adaptive import AdaptiveWeightFusion
from .attention import AttentionFusion
from .channel import ChannelFusion
from .concat import ConcatFusion
from .cross_attention import CrossAttentionFusion
from .gmu import GatedMultimodalFusion
from .lowrank import LowRankFusion
from .scalar import ConvexFusion, ScalarFusion
from .selective import SelectiveFusion
from .sum import MeanFusion, SumFusion
from .transformer import TransformerFusion

__all__ = [
    "AdaptiveWeightFusion",
    "AttentionFusion",
    "ChannelFusion",
    "ConcatFusion",
    "ConvexFusion",
    "CrossAttentionFusion",
    "GatedMultimodalFusion",
    "LowRankFusion",
    "MeanFusion",
    "ScalarFusion",
    "SelectiveFusion",
    "SumFusion",
    "TransformerFusion",
]
