"""Spearman rank correlation in pure Python (the library may not depend on scipy).

Ties get the average of the ranks they span (as ``scipy.stats.spearmanr`` does); pairs where either
value is missing (None or NaN) are dropped first (scipy's ``nan_policy="omit"``). The result is
NaN where it is undefined: fewer than two pairs, or a ranking that is constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard


def _present(v: float | None) -> TypeGuard[float]:
    return not (v is None or (isinstance(v, float) and math.isnan(v)))


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of the ranks they occupy: ``[3, 1, 3] -> [2.5, 1, 2.5]``."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        mean_rank = (start + end) / 2.0 + 1.0
        for k in range(start, end + 1):
            ranks[order[k]] = mean_rank
        start = end + 1
    return ranks


def spearman(x: Sequence[float | None], y: Sequence[float | None]) -> float:
    """Spearman's rho of two equally long sequences (NaN/None pairs dropped; NaN if undefined)."""
    if len(x) != len(y):
        raise ValueError(f"spearman: sequences differ in length ({len(x)} vs {len(y)})")
    pairs = [(float(a), float(b)) for a, b in zip(x, y) if _present(a) and _present(b)]
    if len(pairs) < 2:
        return math.nan
    rx = average_ranks([a for a, _ in pairs])
    ry = average_ranks([b for _, b in pairs])
    n = len(pairs)
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0.0 or syy == 0.0:
        return math.nan
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
