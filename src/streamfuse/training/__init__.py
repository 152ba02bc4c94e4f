"""Training layer above the core library: reference encoders and models, loop, checkpoints.

``load_trained("model.pt")`` returns a model written by ``streamfuse train --save`` with the data
it was trained on (``data.test`` is its held-out split); ``load_checkpoint`` returns the model and
the raw checkpoint payload.
"""

from .checkpoint import load_checkpoint, load_trained, save_checkpoint
from .encoders import ENCODERS, ImageEncoder, SequenceEncoder, VectorEncoder, VideoEncoder, make_encoder
from .loop import TrainConfig, macro_f1, predict, stratified_split, train_model
from .models import LateFusionNet, MultiStreamNet, build_model

__all__ = [
    "ENCODERS",
    "ImageEncoder",
    "LateFusionNet",
    "MultiStreamNet",
    "SequenceEncoder",
    "TrainConfig",
    "VectorEncoder",
    "VideoEncoder",
    "build_model",
    "load_checkpoint",
    "load_trained",
    "macro_f1",
    "make_encoder",
    "predict",
    "save_checkpoint",
    "stratified_split",
    "train_model",
]
