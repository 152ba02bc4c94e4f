"""The `linear` baseline: logistic regression with C chosen on the validation split, in every table."""

import pytest
import torch

from streamfuse.bench.linear import C_GRID, LinearBaseline, pooled_features, train_linear
from streamfuse.bench.report import aggregate, baseline_verdict, format_table
from streamfuse.importance import stream_importance
from streamfuse.training import stratified_split

pytest.importorskip("sklearn")


def data(n=240, seed=0):
    """'v' carries the label linearly; 's' (a sequence) only in its per-channel spread."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    v = torch.randn(n, 5, generator=g)
    v[torch.arange(n), y] += 1.0
    s = torch.randn(n, 2, 9, generator=g) * (1 + (y == 2).float()).view(n, 1, 1) * 1e3
    spec = {"streams": ["v", "s"], "num_classes": 3}
    return {"v": v, "s": s}, y, spec


def test_pooled_features():
    x = torch.arange(12.0).view(1, 2, 6)
    assert torch.allclose(pooled_features(x), torch.tensor([[2.5, 8.5, x[0, 0].std(correction=0), x[0, 1].std(correction=0)]]))
    assert pooled_features(torch.ones(4, 3)).shape == (4, 3)


def test_c_is_chosen_on_the_validation_split_and_the_torch_model_matches_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    streams, y, spec = data()
    model, info = train_linear(spec, streams, y, val_fraction=0.25, seed=3)
    assert set(info["val_accuracy_by_C"]) == {repr(c) for c in C_GRID}
    assert info["val_accuracy"] == max(info["val_accuracy_by_C"].values()) == info["val_accuracy_by_C"][repr(info["C"])]
    tr, va = stratified_split(y, 0.25, 3)
    assert info["train_samples"] == len(tr)
    x = torch.cat([pooled_features(streams[s]) for s in spec["streams"]], 1).double().numpy()
    scaler = StandardScaler().fit(x[tr])
    # The recorded validation accuracy of every C is that of a fit on the other samples (a cold-start
    # fit here, warm-started there: the same optimum up to the solver's tolerance, so allow one sample).
    for c in C_GRID:
        clf = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x[tr]), y[tr].numpy())
        assert abs(info["val_accuracy_by_C"][repr(c)] - (clf.predict(scaler.transform(x[va])) == y[va].numpy()).mean()) <= 1 / len(va) + 1e-9
    clf = LogisticRegression(C=info["C"], max_iter=2000).fit(scaler.transform(x[tr]), y[tr].numpy())
    assert (model(streams).argmax(1).numpy() == clf.predict(scaler.transform(x))).mean() >= 0.99
    assert sum(p.numel() for p in model.parameters()) == 3 * (5 + 4) + 3


def test_mask_drops_a_streams_term_so_importance_works():
    streams, y, spec = data()
    model, _ = train_linear(spec, streams, y, 0.2, 0)
    only_v = model(streams, mask=torch.tensor([[True, False]]).expand(len(y), 2))
    v_alone = LinearBaseline(["v"], {"v": 5}, 3)
    v_alone.load_state_dict({"weights.v": model.weights["v"], "bias": model.bias, "mean_0": model.mean_0, "scale_0": model.scale_0})
    assert torch.allclose(only_v, v_alone({"v": streams["v"]}))
    imp = stream_importance(model, (streams, y), methods=("ablation", "shapley"))
    assert {r["stream"] for r in imp.table} == {"v", "s"}


def test_verdict_line_says_when_no_fusion_beats_the_baselines():
    def run(method, acc, seed=0):
        return {"method": method, "seed": seed, "accuracy": acc, "macro_f1": acc, "params": 1, "train_seconds": 1.0, "infer_samples_per_s": 1.0}

    rows = aggregate([run("gmu", 0.80), run("late", 0.9), run("linear", 0.85), run("single:a", 0.78)], ["a"])
    assert "| linear |" in format_table(rows, ["a"])
    assert baseline_verdict(rows) == "No fusion beats the linear baseline: 85.0 %; the best fusion, gmu, reaches 80.0 %."
    rows = aggregate([run("gmu", 0.86), run("gmu", 0.88, 1), run("linear", 0.85), run("linear", 0.85, 1), run("single:a", 0.87), run("single:a", 0.87, 1)], ["a"])
    assert baseline_verdict(rows).startswith("No fusion beats the best single stream (single:a): 87.0 %")
    rows = aggregate([run("gmu", 0.95), run("linear", 0.85), run("single:a", 0.87)], ["a"])
    assert baseline_verdict(rows) == ("Best fusion gmu (95.0 %) beats the linear baseline by 10.0 points and the best single stream "
                                      "(single:a) by 8.0 points (1 seed, no spread measured).")
    assert baseline_verdict(aggregate([run("late", 0.9), run("linear", 0.8)], ["a"])) == ""


def test_linear_run_key_depends_on_the_validation_split_only():
    from streamfuse.bench.runner import BenchConfig, run_key
    from streamfuse.training import TrainConfig

    def key(seed=0, **train):
        return run_key(BenchConfig(train=TrainConfig(**train)), "linear", seed)

    assert key(epochs=5, width=8, lr=0.1) == key(epochs=60, width=256, standardize=True)
    assert key(val_fraction=0.2) != key() != key(seed=1)
