"""``streamfuse sweep``: retrain at growing noise on one stream, track its weight and Shapley value.

For each noise level the data is reloaded with that much additive Gaussian noise on the chosen
stream (std relative to the stream's own), every requested method is trained (as a resumable
bench in ``OUT/noise-<level>``), and the mean learned weight and accuracy-Shapley value of every
stream are collected. Writes ``sweep.csv`` and ``sweep.png`` and prints, per method, whether the
degraded stream's weight and Shapley value fall monotonically (within ``TOLERANCE``).
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

TOLERANCE = 0.02  # a rise of up to 0.02 between consecutive levels still counts as "falling"


def is_monotone_falling(values: list[float], tol: float = TOLERANCE) -> bool:
    vals = [v for v in values if v is not None]
    return all(b <= a + tol for a, b in zip(vals, vals[1:]))


def run_sweep(args, levels: list[float]) -> int:
    from ..cli import _data_options, _load, _preset_name, _progress_factory, _sized, _train_config

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
        train = _sized(train, args, data)  # user data: settings sized from the data (the same at every level)
        bench = BenchConfig(
            data=args.data, data_options=opts, data_seed=args.data_seed, methods=methods, seeds=args.seeds,
            out=str(Path(args.out) / f"noise-{level:g}"), train=train, baselines=False,
        )
        print(f"sweep: {args.stream} noise {level:g}", file=sys.stderr)
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
        print(f"| {m} | {' '.join(map(fmt, ws))} | {is_monotone_falling(ws)} | {' '.join(map(fmt, ss))} | {is_monotone_falling(ss)} |")
    print(f"\nwrote {out}/sweep.csv and sweep.png (tolerance {TOLERANCE})")
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
