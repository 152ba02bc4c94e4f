"""``RecognizerStreams``: an MMAction2 recognizer as ``model(streams, mask=None, return_weights=False)``.

The calling convention of ``streamfuse.stream_importance`` (and of ``MultiStreamHead``), for a
recognizer whose ``cls_head`` takes a stream mask (``StreamFuseHead``, see ``mmaction.py``). Torch
only: it calls the recognizer's ``backbone`` and ``cls_head`` and imports nothing from MMAction2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..errors import StreamFuseError
from ..importance.inputs import accepts


class RecognizerStreams(nn.Module):
    """A recognizer with a ``StreamFuseHead`` seen as ``model(streams, mask=None, return_weights=False)``.

    What ``streamfuse.stream_importance`` calls: ``streams`` are the preprocessed inputs
    ``[imgs (N, 3, T, H, W), heatmap_imgs (N, 17, T', H', W')]`` in the head's stream order (or a
    dict by stream name); the backbone runs on them and ``mask`` is applied in the head.
    RGBPoseConv3D's lateral connections pass information between pathways inside the backbone, so
    masking a pathway at the head removes its final features, not every trace of its input; for
    the input's importance use ``masking="mean"`` with per-stream input means as ``baseline``.

    Args:
        recognizer: a built MMAction2 recognizer (e.g. ``MMRecognizer3D``) whose ``cls_head`` is a
            ``StreamFuseHead``.
        input_keys: backbone input name of each stream, in stream order
            (default ``('imgs', 'heatmap_imgs')``).
    """

    def __init__(self, recognizer: nn.Module, input_keys: Sequence[str] = ("imgs", "heatmap_imgs")) -> None:
        super().__init__()
        head = getattr(recognizer, "cls_head", None)
        if head is None or not accepts(head, "mask") or not getattr(head, "stream_names", None):
            raise StreamFuseError(
                f"recognizer: expected a recognizer whose cls_head takes a stream mask (a StreamFuseHead), "
                f"got cls_head {type(head).__name__}"
            )
        if len(input_keys) != len(head.stream_names):
            raise StreamFuseError(
                f"input_keys: expected {len(head.stream_names)} backbone input names for streams "
                f"{head.stream_names}, got {list(input_keys)}"
            )
        self.recognizer, self.input_keys = recognizer, list(input_keys)

    @property
    def stream_names(self) -> list[str]:
        return self.recognizer.cls_head.stream_names

    def forward(self, streams, mask: torch.Tensor | None = None, return_weights: bool = False):
        if isinstance(streams, Mapping):
            streams = [streams[n] for n in self.stream_names]
        feats = self.recognizer.backbone(**dict(zip(self.input_keys, streams)))
        return self.recognizer.cls_head(feats, mask=mask, return_weights=return_weights)
