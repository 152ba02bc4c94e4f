"""Runs trained in worker processes (``--workers``): the same run records as one process at the
same thread count, folders that resume either way, a failing run's error raised with the finished
runs kept, and the flag checked before any data is loaded."""

import argparse
import json
import os

import pytest
import torch

from streamfuse import StreamFuseError
from streamfuse.bench import BenchConfig, run_bench
from streamfuse.bench.workers import train_in_workers
from streamfuse.bench.workers import default_workers as DEFAULT_WORKERS  # before conftest patches it per test
from streamfuse.cli import _workers, main
from streamfuse.training import TrainConfig

from ..test_cli import TINY

ARGS = ["bench", "--fusions", "scalar,late_learned", "--seeds", "2", *TINY, "--epochs", "2", "--threads", "1"]


def _records(folder):
    return {p.name: json.loads(p.read_text()) for p in sorted((folder / "runs").glob("*.json"))}


def test_workers_write_the_runs_one_process_writes_with_the_same_threads(tmp_path, capsys):
    threads = torch.get_num_threads()
    try:
        assert main([*ARGS, "--workers", "2", "--out", str(tmp_path / "w")]) == 0
        assert main([*ARGS, "--workers", "1", "--out", str(tmp_path / "s")]) == 0
        w, s = _records(tmp_path / "w"), _records(tmp_path / "s")
        assert len(w) == 6 * 2 and w.keys() == s.keys()  # scalar, late_learned, late, linear, 2 singles; 2 seeds
        for name in w:
            for key in ("key", "spec", "accuracy", "val_accuracy", "best_epoch", "left_out", "importance"):
                assert w[name].get(key) == s[name].get(key), (name, key)
        order = [(r["method"], r["seed"]) for r in json.loads((tmp_path / "w" / "results.json").read_text())["runs"]]
        assert order == [(r["method"], r["seed"]) for r in json.loads((tmp_path / "s" / "results.json").read_text())["runs"]]
        assert order == sorted(order, key=lambda ms: (order.index((ms[0], 0)), ms[1]))  # method by method, seeds in turn
        capsys.readouterr()
        # a folder written by workers resumes in one process, and one process's in workers
        assert main([*ARGS, "--workers", "1", "--out", str(tmp_path / "w")]) == 0
        assert main([*ARGS, "--workers", "2", "--out", str(tmp_path / "s")]) == 0
        assert capsys.readouterr().err.count("(resumed)") == 2 * 12
        assert _records(tmp_path / "w") == w and _records(tmp_path / "s") == s
    finally:
        torch.set_num_threads(threads)  # main() set this process's threads


def test_each_run_is_reported_as_it_finishes(tmp_path):
    """on_run hears of a run while later ones still train (the CLI prints a line and rewrites the
    tables then), not once at the end."""
    from streamfuse.data import load_data

    data = load_data("video", n_train=48, n_test=24, size=8, frames=4)
    bench = BenchConfig(methods=["scalar", "concat"], out=str(tmp_path), train=TrainConfig(epochs=1, width=8), workers=2, threads=1)
    on_disk = []
    runs = run_bench(bench, data, on_run=lambda run, resumed: on_disk.append(len(list((tmp_path / "runs").glob("*.json")))))
    assert len(runs) == len(on_disk) == 6 and on_disk[0] < 6  # scalar, concat, late, linear, 2 singles


def test_a_failing_run_in_a_worker_raises_and_keeps_the_finished_runs(tmp_path):
    from streamfuse.data import load_data

    data = load_data("video", n_train=48, n_test=24, size=8, frames=4)
    # scalar cannot be built with num_heads; the baselines (which take no fusion options) can
    train = TrainConfig(epochs=1, width=8, fusion_options={"num_heads": 2})
    bench = BenchConfig(methods=["scalar"], out=str(tmp_path), train=train, workers=2, threads=1)
    with pytest.raises((StreamFuseError, TypeError), match="num_heads"):
        run_bench(bench, data)
    for path in (tmp_path / "runs").glob("*.json") if (tmp_path / "runs").exists() else []:
        run = json.loads(path.read_text())  # whole runs only
        assert run["method"] != "scalar"
    assert not list(tmp_path.rglob("*.tmp"))


def test_the_default_is_two_workers_on_two_or_more_cores(monkeypatch, capsys, tmp_path):
    import streamfuse.bench.workers

    monkeypatch.setattr(streamfuse.bench.workers, "default_workers", DEFAULT_WORKERS)
    assert DEFAULT_WORKERS("cpu") == min(2, os.cpu_count() or 1) and DEFAULT_WORKERS("cuda") == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert DEFAULT_WORKERS("cpu") == 2
    threads = torch.get_num_threads()
    try:
        assert main(["bench", "--fusions", "scalar", "--no-baselines", *TINY[:-1], "--out", str(tmp_path / "b")]) == 0
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    assert "(up to 2 worker processes, 2 threads each; a line per finished run)" in err  # 4 cores shared out
    assert "scalar             seed 0  acc" in err


class _EndsTheProcess:
    """Data whose first use in a worker ends that process at once, as the out-of-memory killer would."""

    def __getattr__(self, name):
        if name.startswith("__"):  # pickling looks up dunders; only the bench's use ends the process
            raise AttributeError(name)
        os._exit(3)


def test_a_worker_that_dies_is_reported_with_what_to_do(tmp_path):
    bench = BenchConfig(methods=["scalar"], out=str(tmp_path), train=TrainConfig(epochs=1, width=8), workers=2, threads=1,
                        baselines=False, seeds=2)
    with pytest.raises(StreamFuseError, match=r"a worker process ended abruptly .* rerun with --workers 1"):
        train_in_workers(bench, _EndsTheProcess(), ["scalar"])


def test_workers_flag_is_checked_before_any_data(monkeypatch, capsys):
    assert main(["bench", *TINY, "--workers", "0", "--out", "/nonexistent/never-written"]) == 2
    assert "--workers must be an integer >= 1, got 0" in capsys.readouterr().err

    def args(**kw):
        return argparse.Namespace(**{"workers": None, "device": "cpu", **kw})

    with pytest.raises(StreamFuseError, match="with --device cuda use --workers 1"):
        _workers(args(workers=2, device="cuda"))
    assert _workers(args(device="cuda")) == 1
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert _workers(args()) == 1  # under torchrun the ranks train each run together
    with pytest.raises(StreamFuseError, match="under torchrun"):
        _workers(args(workers=2))
