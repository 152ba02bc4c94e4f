"""``streamfuse sweep``: retrain at growing noise on one stream, track its weight and Shapley value.

For each noise level the data is reloaded with that much additive Gaussian noise on the chosen
stream (std relative to the stream's own), every requested method is trained (as a resumable
bench in ``OUT/noise-<level>``), and the mean learned weight and accuracy-Shapley value of every
stream are collected into rows (``sweep.csv``, ``sweep.png``); ``trend`` tells, per method, whether
the degraded stream's weight and Shapley value fall: "yes" when no step from one noise level to the
next rises by more than ``TOLERANCE`` and the last value is more than ``TOLERANCE`` below the first;
otherwise "no" with why (flat, rises, or not monotone). The CLI prints that table.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from .._io import FolderLock, atomic_write_bytes, check_writable_dir, save_figure
from ..errors import StreamFuseError
from ..training import TrainConfig
from .folder import check_folder
from .presets import check_int
from .report import aggregate
from .runner import BenchConfig, run_bench
from .sizing import size_config

TOLERANCE = 0.02  # a step may rise by up to this and still count as falling; the net fall must exceed it


def trend(values: list[float], tol: float = TOLERANCE) -> str:
    """``"yes"`` when the values fall (no step rises by more than ``tol``, and last < first - ``tol``);
    else ``"no: flat"`` (net change within ``tol``), ``"no: rises"`` or ``"no: not monotone"``."""
    vals = [v for v in values if v is not None]
    if len(vals) < 2:
        return "no: fewer than 2 values"
    steps_ok = all(b <= a + tol for a, b in zip(vals, vals[1:]))
    if steps_ok and vals[-1] < vals[0] - tol:
        return "yes"
    if abs(vals[-1] - vals[0]) <= tol and max(vals) - min(vals) <= 2 * tol:
        return "no: flat"
    if vals[-1] > vals[0] + tol:
        return "no: rises"
    return "no: not monotone"


def is_monotone_falling(values: list[float], tol: float = TOLERANCE) -> bool:
    return trend(values, tol) == "yes"


@dataclass
class SweepConfig:
    """One sweep: ``methods`` retrained at every noise level of ``stream`` (std relative to the stream's)."""

    data: str
    stream: str
    levels: list[float]
    methods: list[str]
    train: TrainConfig
    data_options: dict = field(default_factory=dict)
    data_seed: int = 0
    seeds: int = 1
    out: str = "runs/sweep"
    sized: tuple[str, ...] | None = None  # user data: size ``train`` from the data (sizing.py) except these settings
    workers: int = 1  # as in BenchConfig: processes that train runs at once, threads each
    threads: int | None = None

    def bench(self, level: float) -> BenchConfig:
        """The resumable bench run at one noise level (folder ``OUT/noise-<level>``)."""
        noise = dict(self.data_options.get("noise", {}), **{self.stream: level})
        return BenchConfig(
            data=self.data, data_options=dict(self.data_options, noise=noise), data_seed=self.data_seed, methods=self.methods,
            seeds=self.seeds, out=str(Path(self.out) / f"noise-{level:g}"), train=self.train, baselines=False,
            workers=self.workers, threads=self.threads,
        )


def check_levels(levels: list[float]) -> list[float]:
    """Noise levels: at least one, each a finite number >= 0, none twice."""
    if not levels:
        raise StreamFuseError("--noise is empty; give levels such as 0,0.5,1,2")
    bad = [v for v in levels if not math.isfinite(v) or v < 0]
    if bad:
        raise StreamFuseError(f"--noise levels must be finite numbers >= 0, got {bad[0]!r}")
    named = [f"{v:g}" for v in levels]
    if len(set(named)) < len(named):
        raise StreamFuseError(f"--noise names a level twice ({', '.join(named)}); give each level once")
    return levels


def run_sweep(sweep: SweepConfig, progress_factory=None, log=None) -> list[dict]:
    """Run (or resume) the sweep; return one row per (level, method) and write ``sweep.csv``/``sweep.png``.

    ``progress_factory(method, seed)`` as for ``run_bench``; ``log(text)`` hears which level starts.
    Every folder is checked and locked before the first level's data is loaded; with ``sized``
    (user data) the folders are locked first and checked once the first level's data has sized
    the settings, still before any training. A row holds ``noise``, ``method``, ``accuracy`` and
    per stream ``weight[<s>]`` and ``shapley_acc[<s>]``.
    """
    from ..data import load_data, stream_names_of

    check_int("seeds", sweep.seeds)
    check_levels(sweep.levels)
    known = stream_names_of(sweep.data)
    if known is not None and sweep.stream not in known:  # (checked again once loaded, for the rest)
        raise StreamFuseError(f"--stream {sweep.stream!r} is not a stream of {sweep.data}; streams are {known}")
    out = check_writable_dir(sweep.out, "--out")
    rows = []
    with contextlib.ExitStack() as held:
        held.enter_context(FolderLock(out, "streamfuse sweep"))
        for level in sweep.levels:
            bench = sweep.bench(level)
            held.enter_context(FolderLock(check_writable_dir(bench.out, "--out"), "streamfuse sweep"))
            if sweep.sized is None:
                check_folder(bench)
        first = None
        if sweep.sized is not None:
            # settings sized from the data (noise changes no size: the same at every level), then
            # every folder checked with them, still before any training
            first = load_data(sweep.data, seed=sweep.data_seed, **sweep.bench(sweep.levels[0]).data_options)
            sweep = replace(sweep, train=size_config(sweep.train, first, set(sweep.sized)))
            for level in sweep.levels:
                check_folder(sweep.bench(level))
        for i, level in enumerate(sweep.levels):
            bench = sweep.bench(level)
            data = first if i == 0 and first is not None else load_data(sweep.data, seed=sweep.data_seed, **bench.data_options)
            if sweep.stream not in data.stream_names:
                raise StreamFuseError(f"--stream {sweep.stream!r} is not a stream of {sweep.data}; streams are {data.stream_names}")
            streams = list(data.stream_names)
            if log is not None:
                log(f"sweep: {sweep.stream} noise {level:g} -> {bench.out}")
            runs = run_bench(bench, data, progress_factory=progress_factory)
            for r in aggregate(runs, streams):
                row = {"noise": level, "method": r["method"], "accuracy": r["accuracy"]}
                for s in streams:
                    row[f"weight[{s}]"] = r["weight"][s]
                    row[f"shapley_acc[{s}]"] = r["shapley_acc"][s]
                rows.append(row)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        atomic_write_bytes(out / "sweep.csv", lambda fh: fh.write(buf.getvalue().encode()))
        _plot(out / "sweep.png", rows, sweep.methods, sweep.stream)
    return rows


def _plot(path: Path, rows, methods, stream) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for m in methods:
        pts = [r for r in rows if r["method"] == m]
        x = [r["noise"] for r in pts]
        axes[0].plot(x, [r[f"weight[{stream}]"] if r[f"weight[{stream}]"] is not None else float("nan") for r in pts], "o-", label=m)
        axes[1].plot(x, [r[f"shapley_acc[{stream}]"] for r in pts], "o-", label=m)
    axes[0].set(title=f"weight of '{stream}'", xlabel="noise std")
    axes[1].set(title=f"Shapley value (accuracy) of '{stream}'", xlabel="noise std")
    axes[0].legend()
    fig.tight_layout()
    save_figure(fig, path)
