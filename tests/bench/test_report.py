"""Aggregation of bench runs: per-stream means and the two weight-vs-Shapley agreements."""

import math

import pytest

from streamfuse.bench.report import aggregate, format_table
from streamfuse.importance import spearman

STREAMS = ["a", "b", "c"]


def run(method, seed, weights, shapley, accuracy=0.9):
    table = [
        {"stream": s, "weight": w, "shapley_loglik": sh, "shapley_acc": sh / 2, "ablation_acc_drop": 0.01 * i}
        for i, (s, w, sh) in enumerate(zip(STREAMS, weights, shapley))
    ]
    return {
        "method": method, "seed": seed, "accuracy": accuracy, "macro_f1": accuracy, "params": 10,
        "train_seconds": 1.0, "infer_samples_per_s": 100.0,
        "importance": {"table": table, "agreement": {"weights_vs_shapley": spearman(weights, shapley)}},
    }


def test_spearman_per_seed_and_of_means_differ_when_seeds_reorder_close_values():
    # Each seed swaps one pair of Shapley values (rho 0.5 each); their means rank like the weights.
    runs = [run("scalar", 0, [0.5, 0.3, 0.2], [0.3, 0.5, 0.2]), run("scalar", 1, [0.5, 0.3, 0.2], [0.5, 0.1, 0.2])]
    (row,) = aggregate(runs, STREAMS)
    assert row["spearman_weight_shapley"] == pytest.approx(0.5)
    assert row["spearman_weight_shapley_of_means"] == pytest.approx(1.0)
    assert row["shapley_loglik"] == pytest.approx({"a": 0.4, "b": 0.3, "c": 0.2})
    assert row["accuracy_without"]["b"] == pytest.approx(0.89)
    assert "0.50 / 1.00" in format_table([row], STREAMS)


def test_methods_without_weights_have_no_agreement():
    runs = [run("concat", 0, [None, None, None], [0.3, 0.5, 0.2])]
    runs[0]["importance"]["agreement"]["weights_vs_shapley"] = math.nan
    (row,) = aggregate(runs, STREAMS)
    assert row["spearman_weight_shapley"] is None
    assert row["spearman_weight_shapley_of_means"] is None
    assert "- / -" in format_table([row], STREAMS)
