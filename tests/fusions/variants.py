"""Option variants of every registered method, generated from what each method declares.

``option_variants()``: the defaults, then one variant per non-default value of every choice and
flag option (``normalize="sigmoid"``, ``scorer="mlp"``, ``mode="tokens"``, ``project=False``,
``stream_norm=False``, ...), so a new option is covered by the contract the day it is declared.
``combined_variants()``: fewer, for the slow compile tests: one per non-default choice value, and
one with every flag flipped.
"""

from __future__ import annotations

import streamfuse

SKIP = {"check_finite"}  # not structural: rejects the NaN the mask tests plant on purpose


def _alternatives(spec) -> list:
    if spec.kind == "choice":
        return [c for c in spec.choices if c != spec.default]
    if spec.kind == "bool":
        return [False] if spec.default is None else [not spec.default]
    return []


def option_variants() -> list[tuple[str, dict]]:
    out = []
    for name in streamfuse.list_fusions():
        out.append((name, {}))
        for key, spec in streamfuse.FUSIONS[name].options.items():
            if key not in SKIP:
                out += [(name, {key: v}) for v in _alternatives(spec)]
    return out


def combined_variants() -> list[tuple[str, dict]]:
    out = []
    for name in streamfuse.list_fusions():
        out.append((name, {}))
        specs = {k: s for k, s in streamfuse.FUSIONS[name].options.items() if k not in SKIP}
        for key, spec in specs.items():
            if spec.kind == "choice":
                out += [(name, {key: v}) for v in _alternatives(spec)]
        flags = {k: _alternatives(s)[0] for k, s in specs.items() if s.kind == "bool"}
        if flags:
            out.append((name, flags))
    return out


def variant_id(v) -> str:
    if isinstance(v, str):
        return v
    return ",".join(f"{k}={x}" for k, x in v.items()) or "default"


def dims_for(options: dict, in_dims: list[int], dim: int) -> list[int]:
    """``project=False`` keeps the streams as they are, so every width must already be D."""
    return [dim] * len(in_dims) if options.get("project") is False else list(in_dims)
