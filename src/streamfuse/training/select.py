"""Streams given as a name->tensor dict or a list, put in a model's stream order."""

from __future__ import annotations

from ..errors import StreamFuseError


def select_streams(streams, names: list[str], owner: str) -> list:
    """``streams`` (a name->tensor dict, extra keys ignored, or a list in ``names`` order) as a
    list in ``names`` order; a missing stream or a wrong count is an error naming ``owner``."""
    if isinstance(streams, dict):
        missing = [s for s in names if s not in streams]
        if missing:
            raise StreamFuseError(f"{owner} needs streams {names}; missing {missing}, got {list(streams)}")
        return [streams[s] for s in names]
    xs = list(streams)
    if len(xs) != len(names):
        raise StreamFuseError(f"{owner} expected {len(names)} streams {names}, got {len(xs)}")
    return xs
