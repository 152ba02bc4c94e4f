"""The checks ``train_model`` runs on its arguments before anything trains.

The command line checks its flags itself; a Python caller of ``train_model`` gets the same
standard: a bad ``TrainConfig`` value, or data that does not fit the model's spec (a missing
stream, another channel count, another batch size than the labels', NaN/Inf, labels outside
``0..K-1``), raises ``StreamFuseError`` naming the option or the stream, what it got and what
was expected. Found after an epoch, any of these would be a lost run or a silently wrong one
(a NaN trains every weight to NaN and still reports an accuracy).
"""

from __future__ import annotations

import torch

from ..errors import StreamFuseError
from ..errors import shape_text as _shape
from ..options import Option, positive_float, positive_int


# the one validation rule of the library (options.py), with TrainConfig's ranges
_SETTINGS = {
    "epochs": positive_int(30),
    "batch_size": positive_int(64),
    "patience": positive_int(10),
    "seed": Option(0, "int", low=0),
    "lr": positive_float(2e-3),
    "weight_decay": Option(0.05, "float", low=0.0),
    "val_fraction": Option(0.15, "float", low=0.0, high=1.0, high_open=True),
}


def check_train_config(cfg) -> None:
    """Every numeric setting of ``cfg`` (a ``TrainConfig``) in its valid range."""
    for name, option in _SETTINGS.items():
        option.check(name, getattr(cfg, name), "TrainConfig")


def check_train_data(spec: dict, streams: object, labels: object) -> None:
    """``streams`` (name -> ``(N, C_i, ...)``) and ``labels`` (``(N,)`` integers in ``0..K-1``)
    fit ``spec``: every stream it names, its channel count, one N, finite values."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        got = f"{labels.dtype} {_shape(labels)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise StreamFuseError(f"labels: expected an integer tensor (N,), got {got}")
    n, k = len(labels), int(spec["num_classes"])
    if n == 0:
        raise StreamFuseError("labels: no samples; expected at least one per class to train on")
    if int(labels.min()) < 0 or int(labels.max()) >= k:
        raise StreamFuseError(f"labels: values from {int(labels.min())} to {int(labels.max())}; expected 0..{k - 1} "
                              f"(num_classes={k} in the spec)")
    if not isinstance(streams, dict):
        raise StreamFuseError(f"streams: expected a dict stream name -> tensor, got {type(streams).__name__}")
    for name in spec["streams"]:
        if name not in streams:
            raise StreamFuseError(f"streams: no stream {name!r}; the spec needs {spec['streams']}, got {list(streams)}")
        x = streams[name]
        want = spec["in_channels"][name]
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[1] != want or x.shape[0] != n:
            got = _shape(x) if isinstance(x, torch.Tensor) else type(x).__name__
            raise StreamFuseError(f"stream {name!r}: expected a tensor (N, C, ...) with N={n} (the labels') and "
                                  f"C={want} (the spec's in_channels), got {got}")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).sum())
            raise StreamFuseError(f"stream {name!r}: {bad} NaN/Inf values in shape {_shape(x)}; expected finite "
                                  f"values (a NaN would train every weight to NaN)")
