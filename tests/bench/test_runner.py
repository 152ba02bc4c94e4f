"""Bench: tables and files, resume without recomputation, interrupted runs, settings clashes."""

import json
import time

from streamfuse.cli import main

from ..test_cli import TINY

ARGS = ["bench", "--fusions", "scalar,concat", "--seeds", "2", *TINY]


def test_bench_writes_results_and_resumes_without_recomputing(tmp_path, capsys):
    out = tmp_path / "b"
    assert main([*ARGS, "--out", str(out)]) == 0
    table = capsys.readouterr().out
    for method in ("scalar", "concat", "late", "linear", "single:pose", "single:rgb"):
        assert f"| {method} |" in table
    assert "No fusion beats" in table or "Best fusion" in table  # the plain verdict after the table
    runs = sorted((out / "runs").glob("*.json"))
    assert len(runs) == 6 * 2
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs}
    results = json.loads((out / "results.json").read_text())
    assert {m["method"] for m in results["methods"]} == {"scalar", "concat", "late", "linear", "single:pose", "single:rgb"}
    linear = json.loads((out / "runs" / "linear__seed0.json").read_text())
    assert 0 <= linear["accuracy"] <= 1 and 0 <= linear["macro_f1"] <= 1
    for key in ("params", "train_seconds", "infer_samples_per_s"):
        assert linear[key] > 0
    assert linear["spec"]["C"] in linear["spec"]["C_grid"] and {r["stream"] for r in linear["importance"]["table"]} == {"rgb", "pose"}
    assert results["verdict"]
    scalar = next(m for m in results["methods"] if m["method"] == "scalar")
    assert scalar["seeds"] == 2 and 0 <= scalar["accuracy"] <= 1 and abs(sum(scalar["weight"].values()) - 1) < 1e-5
    for name in ("results.csv", "accuracy.png", "weights.png"):
        assert (out / name).stat().st_size > 0
    # Same command again: everything resumed, nothing rewritten.
    assert main([*ARGS, "--out", str(out)]) == 0
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs} == stamps
    assert capsys.readouterr().err.count("(resumed)") == 12


def test_other_settings_in_the_same_folder_are_refused(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["bench", "--fusions", "scalar", "--no-baselines", *TINY, "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in (out / "runs").glob("*.json")}
    assert main(["bench", "--fusions", "scalar", "--no-baselines", *TINY, "--lr", "0.1", "--out", str(out)]) == 2
    assert "holds runs made with other settings" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (out / "runs").glob("*.json")} == before


def test_interrupted_bench_loses_at_most_the_run_in_progress(tmp_path, monkeypatch, capsys):
    """Ctrl-C in the second run, just after its training: deterministic on an idle or a loaded
    machine (the KeyboardInterrupt is raised where Python's SIGINT handler would raise it)."""
    import streamfuse.bench.runner as runner

    out = tmp_path / "b"
    # one process: the spy below must see the training (worker processes: test_workers.py)
    args = ["bench", "--fusions", "scalar", "--seeds", "2", "--no-baselines", *TINY, "--workers", "1", "--out", str(out)]
    real, calls = runner.train_model, []

    def train_then_interrupt(*a, **k):
        result = real(*a, **k)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(runner, "train_model", train_then_interrupt)
    assert main(args) == 130
    assert "finished runs are kept" in capsys.readouterr().err
    runs = out / "runs"
    done = {p: p.read_bytes() for p in runs.glob("*.json")}
    assert sorted(p.name for p in done) == ["scalar__seed0.json"]  # the second run was lost, no more
    json.loads(next(iter(done.values())))  # every file on disk is a whole run
    assert not list(out.rglob("*.tmp"))
    assert [r["seed"] for r in json.loads((out / "results.json").read_text())["runs"]] == [0]
    # Rerun: the finished run is kept byte for byte, the other computed.
    monkeypatch.setattr(runner, "train_model", real)
    assert main(args) == 0
    assert capsys.readouterr().err.count("(resumed)") == 1
    assert all(p.read_bytes() == b for p, b in done.items())
    assert sorted(p.name for p in runs.glob("*.json")) == ["scalar__seed0.json", "scalar__seed1.json"]


def test_all_skips_methods_that_cannot_take_this_many_streams():
    from streamfuse.bench import parse_methods

    assert "convex" in parse_methods("all", 2) and "convex" not in parse_methods("all", 6)
    import pytest

    from streamfuse import StreamFuseError

    with pytest.raises(StreamFuseError, match="fusion 'convex' takes 2..2 streams; this data has 6"):
        parse_methods("scalar,convex", 6)


def test_run_keys_tell_aux_loss_runs_apart_and_old_folders_still_resume():
    import hashlib

    from streamfuse.bench.runner import BenchConfig, run_key
    from streamfuse.training import TrainConfig

    plain, aux = BenchConfig(train=TrainConfig()), BenchConfig(train=TrainConfig(aux_loss=0.5))
    assert run_key(plain, "scalar", 0) != run_key(aux, "scalar", 0)
    assert run_key(aux, "scalar", 0) != run_key(BenchConfig(train=TrainConfig(aux_loss=1.0)), "scalar", 0)
    for baseline in ("late", "single:rgb"):  # trained without aux losses either way
        assert run_key(plain, baseline, 0) == run_key(aux, baseline, 0)
    # Without aux losses and with decay on every parameter, the key is the one made before either
    # option existed (so folders made then still resume); the default (no decay on logits) differs.
    assert run_key(plain, "scalar", 0) != run_key(BenchConfig(train=TrainConfig(decay_all=True)), "scalar", 0)
    train = TrainConfig(decay_all=True).to_dict()
    for k in ("device", "aux_loss", "decay_all", "stacked", "balance", "standardize", "keep_streams"):
        train.pop(k)
    old = json.dumps({"data": "video", "opts": {}, "dseed": 0, "train": train, "method": "scalar", "sd": 0.0}, sort_keys=True, default=str)
    before = BenchConfig(train=TrainConfig(decay_all=True))
    assert run_key(before, "scalar", 0) == hashlib.sha1(old.encode()).hexdigest()[:16]


def test_aux_loss_bench_keeps_baselines_and_refuses_mixed_fusion_runs(tmp_path, capsys):
    out = tmp_path / "b"
    args = ["bench", "--fusions", "scalar", *TINY, "--out", str(out)]
    assert main(args) == 0
    assert main([*args, "--aux-loss", "0.5"]) == 2  # scalar was trained without aux losses here
    assert "holds runs made with other settings (scalar__seed0.json" in capsys.readouterr().err
    spec = json.loads((out / "runs" / "scalar__seed0.json").read_text())["spec"]
    assert spec["aux_loss"] == 0.0


def test_run_keys_tell_stacked_runs_apart_for_fusions_only():
    from streamfuse.bench.runner import BenchConfig, run_key
    from streamfuse.training import TrainConfig

    plain, stacked = BenchConfig(train=TrainConfig()), BenchConfig(train=TrainConfig(stacked=True))
    assert run_key(plain, "scalar", 0) != run_key(stacked, "scalar", 0)
    for baseline in ("late", "single:rgb"):  # baselines are never trained stacked
        assert run_key(plain, baseline, 0) == run_key(stacked, baseline, 0)


def test_run_keys_tell_balance_recipes_apart_for_fusions_only():
    from streamfuse.bench.runner import BenchConfig, run_key
    from streamfuse.training import TrainConfig

    keys = {b: BenchConfig(train=TrainConfig(balance=b)) for b in ("none", "warmstart", "gblend", "ogm")}
    assert len({run_key(k, "scalar", 0) for k in keys.values()}) == 4
    for baseline in ("late", "single:rgb"):  # baselines are trained the same whatever the recipe
        assert len({run_key(k, baseline, 0) for k in keys.values()}) == 1


def test_masked_builds_the_weight_logit_methods_with_logit_scale_1_unless_given():
    """The recipe's fusion defaults reach the model spec (hence checkpoints) and the run key; a
    --fusion-option value replaces them; other recipes, other methods and baselines are untouched."""
    from types import SimpleNamespace

    import torch

    from streamfuse.bench.runner import BenchConfig, model_spec, run_key
    from streamfuse.training import TrainConfig
    from streamfuse.training.balance import BALANCE

    data = SimpleNamespace(stream_names=["rgb", "pose"], kinds={"rgb": "vector", "pose": "vector"}, num_classes=3,
                           train=SimpleNamespace(streams={"rgb": torch.zeros(2, 3), "pose": torch.zeros(2, 17)}))
    masked, plain = TrainConfig(balance="masked"), TrainConfig(balance="none")
    assert set(BALANCE["masked"].fusion_defaults) == {"scalar", "convex", "channel", "attention"}
    for m in ("scalar", "convex", "channel", "attention"):
        assert model_spec(m, data, masked, 0.0)["fusion_options"] == {"logit_scale": 1.0}
        assert model_spec(m, data, plain, 0.0)["fusion_options"] == {}
    assert model_spec("scalar+sd", data, masked, 0.2)["fusion_options"] == {"logit_scale": 1.0, "stream_dropout": 0.2}
    for m in ("adaptive", "cross_attention", "gmu", "late_learned", "late", "single:rgb"):
        assert model_spec(m, data, masked, 0.0)["fusion_options"] == {}
    given = TrainConfig(balance="masked", fusion_options={"logit_scale": 10.0})
    assert model_spec("scalar", data, given, 0.0)["fusion_options"] == {"logit_scale": 10.0}
    # the key follows the options the model is built with, whoever chose them
    explicit = TrainConfig(balance="masked", fusion_options={"logit_scale": 1.0})
    assert run_key(BenchConfig(train=masked), "scalar", 0) == run_key(BenchConfig(train=explicit), "scalar", 0)
    assert run_key(BenchConfig(train=masked), "scalar", 0) != run_key(BenchConfig(train=given), "scalar", 0)


def test_train_and_bench_share_one_train_and_evaluate(tmp_path, monkeypatch):
    """`train` and `bench` train through runner.train_and_evaluate; a bench checkpoint records its data."""
    import streamfuse.bench.runner as runner

    seen = []
    real = runner.train_and_evaluate

    def spy(method, *args, **kwargs):
        seen.append(method)
        return real(method, *args, **kwargs)

    monkeypatch.setattr(runner, "train_and_evaluate", spy)
    assert main(["train", "--fusion", "scalar", "--save", str(tmp_path / "m.pt"), *TINY]) == 0
    assert main(["bench", "--fusions", "concat", "--no-baselines", "--save-checkpoints", *TINY, "--workers", "1", "--out", str(tmp_path / "b")]) == 0
    assert seen == ["scalar", "concat"]
    # The bench's checkpoint records its data, so `explain` needs no --data.
    ckpt = tmp_path / "b" / "checkpoints" / "concat__seed0.pt"
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "c.png")]) == 0


def test_plots_are_drawn_once_at_the_end_and_tables_after_every_run(tmp_path, monkeypatch):
    import streamfuse.bench.report as report

    calls = {"plots": 0, "tables": 0}
    real_plots, real_results = report.write_plots, report.write_results

    def count_plots(*a, **k):
        calls["plots"] += 1
        return real_plots(*a, **k)

    def count_tables(*a, **k):
        calls["tables"] += 1
        return real_results(*a, **k)

    monkeypatch.setattr(report, "write_plots", count_plots)
    monkeypatch.setattr("streamfuse.bench.folder.write_results", count_tables)
    assert main(["bench", "--fusions", "scalar", "--no-baselines", "--seeds", "2", *TINY, "--out", str(tmp_path / "b")]) == 0
    assert calls == {"plots": 1, "tables": 3}  # a table after each of the 2 runs, then tables and plots at the end


def test_run_keys_of_warm_start_recipes_say_whether_streams_may_be_left_out():
    from streamfuse.bench.runner import BenchConfig, run_key
    from streamfuse.training import TrainConfig

    def key(method, **train):
        return run_key(BenchConfig(train=TrainConfig(**train)), method, 0)

    # leaving streams out is new behaviour: such runs never resume an older warm-start run ...
    assert key("scalar", balance="warmstart") != key("scalar", balance="warmstart", keep_streams=True)
    # ... which kept every stream, as --keep-streams does now; recipes without a warm start and
    # baselines never leave a stream out, so the setting is not part of their keys
    assert key("scalar", balance="gblend") == key("scalar", balance="gblend", keep_streams=True)
    assert key("single:rgb", balance="warmstart") == key("single:rgb", balance="warmstart", keep_streams=True)


def test_run_keys_change_where_masked_now_trains_a_method_otherwise(monkeypatch):
    # masked freezes the encoders first for deep heads (transformer): folders of transformer runs
    # made before must not resume as if they were such runs; every other method keeps its key
    from streamfuse.bench.runner import BenchConfig, run_key
    from streamfuse.training import TrainConfig
    from streamfuse.training.balance import BALANCE

    bench = BenchConfig(train=TrainConfig(balance="masked"))
    now = {m: run_key(bench, m, 0) for m in ("transformer", "scalar", "cross_attention")}
    monkeypatch.setattr(BALANCE["masked"], "run_key_extras", lambda self, epochs: {})
    before = {m: run_key(bench, m, 0) for m in now}
    assert [m for m in now if now[m] != before[m]] == ["transformer"]


def test_run_files_stay_inside_runs_whatever_the_stream_name(tmp_path):
    from streamfuse.bench.runner import run_path

    for method, stem in [("single:rgb", "single-rgb"), ("scalar+sd", "scalar+sd"), ("single:画像 (left)", "single-画像 (left)")]:
        assert run_path(tmp_path, method, 0) == tmp_path / "runs" / f"{stem}__seed0.json"  # as before: old folders resume
    for method in ("single:../x", "single:a/b", "single:..\\y"):
        path = run_path(tmp_path, method, 1)
        assert path.parent == tmp_path / "runs" and path.resolve().parent == (tmp_path / "runs").resolve()
    assert run_path(tmp_path, "single:a/b", 0) != run_path(tmp_path, "single:a-b", 0)


def test_inference_speed_is_measured_on_a_warm_model():
    """The first forward pays one-off costs (here a 1 s stall); infer/s must not include them."""
    from types import SimpleNamespace

    import torch

    from streamfuse.bench.runner import INFER_TIMING_PASSES, evaluate_run

    class ColdStart(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)
            self.calls = 0

        def forward(self, streams, mask=None):
            self.calls += 1
            if self.calls == 1:
                time.sleep(1.0)
            return self.fc(streams["a"])

    n = 20
    test = SimpleNamespace(streams={"a": torch.randn(n, 3)}, labels=torch.randint(0, 2, (n,)))
    model = ColdStart()
    record = evaluate_run(model, SimpleNamespace(test=test, num_classes=2), {"method": "single:a"}, torch.device("cpu"))
    assert model.calls == 1 + INFER_TIMING_PASSES
    # a cold measurement reads n / 1 s = 20 samples/s; each warm pass is milliseconds
    assert record["infer_samples_per_s"] > n / 0.5
