"""Side-by-side table of bench folders trained with different ``--balance`` recipes.

    python benchmarks/balance_table.py OUT_none OUT_warmstart OUT_gblend OUT_ogm

Each folder is a finished ``streamfuse bench --balance NAME --out OUT`` run. Prints one row per
(method, folder): test accuracy (mean over seeds), its gap to the best single stream of the same
folder, each stream's mean learned weight and accuracy-Shapley value, and the mean training
seconds relative to the same method under the first folder (which should be ``--balance none``).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def load(folder: Path) -> tuple[str, dict]:
    runs = [json.loads(p.read_text()) for p in sorted((folder / "runs").glob("*.json"))]
    if not runs:
        raise SystemExit(f"{folder}: no runs/*.json (is it a bench --out folder?)")
    by_method = defaultdict(list)
    for r in runs:
        by_method[r["method"]].append(r)
    results = folder / "results.json"
    recipe = json.loads(results.read_text())["config"]["train"].get("balance", "none") if results.exists() else "?"
    return recipe, by_method


def main(folders: list[str]) -> None:
    tables = [(Path(f), *load(Path(f))) for f in folders]
    # CPU seconds when every run has them (a shared machine stretches wall time, not CPU time)
    key = "train_cpu_seconds" if all("train_cpu_seconds" in r for _, _, bm in tables for rs in bm.values() for r in rs) else "train_seconds"
    base_seconds = {m: statistics.mean(r[key] for r in rs) for m, rs in tables[0][2].items()}
    unit = "train CPU s" if key == "train_cpu_seconds" else "train s"
    print("| method | recipe | acc % | vs best single | " + f"weights | Shapley (acc) | {unit} (× first) |")
    print("|---|---|---|---|---|---|---|")
    for folder, recipe, by_method in tables:
        singles = {m: statistics.mean(r["accuracy"] for r in rs) for m, rs in by_method.items() if m.startswith("single:")}
        best = max(singles.values()) if singles else float("nan")
        for method, rs in by_method.items():
            if method.startswith("single:") and folder != tables[0][0]:
                continue
            acc = statistics.mean(r["accuracy"] for r in rs)
            weights, shap = "-", "-"
            if "importance" in rs[0]:
                table = rs[0]["importance"]["table"]
                if table[0].get("weight") is not None:  # concat, lowrank and linear have no weights
                    w = [statistics.mean(r["importance"]["table"][i]["weight"] for r in rs) for i in range(len(table))]
                    weights = " / ".join(f"{t['stream']} {v:.2f}" for t, v in zip(table, w))
                sh = [statistics.mean(r["importance"]["table"][i].get("shapley_acc") or 0.0 for r in rs) for i in range(len(table))]
                shap = " / ".join(f"{v:.3f}" for v in sh)
            secs = statistics.mean(r[key] for r in rs)
            ratio = f"{secs / base_seconds[method]:.1f}" if method in base_seconds and base_seconds[method] > 0 else "-"
            print(f"| {method} | {recipe} | {100 * acc:.1f} | {100 * (acc - best):+.1f} | {weights} | {shap} | {secs:.0f} ({ratio}) |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
