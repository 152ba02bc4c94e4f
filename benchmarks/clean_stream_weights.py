"""Per-seed check of the video degradation target: does the clean stream get most of the weight?

Reads the run files a `streamfuse bench` wrote (``OUT/runs/*.json``) and prints, per fusion
method: test accuracy (mean ± sd over seeds), the clean stream's mean weight (min–max over
seeds), in how many seeds it got the majority, the mean accuracy-Shapley values of the clean and
the degraded stream, and in how many seeds the clean stream's Shapley value was at least five
times the degraded stream's absolute value. Baselines carry no weights and are skipped.

    python benchmarks/clean_stream_weights.py runs/stacked5-drop-pose --clean rgb --degraded pose
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="a bench output folder")
    parser.add_argument("--clean", required=True)
    parser.add_argument("--degraded", required=True)
    args = parser.parse_args()
    per_method: dict[str, list[tuple]] = {}
    for path in sorted(Path(args.out, "runs").glob("*.json")):
        run = json.loads(path.read_text())
        if run["method"] == "late" or "importance" not in run or run["importance"]["table"][0].get("weight") is None:
            continue  # baselines: no learned weights (late fusion's are a constant 1/S)
        table = {row["stream"]: row for row in run["importance"]["table"]}
        for flag, name in (("--clean", args.clean), ("--degraded", args.degraded)):
            if name not in table:
                raise SystemExit(f"{flag} {name!r}: {path} has streams {sorted(table)}")
        clean, bad = table[args.clean], table[args.degraded]
        per_method.setdefault(run["method"], []).append((run["accuracy"], clean["weight"], clean["shapley_acc"], bad["shapley_acc"]))
    if not per_method:
        raise SystemExit(f"{args.out}/runs holds no fusion runs with learned weights (is it a `streamfuse bench --out` folder?)")
    print(f"| method | acc % | w[{args.clean}] mean (min–max) | seeds w > 0.5 | Shapley {args.clean} / {args.degraded} | seeds Shapley ≥ 5× |")
    print("|---|---|---|---|---|---|")
    for method, runs in per_method.items():
        acc, w, good, bad = (list(col) for col in zip(*runs))
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(
            f"| {method} | {100 * statistics.mean(acc):.1f} ± {100 * sd:.1f} | {statistics.mean(w):.2f} ({min(w):.2f}–{max(w):.2f}) "
            f"| {sum(x > 0.5 for x in w)}/{len(w)} | {statistics.mean(good):.3f} / {statistics.mean(bad):.3f} "
            f"| {sum(g >= 5 * abs(b) for g, b in zip(good, bad))}/{len(w)} |"
        )


if __name__ == "__main__":
    main()
