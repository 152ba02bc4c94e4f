"""Shapley values of streams from a cached coalition game (exact, or by permutation sampling).

Why not Captum for this: ``captum.attr.ShapleyValues`` / ``ShapleyValueSampling`` attribute a
model output to *input features* by replacing them with a baseline, enumerating *permutations*
(``S!`` orderings for the exact method). Here a stream is removed through the model's own ``mask``
(it is not a value the input can take), the value of a coalition is a dataset-level metric
(accuracy, mean log-likelihood) accumulated over many batches, and the empty coalition cannot be
run at all. Enumerating the ``2^S`` subsets once and caching ``v(T)`` is both exact and far
cheaper (256 evaluations for S = 8 instead of 8 x 8! = 322560). For ``masking="mean"`` and
``empty="model"`` the game is exactly Captum's feature-group Shapley with one group per stream;
the tests cross-check the two.

exact (S <= ``max_exact_streams``):
    phi_i = sum_{T not containing i} |T|! (S - |T| - 1)! / S! * (v(T + i) - v(T))
sampled:
    draw permutations uniformly; stream i's marginal contribution in a permutation is
    v(streams before i, and i) - v(streams before i). phi_i is the mean over permutations; its 95%
    confidence interval is mean +- 1.96 standard errors (sample std over permutations / sqrt(P)).
    Each permutation's contributions telescope to v(all) - v(empty), so efficiency holds exactly
    for the estimate too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .coalitions import CoalitionGame

Z95 = 1.959963984540054


@dataclass
class ShapleyResult:
    values: torch.Tensor  # (S, Q) float64
    stderr: torch.Tensor | None  # (S, Q) for sampled estimates, None when exact
    exact: bool
    num_samples: int | None

    def ci95(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.stderr is None:
            return None
        return self.values - Z95 * self.stderr, self.values + Z95 * self.stderr


def shapley_coefficients(s: int) -> torch.Tensor:
    """``(S,)`` weight ``|T|! (S - |T| - 1)! / S!`` of a coalition of size ``|T|`` without stream i."""
    return torch.tensor(
        [math.factorial(k) * math.factorial(s - k - 1) / math.factorial(s) for k in range(s)], dtype=torch.float64
    )


def exact_shapley(game: CoalitionGame) -> ShapleyResult:
    s = game.num_streams
    subsets = list(range(1 << s))
    game.evaluate(subsets)
    v = torch.stack([game.value(c) for c in subsets])  # (2^S, Q)
    size = torch.tensor([bin(c).count("1") for c in subsets])
    coef = shapley_coefficients(s)
    phi = torch.zeros(s, v.shape[1], dtype=torch.float64)
    for i in range(s):
        bit = 1 << i
        without = torch.tensor([c for c in subsets if not c & bit])
        phi[i] = (coef[size[without]].unsqueeze(1) * (v[without | bit] - v[without])).sum(0)
    return ShapleyResult(phi, None, True, None)


def sampled_shapley(game: CoalitionGame, num_samples: int, generator: torch.Generator) -> ShapleyResult:
    s = game.num_streams
    perms = torch.rand(num_samples, s, generator=generator).argsort(dim=1).tolist()
    prefixes = []
    for perm in perms:
        c, row = 0, [0]
        for i in perm:
            c |= 1 << i
            row.append(c)
        prefixes.append(row)
    game.evaluate({c for row in prefixes for c in row})
    values = {c: game.value(c) for c in {c for row in prefixes for c in row}}
    q = next(iter(values.values())).shape[0]
    contrib = torch.zeros(num_samples, s, q, dtype=torch.float64)
    for p, (perm, row) in enumerate(zip(perms, prefixes)):
        for j, i in enumerate(perm):
            contrib[p, i] = values[row[j + 1]] - values[row[j]]
    mean = contrib.mean(0)
    se = contrib.std(0, unbiased=True) / math.sqrt(num_samples)
    return ShapleyResult(mean, se, False, num_samples)
