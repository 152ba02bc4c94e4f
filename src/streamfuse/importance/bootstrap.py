"""How sure is the table? A bootstrap over the test rows (Efron 1979; percentile intervals).

Every measure in the importance table is a mean over the test rows of a per-row quantity: a
row's mean learned weight, the change of its correctness / log-likelihood when a stream is
removed, and -- because a Shapley value is linear in the game ``v`` and ``v`` is a mean over rows
-- the Shapley value of the row's own game. Resampling the N rows with replacement ``B`` times and
recomputing every mean gives each measure's sampling spread, and the spread of anything computed
from them: the difference between two streams (are they a tie?) and the Spearman correlation of
the weights with another measure. With two streams Spearman is +1 or -1 by construction; its
bootstrap interval says whether that order is settled or flips from one resample to the next.

What it does not cover: the spread over training seeds (retrain and compare, e.g. ``streamfuse
bench --seeds 5``) and, for sampled Shapley (S > ``max_exact_streams``), where the permutation
interval is reported instead.

Shapes: N rows, S streams, B resamples. Intervals are the 2.5 % and 97.5 % quantiles of the ``B``
resampled values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .coalitions import CoalitionGame
from .shapley import shapley_coefficients
from .spearman import spearman

LOW, HIGH = 0.025, 0.975


def per_row_measures(game: CoalitionGame, ablation: bool, shapley: bool) -> dict[str, torch.Tensor]:
    """``{table column: (N, S) float64}`` per-row quantities whose means over rows are the table."""
    s, full = game.num_streams, game.full
    out = {}
    if game.weight_rows is not None:
        out["weight"] = game.weight_rows
    if ablation:
        vf = game.row_values(full)
        drop = torch.stack([vf - game.row_values(full ^ (1 << i)) for i in range(s)], 1)  # (N, S, 2)
        out["ablation_acc_drop"], out["ablation_loss_increase"] = drop[..., 0], drop[..., 1]
    if shapley:
        subsets = list(range(1 << s))
        v = torch.stack([game.row_values(c) for c in subsets])  # (2^S, N, 2)
        size = torch.tensor([bin(c).count("1") for c in subsets])
        coef = shapley_coefficients(s)
        phi = torch.zeros(v.shape[1], s, 2, dtype=torch.float64)
        for i in range(s):
            bit = 1 << i
            without = torch.tensor([c for c in subsets if not c & bit])
            phi[:, i] = (coef[size[without]].view(-1, 1, 1) * (v[without | bit] - v[without])).sum(0)
        out["shapley_acc"], out["shapley_loglik"] = phi[..., 0], phi[..., 1]
    return out


@dataclass
class Bootstrap:
    """Resampled means: ``means[column]`` is ``(B, S)``, one row per resample of the test rows."""

    resamples: int
    means: dict[str, torch.Tensor]

    def interval(self, key: str) -> tuple[list[float], list[float]]:
        """Per-stream 95 % interval of one measured column (a KeyError for any other)."""
        q = torch.quantile(self.means[key], torch.tensor([LOW, HIGH], dtype=torch.float64), dim=0)
        return q[0].tolist(), q[1].tolist()

    def diff_interval(self, key: str, i: int, j: int) -> tuple[float, float]:
        """95 % interval of ``column[i] - column[j]``."""
        d = self.means[key][:, i] - self.means[key][:, j]
        q = torch.quantile(d, torch.tensor([LOW, HIGH], dtype=torch.float64))
        return float(q[0]), float(q[1])

    def spearman_interval(self, a: str, b: str) -> tuple[float, float] | None:
        """95 % interval of Spearman(column a, column b) over the resamples; None when undefined in
        more than half of them (e.g. constant weights)."""
        if a not in self.means or b not in self.means:
            return None
        rhos = [spearman(x.tolist(), y.tolist()) for x, y in zip(self.means[a], self.means[b])]
        rhos = [r for r in rhos if not math.isnan(r)]
        if len(rhos) * 2 < self.resamples:
            return None
        q = torch.quantile(torch.tensor(rhos, dtype=torch.float64), torch.tensor([LOW, HIGH], dtype=torch.float64))
        return float(q[0]), float(q[1])


def bootstrap(rows: dict[str, torch.Tensor], resamples: int, generator: torch.Generator, chunk: int = 25) -> Bootstrap:
    """Means of every ``(N, S)`` column over ``resamples`` resamples of the N rows (with replacement)."""
    keys = list(rows)
    x = torch.cat([rows[k] for k in keys], 1)  # (N, F)
    n = x.shape[0]
    parts = []
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        idx = torch.randint(0, n, (b, n), generator=generator)
        counts = torch.zeros(b, n, dtype=torch.float64).scatter_add_(1, idx, torch.ones(b, n, dtype=torch.float64))
        parts.append(counts @ x / n)  # (b, F)
    m = torch.cat(parts)
    s = rows[keys[0]].shape[1]
    return Bootstrap(resamples, {k: m[:, i * s : (i + 1) * s] for i, k in enumerate(keys)})
