"""Reference multi-stream networks built from a model spec (a plain dict, stored in checkpoints).

Spec keys: ``method`` (a fusion name, ``"late"`` or ``"single:<stream>"``), ``streams`` (names in
order), ``kinds`` and ``in_channels`` (per stream), ``num_classes``, ``width`` (encoder width),
``dim`` (fused width, None for the method's default), ``dropout``, ``pool`` (``"avg"``/``"max"``
global pooling of the encoders' maps), ``fusion_options``, ``aux_loss`` (lambda of the per-stream
auxiliary losses, default 0.0 = none; fusion models only), ``standardize`` (default False: True
adds a ``StreamStandardizer`` that every forward applies to the inputs first; the training loop
fits it on the training split, see ``standardize.py``).

    MultiStreamNet   encoders -> MultiStreamHead(fusion)          one fused classifier
                     (aux_loss > 0: plus one pool -> dropout -> fc classifier per stream, trained
                     by the loop's auxiliary losses, unused at inference)
    LateFusionNet    encoder -> pool -> fc per stream, mean of scores over present streams
                     (late fusion as in pyskl's RGBPoseConv3D: average the branches' scores)
    single:<stream>  a MultiStreamNet over that stream alone
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import StreamFuseError
from ..head import MultiStreamHead
from .encoders import make_encoder
from .linear_model import LinearBaseline
from .standardize import StreamStandardizer


class MultiStreamNet(nn.Module):
    """Per-stream encoders feeding a ``MultiStreamHead``.

    Call: ``net(streams, mask=None, return_weights=False, return_aux=False)``; ``streams`` is a
    name->tensor dict (extra keys are ignored, so one batch serves every model) or a list in
    ``stream_names`` order. Returns scores ``(N, K)``, then the fusion's weights if
    ``return_weights``, then if ``return_aux`` a name->``(N, K)`` dict of the auxiliary heads'
    per-stream scores (``aux_loss > 0`` only; computed for every stream, whatever the mask).

    ``aux_loss`` > 0 adds one classifier per stream on its own encoder output ("deep supervision"
    of each branch, as in Gradient Blending: Wang, Tran & Feiszli, "What Makes Training
    Multi-Modal Classification Networks Hard?", CVPR 2020, https://arxiv.org/abs/1905.12681), so
    a slow stream learns even when the fused head can fit the training set from a faster one.
    """

    frozen_encoders = False  # True after freeze_encoders (stacked training); a class default, so subclasses have it too

    def __init__(self, streams, kinds, in_channels, num_classes, method="adaptive", width=32, dim=None, dropout=0.5, pool="avg", fusion_options=None, aux_loss=0.0):
        super().__init__()
        self.stream_names = list(streams)
        self.encoders = nn.ModuleDict({s: make_encoder(kinds[s], in_channels[s], width) for s in self.stream_names})
        self.head = MultiStreamHead(
            {s: width for s in self.stream_names}, num_classes, fusion=method, dim=dim, pool=pool, dropout=dropout, **(fusion_options or {})
        )
        self.aux_loss = check_aux_loss(aux_loss)
        if self.aux_loss > 0:
            self.aux_heads = nn.ModuleDict({s: stream_classifier(width, num_classes, pool, dropout) for s in self.stream_names})

    def freeze_encoders(self, states: dict | None = None) -> None:
        """Load per-stream encoder weights (``{stream: state_dict}``, optional) and freeze the
        encoders: no gradients, and BatchNorm kept in eval mode even when the net trains."""
        for s, state in (states or {}).items():
            self.encoders[s].load_state_dict(state)
        self.encoders.requires_grad_(False)
        self.frozen_encoders = True
        self.encoders.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_encoders:
            self.encoders.eval()
        return self

    def select(self, streams):
        if isinstance(streams, dict):
            missing = [s for s in self.stream_names if s not in streams]
            if missing:
                raise StreamFuseError(f"model needs streams {self.stream_names}; missing {missing}, got {list(streams)}")
            xs = [streams[s] for s in self.stream_names]
        else:
            xs = list(streams)
        standardizer = getattr(self, "standardizer", None)  # spec "standardize": training statistics
        return xs if standardizer is None else standardizer(xs)

    def forward(self, streams, mask=None, return_weights=False, return_aux=False):
        xs = self.select(streams)
        if len(xs) != len(self.stream_names):
            raise StreamFuseError(f"model expected {len(self.stream_names)} streams {self.stream_names}, got {len(xs)}")
        feats = {s: enc(x) for (s, enc), x in zip(self.encoders.items(), xs)}
        out = self.head(feats, mask=mask, return_weights=return_weights)
        if not return_aux:
            return out
        if self.aux_loss <= 0:
            raise StreamFuseError("return_aux=True needs a model built with aux_loss > 0 (it has no auxiliary heads)")
        aux = {s: head(feats[s]) for s, head in self.aux_heads.items()}
        return (*out, aux) if return_weights else (out, aux)


class LateFusionNet(MultiStreamNet):
    """Average of per-stream classifiers' scores (over present streams when a mask is given)."""

    def __init__(self, streams, kinds, in_channels, num_classes, width=32, dropout=0.5, pool="avg", **_):
        nn.Module.__init__(self)
        self.stream_names = list(streams)
        self.encoders = nn.ModuleDict({s: make_encoder(kinds[s], in_channels[s], width) for s in self.stream_names})
        self.classifiers = nn.ModuleDict({s: stream_classifier(width, num_classes, pool, dropout) for s in self.stream_names})

    def forward(self, streams, mask=None, return_weights=False):
        xs = self.select(streams)
        scores = torch.stack([self.classifiers[s](self.encoders[s](x)) for s, x in zip(self.stream_names, xs)], dim=1)
        n, s = scores.shape[:2]
        w = torch.full((n, s), 1.0 / s, device=scores.device) if mask is None else mask.float() / mask.float().sum(1, keepdim=True)
        out = (scores * w.unsqueeze(-1)).sum(1)
        return (out, w) if return_weights else out


def check_aux_loss(value) -> float:
    """``value`` as a float lambda >= 0, or a ``StreamFuseError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise StreamFuseError(f"aux_loss must be a finite number >= 0 (0 = no auxiliary losses), got {value!r}")
    return float(value)


def stream_classifier(width: int, num_classes: int, pool: str, dropout: float) -> nn.Sequential:
    """One stream's classifier: ``(N, width, *spatial) -> flatten -> pool -> dropout -> fc -> (N, K)``."""
    return nn.Sequential(nn.Flatten(2), _Pool(pool), nn.Dropout(dropout), nn.Linear(width, num_classes))


class _Pool(nn.Module):
    def __init__(self, pool: str) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x):
        return x.mean(-1) if self.pool == "avg" else x.amax(-1)


def baseline(method: str) -> bool:
    """Whether ``method`` is a baseline (late fusion, one stream): trained without fusion options,
    auxiliary losses or stacking."""
    return method == "late" or method.startswith("single:")


def build_model(spec: dict) -> nn.Module:
    """Instantiate the network described by ``spec`` (see module docstring)."""
    if spec["method"] == "linear":  # logistic regression, fitted by bench.linear; its own standardisation
        return LinearBaseline.from_spec(spec)
    model = _build(spec)
    if not isinstance(spec.get("standardize", False), bool):
        raise StreamFuseError(f"spec 'standardize' must be true or false, got {spec['standardize']!r}")
    if spec.get("standardize", False):
        model.standardizer = StreamStandardizer({s: spec["in_channels"][s] for s in model.stream_names})
    return model


def _build(spec: dict) -> nn.Module:
    method = spec["method"]
    common = {k: spec[k] for k in ("kinds", "in_channels", "num_classes")}
    common.update(width=spec.get("width", 32), dropout=spec.get("dropout", 0.5), pool=spec.get("pool", "avg"))
    aux_loss = check_aux_loss(spec.get("aux_loss", 0.0))
    if aux_loss > 0 and baseline(method):
        raise StreamFuseError(f"aux_loss applies to fusion models; the baseline {method!r} is trained without it (give aux_loss=0)")
    if method == "late":
        return LateFusionNet(spec["streams"], **common)
    if method.startswith("single:"):
        stream = method.split(":", 1)[1]
        if stream not in spec["streams"]:
            raise StreamFuseError(f"single-stream baseline {method!r}: no stream {stream!r}; streams are {spec['streams']}")
        return MultiStreamNet([stream], method="concat", dim=spec.get("dim"), **common)
    return MultiStreamNet(spec["streams"], method=method, dim=spec.get("dim"), fusion_options=spec.get("fusion_options"), aux_loss=aux_loss, **common)
