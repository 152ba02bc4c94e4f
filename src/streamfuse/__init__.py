"""streamfuse: learned fusion of multi-stream networks.

Shape legend: N batch, S streams, C_i channels of stream i, D fused width, L tokens.

    >>> import torch, streamfuse
    >>> head = streamfuse.MultiStreamHead([3, 17], num_classes=10, fusion="attention")
    >>> scores, w = head([torch.randn(4, 3, 1, 1, 1), torch.randn(4, 17, 1, 1, 1)], return_weights=True)
    >>> scores.shape, w.shape
    (torch.Size([4, 10]), torch.Size([4, 2]))

The library needs torch only; data loaders, training, the bench and the CLI live in
``streamfuse.data``, ``streamfuse.training``, ``streamfuse.bench`` and ``streamfuse.cli`` and are
never imported from here.
"""

from . import fusions  # noqa: F401  (registers every method)
from .base import Fusion
from .errors import StreamFuseError
from .fusions import *  # noqa: F401,F403
from .fusions import __all__ as _fusion_classes
from .fusions.folded import FoldedChannelWeightedSum, FoldedWeightedSum
from .folding import fold_weights
from .head import MultiStreamHead
from .importance import StreamImportance, stream_importance
from .registry import (
    FUSIONS,
    check_fusion_option,
    create_fusion,
    fusion_option_defaults,
    fusion_option_specs,
    fusion_options,
    list_fusions,
    register_fusion,
)
from .weight_decay import no_weight_decay_ids

__version__ = "0.1.0"

__all__ = [
    "FUSIONS",
    "FoldedChannelWeightedSum",
    "FoldedWeightedSum",
    "Fusion",
    "MultiStreamHead",
    "StreamFuseError",
    "StreamImportance",
    "check_fusion_option",
    "create_fusion",
    "fold_weights",
    "fusion_option_defaults",
    "fusion_option_specs",
    "fusion_options",
    "list_fusions",
    "no_weight_decay_ids",
    "register_fusion",
    "stream_importance",
    *_fusion_classes,
]
