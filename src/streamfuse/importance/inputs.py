"""Checking what ``stream_importance`` is given: the data, the stream order, the baseline, the model.

Everything here turns user input into one canonical form, or raises ``StreamFuseError`` naming the
stream at fault:

* streams as a list of tensors in the *model's* stream order (a dict is reordered to the names of
  the model's fusion, because mask column ``i`` means the model's stream ``i``, not the dict's);
* labels as an int64 ``(N,)`` tensor;
* baselines (for ``masking="mean"``) as per-stream tensors broadcastable to ``(C_i, *spatial)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..base import Fusion
from ..errors import StreamFuseError
from ..errors import shape_text as _shape


@dataclass
class Data:
    """Checked data: ``streams`` in model order, ``names``, ``labels`` (N,) int64, and how to
    rebuild the container the model expects (``keys``: dict keys in the caller's order, or None
    for a list)."""

    streams: list[torch.Tensor]
    names: list[str]
    labels: torch.Tensor
    keys: list[str] | None

    @property
    def num_rows(self) -> int:
        return int(self.labels.shape[0])

    def container(self, xs: list[torch.Tensor]) -> list[torch.Tensor] | dict[str, torch.Tensor]:
        """Pack per-stream tensors (model order) the way the caller passed them (dict or list)."""
        if self.keys is None:
            return list(xs)
        by_name = dict(zip(self.names, xs))
        return {k: by_name[k] for k in self.keys}


def model_stream_names(model: nn.Module) -> tuple[list[str] | None, bool]:
    """The model's stream order: its own ``stream_names``, else the first ``Fusion`` inside it.

    Returns ``(names or None, own)``; ``own`` is True when the model itself declares the names."""
    names = getattr(model, "stream_names", None)
    if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
        return list(names), True
    for m in model.modules():
        if isinstance(m, Fusion):
            return list(m.stream_names), False
    return None, False


def unpack_data(data: object, model: nn.Module) -> Data:
    if hasattr(data, "streams") and hasattr(data, "labels"):
        streams, labels = data.streams, data.labels
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        streams, labels = data
    else:
        raise StreamFuseError(
            "data: expected (streams, labels) with streams a list/dict of (N, C_i, ...) tensors and labels "
            f"int64 (N,), or an object with .streams and .labels; got {type(data).__name__}"
        )
    labels = _check_labels(labels)
    model_names, own = model_stream_names(model)
    if isinstance(streams, Mapping):
        keys = [str(k) for k in streams]
        tensors = dict(zip(keys, streams.values()))
        if model_names is not None and set(model_names) == set(keys):
            names = model_names
        elif model_names is not None and own:
            missing = [n for n in model_names if n not in tensors]
            extra = [k for k in keys if k not in model_names]
            raise StreamFuseError(
                f"data: stream keys do not match the model's; missing {missing}, unexpected {extra}; "
                f"expected exactly {model_names}"
            )
        else:  # no names known (or a sub-fusion with other names): the dict's order is the mask order
            names = keys
        xs, out_keys = [tensors[n] for n in names], keys
    elif isinstance(streams, torch.Tensor) or (isinstance(streams, Sequence) and not isinstance(streams, str)):
        if isinstance(streams, torch.Tensor):  # streams stacked on dim 1, (N, S, C, ...): the model gets the views as a list
            if streams.dim() < 3:
                raise StreamFuseError(
                    f"data: one tensor is read as the streams stacked on dim 1, (N, S, C[, *spatial]); got shape "
                    f"{_shape(streams)}. Pass a list or dict of (N, C_i, ...) tensors otherwise"
                )
            streams = list(streams.unbind(1))
        xs, out_keys = list(streams), None
        if model_names is not None and len(model_names) == len(xs):
            names = model_names
        else:
            names = [f"stream{i}" for i in range(len(xs))]
    else:
        raise StreamFuseError(
            f"data: streams must be a list of tensors, a name->tensor dict or one stack (N, S, C, ...), got {type(streams).__name__}"
        )
    if not xs:
        raise StreamFuseError("data: no streams given; expected at least one (N, C_i, ...) tensor")
    n = int(labels.shape[0])
    for name, x in zip(names, xs):
        if not isinstance(x, torch.Tensor):
            raise StreamFuseError(f"stream {name!r}: expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[0] != n:
            raise StreamFuseError(
                f"stream {name!r}: has shape {_shape(x)} but labels has N={n} rows; every stream needs "
                f"the same N rows as labels along dim 0"
            )
    if n == 0:
        raise StreamFuseError(f"data: empty (N=0 rows) for streams {names}; importance needs at least one sample")
    for name, x in zip(names, xs):
        if x.is_floating_point() or x.is_complex():
            bad = int((~torch.isfinite(x)).sum())
            if bad:
                raise StreamFuseError(
                    f"stream {name!r}: {bad} NaN/Inf values in the data (shape {_shape(x)}); importance "
                    f"needs finite inputs -- clean or impute them first"
                )
    return Data(xs, list(names), labels, out_keys)


def _check_labels(labels: object) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        try:
            labels = torch.as_tensor(labels)
        except (TypeError, ValueError, RuntimeError) as e:
            raise StreamFuseError(f"labels: expected an int64 tensor (N,), got {type(labels).__name__}") from e
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex() or labels.dim() != 1:
        raise StreamFuseError(f"labels: expected an int64 tensor of shape (N,), got dtype {labels.dtype} shape {_shape(labels)}")
    return labels.long()


def check_label_range(labels: torch.Tensor, num_classes: int) -> None:
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise StreamFuseError(
            f"labels: values must be class indices in [0, {num_classes - 1}] for a model with "
            f"{num_classes} outputs; got labels from {lo} to {hi}"
        )


def check_baseline(baseline: object, data: Data) -> list[torch.Tensor]:
    """Per-stream replacement values, each broadcastable to ``(C_i, *spatial)`` of its stream.

    A 1-D tensor of length ``C_i`` is taken as per-channel means (shape ``(C_i, 1, ..., 1)``);
    a leading batch axis of size 1 is dropped."""
    names = data.names
    if isinstance(baseline, Mapping):
        missing = [n for n in names if n not in baseline]
        extra = [str(k) for k in baseline if k not in names]
        if missing or extra:
            raise StreamFuseError(
                f"baseline: keys do not match the streams; missing {missing}, unexpected {extra}; "
                f"expected exactly {names}"
            )
        values = [baseline[n] for n in names]
    elif isinstance(baseline, Sequence) and not isinstance(baseline, str):
        values = list(baseline)
        if len(values) != len(names):
            raise StreamFuseError(
                f"baseline: expected {len(names)} per-stream means for streams {names}, got {len(values)}"
            )
    else:
        raise StreamFuseError(
            f"baseline: expected a list or name->tensor dict of per-stream means, got {type(baseline).__name__}"
        )
    out = []
    for name, b, x in zip(names, values, data.streams):
        item = x.shape[1:]
        try:
            b = torch.as_tensor(b, dtype=x.dtype if x.is_floating_point() else None)
        except (TypeError, ValueError, RuntimeError) as e:
            raise StreamFuseError(f"baseline for stream {name!r}: expected a tensor, got {type(b).__name__}") from e
        if b.dim() == x.dim() and b.shape[0] == 1:
            b = b[0]
        if b.dim() == 1 and len(item) > 1 and b.shape[0] == item[0]:
            b = b.view((-1,) + (1,) * (len(item) - 1))  # per-channel means
        try:
            ok = tuple(torch.broadcast_shapes(tuple(b.shape), tuple(item))) == tuple(item)
        except RuntimeError:
            ok = False
        if not ok:
            raise StreamFuseError(
                f"baseline for stream {name!r}: shape {_shape(b)} does not broadcast to the stream's "
                f"(C, *spatial) = {tuple(item)}; give the per-stream training mean with that shape"
            )
        if b.is_floating_point() and not bool(torch.isfinite(b).all()):
            bad = int((~torch.isfinite(b)).sum())
            raise StreamFuseError(
                f"baseline for stream {name!r}: {bad} NaN/Inf values in shape {_shape(b)}; expected finite "
                f"values (the stream's training mean), since removed streams are replaced by them"
            )
        out.append(b)
    return out


def accepts(model: nn.Module, arg: str) -> bool:
    """Whether ``model.forward`` takes keyword ``arg`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == arg or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for t in model.parameters():
        return t.device
    for b in model.buffers():
        return b.device
    return fallback
