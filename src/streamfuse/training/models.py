"""Reference multi-stream networks built from a model spec (a plain dict, stored in checkpoints).

Spec keys: ``method`` (a fusion name, ``"late"``, a model-level method of ``model_methods.py`` such
as ``"late_learned"``, ``"linear"`` or ``"single:<stream>"``), ``streams`` (names in order),
``kinds`` and ``in_channels`` (per stream), ``num_classes``, ``width`` (encoder width), ``dim``
(fused width, None for the method's default), ``dropout``, ``pool`` (``"avg"``/``"max"`` global
pooling of the encoders' maps), ``fusion_options``, ``aux_loss`` (lambda of the per-stream
auxiliary losses, default 0.0 = none; fusion models only), ``stream_heads`` (bool: build one
classifier per stream even with ``aux_loss`` 0; the balanced training recipes use them, see the
``balance`` package), ``standardize`` (default False: True adds a ``StreamStandardizer`` that
``select()`` applies to the inputs first, in every network; the training loop fits it on the
training split, see ``standardize.py``). ``linear`` is the logistic-regression baseline
(``linear_model.py``), fitted by ``bench.linear``.

    MultiStreamNet   encoders -> MultiStreamHead(fusion)          one fused classifier
                     (aux_loss > 0 or stream_heads: plus one pool -> dropout -> fc classifier per
                     stream, used by the training loss only, never at inference)
    LateFusionNet    encoder -> pool -> fc per stream, then the scores averaged over present
                     streams (``late``, as pyskl's RGBPoseConv3D does at test time) or weighted
                     by learned per-sample weights (``late_learned``: score-level fusion)
    single:<stream>  a MultiStreamNet over that stream alone
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import StreamFuseError
from ..head import MultiStreamHead
from ..layers import GlobalPool
from .encoders import make_encoder
from .select import select_streams
from .linear_model import LinearBaseline
from .model_methods import model_method, register_model_method
from .standardize import StreamStandardizer


RETURN_AUX = (False, True, "probe", "masked")  # what a reference network's return_aux accepts


def check_return_aux(value) -> None:
    if not any(value is v or (isinstance(value, str) and value == v) for v in RETURN_AUX):
        raise StreamFuseError(f"return_aux must be one of {RETURN_AUX}, got {value!r}")


class _EncoderNet(nn.Module):
    """Per-stream encoders, stream selection and freezing, shared by every reference network.

    Call: ``net(streams, ...)``; ``streams`` is a name->tensor dict (extra keys are ignored, so one
    batch serves every model) or a list in ``stream_names`` order.
    """

    frozen_encoders = False  # True after freeze_encoders (stacked training)

    def __init__(self, streams, kinds, in_channels, width: int) -> None:
        super().__init__()
        self.stream_names = list(streams)
        self.encoders = nn.ModuleDict({s: make_encoder(kinds[s], in_channels[s], width) for s in self.stream_names})
        # streams the model leaves out (``leave_out``), kept in the state dict so checkpoints carry it
        self.register_buffer("stream_kept", torch.ones(len(self.stream_names), dtype=torch.bool))
        self._kept = [True] * len(self.stream_names)  # a Python mirror of stream_kept: no device sync per forward

    @property
    def left_out(self) -> list[str]:
        """Streams the model never reads (see ``leave_out``)."""
        return [s for s, kept in zip(self.stream_names, self.stream_kept.tolist()) if not kept]

    def leave_out(self, streams) -> None:
        """Treat ``streams`` as absent from every sample from now on (the recipes call this for a
        stream whose model alone did no better on validation data than the class prior).

        A sample whose present streams are all left out gets all-zero scores (uniform
        probabilities) and zero weights: the prediction of a model that has no information."""
        unknown = [s for s in streams if s not in self.stream_names]
        if unknown or len(set(streams)) == len(self.stream_names):
            raise StreamFuseError(f"leave_out: got {list(streams)}; expected a proper subset of the streams {self.stream_names}")
        for s in streams:
            self.stream_kept[self.stream_names.index(s)] = False
        self._kept = self.stream_kept.tolist()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # checkpoints written before streams could be left out have no stream_kept: all kept
        kept = state_dict.setdefault(prefix + "stream_kept", torch.ones(len(self.stream_names), dtype=torch.bool))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._kept = [bool(k) for k in kept.tolist()]

    def present_mask(self, mask, n: int):
        """``(mask, uninformed)``: the caller's mask ``(N, S)`` (None: all present) with left-out
        streams absent, and the bool ``(N,)`` rows left with no stream (None when nothing is left
        out). A caller's row with no present stream is an error, as for every fusion."""
        s = len(self.stream_names)
        if mask is not None:
            if mask.shape != (n, s) or mask.dtype != torch.bool:
                raise StreamFuseError(f"mask must be bool (N, S) = ({n}, {s}), got {mask.dtype} {tuple(mask.shape)}")
            if n and not bool(mask.any(1).all()):
                raise StreamFuseError(f"mask: sample(s) {(~mask.any(1)).nonzero().flatten().tolist()[:5]} have no present stream; at least one of {self.stream_names} must be present")
        if all(self._kept):
            return mask, None
        kept = self.stream_kept.unsqueeze(0)
        given = kept.expand(n, s) if mask is None else mask & kept
        uninformed = ~given.any(1)
        # such rows are scored as if the kept streams were present, then blanked (blank_rows)
        return given | (uninformed.unsqueeze(1) & kept), uninformed

    @staticmethod
    def blank_rows(out, uninformed):
        """Zero the scores (and weights) of rows with no informative stream; ``out`` is scores or
        ``(scores, weights)``."""
        if uninformed is None:
            return out
        def blank(t):  # scores (N, K); weights (N, S), per channel (N, S, D), or None (concat)
            return None if t is None else t.masked_fill(uninformed.view((-1,) + (1,) * (t.dim() - 1)), 0.0)

        return tuple(blank(t) for t in out) if isinstance(out, tuple) else blank(out)

    def freeze_encoders(self, states: dict | None = None) -> None:
        """Load per-stream encoder weights (``{stream: state_dict}``, optional) and freeze the
        encoders: no gradients, and BatchNorm kept in eval mode even when the net trains."""
        self.load_encoders(states or {})
        self.encoders.requires_grad_(False)
        self.frozen_encoders = True
        self.encoders.eval()

    def load_encoders(self, states: dict) -> None:
        """Copy ``{stream: state_dict}`` into the named encoders (warm start, stacked training)."""
        for s, state in states.items():
            if s not in self.encoders:
                raise StreamFuseError(f"encoder weights for stream {s!r}, but the model's streams are {self.stream_names}")
            self.encoders[s].load_state_dict(state)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_encoders:
            self.encoders.eval()
        return self

    def select(self, streams) -> list:
        xs = select_streams(streams, self.stream_names, "model")
        standardizer = getattr(self, "standardizer", None)  # spec "standardize": training statistics
        return xs if standardizer is None else standardizer(xs)

    def encode(self, streams) -> dict:
        """``{stream: (N, width, *spatial)}`` encoder maps."""
        return {s: enc(x) for (s, enc), x in zip(self.encoders.items(), self.select(streams))}


class MultiStreamNet(_EncoderNet):
    """Per-stream encoders feeding a ``MultiStreamHead``.

    Call: ``net(streams, mask=None, return_weights=False, return_aux=False)``. Returns scores
    ``(N, K)``, then the fusion's weights if ``return_weights``, then if ``return_aux`` a
    name->``(N, K)`` dict of per-stream scores, whatever the mask: ``True``, the per-stream heads'
    (every stream); ``"probe"``, the same from detached encoder outputs; ``"masked"``, the fused
    head's own scores with that stream alone present (``masked_scores``; every stream the model
    reads, no per-stream heads needed).

    ``aux_loss`` > 0 (or ``stream_heads``) adds one classifier per stream on its own encoder
    output ("deep supervision" of each branch, as in Gradient Blending: Wang, Tran & Feiszli,
    "What Makes Training Multi-Modal Classification Networks Hard?", CVPR 2020,
    https://arxiv.org/abs/1905.12681), so a slow stream learns even when the fused head can fit
    the training set from a faster one.
    """

    def __init__(self, streams, kinds, in_channels, num_classes, method="adaptive", width=32, dim=None, dropout=0.5, pool="avg", fusion_options=None, aux_loss=0.0, stream_heads=False):
        super().__init__(streams, kinds, in_channels, width)
        self.head = MultiStreamHead(
            {s: width for s in self.stream_names}, num_classes, fusion=method, dim=dim, pool=pool, dropout=dropout, **(fusion_options or {})
        )
        self.aux_loss = check_aux_loss(aux_loss)
        if self.aux_loss > 0 or stream_heads:
            self.aux_heads = nn.ModuleDict({s: stream_classifier(width, num_classes, pool, dropout) for s in self.stream_names})

    def forward(self, streams, mask=None, return_weights=False, return_aux=False):
        check_return_aux(return_aux)
        feats = self.encode(streams)
        mask, uninformed = self.present_mask(mask, next(iter(feats.values())).shape[0])
        out = self.blank_rows(self.head(feats, mask=mask, return_weights=return_weights), uninformed)
        if not return_aux:
            return out
        if return_aux == "masked":
            aux = self.masked_scores(feats)
        elif not hasattr(self, "aux_heads"):
            raise StreamFuseError(
                f"return_aux={return_aux!r} needs a model built with aux_loss > 0 or stream_heads (it has no "
                f"per-stream heads); return_aux='masked' scores each stream through the fused head instead"
            )
        else:  # "probe": the heads read detached features, so their losses train them but not the encoders
            aux = {s: head(feats[s].detach() if return_aux == "probe" else feats[s]) for s, head in self.aux_heads.items()}
        return (*out, aux) if return_weights else (out, aux)

    def masked_scores(self, feats: dict) -> dict:
        """``{stream: (N, K)}``: the fused head's scores with that stream alone present (every
        other stream masked out), for each stream the model reads; left-out streams are skipped.
        ``feats``: the encoder maps of ``encode``. A loss on these trains each stream's path
        through the shared head to classify on its own (the ``masked`` balance recipe)."""
        first = next(iter(feats.values()))
        out = {}
        for i, (s, kept) in enumerate(zip(self.stream_names, self._kept)):
            if kept:
                only = torch.zeros(first.shape[0], len(self.stream_names), dtype=torch.bool, device=first.device)
                only[:, i] = True
                out[s] = self.head(feats, mask=only)
        return out


class LateFusionNet(_EncoderNet):
    """Score-level fusion: one classifier per stream, scores combined over present streams.

    ``learned=False`` (``late``): the mean of the present streams' scores, weights ``1/S``.
    ``learned=True`` (``late_learned``): weights ``softmax_i(theta_i + g_i(z))`` over the present
    streams, ``z`` the concatenated pooled features ``(N, S * width)``, ``g`` a linear gate
    started at zero (so training starts from the plain mean). Returned like any fusion's weights.

    Call: ``net(streams, mask=None, return_weights=False, return_aux=False)`` -> scores ``(N, K)``,
    then weights ``(N, S)``, then the per-stream scores ``{stream: (N, K)}`` (whatever
    ``return_aux`` asks: each stream's classifier is also what the model scores with that stream
    alone, i.e. ``"masked"``). A mask row with no present stream is an error, as for every fusion.
    """

    def __init__(self, streams, kinds, in_channels, num_classes, width=32, dropout=0.5, pool="avg", learned=False):
        super().__init__(streams, kinds, in_channels, width)
        self.classifiers = nn.ModuleDict({s: stream_classifier(width, num_classes, pool, dropout) for s in self.stream_names})
        self.learned = bool(learned)
        if self.learned:
            s = len(self.stream_names)
            self.theta = nn.Parameter(torch.zeros(s))
            self.pool = GlobalPool(pool)
            self.gate = nn.Linear(s * width, s)
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    def no_weight_decay(self) -> set[str]:
        return {"theta"} if self.learned else set()

    def load_classifiers(self, states: dict) -> None:
        """Copy ``{stream: {"weight": (K, width), "bias": (K,)}}`` into the named streams' last
        classifier layers (warm start: with each stream's single-stream head, so that the model
        starts as the late fusion of the single-stream models)."""
        for s, state in states.items():
            if s not in self.classifiers:
                raise StreamFuseError(f"classifier weights for stream {s!r}, but the model's streams are {self.stream_names}")
            self.classifiers[s][-1].load_state_dict(state)

    def forward(self, streams, mask=None, return_weights=False, return_aux=False):
        check_return_aux(return_aux)
        feats = self.encode(streams)
        per_stream = {s: self.classifiers[s](f) for s, f in feats.items()}
        scores = torch.stack(list(per_stream.values()), dim=1)  # (N, S, K)
        n, s = scores.shape[:2]
        mask, uninformed = self.present_mask(mask, n)
        if self.learned:
            z = torch.cat([self.pool(f) for f in feats.values()], dim=1)
            logits = self.theta + self.gate(z)
            if mask is not None:
                logits = logits.masked_fill(~mask, float("-inf"))
            w = logits.softmax(dim=1)
        else:
            w = scores.new_full((n, s), 1.0 / s) if mask is None else mask.to(scores.dtype) / mask.to(scores.dtype).sum(1, keepdim=True)
        out, w = self.blank_rows(((scores * w.unsqueeze(-1)).sum(1), w), uninformed)
        result = (out, w) if return_weights else out
        if return_aux:
            return (*result, per_stream) if return_weights else (result, per_stream)
        return result


@register_model_method("late_learned", kind="score-level model")
def _late_learned(spec: dict, common: dict) -> LateFusionNet:
    return LateFusionNet(spec["streams"], learned=True, **common)


def check_aux_loss(value) -> float:
    """``value`` as a float lambda >= 0, or a ``StreamFuseError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise StreamFuseError(f"aux_loss must be a finite number >= 0 (0 = no auxiliary losses), got {value!r}")
    return float(value)


def stream_classifier(width: int, num_classes: int, pool: str, dropout: float) -> nn.Sequential:
    """One stream's classifier: ``(N, width, *spatial) -> flatten -> pool -> dropout -> fc -> (N, K)``."""
    return nn.Sequential(nn.Flatten(2), GlobalPool(pool), nn.Dropout(dropout), nn.Linear(width, num_classes))


def baseline(method: str) -> bool:
    """Whether ``method`` is a baseline (late fusion, one stream, the ``linear`` logistic
    regression): trained without fusion options, auxiliary losses, balancing recipes or stacking."""
    return method in ("late", "linear") or method.startswith("single:")


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
    entry = model_method(method)
    if aux_loss > 0 and (baseline(method) or (entry is not None and not entry.aux_loss)):
        kind = "the baseline" if baseline(method) else f"the {entry.kind}"
        raise StreamFuseError(f"aux_loss applies to fusion models; {kind} {method!r} is trained without it (give aux_loss=0)")
    if method == "late" or entry is not None:
        valid = entry.options if entry is not None else {}
        extra = sorted(set(spec.get("fusion_options") or {}) - set(valid))
        if extra:
            raise StreamFuseError(f"{method!r} takes no fusion options, got {sorted(spec['fusion_options'])}" if not valid
                                  else f"{method!r} has no fusion option(s) {extra}; its options are {sorted(valid)}")
        return LateFusionNet(spec["streams"], **common) if entry is None else entry.build(spec, common)
    if method.startswith("single:"):
        stream = method.split(":", 1)[1]
        if stream not in spec["streams"]:
            raise StreamFuseError(f"single-stream baseline {method!r}: no stream {stream!r}; streams are {spec['streams']}")
        return MultiStreamNet([stream], method="concat", dim=spec.get("dim"), **common)
    return MultiStreamNet(
        spec["streams"], method=method, dim=spec.get("dim"), fusion_options=spec.get("fusion_options"),
        aux_loss=aux_loss, stream_heads=bool(spec.get("stream_heads", False)), **common,
    )
