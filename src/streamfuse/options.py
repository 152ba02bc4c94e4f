"""Declared options: what each fusion method takes, its default and its valid range.

Every ``Fusion`` subclass lists its own keyword options in a class attribute ``options``
(``{name: Option}``); the base adds the options every method shares (``BASE_OPTIONS``). Nothing is
read off ``__init__`` signatures: ``streamfuse.fusion_options(name)`` and
``fusion_option_defaults(name)`` return exactly what the method declares, and a subclass that fixes
an option itself (``convex`` fixes ``normalize``) simply does not declare it.

``Option.check`` is the one validation rule for option values: a bad value raises
``StreamFuseError`` naming the option, the value and the valid range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .errors import StreamFuseError

KINDS = ("int", "float", "bool", "choice", "module_class", "dtype", "device", "any")


@dataclass(frozen=True)
class Option:
    """One keyword option: ``default``, ``kind`` and the valid range.

    kinds: ``"int"``/``"float"`` (``low``/``high`` bounds, ``high_open`` makes ``high`` exclusive,
    ``low_open`` makes ``low`` exclusive), ``"bool"``, ``"choice"`` (one of ``choices``),
    ``"module_class"`` (an ``nn.Module`` subclass such as ``nn.GELU``), ``"dtype"`` (a floating
    ``torch.dtype``), ``"device"`` (what ``torch.device`` accepts), ``"any"`` (passed to torch as is). ``allow_none`` also
    accepts None (meaning "derive it", e.g. ``hidden=None`` is D).
    """

    default: Any
    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: Sequence[str] = ()
    allow_none: bool = False
    doc: str = ""
    # Recorded with the weights (``Fusion.recorded_options``) and checked when a state dict is
    # loaded: an option that changes what trained weights compute without changing any parameter
    # shape (``logit_scale``, ``normalize``, ``num_heads``). False for training-only options.
    recorded: bool = True

    def valid_range(self) -> str:
        """The valid values in words, e.g. ``"an int >= 1"`` or ``"one of softmax, sigmoid, none"``."""
        if self.kind in ("int", "float"):
            noun = "an int" if self.kind == "int" else "a finite number"
            parts = []
            if self.low is not None:
                parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
            if self.high is not None:
                parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
            text = f"{noun} {' and '.join(parts)}".rstrip()
        elif self.kind == "bool":
            text = "True or False"
        elif self.kind == "choice":
            text = f"one of {', '.join(map(str, self.choices))}"
        elif self.kind == "module_class":
            text = "an nn.Module class such as nn.GELU (the class, not an instance)"
        elif self.kind == "dtype":
            text = "a floating torch.dtype such as torch.float32"
        elif self.kind == "device":
            text = "a torch.device or what torch.device accepts, such as 'cpu', 'cuda:0' or 0"
        else:
            text = "anything torch accepts"
        return text + (" or None" if self.allow_none else "")

    def check(self, name: str, value: Any, owner: str = "fusion") -> Any:
        """Return ``value`` (ints/floats normalised) or raise ``StreamFuseError``."""
        if value is None and (self.allow_none or self.kind == "any"):
            return None
        ok, out = self._accept(value)
        if not ok:
            raise StreamFuseError(f"{owner}: option {name}={value!r} is not valid; expected {self.valid_range()}")
        return out

    def _accept(self, value: Any) -> tuple[bool, Any]:
        kind = self.kind
        if kind == "bool":
            return isinstance(value, bool), value
        if kind == "choice":
            return isinstance(value, str) and value in self.choices, value
        if kind == "module_class":
            return isinstance(value, type) and issubclass(value, nn.Module), value
        if kind == "dtype":
            return isinstance(value, torch.dtype) and value.is_floating_point, value
        if kind == "device":
            if isinstance(value, bool) or not isinstance(value, str | int | torch.device):
                return False, value
            try:
                torch.device(value)
            except (RuntimeError, TypeError, ValueError):
                return False, value
            return True, value
        if kind == "any":
            return True, value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False, value
        if kind == "int" and not isinstance(value, int):
            return False, value
        value = int(value) if kind == "int" else float(value)
        if not math.isfinite(value):
            return False, value
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False, value
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False, value
        return True, value


def positive_int(default: int | None, allow_none: bool = False, doc: str = "") -> Option:
    return Option(default, "int", low=1, allow_none=allow_none, doc=doc)


def probability(default: float = 0.0, doc: str = "", recorded: bool = True) -> Option:
    """A probability in [0, 1): 1 would drop everything."""
    return Option(default, "float", low=0.0, high=1.0, high_open=True, doc=doc, recorded=recorded)


def positive_float(default: float, doc: str = "") -> Option:
    return Option(default, "float", low=0.0, low_open=True, doc=doc)


def flag(default: bool | None, allow_none: bool = False, doc: str = "") -> Option:
    return Option(default, "bool", allow_none=allow_none, doc=doc)


def choice(default: str, choices: Sequence[str], doc: str = "") -> Option:
    return Option(default, "choice", choices=tuple(choices), doc=doc)


def module_class(default: type[nn.Module], doc: str = "") -> Option:
    return Option(default, "module_class", doc=doc)


BASE_OPTIONS: dict[str, Option] = {
    "stream_dropout": probability(0.0, "training only: drop whole streams with this probability", recorded=False),
    "check_finite": Option(False, "bool", doc="reject NaN/Inf in the streams (synchronises with the device)", recorded=False),
    "device": Option(None, "device", allow_none=True, doc="device of the parameters", recorded=False),
    "dtype": Option(None, "dtype", allow_none=True, doc="dtype of the parameters", recorded=False),
}
