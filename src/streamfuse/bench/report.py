"""Aggregate bench runs into one row per method; write results.json, results.csv and PNG plots."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path

from ..importance.spearman import spearman
from .._io import atomic_write_bytes, save_figure
from ..training.models import baseline


def _mean_std(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _row_importance(imp_list, streams, field):
    """Mean over seeds of one importance field, per stream (None where no run has it)."""
    out = {}
    for s in streams:
        vals = []
        for imp in imp_list:
            for row in imp.get("table", []):
                if row["stream"] == s and row.get(field) is not None:
                    vals.append(row[field])
        out[s] = statistics.fmean(vals) if vals else None
    return out


def _accuracy_without(run: dict, stream: str):
    """Test accuracy of one run with ``stream`` masked out (None without an importance table)."""
    for row in (run.get("importance") or {}).get("table", []):
        if row["stream"] == stream and row.get("ablation_acc_drop") is not None:
            return run["accuracy"] - row["ablation_acc_drop"]
    return None


def aggregate(runs: list[dict], streams: list[str]) -> list[dict]:
    by_method: dict[str, list[dict]] = {}
    for r in runs:
        by_method.setdefault(r["method"], []).append(r)
    rows = []
    for method, rs in by_method.items():
        acc, acc_sd = _mean_std([r["accuracy"] for r in rs])
        f1, f1_sd = _mean_std([r["macro_f1"] for r in rs])
        imps = [r["importance"] for r in rs if r.get("importance")]
        row = {
            "method": method,
            "seeds": len(rs),
            "accuracy": acc,
            "accuracy_std": acc_sd,
            "macro_f1": f1,
            "macro_f1_std": f1_sd,
            "params": rs[0]["params"],
            "train_seconds": statistics.fmean(r["train_seconds"] for r in rs),
            # runs (of ``seeds``) whose model left the stream out: no information alone on validation
            "left_out": {s: sum(s in (r.get("left_out") or []) for r in rs) for s in streams},
            # process CPU seconds (runs made before it was recorded: None)
            "train_cpu_seconds": (statistics.fmean(r["train_cpu_seconds"] for r in rs)
                                  if all("train_cpu_seconds" in r for r in rs) else None),
            "infer_samples_per_s": statistics.median(r["infer_samples_per_s"] for r in rs),
            "weight": _row_importance(imps, streams, "weight"),
            "shapley_acc": _row_importance(imps, streams, "shapley_acc"),
            "ablation_acc_drop": _row_importance(imps, streams, "ablation_acc_drop"),
            "accuracy_without": {s: _mean_std([_accuracy_without(r, s) for r in rs])[0] for s in streams},
            "shapley_loglik": _row_importance(imps, streams, "shapley_loglik"),
            # Two views of weight-vs-Shapley agreement (Shapley of the log-likelihood): the mean of
            # each seed's rank correlation, and the rank correlation of the seed-averaged values.
            # With near-equal Shapley values single seeds reorder them; the second is the ranking
            # of the method's average behaviour.
            "spearman_weight_shapley": _mean_std([(i.get("agreement") or {}).get("weights_vs_shapley") for i in imps])[0],
        }
        means_w, means_sh = list(row["weight"].values()), list(row["shapley_loglik"].values())
        rho = spearman(means_w, means_sh) if imps else math.nan
        row["spearman_weight_shapley_of_means"] = None if math.isnan(rho) else rho
        rows.append(row)
    return rows


def _fmt(v, pct=False, digits=3):
    if v is None:
        return "-"
    return f"{100 * v:.1f}" if pct else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def format_table(rows: list[dict], streams: list[str]) -> str:
    """A markdown table: one row per method."""
    head = ["method", "acc % (mean ± sd)", "macro-F1 %", "params", "train s", "infer/s"]
    head += [f"w[{s}]" for s in streams] + [f"Shapley[{s}]" for s in streams] + [f"acc w/o {s} %" for s in streams]
    head += ["ρ(w, Shapley) per seed / of means"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["method"],
            f"{_fmt(r['accuracy'], True)} ± {_fmt(r['accuracy_std'], True)}",
            f"{_fmt(r['macro_f1'], True)} ± {_fmt(r['macro_f1_std'], True)}",
            f"{r['params']:,}",
            f"{r['train_seconds']:.1f}",
            f"{r['infer_samples_per_s']:,.0f}",
        ]
        cells += [_fmt(r["weight"][s], digits=2) for s in streams]
        cells += [_fmt(r["shapley_acc"][s], digits=3) for s in streams]
        cells += [_fmt(r["accuracy_without"][s], True) for s in streams]
        cells.append(f"{_fmt(r.get('spearman_weight_shapley'), digits=2)} / {_fmt(r.get('spearman_weight_shapley_of_means'), digits=2)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(out: Path, config: dict, rows: list[dict], runs: list[dict], streams: list[str], plots: bool = True) -> None:
    """``results.json`` and ``results.csv``, then (``plots``) ``accuracy.png`` and ``weights.png``."""
    out = Path(out)
    payload = {"config": config, "streams": streams, "methods": rows, "verdict": baseline_verdict(rows), "runs": runs}
    atomic_write_bytes(out / "results.json", lambda fh: fh.write(json.dumps(payload, indent=1, default=str).encode()))
    buf = io.StringIO()
    flat = []
    for r in rows:
        f = {k: v for k, v in r.items() if not isinstance(v, dict)}
        for key in ("weight", "shapley_acc", "shapley_loglik", "ablation_acc_drop", "accuracy_without"):
            f.update({f"{key}[{s}]": r[key][s] for s in streams})
        flat.append(f)
    writer = csv.DictWriter(buf, fieldnames=list(flat[0]) if flat else ["method"])
    writer.writeheader()
    writer.writerows(flat)
    atomic_write_bytes(out / "results.csv", lambda fh: fh.write(buf.getvalue().encode()))
    if plots:  # ~2 s of matplotlib: the bench draws them once at the end, not after every run
        write_plots(out, rows, streams, config, _num_classes(runs))


FIXED_WEIGHTS = {"sum": "1 each", "mean": "1/S each", "late": "1/S each"}  # reported, not learned


def _base(method: str) -> str:
    return method.split("+")[0]


def _num_classes(runs: list[dict]) -> int | None:
    for r in runs:
        k = (r.get("importance") or {}).get("num_classes")
        if k:
            return int(k)
    return None


def plot_title(config: dict | None) -> str:
    """``video (n_train=480, n_test=240) | 1 seed | 15 epochs, width 32, lr 0.003``: data and settings."""
    if not config:
        return ""
    opts = ", ".join(f"{k}={v}" for k, v in (config.get("data_options") or {}).items())
    train = config.get("train") or {}
    seeds = config.get("seeds", 1)
    parts = [f"{config.get('data')}" + (f" ({opts})" if opts else ""), f"{seeds} seed{'s' if seeds != 1 else ''}"]
    settings = [f"{train[k]} {label}" if label != "lr" else f"lr {train[k]:g}"
                for k, label in (("epochs", "epochs"), ("width", "width"), ("lr", "lr")) if train.get(k) is not None]
    settings = [x if not x.endswith(" width") else f"width {x.split()[0]}" for x in settings]
    if train.get("stacked"):
        settings.append("stacked")
    if train.get("balance", "none") != "none":
        settings.append(f"balance {train['balance']}")
    if config.get("stream_dropout"):
        settings.append(f"stream dropout {config['stream_dropout']:g}")
    return " | ".join(parts + ([", ".join(settings)] if settings else []))


def write_plots(out: Path, rows: list[dict], streams: list[str], config: dict | None = None,
                num_classes: int | None = None) -> dict:
    """Write ``accuracy.png`` and ``weights.png``; return what each shows (bar order, reference
    lines, title, excluded methods) so that tests can check a plot's content."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title = plot_title(config)
    record = {"accuracy": _plot_accuracy(plt, out / "accuracy.png", rows, title, num_classes)}
    record["weights"] = _plot_weights(plt, out / "weights.png", rows, streams, title)
    plt.close("all")
    return record


def _plot_accuracy(plt, path: Path, rows: list[dict], title: str, num_classes: int | None) -> dict:
    """Bars sorted best first, y from 0 to 100 %, lines at best single stream, late fusion, chance."""
    order = sorted(rows, key=lambda r: -(r["accuracy"] or 0))
    names = [r["method"] for r in order]
    colors = ["#999999" if n.startswith("single:") or n == "linear" else "#ee7733" if _base(n) == "late" else "#4477aa" for n in names]
    fig, ax = plt.subplots(figsize=(max(7, 0.55 * len(order) + 3), 4.6))
    ax.bar(names, [100 * (r["accuracy"] or 0) for r in order], yerr=[100 * (r["accuracy_std"] or 0) for r in order],
           capsize=3, color=colors)
    lines = []
    singles = [r for r in rows if r["method"].startswith("single:") and r["accuracy"] is not None]
    if singles:
        best = max(singles, key=lambda r: r["accuracy"])
        label = f"best single stream ({best['method'][7:]}) {100 * best['accuracy']:.1f}%"
        lines.append((label, 100 * best["accuracy"], "#555555", "--"))
    late = [r for r in rows if r["method"] == "late" and r["accuracy"] is not None]
    if late:
        lines.append((f"late fusion {100 * late[0]['accuracy']:.1f}%", 100 * late[0]["accuracy"], "#ee7733", "-."))
    if num_classes:
        lines.append((f"chance (1/{num_classes}) {100 / num_classes:.1f}%", 100 / num_classes, "#cc3311", ":"))
    for label, y, color, style in lines:
        ax.axhline(y, color=color, linestyle=style, linewidth=1.2, label=label)
    ax.set_ylim(0, 100)
    ax.set_ylabel("test accuracy (%)")
    ax.tick_params(axis="x", rotation=60)
    if lines:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    spread = " (error bars: sd over seeds)" if any((r.get("seeds") or 1) > 1 for r in rows) else ""
    full = f"test accuracy, best first{spread}" + (f"\n{title}" if title else "")
    ax.set_title(full, fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    return {"order": names, "ylim": (0, 100), "lines": {label: y for label, y, _, _ in lines}, "title": full}


def _plot_weights(plt, path: Path, rows: list[dict], streams: list[str], title: str) -> dict:
    """Left: learned weights (shares of 0..1) of methods that learn them; methods with fixed weights
    are named under the axis instead. Right: Shapley values of every method that has them."""
    has = lambda r, key: any(v is not None for v in r[key].values())  # noqa: E731
    learned = [r for r in rows if has(r, "weight") and _base(r["method"]) not in FIXED_WEIGHTS]
    fixed = [r["method"] for r in rows if has(r, "weight") and _base(r["method"]) in FIXED_WEIGHTS]
    shap = [r for r in rows if has(r, "shapley_acc")]
    fig, axes = plt.subplots(1, 2, figsize=(max(9, 0.6 * (len(learned) + len(shap)) + 4), 4.6))
    width = 0.8 / max(len(streams), 1)
    for ax, key, group in ((axes[0], "weight", learned), (axes[1], "shapley_acc", shap)):
        for k, s in enumerate(streams):
            ax.bar([i + k * width for i in range(len(group))], [r[key][s] or 0 for r in group], width, label=s)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(group))], [r["method"] for r in group], rotation=60)
        if not group:
            ax.text(0.5, 0.5, "no method has these values", ha="center", va="center", transform=ax.transAxes)
    axes[0].set_ylim(0, 1)
    axes[0].set_title("mean learned weight (share of 1)", fontsize=9)
    axes[0].set_ylabel("weight")
    axes[1].set_title("Shapley value (accuracy, held-out)", fontsize=9)
    axes[1].axhline(0, color="black", linewidth=0.8)
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: bars reach 1
    notes = []
    left = {s: sum(r.get("left_out", {}).get(s, 0) for r in rows) for s in streams}
    if any(left.values()):
        runs = sum(r.get("seeds") or 1 for r in rows if not baseline(_base(r["method"])))  # baselines keep every stream
        notes.append("left out as showing no information alone on validation (weight and Shapley 0): "
                     + ", ".join(f"{s} in {n} of {runs} runs" for s, n in left.items() if n))
    if fixed:
        notes.append("fixed, not learned (not shown): " + ", ".join(f"{m} ({FIXED_WEIGHTS[_base(m)]})" for m in fixed))
    if title:
        fig.suptitle(title, fontsize=9)
    if notes:
        fig.text(0.01, 0.01, "; ".join(notes), fontsize=8)
    fig.tight_layout(rect=(0, 0.04 if notes else 0, 1, 0.95 if title else 1))
    _save(fig, path)
    return {"weights": [r["method"] for r in learned], "shapley": [r["method"] for r in shap], "fixed": fixed,
            "weight_ylim": tuple(axes[0].get_ylim()), "note": "; ".join(notes), "title": title}


def _save(fig, path: Path) -> None:
    save_figure(fig, path)


def _is_fusion(method: str) -> bool:
    """Fusion methods, ``late_learned`` (learned score-level fusion) included; not the baselines."""
    return not baseline(method)


def baseline_verdict(rows: list[dict]) -> str:
    """One plain sentence: does the best fusion beat the linear baseline and the best single
    stream (mean test accuracy over seeds; a tie is not a win)? Empty when there is nothing to
    compare (no fusion, or neither baseline was run)."""
    fusions = [r for r in rows if _is_fusion(r["method"]) and r["accuracy"] is not None]
    linear = next((r for r in rows if r["method"] == "linear" and r["accuracy"] is not None), None)
    singles = [r for r in rows if r["method"].startswith("single:") and r["accuracy"] is not None]
    if not fusions or (linear is None and not singles):
        return ""
    best = max(fusions, key=lambda r: r["accuracy"])
    refs = [("the linear baseline", linear)] if linear else []
    if singles:
        top = max(singles, key=lambda r: r["accuracy"])
        refs.append((f"the best single stream ({top['method']})", top))
    lost = [(name, r) for name, r in refs if best["accuracy"] <= r["accuracy"]]

    def pct(r):
        return f"{100 * r['accuracy']:.1f} %"

    if lost:
        return "No fusion beats " + " or ".join(f"{name}: {pct(r)}" for name, r in lost) + f"; the best fusion, {best['method']}, reaches {pct(best)}."
    margins = [(name, 100 * (best["accuracy"] - r["accuracy"]), max(best["accuracy_std"] or 0, r["accuracy_std"] or 0)) for name, r in refs]
    spread = "1 seed, no spread measured" if best["seeds"] < 2 else (
        "a margin within one seed standard deviation: read it as a tie" if any(m <= 100 * sd for _, m, sd in margins) else "each by more than one seed standard deviation")
    return f"Best fusion {best['method']} ({pct(best)}) beats " + " and ".join(f"{name} by {m:.1f} points" for name, m, _ in margins) + f" ({spread})."
