"""The bench's ``linear`` baseline alone: on all streams and on each stream by itself.

    python benchmarks/linear_baseline.py DATA [--seeds N] [--data-option KEY=VALUE ...]

DATA is a built-in name or a folder, loaded as ``streamfuse bench --data DATA`` loads it (the same
quick settings for ``video``); the validation fraction is that of the dataset's CLI preset. For
every seed (which only changes the validation split that chooses C) it fits
``streamfuse.bench.linear.train_linear`` -- exactly what a bench ``linear`` row runs -- on the
concatenated streams and on every stream alone, and prints test accuracies (mean ± sd over seeds)
and the chosen C. The per-stream figures are the reference for a ``single:<stream>`` row.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from streamfuse.bench.linear import linear_spec, train_linear
from streamfuse.bench.presets import PRESETS, QUICK_DATA, parse_json_options, preset_name
from streamfuse.data import load_data
from streamfuse.training import predict


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("data")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--data-option", action="append", metavar="KEY=VALUE")
    p.add_argument("--streams", default="all,each", help="'all' (concatenated), 'each' (one by one) or both (default)")
    args = p.parse_args(argv)
    opts = dict(QUICK_DATA.get(args.data, {}), **parse_json_options(args.data_option, "data_option"))
    data = load_data(args.data, **opts)
    val_fraction = PRESETS[preset_name(args.data)].get("val_fraction", 0.15)
    spec = linear_spec(data)
    groups = {"all streams": list(data.stream_names)} if "all" in args.streams else {}
    if "each" in args.streams:
        groups.update({s: [s] for s in data.stream_names})
    print(f"{args.data} {opts or ''}: train {len(data.train)}, test {len(data.test)}, val_fraction {val_fraction}, seeds {args.seeds}")
    print("| streams | linear acc % (mean ± sd) | C per seed | fit s (mean) |\n|---|---|---|---|")
    for label, names in groups.items():
        accs, cs, secs = [], [], []
        for seed in range(args.seeds):
            sub = dict(spec, streams=names)
            model, info = train_linear(sub, data.train.streams, data.train.labels, val_fraction, seed)
            pred = predict(model, {s: data.test.streams[s] for s in names}).argmax(1)
            accs.append(100 * (pred == data.test.labels).float().mean().item())
            cs.append(f"{info['C']:g}")
            secs.append(info["train_seconds"])
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"| {label} | {statistics.fmean(accs):.1f} ± {sd:.1f} | {', '.join(cs)} | {statistics.fmean(secs):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
