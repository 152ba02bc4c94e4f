"""``StreamRecord``: the stream names and widths travel with a fusion's weights.

Two fusions whose streams differ only in name or order (``{"rgb": 8, "pose": 8}`` against
``{"pose": 8, "rgb": 8}``), or a ``concat`` over ``[3, 17]`` against ``[17, 3]``, have parameters
of identical shapes, so ``load_state_dict`` alone would load one into the other silently. The
record (``_extra_state`` in the state dict, through ``get_extra_state``/``set_extra_state``) makes
that load fail with a ``StreamFuseError`` naming both stream lists. It also names the method, so
weights of one method do not load into another whose parameters happen to match (``sum`` and
``mean`` have none of their own). The record also holds the
option values that change what the same weights compute (``logit_scale``, ``normalize``,
``num_heads``...: ``Fusion.recorded_options``), so weights saved with ``logit_scale=10`` do not load
silently into a fusion built with ``logit_scale=1``; a record written before options were recorded
has none, and loads with nothing to check.

It is UTF-8 JSON in a uint8 tensor, so the state dict holds tensors only (it loads with
``torch.load(..., weights_only=True)`` and saves as safetensors). A state dict saved before the
record existed has no such entry: it loads by position, unchecked, with a warning.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, ClassVar

import torch
from torch import nn

from .errors import StreamFuseError


class StreamRecord(nn.Module):
    """Base for modules with ``name``, ``stream_names`` and ``in_dims`` (``Fusion`` sets them)."""

    name: ClassVar[str]
    stream_names: list[str]
    in_dims: list[int]

    def stream_signature(self) -> dict[str, list[Any]]:
        return {"stream_names": list(self.stream_names), "in_dims": list(self.in_dims)}

    def recorded_options(self) -> dict[str, Any]:
        """Option values that change what the weights compute; ``Fusion`` fills this in."""
        return {}

    def get_extra_state(self) -> torch.Tensor:
        """The stream names and widths and the recorded options, as UTF-8 JSON in a uint8 tensor:
        a state dict of tensors only stays loadable with ``weights_only=True`` and savable as
        safetensors."""
        record = {"streamfuse": 1, "method": self.name, **self.stream_signature(), "options": self.recorded_options()}
        data = json.dumps(record).encode()
        return torch.tensor(list(data), dtype=torch.uint8)

    def set_extra_state(self, state: Any) -> None:
        try:
            raw = bytes(state.tolist()) if isinstance(state, torch.Tensor) else None
            saved = json.loads(raw.decode()) if raw is not None else state
            names, dims = list(saved["stream_names"]), list(saved["in_dims"])
            options = dict(saved.get("options", {}))  # absent in records written before options were
            method = saved.get("method")  # absent in records written before the method was
        except (AttributeError, TypeError, KeyError, ValueError) as err:
            raise StreamFuseError(f"{self.name}: the state dict's stream record is unreadable ({err})") from None
        if method is not None and method != self.name:
            # sum and mean (no parameters of their own) would otherwise load into each other
            raise StreamFuseError(
                f"{self.name}: these weights were saved from a {method!r} fusion; load them into a {method!r} "
                f"fusion (the same weights compute something else in another method)"
            )
        mine = self.stream_signature()
        if names != mine["stream_names"] or dims != mine["in_dims"]:
            saved_s = ", ".join(f"{n}={c}" for n, c in zip(names, dims))
            mine_s = ", ".join(f"{n}={c}" for n, c in zip(mine["stream_names"], mine["in_dims"]))
            raise StreamFuseError(
                f"{self.name}: these weights were trained for streams [{saved_s}] (names and widths, in "
                f"order) but this fusion has [{mine_s}]; build it with the same in_dims (same names, "
                f"same order) to load them"
            )
        mine_o = self.recorded_options()
        differ = {k: v for k, v in options.items() if k in mine_o and mine_o[k] != v}
        if differ:
            saved_o = ", ".join(f"{k}={v!r}" for k, v in differ.items())
            mine_d = ", ".join(f"{k}={mine_o[k]!r}" for k in differ)
            raise StreamFuseError(
                f"{self.name}: these weights were trained with {saved_o} but this fusion has {mine_d}; "
                f"the same weights compute something else under other values, so create it with {saved_o} "
                f"to load them"
            )

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        key = prefix + "_extra_state"
        had = key in state_dict
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        if not had:  # a state dict saved before streams were recorded: load by position, say so
            if key in missing_keys:
                missing_keys.remove(key)
            warnings.warn(
                f"{self.name}: the state dict has no stream record ({key!r}); loaded by position "
                f"without checking stream names and order {self.stream_names}",
                stacklevel=3,
            )
