"""Checkpoints: model spec + config + weights, written atomically, read with ``weights_only=True``.

Everything stored is plain data (dicts, lists, strings, numbers, tensors), so loading never runs
pickled code. A write goes to a temporary file in the same folder first and is then renamed
over the target, so an interrupted save never leaves a half-written checkpoint.

The ``config`` of a checkpoint written by ``streamfuse train`` or ``bench --save-checkpoints``
records its data (``data``: a built-in name or an absolute folder path, ``data_seed``,
``data_options``); ``checkpoint_data`` reads it back and ``check_data_matches`` refuses data whose
streams differ from the model's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .._io import atomic_write_bytes
from ..errors import StreamFuseError
from .models import build_model

FORMAT = "streamfuse-checkpoint/1"


def save_checkpoint(path, model, spec: dict, config: dict, metrics: dict | None = None) -> None:
    model = getattr(model, "module", model)  # unwrap DDP
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "spec": spec, "config": config, "metrics": metrics or {}, "state_dict": state}
    atomic_write_bytes(Path(path), lambda fh: torch.save(payload, fh))


def load_checkpoint(path, map_location="cpu"):
    """Return ``(model, payload)``; the model is rebuilt from the stored spec, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise StreamFuseError(f"checkpoint {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt zip, truncated file, foreign pickle
        raise StreamFuseError(f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); expected a file written by streamfuse") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise StreamFuseError(f"checkpoint {str(path)!r}: format {got!r}, expected {FORMAT!r}")
    missing = [k for k in ("spec", "state_dict") if not isinstance(payload.get(k), dict)]
    if missing:
        raise StreamFuseError(f"checkpoint {str(path)!r} has no {' or '.join(missing)}; it is incomplete. Expected a file written by streamfuse")
    _scorer_of_old_attention(payload)
    model = build_model(payload["spec"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise StreamFuseError(f"checkpoint {str(path)!r}: weights do not match its model spec: {exc}") from exc
    return model.eval(), payload


def _scorer_of_old_attention(payload: dict) -> None:
    """An ``attention`` model saved before ``scorer="query"`` became the default has an MLP scorer
    and no ``scorer`` in its spec: record ``scorer="mlp"`` so it loads as it was trained."""
    spec = payload["spec"]
    options = spec.get("fusion_options") or {}
    if spec.get("method") == "attention" and "scorer" not in options:
        if any(k.endswith("fusion.score.0.weight") for k in payload["state_dict"]):
            spec["fusion_options"] = dict(options, scorer="mlp")


def checkpoint_data(path, config: dict) -> tuple[str, int, dict]:
    """``(data, data_seed, data_options)`` a checkpoint's ``config`` records. A relative folder
    (checkpoints before paths were stored absolute) is looked up next to the checkpoint first,
    then from the current folder."""
    from ..data import list_datasets

    data = config.get("data")
    if not isinstance(data, str):
        raise StreamFuseError(f"checkpoint {str(path)!r} does not record its data; pass --data")
    if data not in list_datasets() and not Path(data).is_absolute():
        beside = Path(path).resolve().parent / data
        if beside.is_dir():
            data = str(beside)
    return data, config.get("data_seed", 0), config.get("data_options") or {}


def check_data_matches(path, spec: dict, data, data_name: str) -> None:
    """Refuse ``data`` whose streams, channels, kinds (vector, sequence, image, video) or classes
    differ from the checkpoint's model."""
    want = {s: spec["in_channels"][s] for s in spec["streams"]}
    have = {s: int(data.train.streams[s].shape[1]) for s in data.stream_names}
    if any(have.get(s) != c for s, c in want.items()) or spec["num_classes"] != data.num_classes:
        raise StreamFuseError(
            f"checkpoint {str(path)!r} was trained on streams {want} (name: channels) with {spec['num_classes']} classes; "
            f"data {data_name!r} has streams {have} with {data.num_classes} classes. Give the data it was trained on"
        )
    kinds = spec.get("kinds") or {}
    differ = {s: (k, data.kinds.get(s)) for s, k in kinds.items() if s in want and data.kinds.get(s) != k}
    if differ:
        listed = ", ".join(f"stream {s!r} is a {k!r} there but a {got!r} here" for s, (k, got) in differ.items())
        raise StreamFuseError(
            f"checkpoint {str(path)!r} was trained on other kinds of streams than data {data_name!r} holds: {listed}. "
            f"Give the data it was trained on"
        )


def data_fingerprint(data) -> str:
    """SHA-1 of a data set's stream names, arrays and labels (train and test), recorded in
    checkpoints of user data folders so that files changed after training are noticed before
    the model is explained on them."""
    h = hashlib.sha1()
    for split in (data.train, data.test):
        for name in data.stream_names:
            x = split.streams[name].detach().cpu().contiguous()
            h.update(f"{name}{tuple(x.shape)}{x.dtype}".encode())
            h.update(x.numpy())  # (the buffer itself: no copy)
        h.update(split.labels.detach().cpu().contiguous().numpy())
    return h.hexdigest()


def check_same_data(path, config: dict, data, data_name: str) -> None:
    """Refuse the recorded data if it changed since the checkpoint was trained: its test split
    might then hold samples the model was trained on. Checkpoints from before the fingerprint
    was recorded are not checked."""
    recorded = config.get("data_fingerprint")
    if isinstance(recorded, str) and recorded != data_fingerprint(data):
        raise StreamFuseError(
            f"checkpoint {str(path)!r}: data {data_name!r} changed since the model was trained on it (its "
            f"fingerprint differs), so its test split may hold samples the model was trained on. Restore "
            f"that data, or pass it explicitly to use it anyway (--data FOLDER with the --data-option flags it was "
            f"trained with, or data= in load_trained)"
        )


def load_trained(path, data=None, map_location="cpu"):
    """Load a model written by ``streamfuse train --save PATH`` together with the data it was trained on.

    Returns ``(model, data)``: the model in eval mode and a ``streamfuse.data.MultiStreamData``
    rebuilt from what the checkpoint records (dataset name or folder, generator seed and options);
    ``data.test`` is the held-out split, ready for ``streamfuse.stream_importance(model, data.test)``.
    ``data=`` (a dataset name or folder) loads other data instead, as ``streamfuse explain --data``.
    The recorded data of a user folder is refused if its files changed since training (the
    checkpoint holds a fingerprint); ``data=`` skips that check, as the user's explicit choice.

        >>> model, data = load_trained("model.pt")                            # doctest: +SKIP
        >>> report = streamfuse.stream_importance(model, data.test)           # doctest: +SKIP

    Needs the ``bench`` extra (numpy) for the data loaders.
    """
    from ..data import load_data  # training sits beside data; imported only when asked for

    model, payload = load_checkpoint(path, map_location=map_location)
    if data is None:
        spec, seed, options = checkpoint_data(path, payload.get("config") or {})
    else:
        spec, seed, options = data, 0, {}
    loaded = load_data(spec, seed=seed, **options)
    check_data_matches(path, payload["spec"], loaded, str(spec))
    if data is None:
        check_same_data(path, payload.get("config") or {}, loaded, str(spec))
    return model, loaded
