"""Masking helpers: absent streams are excluded without data-dependent control flow.

A mask is a bool tensor ``(N, S)``, True where stream ``s`` of sample ``n`` is present. Everything
here is branch-free on tensor values so it runs under ``torch.compile(fullgraph=True)`` and never
forces a host-device synchronisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor | None, dim: int = 1) -> torch.Tensor:
    """Softmax over ``dim`` with absent entries set to exactly 0 and the rest renormalised.

    ``logits`` is ``(N, S)`` or ``(N, S, D)``; ``mask`` is ``(N, S)`` (broadcast over D) or None.
    A row with nothing present would give NaN; callers reject such rows before this point.
    """
    if mask is None:
        return torch.softmax(logits, dim=dim)
    m = mask.view(mask.shape + (1,) * (logits.dim() - mask.dim()))
    return torch.softmax(logits.masked_fill(~m, float("-inf")), dim=dim)


def stream_dropout_mask(
    mask: torch.Tensor | None, batch: int, num_streams: int, p: float, device: torch.device
) -> torch.Tensor:
    """Drop whole streams with probability ``p`` but never every present stream of a sample.

    Returns a bool ``(N, S)`` mask that is a subset of ``mask`` (all-True when ``mask`` is None).
    Where dropout would empty a row, one of that row's present streams, chosen uniformly, is kept.
    """
    present = (
        torch.ones(batch, num_streams, dtype=torch.bool, device=device) if mask is None else mask
    )
    keep = (torch.rand(batch, num_streams, device=device) >= p) & present
    emptied = ~keep.any(dim=1, keepdim=True)
    # Random score per present stream; absent streams can never win the argmax.
    score = torch.rand(batch, num_streams, device=device).masked_fill(~present, -1.0)
    rescue = torch.nn.functional.one_hot(score.argmax(dim=1), num_streams).bool()
    return keep | (emptied & rescue)


NORMALIZATIONS = ("softmax", "sigmoid", "none")


def normalize_weights(logits: torch.Tensor, mode: str, mask: torch.Tensor | None, dim: int = 1) -> torch.Tensor:
    """Turn weight logits ``(N, S)`` or ``(N, S, D)`` into weights, zero for absent streams.

    ``softmax``: across streams (``dim``, 1 by default; 0 for input-independent ``(S[, D])``
    logits without a mask), sums to 1 over present streams.
    ``sigmoid``: each weight in (0, 1) independently.
    ``none``: ``1 + logits`` as is (so zero logits give a plain sum).
    """
    if mode == "softmax":
        return masked_softmax(logits, mask, dim=dim)
    w = torch.sigmoid(logits) if mode == "sigmoid" else 1.0 + logits
    if mask is None:
        return w
    return w * mask.view(mask.shape + (1,) * (w.dim() - 2)).to(w.dtype)


def weighted_sum_streams(xs: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """``sum_s weights[:, s] * xs[s]`` over a list of ``(N, D)`` streams, without stacking them.

    ``weights`` is ``(N or 1, S)`` or ``(N or 1, S, D)``. Used when the streams are already
    projected: stacking would copy every input once more and keep the copy alive for backward.
    """
    return weighted_sum_list(xs, (weights.unsqueeze(-1) if weights.dim() == 2 else weights).unbind(1))


def weighted_sum_list(xs: list[torch.Tensor], weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_s weights[s] * xs[s]``: S streams ``(N, D)``, S weights each broadcastable to ``(N, D)``
    (a scalar, ``(D,)``, ``(N, 1)`` or ``(N, D)``). One multiply, then S - 1 fused multiply-adds."""
    dtype = xs[0].dtype
    weights = [w if w.dtype == dtype else w.to(dtype) for w in weights]  # .to() costs ~1 us even as a no-op
    out = xs[0] * weights[0]
    for x, wi in zip(xs[1:], weights[1:]):
        out = out.addcmul_(x, wi)
    return out


def convex_pair(x1: torch.Tensor, x2: torch.Tensor, w1: torch.Tensor) -> torch.Tensor:
    """``w1 * x1 + (1 - w1) * x2`` for two ``(N, D)`` streams and a weight ``w1`` broadcastable to
    them (a scalar or ``(D,)``): the weighted sum of two streams whose weights sum to one.

    One ``lerp``, ``x2 + w1 (x1 - x2)``: a single pass that reads each stream once and writes the
    output once, where a multiply and a multiply-add write the output and read it back (about 0.7x
    their forward time with a scalar weight at N=256, D=512 on CPU: BENCHMARKS.md, "The floor
    with lerp").
    """
    return torch.lerp(x2, x1, w1 if w1.dtype == x1.dtype else w1.to(x1.dtype))


# Up to this many streams, a training forward sums stream-level weights as S - 1 fused
# multiply-adds instead of one bmm: bmm's backward on (N, 1, S) x (N, S, D) runs N tiny matrix
# products on CPU (2.5x slower at S=2, N=256, D=512; 1.5x at S=4; even at S=8 and bmm faster at
# S=16: BENCHMARKS.md "weighted sum"). Inference keeps the bmm, the fastest forward at every S.
_LOOP_MAX_STREAMS = 4


def weighted_sum(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_s weights[:, s] * x[:, s]``. ``x`` ``(N, S, D)``; ``weights`` ``(N, S)`` or ``(N, S, D)``.

    Stream-level weights use one batched matrix-vector product, which reads ``x`` once instead of
    materialising the ``(N, S, D)`` product first; with autograd recording and few streams, a
    short chain of multiply-adds, whose backward is cheaper (see ``_LOOP_MAX_STREAMS``).
    Channel-level weights: at inference on CPU a chain of multiply-adds over the streams' views,
    which writes no ``(N, S, D)`` product (0.46-0.87x the time of multiply-then-sum for per-sample
    weights at N=256, D=512, S = 2..16: ``benchmarks/channel_sum.py``, BENCHMARKS.md "Stacked
    streams"). Elsewhere multiply-then-sum: on CUDA the chain's S launches cost 1.4-9x its two
    kernels at that size, and with autograd it is what the model was trained with.
    """
    if weights.dim() == 2:
        weights = weights.to(x.dtype)
        if torch.is_grad_enabled() and x.shape[1] <= _LOOP_MAX_STREAMS:
            return weighted_sum_list(list(x.unbind(1)), list(weights.unsqueeze(-1).unbind(1)))
        return torch.bmm(weights.unsqueeze(1), x).squeeze(1)
    if x.is_cpu and not torch.is_grad_enabled():
        return weighted_sum_list(list(x.unbind(1)), list(weights.unbind(1)))
    return (x * weights.to(x.dtype)).sum(dim=1)
