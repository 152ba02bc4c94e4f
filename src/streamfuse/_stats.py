"""Per-channel mean and std with constant channels handled: the one implementation of the
statistics behind input standardisation (z-scoring, as scikit-learn's ``StandardScaler`` does,
https://scikit-learn.org/stable/modules/preprocessing.html#standardization).

Used by ``training.standardize.StreamStandardizer`` (statistics stored in a model) and by the
built-in loaders' ``standardize=`` options (``data.knobs.standardize_splits``); it lives here,
in the library layer with torch only, so that both layers can share it.

    x (N, C, *spatial) -> mean (C,), std (C,)   over every axis but 1, float64
"""

from __future__ import annotations

import torch

from .errors import StreamFuseError

REL_EPS = 1e-6  # a channel whose std is <= REL_EPS * max(1, |mean|) counts as constant


def channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std ``(C,)`` (float64) of ``x`` ``(N, C, *spatial)`` over every axis but 1.

    The std is the population std (ddof 0); a constant channel gets std 1 (centred only).
    """
    if x.dim() < 2 or x.shape[0] == 0:
        raise StreamFuseError(f"standardisation needs a (N>0, C, ...) tensor to fit on; got shape {tuple(x.shape)}")
    flat = x.detach().to(torch.float64).transpose(0, 1).reshape(x.shape[1], -1)
    mean = flat.mean(1)
    std = flat.std(1, correction=0)
    constant = std <= REL_EPS * mean.abs().clamp(min=1.0)
    return mean, torch.where(constant, torch.ones_like(std), std)
