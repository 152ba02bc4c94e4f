"""Checkpoints: model spec + config + weights, written atomically, read with ``weights_only=True``.

Everything stored is plain data (dicts, lists, strings, numbers, tensors), so loading never runs
pickled code. A write goes to a temporary file in the same folder first and is then renamed
over the target, so an interrupted save never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from ..errors import StreamFuseError
from .models import build_model

FORMAT = "streamfuse-checkpoint/1"


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(file)`` on a temp file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    model = build_model(payload["spec"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise StreamFuseError(f"checkpoint {str(path)!r}: weights do not match its model spec: {exc}") from exc
    return model.eval(), payload


def load_trained(path, data=None, map_location="cpu"):
    """Load a model written by ``streamfuse train --save PATH`` together with the data it was trained on.

    Returns ``(model, data)``: the model in eval mode and a ``streamfuse.data.MultiStreamData``
    rebuilt from what the checkpoint records (dataset name or folder, generator seed and options);
    ``data.test`` is the held-out split, ready for ``streamfuse.stream_importance(model, data.test)``.
    ``data=`` (a dataset name or folder) loads other data instead, as ``streamfuse explain --data``.

        >>> model, data = load_trained("model.pt")                            # doctest: +SKIP
        >>> report = streamfuse.stream_importance(model, data.test)           # doctest: +SKIP

    Needs the ``bench`` extra (numpy) for the data loaders.
    """
    from ..data import load_data  # training sits beside data; imported only when asked for

    model, payload = load_checkpoint(path, map_location=map_location)
    cfg = payload.get("config") or {}
    if data is None:
        spec = cfg.get("data")
        if spec is None:
            raise StreamFuseError(f"checkpoint {str(path)!r} does not record its data; pass data= (a dataset name or folder)")
        options, seed = dict(cfg.get("data_options") or {}), int(cfg.get("data_seed", 0))
    else:
        spec, options, seed = data, {}, 0
    return model, load_data(spec, seed=seed, **options)

