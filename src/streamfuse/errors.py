"""One exception family for everything streamfuse rejects.

Every message names the stream (or option) at fault, shows what it got and what was expected, and
where there is a fixed set of valid choices, lists them. ``StreamFuseError`` subclasses
``ValueError`` so code that already catches ``ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import torch


class StreamFuseError(ValueError):
    """Raised for any input streamfuse cannot accept (shapes, names, options, files)."""


def shape_text(x: object) -> str:
    """``x``'s shape as ``"(N, C, T)"`` for a tensor, else its type name: what a message shows of
    a value that has the wrong shape or is no tensor at all."""
    return f"({', '.join(str(s) for s in x.shape)})" if isinstance(x, torch.Tensor) else type(x).__name__


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest valid choice, or ``""``."""
    if not isinstance(name, str):  # str(None) = "None" would be "close" to "convex"
        return ""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_choice(what: str, name: str, choices: Iterable[str]) -> StreamFuseError:
    """Build the error for an unknown name among a fixed set (method, dataset, option value)."""
    choices = sorted(choices)
    return StreamFuseError(
        f"unknown {what} {name!r}.{suggest(name, choices)} Valid choices: {', '.join(choices)}."
    )


def unknown_option(owner: str, key: str, valid: Iterable[str], cls: type[StreamFuseError] = StreamFuseError) -> StreamFuseError:
    """Build the error for an option ``key`` that ``owner`` (a method, a dataset) does not take."""
    valid = list(valid)
    return cls(f"{owner} has no option {key!r}.{suggest(key, valid)} Valid options: {', '.join(valid)}.")
