"""The coalition game: ``v(T)``, the model's dataset-level score when only streams ``T`` are present.

A coalition is a bitmask over the model's streams (bit ``i`` set: stream ``i`` present). For each
coalition the game runs the model over the whole data in batches and accumulates, per true class,
the number of correct predictions and the summed log-likelihood ``log softmax(scores)[label]``.
Results are cached, so exact Shapley (every subset), ablation (leave-one-out) and sampled Shapley
(permutation prefixes) share their forward passes. The data is the outer loop: each batch is moved
to the model's device once and then evaluated under every pending coalition.

A removed stream is either

* ``"mask"``: passed to the model with its column of ``mask`` False (the model guarantees a masked
  stream cannot affect its output), or
* ``"mean"``: replaced by its training mean (``baseline``), for models without a mask argument.

``v(empty)``: a row with every stream masked is an error for the model, so with ``"mask"``
(``empty="prior"``) the empty coalition is the best prediction that uses no stream at all: the
class prior (the empirical label frequencies of ``data`` unless ``prior=`` is given). Its
log-likelihood is ``mean log prior[label]`` (the best constant predictor in log-loss), its accuracy
that of always predicting the prior's majority class (the best constant in accuracy). With
``"mean"`` (``empty="model"``) the model is run with every stream replaced by its mean, as
baseline-replacement attributions such as Captum's do.

Value vector of a coalition, ``Q = 2 + 2K`` numbers:
``[accuracy, loglik, accuracy of class 0..K-1, loglik of class 0..K-1]`` (per-class entries are
means over the rows of that true class; NaN for a class with no rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ..errors import StreamFuseError
from ..errors import shape_text as _shape
from .inputs import Data, check_label_range


class CoalitionGame:
    def __init__(
        self,
        model: nn.Module,
        data: Data,
        *,
        masking: str,
        baselines: list[torch.Tensor] | None,
        batch_size: int,
        device: torch.device,
        empty: str,
        prior: object,
        weights_arg: bool,
        keep_rows: bool = False,
    ) -> None:
        if (masking == "mean") != (baselines is not None):
            raise StreamFuseError(f"masking={masking!r}: baselines are needed with masking='mean' and only with it")
        self.model, self.data, self.masking = model, data, masking
        self.baselines = None if baselines is None else [b.to(device) for b in baselines]
        self.batch_size, self.device, self.empty = batch_size, device, empty
        self.prior_arg, self.weights_arg, self.keep_rows = prior, weights_arg, keep_rows
        self.num_streams = len(data.streams)
        self.full = (1 << self.num_streams) - 1
        self.num_classes: int | None = None
        self.class_counts: torch.Tensor | None = None  # (K,) float64
        self.weight_sums: torch.Tensor | None = None  # (K, S) float64, sum of mean weights per class
        self.has_weights = False
        self.forward_passes = 0
        self._cache: dict[int, torch.Tensor] = {}
        self._wsum: torch.Tensor | None = None
        self._prior: torch.Tensor | None = None
        # keep_rows: per-row [correct, loglik] (N, 2) of every coalition and the per-row mean
        # weights (N, S), for the bootstrap over test rows (bootstrap.py)
        self._rows: dict[int, torch.Tensor] = {}
        self.weight_rows: torch.Tensor | None = None
        self.nonfinite: dict[int, int] = {}  # coalition -> rows with NaN/Inf class scores

    # ------------------------------------------------------------------------------ values
    def value(self, coalition: int) -> torch.Tensor:
        """``(Q,)`` float64 value vector of an evaluated coalition (see module docstring)."""
        if coalition == 0 and self.empty == "prior":
            return self._prior_value()
        return self._cache[coalition]

    def class_stats(self) -> tuple[int, torch.Tensor, torch.Tensor]:
        """``(K, class counts (K,) float64, prior (K,) float64)``, fixed by the first evaluation."""
        if self.num_classes is None or self.class_counts is None or self._prior is None:
            raise RuntimeError("CoalitionGame: evaluate a coalition first; the first model output fixes K")
        return self.num_classes, self.class_counts, self._prior

    def evaluate(self, coalitions: Iterable[int]) -> None:
        """Run the model for every coalition not yet cached (the full one first, with weights)."""
        todo = sorted({int(c) for c in coalitions} - set(self._cache), reverse=True)
        if self.empty == "prior":
            todo = [c for c in todo if c != 0]
        if not todo:
            return
        n, k, s = self.data.num_rows, self.num_classes, self.num_streams
        keep = [[bool((c >> i) & 1) for i in range(s)] for c in todo]
        present = torch.tensor(keep, dtype=torch.bool, device=self.device)  # (len(todo), S)
        correct: torch.Tensor | None = None
        ll: torch.Tensor | None = None
        rows: list[list[torch.Tensor]] | None = [[] for _ in todo] if self.keep_rows else None
        wrows: list[torch.Tensor] = []
        for start in range(0, n, self.batch_size):
            xb = [x[start : start + self.batch_size].to(self.device) for x in self.data.streams]
            yb = self.data.labels[start : start + self.batch_size].to(self.device)
            filled = None
            if self.baselines is not None:  # masking == "mean"
                filled = [torch.broadcast_to(b.to(x.dtype), x.shape).contiguous() for b, x in zip(self.baselines, xb)]
            for j, c in enumerate(todo):
                want_w = self.weights_arg and c == self.full and self.weight_sums is None
                scores, w = self._forward(xb, filled, present[j], keep[j], want_w)
                if k is None:
                    k = self._first_output(scores)
                self._count_nonfinite(scores, todo[j])
                if correct is None or ll is None:
                    correct = torch.zeros(len(todo), k, dtype=torch.float64, device=self.device)
                    ll = torch.zeros(len(todo), k, dtype=torch.float64, device=self.device)
                logp = torch.log_softmax(scores.double(), dim=-1).gather(1, yb[:, None])[:, 0]
                correct[j].index_add_(0, yb, (scores.argmax(dim=-1) == yb).double())
                ll[j].index_add_(0, yb, logp)
                if rows is not None:
                    rows[j].append(torch.stack([(scores.argmax(dim=-1) == yb).double(), logp], 1).cpu())
                if want_w and w is not None:
                    if self._wsum is None:
                        self._wsum = torch.zeros(k, self.num_streams, dtype=torch.float64, device=self.device)
                    self._wsum.index_add_(0, yb, w)
                    if self.keep_rows:
                        wrows.append(w.cpu())
        if self._wsum is not None and self.weight_sums is None and self.full in todo:
            self.weight_sums, self.has_weights = self._wsum.cpu(), True
            if self.keep_rows:
                self.weight_rows = torch.cat(wrows)
        if correct is None or ll is None:  # unreachable: todo is not empty and the data has rows (unpack_data)
            raise RuntimeError("CoalitionGame.evaluate: no batch was evaluated")
        counts, correct, ll = self.class_stats()[1], correct.cpu(), ll.cpu()
        for j, c in enumerate(todo):
            cor, lik = correct[j], ll[j]
            per_acc = torch.where(counts > 0, cor / counts.clamp_min(1), torch.full_like(cor, float("nan")))
            per_ll = torch.where(counts > 0, lik / counts.clamp_min(1), torch.full_like(lik, float("nan")))
            head = torch.stack([cor.sum() / n, lik.sum() / n])
            self._cache[c] = torch.cat([head, per_acc, per_ll])
            if rows is not None:
                self._rows[c] = torch.cat(rows[j])

    def row_values(self, coalition: int) -> torch.Tensor:
        """``(N, 2)`` float64 per-row ``[correct, loglik]`` of an evaluated coalition (``keep_rows``).

        For the empty coalition under ``empty="prior"``: ``[label == prior's majority class, log
        prior[label]]``, whose means are ``value(0)[:2]``."""
        if coalition == 0 and self.empty == "prior":
            y = self.data.labels.cpu()
            p = self.class_stats()[2]
            logp = torch.where(p > 0, p.log(), torch.zeros_like(p))
            return torch.stack([(y == int(p.argmax())).double(), logp[y]], 1)
        return self._rows[coalition]

    def _count_nonfinite(self, scores: torch.Tensor, coalition: int) -> None:
        """Rows whose class scores hold NaN/Inf, per coalition (``nonfinite``): reported as the cause
        when the values cannot be trusted, rather than as a missing measurement."""
        bad = int((~torch.isfinite(scores).all(dim=1)).sum())
        if bad:
            self.nonfinite[coalition] = self.nonfinite.get(coalition, 0) + bad

    def nonfinite_message(self) -> str | None:
        """Why no importance can be trusted when the model returned NaN/Inf scores, else None."""
        if not self.nonfinite:
            return None
        c = self.full if self.full in self.nonfinite else max(self.nonfinite, key=self.nonfinite.__getitem__)
        present = [n for i, n in enumerate(self.data.names) if (c >> i) & 1]
        return (
            f"no importance could be computed: the model returns NaN/Inf class scores on {self.nonfinite[c]} of "
            f"{self.data.num_rows} rows with streams {present} present ({len(self.nonfinite)} of the coalitions "
            f"evaluated are affected) although the inputs are finite -- check the model's weights and numerics "
            f"(e.g. a diverged training run)"
        )

    # ------------------------------------------------------------------------------ helpers
    def _forward(
        self, xb: list[torch.Tensor], filled: list[torch.Tensor] | None, present: torch.Tensor, keep: list[bool], want_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One model call on a batch keeping the streams of ``present`` (bool (S,), and as ``keep``)."""
        batch = xb[0].shape[0]
        kwargs: dict[str, Any] = {}
        if filled is None:  # masking == "mask"
            inputs = xb
            kwargs["mask"] = present.unsqueeze(0).expand(batch, -1).contiguous()
        else:
            inputs = [x if p else f for x, f, p in zip(xb, filled, keep)]
        if want_weights:
            kwargs["return_weights"] = True
        out = self.model(self.data.container(inputs), **kwargs)
        self.forward_passes += 1
        weights = None
        if isinstance(out, (tuple, list)):
            scores = out[0]
            if want_weights and len(out) > 1 and out[1] is not None:
                weights = self._check_weights(out[1], batch)
        else:
            scores = out
        if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or scores.shape[0] != batch:
            raise StreamFuseError(
                f"model output: expected class scores (N, K) = ({batch}, K) for a batch of {batch} rows, "
                f"got {_shape(scores)}"
            )
        return scores, weights

    def _check_weights(self, w: object, batch: int) -> torch.Tensor:
        s = self.num_streams
        if not isinstance(w, torch.Tensor) or w.dim() < 2 or tuple(w.shape[:2]) != (batch, s):
            raise StreamFuseError(
                f"model weights: expected (N, S) or (N, S, D) with N={batch}, S={s} for streams "
                f"{self.data.names}, got {_shape(w)}; leave 'weights' out of methods for this model"
            )
        w = w.detach().double()
        return w.flatten(2).mean(-1) if w.dim() > 2 else w

    def _first_output(self, scores: torch.Tensor) -> int:
        k = int(scores.shape[1])
        check_label_range(self.data.labels, k)
        self.num_classes = k
        self.class_counts = counts = torch.bincount(self.data.labels.cpu(), minlength=k).double()
        self._prior = self._make_prior(k, counts)
        return k

    def _make_prior(self, k: int, counts: torch.Tensor) -> torch.Tensor:
        if self.prior_arg is None:
            return counts / counts.sum()
        try:
            p = torch.as_tensor(self.prior_arg, dtype=torch.float64).detach().cpu().flatten()
        except (TypeError, ValueError, RuntimeError) as e:
            raise StreamFuseError(f"prior: expected {k} class probabilities, got {type(self.prior_arg).__name__}") from e
        if p.numel() != k or not bool(torch.isfinite(p).all()) or bool((p < 0).any()) or float(p.sum()) <= 0:
            raise StreamFuseError(
                f"prior: expected {k} non-negative finite class probabilities (one per model output), "
                f"got shape {_shape(p)} with values {p.tolist()[:8]}"
            )
        p = p / p.sum()
        zero = ((p == 0) & (counts > 0)).nonzero().flatten().tolist()
        if zero:
            raise StreamFuseError(
                f"prior: gives probability 0 to classes {zero} that occur in the labels; their "
                f"log-likelihood would be -inf"
            )
        return p

    def _prior_value(self) -> torch.Tensor:
        k, counts, p = self.class_stats()
        n = counts.sum()
        logp = torch.where(p > 0, p.log(), torch.zeros_like(p))  # classes with p = 0 have no rows
        majority = int(p.argmax())
        per_acc = (torch.arange(k) == majority).double()
        nan = torch.full((k,), float("nan"), dtype=torch.float64)
        per_acc = torch.where(counts > 0, per_acc, nan)
        per_ll = torch.where(counts > 0, logp, nan)
        head = torch.stack([counts[majority] / n, (counts * logp).sum() / n])
        return torch.cat([head, per_acc, per_ll])
