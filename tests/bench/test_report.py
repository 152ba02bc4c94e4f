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


def plot_row(method, acc, weights=None, shapley=None, seeds=1):
    nothing = {s: None for s in STREAMS}
    return {"method": method, "accuracy": acc, "accuracy_std": 0.0, "seeds": seeds,
            "weight": dict(zip(STREAMS, weights)) if weights else nothing,
            "shapley_acc": dict(zip(STREAMS, shapley)) if shapley else nothing}


def test_plots_sorted_with_reference_lines_title_and_no_fixed_or_empty_slots(tmp_path):
    from streamfuse.bench.report import write_plots

    rows = [
        plot_row("gmu", 0.61, [0.6, 0.3, 0.1], [0.3, 0.1, 0.0]),
        plot_row("sum", 0.59, [1.0, 1.0, 1.0], [0.2, 0.2, 0.1]),
        plot_row("lowrank", 0.66, None, [0.3, 0.2, 0.1]),
        plot_row("late", 0.62, [1 / 3] * 3, [0.2, 0.2, 0.2]),
        plot_row("single:a", 0.64),
        plot_row("single:b", 0.30),
    ]
    config = {"data": "video", "data_options": {"n_train": 480}, "seeds": 1, "train": {"epochs": 15, "width": 32, "lr": 0.003}}
    rec = write_plots(tmp_path, rows, STREAMS, config, num_classes=8)
    acc = rec["accuracy"]
    assert acc["order"] == ["lowrank", "single:a", "late", "gmu", "sum", "single:b"]  # best first
    assert acc["ylim"] == (0, 100)
    want = {"best single stream (a) 64.0%": 64.0, "late fusion 62.0%": 62.0, "chance (1/8) 12.5%": 12.5}
    assert acc["lines"] == pytest.approx(want)
    assert "video (n_train=480) | 1 seed | 15 epochs, width 32, lr 0.003" in acc["title"]
    w = rec["weights"]
    assert w["weights"] == ["gmu"] and w["fixed"] == ["sum", "late"]  # fixed 1.0 / 1/S weights are not shares
    assert "sum (1 each)" in w["note"] and w["weight_ylim"] == (0, 1)
    assert "single:a" not in w["shapley"] and w["shapley"] == ["gmu", "sum", "lowrank", "late"]
    for name in ("accuracy.png", "weights.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_left_out_streams_are_counted_per_method_and_named_under_the_weights(tmp_path):
    from streamfuse.bench.report import aggregate, write_plots

    def run(method, seed, left_out):
        return {"method": method, "seed": seed, "accuracy": 0.5, "macro_f1": 0.5, "params": 1, "train_seconds": 1.0,
                "infer_samples_per_s": 1.0, "left_out": left_out,
                "importance": {"table": [{"stream": s, "weight": w, "shapley_acc": 0.1} for s, w in zip(STREAMS, (0.0, 0.5, 0.5))]}}

    runs = [run("scalar", 0, ["a"]), run("scalar", 1, []), run("gmu", 0, ["a"]), run("gmu", 1, ["a", "c"])]
    rows = {r["method"]: r for r in aggregate(runs, STREAMS)}
    assert rows["scalar"]["left_out"] == {"a": 1, "b": 0, "c": 0}
    assert rows["gmu"]["left_out"] == {"a": 2, "b": 0, "c": 1}
    note = write_plots(tmp_path, list(rows.values()), STREAMS)["weights"]["note"]
    assert "a in 3 of 4 runs, c in 1 of 4 runs" in note and "b in" not in note
    plain = aggregate([run("scalar", 0, [])], STREAMS)
    assert not (write_plots(tmp_path, plain, STREAMS)["weights"]["note"] or "").startswith("left out")
