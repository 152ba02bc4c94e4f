"""``StreamFuseHead``: learned fusion as a drop-in head for MMAction2's RGBPoseConv3D (PoseC3D).

Duan et al., "Revisiting Skeleton-based Action Recognition" (PoseC3D / RGBPoseConv3D), CVPR 2022,
https://arxiv.org/abs/2104.13586; MMAction2, https://github.com/open-mmlab/mmaction2.

MMAction2's ``RGBPoseHead`` classifies each pathway on its own and averages the two scores 1:1 at
test time, so nothing learns which pathway matters. ``StreamFuseHead`` takes the same backbone
output and fuses it with any ``streamfuse`` method through ``streamfuse.MultiStreamHead``:

    rgb  (N, 2048, T, H, W) ---\\
                                fuse (method by name) -> (N, D) -> dropout -> fc -> (N, num_classes)
    pose (N, 512, T', H, W) ---/

Importing this module registers the head in MMAction2's ``MODELS`` registry (it needs
``pip install "streamfuse[mmaction]"``); in a config, replace ``type='RGBPoseHead'`` by
``type='StreamFuseHead'`` and add ``custom_imports=dict(imports=['streamfuse.integrations.mmaction'])``.

After ``predict`` each ``ActionDataSample`` holds ``pred_score`` (the fused scores), ``pred_label``
and, for methods with weights, ``stream_weights``: the learned weights of this sample, ``(S,)``
(stream level) or ``(S, D)`` (channel level), in the order of its ``stream_names`` metainfo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..errors import StreamFuseError
from ..head import MultiStreamHead
from ..options import Option
from .mmaction_compat import import_mmaction_models
from .mmaction_streams import RecognizerStreams  # noqa: F401  (re-exported: stream_importance on a recognizer)

import_mmaction_models()  # noqa: E402  (registers MMAction2's models; works around the 1.2.0 wheel)
from mmaction.models.heads.base import BaseHead  # noqa: E402
from mmaction.registry import MODELS  # noqa: E402

#: Fused width D of the integration's head. The library default (the widest stream, 2048 here)
#: makes heads of 5-73 M parameters at RGBPoseConv3D's widths; 512 (the pose pathway's width)
#: keeps every method at 1.3-5.6 M (README) next to a 36 M backbone. 256 (0.7-2.6 M) scored
#: 2.5 points lower on the CPU bench (BENCHMARKS.md, "MMAction2 RGBPoseConv3D"; 2 seeds, noisy).
DEFAULT_DIM = 512


def _stream_names(in_channels, stream_names) -> tuple[list[str], list[int]]:
    if isinstance(in_channels, Mapping):
        if stream_names is not None:
            raise StreamFuseError("stream_names: give it only when in_channels is a list; a dict already names the streams")
        return [str(k) for k in in_channels], list(in_channels.values())
    if not isinstance(in_channels, Sequence) or isinstance(in_channels, str):
        raise StreamFuseError(f"in_channels: expected pathway widths like (2048, 512), got {in_channels!r}")
    widths = list(in_channels)
    if stream_names is None:
        stream_names = ["rgb", "pose"] if len(widths) == 2 else [f"stream{i}" for i in range(len(widths))]
    names = [str(n) for n in stream_names]
    if len(names) != len(widths) or len(set(names)) != len(names):
        raise StreamFuseError(
            f"stream_names: expected {len(widths)} distinct names for in_channels {widths}, got {list(stream_names)}"
        )
    return names, widths


@MODELS.register_module()
class StreamFuseHead(BaseHead):
    """Fuse RGBPoseConv3D's pathways with a learned streamfuse method, then classify.

    Args:
        num_classes: number of classes.
        in_channels: pathway widths in the backbone's output order, e.g. ``(2048, 512)``, or a
            name->width dict.
        fusion: a ``streamfuse.list_fusions()`` name.
        dim: fused width D (default ``DEFAULT_DIM`` = 512; ``None``: the library default, the
            widest pathway).
        stream_names: names of the pathways (default ``('rgb', 'pose')`` for two).
        loss_components: pathway names (``RGBPoseHead``'s argument, same default: every pathway):
            each adds the loss of the same head with only that pathway present (the others
            masked), keys ``<name>_loss_cls``, ``<name>_top1_acc``...: every pathway of the backbone
            gets a direct training signal, as under ``RGBPoseHead``, and the head learns to classify
            from either pathway alone. ``[]``: the fused loss only. The fused loss (``loss_cls``,
            ``top1_acc``...) is always there. On the CPU bench (BENCHMARKS.md, "MMAction2
            RGBPoseConv3D", D=256) the fused loss alone gave 45.6 +- 9.7 % against 48.6 +- 4.6 %
            with both pathway losses (2 seeds, one better each way: not conclusive).
        loss_weights: one weight, or one per entry of ``loss_components``.
        fused_weight: weight of the fused loss.
        dropout: dropout before the classifier. ``pool``: ``'avg'`` or ``'max'``.
        init_std: std of the classifier's normal initialisation (as ``RGBPoseHead``).
        loss_cls, multi_class, label_smooth_eps, topk, average_clips, init_cfg: as MMAction2's
            ``BaseHead``.
        **fusion_options: passed to the fusion (e.g. ``stream_dropout=0.2``, ``num_heads=8``).

    ``forward(feats, mask=None, return_weights=False)`` takes the backbone's tuple of maps
    ``(N, C_i, T_i, H_i, W_i)`` and returns scores ``(N, num_classes)`` (and the weights), like
    ``MultiStreamHead``; ``mask`` is bool ``(N, S)``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels=(2048, 512),
        fusion: str = "adaptive",
        dim: int | None = DEFAULT_DIM,
        stream_names: Sequence[str] | None = None,
        loss_components: Sequence[str] | None = None,
        loss_weights: float | Sequence[float] = 1.0,
        fused_weight: float = 1.0,
        dropout: float = 0.5,
        pool: str = "avg",
        init_std: float = 0.01,
        loss_cls: dict | None = None,
        multi_class: bool = False,
        label_smooth_eps: float = 0.0,
        topk: int | tuple[int, ...] = (1, 5),
        average_clips: str | None = "prob",
        init_cfg: dict | None = None,
        **fusion_options,
    ) -> None:
        names, widths = _stream_names(in_channels, stream_names)
        super().__init__(
            num_classes, tuple(widths), loss_cls or dict(type="CrossEntropyLoss"), multi_class=multi_class,
            label_smooth_eps=label_smooth_eps, topk=topk, average_clips=average_clips, init_cfg=init_cfg,
        )
        self.head = MultiStreamHead(dict(zip(names, widths)), num_classes, fusion, dim, pool, dropout, **fusion_options)
        if loss_components is None:
            loss_components = list(names)
        elif isinstance(loss_components, str):
            loss_components = [loss_components]
        bad = [c for c in loss_components if c not in names]
        if bad or len(set(loss_components)) != len(loss_components):
            raise StreamFuseError(
                f"loss_components: got {list(loss_components)}; expected distinct pathway names from {names} "
                f"(the fused loss is always computed; weight it with fused_weight)"
            )
        if isinstance(loss_weights, (int, float)):
            loss_weights = [float(loss_weights)] * len(loss_components)
        if len(loss_weights) != len(loss_components):
            raise StreamFuseError(
                f"loss_weights: expected one weight or {len(loss_components)} (one per component of "
                f"{list(loss_components)}), got {list(loss_weights)}"
            )
        # a NaN makes every loss NaN; a negative weight turns a pathway's loss into a reward
        weight = Option(1.0, "float", low=0.0)
        for what, w in [("fused_weight", fused_weight)] + [(f"loss_weights[{c!r}]", w) for c, w in zip(loss_components, loss_weights)]:
            weight.check(what, w, "StreamFuseHead")
        self.loss_components, self.loss_weights = list(loss_components), [float(w) for w in loss_weights]
        self.fused_weight = float(fused_weight)
        self.init_std = init_std

    @property
    def stream_names(self) -> list[str]:
        return self.head.stream_names

    @property
    def fusion(self) -> nn.Module:
        return self.head.fusion

    def init_weights(self) -> None:
        nn.init.normal_(self.head.fc.weight, std=self.init_std)
        nn.init.zeros_(self.head.fc.bias)

    def forward(self, x, mask: torch.Tensor | None = None, return_weights: bool = False, **kwargs):
        if isinstance(x, Mapping):
            return self.head(x, mask=mask, return_weights=return_weights)
        return self.head(list(x), mask=mask, return_weights=return_weights)

    def _only(self, name: str, batch: int, device) -> torch.Tensor:
        mask = torch.zeros(batch, len(self.stream_names), dtype=torch.bool, device=device)
        mask[:, self.stream_names.index(name)] = True
        return mask

    def loss(self, feats, data_samples, **kwargs) -> dict:
        """Fused loss ``loss_cls`` and top-k accuracies, plus those of each ``loss_components`` pathway."""
        losses = {}
        first = next(iter(feats.values())) if isinstance(feats, Mapping) else feats[0]  # (forward takes both)
        batch, device = first.shape[0], first.device
        parts = [("fused", self.fused_weight)] + list(zip(self.loss_components, self.loss_weights))
        for name, weight in parts:
            mask = None if name == "fused" else self._only(name, batch, device)
            part = self.loss_by_feat(self(feats, mask=mask), data_samples)
            part = {k: v * weight if "loss" in k else v for k, v in part.items()}
            losses.update(part if name == "fused" else {f"{name}_{k}": v for k, v in part.items()})
        return losses

    def predict(self, feats, data_samples, **kwargs):
        """Fused scores (averaged over clips as ``average_clips`` says) and the learned weights."""
        scores, weights = self(feats, return_weights=True)
        if len(data_samples) == 0 or scores.shape[0] % len(data_samples):
            raise StreamFuseError(f"predict: {scores.shape[0]} feature rows for {len(data_samples)} data samples; "
                                  f"expected a whole number of clips per sample")
        data_samples = self.predict_by_feat(scores, data_samples)
        if weights is not None:
            num_segs = weights.shape[0] // len(data_samples)
            weights = weights.detach().view((len(data_samples), num_segs) + tuple(weights.shape[1:])).mean(1)
            for sample, w in zip(data_samples, weights):
                sample.set_field(w, "stream_weights")
                sample.set_metainfo({"stream_names": list(self.stream_names)})
        return data_samples
