"""``stream_importance``: which stream carries the most information, measured several ways."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import StreamFuseError, unknown_choice
from .bootstrap import bootstrap as run_bootstrap
from .bootstrap import per_row_measures
from .coalitions import CoalitionGame
from .inputs import accepts, check_baseline, model_device, unpack_data
from .result import AGREEMENT, Interval, Row, StreamImportance, chance_warning, compute_agreement, leading_streams, make_verdict
from .shapley import exact_shapley, sampled_shapley

METHODS = ("weights", "ablation", "shapley")
MASKINGS = ("auto", "mask", "mean")
EMPTIES = ("auto", "prior", "model")


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise StreamFuseError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise StreamFuseError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def _check_prior(prior: object, empty: str) -> object:
    """Shape-free checks of ``prior`` before any forward pass (its length is checked against K later)."""
    if prior is None:
        return None
    if empty != "prior":
        raise StreamFuseError(f"prior: only used with empty='prior' (the class prior as v(empty)); empty is {empty!r}")
    try:
        p = torch.as_tensor(prior, dtype=torch.float64).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as e:
        raise StreamFuseError(f"prior: expected a 1-D sequence of class probabilities, got {type(prior).__name__}") from e
    if p.dim() != 1 or p.numel() == 0 or not bool(torch.isfinite(p).all()) or bool((p < 0).any()):
        raise StreamFuseError(
            f"prior: expected a 1-D sequence of non-negative finite class probabilities, got shape "
            f"{tuple(p.shape)} with values {p.flatten().tolist()[:8]}"
        )
    if abs(float(p.sum()) - 1.0) > 1e-4:
        raise StreamFuseError(
            f"prior: class probabilities must sum to 1, got a sum of {float(p.sum()):g}; for class counts "
            f"pass counts / counts.sum()"
        )
    return prior


def _check_methods(methods: object) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    if not isinstance(methods, Sequence) or not methods:
        raise StreamFuseError(f"methods: expected a non-empty sequence from {list(METHODS)}, got {methods!r}")
    for m in methods:
        if m not in METHODS:
            raise unknown_choice("importance method", m, METHODS)
    return tuple(dict.fromkeys(methods))


def _resolve_masking(model: nn.Module, masking: str, baseline: object) -> str:
    if masking not in MASKINGS:
        raise unknown_choice("masking", masking, MASKINGS)
    has_mask = accepts(model, "mask")
    if masking == "auto":
        if has_mask:
            return "mask"
        if baseline is None:
            raise StreamFuseError(
                f"masking: {type(model).__name__}.forward has no `mask` argument, so a stream can only be "
                f"removed by replacing it with its training mean; pass baseline= (a list or name->tensor "
                f"dict of per-stream means, shape (C_i, *spatial)) to use masking='mean'"
            )
        return "mean"
    if masking == "mask" and not has_mask:
        raise StreamFuseError(
            f"masking='mask': {type(model).__name__}.forward has no `mask` argument; use masking='mean' "
            f"with baseline= (per-stream training means)"
        )
    if masking == "mean" and baseline is None:
        raise StreamFuseError(
            "masking='mean' needs baseline=: a list or name->tensor dict of per-stream training means, "
            "each of shape (C_i, *spatial) or broadcastable to it"
        )
    return masking


def stream_importance(
    model: nn.Module,
    data: object,
    methods: Sequence[str] | str = METHODS,
    *,
    masking: str = "auto",
    baseline: object = None,
    batch_size: int = 256,
    num_samples: int = 200,
    max_exact_streams: int = 8,
    per_class: bool = False,
    empty: str = "auto",
    prior: object = None,
    seed: int = 0,
    bootstrap: int = 200,
) -> StreamImportance:
    """Measure how much each stream matters to ``model`` on ``data``, several ways, and compare.

    A learned fusion weight is not by itself evidence that the model relies on a stream, so this
    reports the weights next to what happens when streams are removed, and how far they agree.

    Args:
        model: called as ``model(streams, mask=mask, return_weights=True)`` like
            ``MultiStreamHead`` (a full network forwarding ``mask``/``return_weights`` to its head
            works the same), or as plain ``model(streams)`` with ``masking="mean"``. Must return
            class scores ``(N, K)`` (or ``(scores, weights)`` when asked for weights).
        data: ``(streams, labels)`` with streams a list or name->tensor dict of ``(N, C_i, ...)``
            and labels int64 ``(N,)``, or an object with ``.streams`` and ``.labels`` (e.g.
            ``streamfuse.data`` splits). A dict is matched to the model's stream names, whatever
            its key order.
        methods: any of ``"weights"`` (mean learned weight per stream; channel-level weights
            ``(N, S, D)`` averaged over D; None for models without weights), ``"ablation"``
            (accuracy drop and log-loss increase when one stream is removed, all others present),
            ``"shapley"`` (Shapley values of the streams for accuracy and for mean
            log-likelihood).
        masking: how a stream is removed. ``"mask"``: the model's ``mask`` argument; ``"mean"``:
            replaced by ``baseline``; ``"auto"``: ``"mask"`` if ``forward`` accepts ``mask``.
        baseline: per-stream training means (list, or dict by stream name), each ``(C_i,
            *spatial)`` or broadcastable (a 1-D ``(C_i,)`` is taken per channel). Needed for
            ``"mean"``.
        batch_size: rows per forward pass. Every coalition costs one pass over the data.
        num_samples: permutations for sampled Shapley (used when S > ``max_exact_streams``);
            sampled values come with a 95% confidence interval (mean +- 1.96 standard errors).
        max_exact_streams: up to this many streams Shapley is exact (all ``2^S`` subsets).
        per_class: also report the table for the rows of each true class.
        empty: value ``v(empty)`` of the empty coalition. ``"prior"``: predicting the class
            prior (accuracy of always answering the prior's majority class, log-likelihood
            ``mean log prior[label]``) -- the best one can do without any stream; needed with
            ``masking="mask"``, where a row with every stream masked is an error. ``"model"``:
            the model with every stream at its baseline (``masking="mean"`` only; the game is
            then exactly baseline-replacement Shapley as in Captum). ``"auto"`` (default):
            ``"prior"`` for ``"mask"``, ``"model"`` for ``"mean"``.
            Consequence of ``"prior"``: a stream that cannot affect the output has ablation
            exactly 0, but its Shapley value is ``(v({i}) - v(empty)) / S``: the gap between
            the model's output with no usable stream (a constant prediction) and the prior, 0
            only when the model's "blind" output scores as well as the prior. With ``"model"``
            such a stream gets exactly 0 (the Shapley dummy axiom).
        prior: class probabilities ``(K,)`` for ``empty="prior"`` (e.g. training label
            frequencies); default: the label frequencies of ``data``.
        seed: seed of the permutation sampler and of the bootstrap (a private generator; the
            global RNG is untouched); an int >= 0.
        bootstrap: resamples of the test rows (with replacement) giving every measure a 95%
            interval, deciding ties (streams whose difference's interval contains 0) and the
            interval of each weights-vs-measure Spearman correlation (``bootstrap.py``); 0 turns it
            off, otherwise at least 20. Used with exact Shapley or without Shapley; sampled Shapley
            reports its permutation interval instead.

    Returns:
        ``StreamImportance`` (``table``, ``agreement``, ``verdict``, ``to_markdown()``, ...).

    The model is evaluated in eval mode under ``no_grad`` on its own device, batch by batch;
    each module's train/eval state is restored afterwards. Cost: ``1 + S`` passes over the data
    for ablation, ``2^S`` for exact Shapley (cached and shared), ``<= num_samples * (S - 1)`` for
    sampled Shapley. For a network with expensive per-stream encoders, run it on precomputed
    encoder features with the head alone.
    """
    methods = _check_methods(methods)
    batch_size = _check_int("batch_size", batch_size, 1)
    num_samples = _check_int("num_samples", num_samples, 2)
    max_exact_streams = _check_int("max_exact_streams", max_exact_streams, 1)
    seed = _check_int("seed", seed, 0)
    bootstrap = _check_int("bootstrap", bootstrap, 0)
    if 0 < bootstrap < 20:
        raise StreamFuseError(f"bootstrap must be 0 (off) or at least 20 resamples, got {bootstrap}")
    per_class = _check_bool("per_class", per_class)
    if not isinstance(model, nn.Module):
        raise StreamFuseError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if empty not in EMPTIES:
        raise unknown_choice("empty", empty, EMPTIES)
    masking = _resolve_masking(model, masking, baseline)
    if empty == "auto":
        empty = "model" if masking == "mean" else "prior"
    if empty == "model" and masking != "mean":
        raise StreamFuseError(
            "empty='model' runs the model with every stream removed, which only masking='mean' can do "
            "(a row with every stream masked is an error); use empty='prior'"
        )
    prior = _check_prior(prior, empty)
    d = unpack_data(data, model)
    baselines = check_baseline(baseline, d) if masking == "mean" else None
    device = model_device(model, d.streams[0].device)
    s = len(d.streams)
    keep_rows = bootstrap > 0 and ("shapley" not in methods or s <= max_exact_streams)
    game = CoalitionGame(
        model, d, masking=masking, baselines=baselines, batch_size=batch_size, device=device, empty=empty,
        prior=prior, weights_arg="weights" in methods and accepts(model, "return_weights"), keep_rows=keep_rows,
    )
    full = game.full
    states = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            game.evaluate([full])  # first: fixes K, checks labels, collects weights
            needed = [0] + ([full ^ (1 << i) for i in range(s)] if "ablation" in methods else [])
            game.evaluate(needed)
            shap = None
            if "shapley" in methods:
                if s <= max_exact_streams:
                    shap = exact_shapley(game)
                else:
                    shap = sampled_shapley(game, num_samples, torch.Generator().manual_seed(seed))
    finally:
        for m, training in states:
            m.training = training

    k, counts, _ = game.class_stats()
    weights_on = "weights" in methods and game.has_weights

    def rows(acc_col: int, ll_col: int, wmean: torch.Tensor | None) -> list[Row]:
        vf = game.value(full)
        ci = shap.ci95() if shap is not None else None
        out = []
        for i, name in enumerate(d.names):
            row: Row = {
                "stream": name,
                "weight": float(wmean[i]) if wmean is not None else None,
                "ablation_acc_drop": None,
                "ablation_loss_increase": None,
                "shapley_acc": None,
                "shapley_loglik": None,
            }
            if "ablation" in methods:
                vr = game.value(full ^ (1 << i))
                row["ablation_acc_drop"] = float(vf[acc_col] - vr[acc_col])
                row["ablation_loss_increase"] = float(vf[ll_col] - vr[ll_col])
            if shap is not None:
                row["shapley_acc"] = float(shap.values[i, acc_col])
                row["shapley_loglik"] = float(shap.values[i, ll_col])
                if ci is not None:
                    row["shapley_acc_ci95"] = (float(ci[0][i, acc_col]), float(ci[1][i, acc_col]))
                    row["shapley_loglik_ci95"] = (float(ci[0][i, ll_col]), float(ci[1][i, ll_col]))
            out.append(row)
        return out

    wsum = game.weight_sums if weights_on else None
    table = rows(0, 1, wsum.sum(0) / d.num_rows if wsum is not None else None)
    boot = None
    agreement_ci: dict[str, Interval | None] | None = None
    if keep_rows:
        measures = per_row_measures(game, "ablation" in methods, shap is not None)
        if not weights_on:
            measures.pop("weight", None)
        if measures:
            boot = run_bootstrap(measures, bootstrap, torch.Generator().manual_seed(seed + 1))
            for key in measures:
                lo, hi = boot.interval(key)
                for i, row in enumerate(table):
                    row[f"{key}_ci95"] = (lo[i], hi[i])
            if "weight" in measures:
                agreement_ci = {
                    akey: boot.spearman_interval("weight", col) for akey, (col, _) in AGREEMENT.items() if col in measures
                }
    classes: list[dict[str, Any]] | None = None
    if per_class:
        classes = []
        for c in range(k):
            n_c = int(counts[c])
            if n_c == 0:
                continue
            classes.append({
                "class": c,
                "num_rows": n_c,
                "full_accuracy": float(game.value(full)[2 + c]),
                "table": rows(2 + c, 2 + k + c, wsum[c] / n_c if wsum is not None else None),
            })
    agreement = compute_agreement(table)
    v_full, v_empty = game.value(full), game.value(0)
    warning = game.nonfinite_message() or chance_warning(float(v_full[0]), counts)
    return StreamImportance(
        streams=list(d.names),
        table=table,
        full_accuracy=float(v_full[0]),
        full_loglik=float(v_full[1]),
        empty_accuracy=float(v_empty[0]),
        empty_loglik=float(v_empty[1]),
        agreement=agreement,
        verdict=make_verdict(
            list(d.names), table, agreement, "weights" in methods, empty, boot=boot, agreement_ci=agreement_ci,
            warning=warning, weights_returned=game.has_weights,
        ),
        warning=warning,
        agreement_ci=agreement_ci,
        leaders=leading_streams(list(d.names), table, boot, warning),
        bootstrap=boot.resamples if boot is not None else 0,
        methods=methods,
        masking=masking,
        empty=empty,
        exact=None if shap is None else shap.exact,
        num_samples=None if shap is None else shap.num_samples,
        num_rows=d.num_rows,
        num_classes=k,
        forward_passes=game.forward_passes,
        per_class=classes,
    )


