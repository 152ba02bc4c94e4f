"""``streamfuse sweep``: retrain at growing noise on one stream, track its weight and Shapley value.

For each noise level the data is reloaded with that much additive Gaussian noise on the chosen
stream (std relative to the stream's own), every requested method is trained (as a resumable
bench in ``OUT/noise-<level>``), and the mean learned weight and accuracy-Shapley value of every
stream are collected. Writes ``sweep.csv`` and ``sweep.png`` and prints, per method, whether the
degraded stream's weight and Shapley value fall: "yes" when no step from one noise level to the
next rises by more than ``TOLERANCE`` and the last value is more than ``TOLERANCE`` below the
first (``trend``); otherwise "no" with why (flat, rises, or not monotone).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from ..errors import StreamFuseError
from ..training.checkpoint import atomic_write_bytes
from .report import aggregate
from .runner import BenchConfig, check_fusion_options, parse_methods, run_bench

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


def run_sweep(args, levels: list[float]) -> int:
    from ..cli import _data_options, _load, _preset_name, _progress_factory, _train_config

    methods = parse_methods(args.fusions)
    train = _train_config(args, _preset_name(args.data))
    check_fusion_options(methods, train.fusion_options)
    base_opts = _data_options(args)
    rows = []
    streams = None
    for level in levels:
        noise = dict(base_opts.get("noise", {}), **{args.stream: level})
        data, opts = _load(args, extra_options={"noise": noise})
        if args.stream not in data.stream_names:
            raise StreamFuseError(f"--stream {args.stream!r} is not a stream of {args.data}; streams are {data.stream_names}")
        streams = list(data.stream_names)
        bench = BenchConfig(
            data=args.data, data_options=opts, data_seed=args.data_seed, methods=methods, seeds=args.seeds,
            out=str(Path(args.out) / f"noise-{level:g}"), train=train, baselines=False,
        )
        print(f"sweep: {args.stream} noise {level:g} -> {bench.out}", file=sys.stderr)
        runs = run_bench(bench, data, progress_factory=_progress_factory(args.quiet))
        for r in aggregate(runs, streams):
            row = {"noise": level, "method": r["method"], "accuracy": r["accuracy"]}
            for s in streams:
                row[f"weight[{s}]"] = r["weight"][s]
                row[f"shapley_acc[{s}]"] = r["shapley_acc"][s]
            rows.append(row)
    out = Path(args.out)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(out / "sweep.csv", lambda fh: fh.write(buf.getvalue().encode()))
    _plot(out / "sweep.png", rows, methods, args.stream)
    print(f"| method | {args.stream} weight by noise | falls? | {args.stream} Shapley by noise | falls? |")
    print("|---|---|---|---|---|")
    for m in methods:
        ws = [r[f"weight[{args.stream}]"] for r in rows if r["method"] == m]
        ss = [r[f"shapley_acc[{args.stream}]"] for r in rows if r["method"] == m]
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"| {m} | {' '.join(map(fmt, ws))} | {trend(ws)} | {' '.join(map(fmt, ss))} | {trend(ss)} |")
    print(f"\nfalls = no step up by more than {TOLERANCE} and the last value more than {TOLERANCE} below the first")
    print(f"wrote {out}/sweep.csv and sweep.png (per-level runs in {out}/noise-<level>/)")
    return 0


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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, lambda fh: fh.write(buf.getvalue()))
