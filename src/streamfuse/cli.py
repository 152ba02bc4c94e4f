"""The ``streamfuse`` command: bench, train, explain, sweep.

    streamfuse bench                     compare every fusion on the built-in video data (43 s on 2 idle cores)
    streamfuse bench --data mfeat --seeds 5 --out runs/mfeat
    streamfuse train --data basicmotions --fusion attention --save model.pt
    streamfuse explain model.pt          which stream carries the information?
    streamfuse sweep --data video --stream rgb --noise 0,0.5,1,2

Everything here sits above the library (``import streamfuse`` never imports it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from .errors import StreamFuseError

# Per-dataset training presets: what a run needs to converge on that data (see BENCHMARKS.md).
PRESETS = {
    "video": {"epochs": 15, "width": 32, "batch_size": 32, "lr": 3e-3, "patience": 8, "pool": "max"},
    "mfeat": {"epochs": 40, "width": 256, "batch_size": 64, "lr": 1e-3, "patience": 10, "dropout": 0.5},
    "basicmotions": {"epochs": 60, "width": 64, "batch_size": 16, "lr": 3e-3, "patience": 20, "val_fraction": 0.2},
    "folder": {"epochs": 40, "width": 64, "batch_size": 64, "lr": 1e-3, "patience": 10},
}


def _kv_list(text: str) -> dict:
    """``"rgb=0.5,pose=0"`` -> ``{"rgb": 0.5, "pose": 0.0}``."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise StreamFuseError(f"expected STREAM=VALUE pairs like 'rgb=0.5', got {part!r}")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise StreamFuseError(f"value for {k.strip()!r} must be a number, got {v!r}") from None
    return out


# Quick data settings for the default `streamfuse bench` (video, every method: 43 s on 2 idle CPU
# cores, BENCHMARKS.md); any option given on the command line replaces these. The full-size generator
# (600/300 clips of 16x16) is used by the BENCHMARKS.md runs via --data-option.
QUICK_DATA = {"video": {"n_train": 480, "n_test": 240}}


def _data_options(args) -> dict:
    opts = dict(QUICK_DATA.get(getattr(args, "data", None), {}))
    if getattr(args, "noise_streams", None):
        opts["noise"] = _kv_list(args.noise_streams)
    if getattr(args, "occlusion", None):
        opts["occlusion"] = _kv_list(args.occlusion)
    if getattr(args, "drop", None):
        opts["drop"] = [s.strip() for s in args.drop.split(",") if s.strip()]
    opts.update(_json_options(getattr(args, "data_option", None), "--data-option"))
    return opts


def _json_options(items, flag: str) -> dict:
    """``["n_train=300", "stream_norm=true"]`` -> ``{"n_train": 300, "stream_norm": True}`` (JSON values, else strings)."""
    opts = {}
    for item in items or []:
        if "=" not in item:
            raise StreamFuseError(f"{flag} expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            opts[k.strip()] = json.loads(v)
        except ValueError:
            opts[k.strip()] = v
    return opts


def _train_config(args, data_name: str):
    from .training import TrainConfig

    preset = dict(PRESETS.get(data_name, PRESETS["folder"]))
    for key in ("epochs", "width", "batch_size", "lr", "dim", "patience", "aux_loss"):
        if getattr(args, key, None) is not None:
            preset[key] = getattr(args, key)
    aux = preset.get("aux_loss", 0.0)
    if not math.isfinite(aux) or aux < 0:
        raise StreamFuseError(f"--aux-loss must be a number >= 0 (0 = no per-stream auxiliary losses), got {aux:g}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise StreamFuseError("--device cuda: no CUDA device is available here; use --device cpu")
    options = _json_options(getattr(args, "fusion_option", None), "--fusion-option")
    return TrainConfig(device=args.device, stacked=bool(getattr(args, "stacked", False)), fusion_options=options, **preset)


def _load(args, seed=None, extra_options=None):
    from .data import load_data

    opts = dict(_data_options(args), **(extra_options or {}))
    return load_data(args.data, seed=args.data_seed if seed is None else seed, **opts), opts


def _preset_name(spec: str) -> str:
    return spec if spec in PRESETS else "folder"


def _progress_factory(quiet: bool, stream=None):
    """Per-run progress: a tqdm bar on a terminal; into a file or pipe (logs, CI) plain lines at
    each quarter of the epochs and at the end, with no carriage returns."""
    if quiet:
        return None
    stream = sys.stderr if stream is None else stream
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return _line_progress(stream)
    from tqdm.auto import tqdm

    def factory(method, seed):
        bar = tqdm(total=1, desc=f"{method} seed {seed}", unit="epoch", leave=False, file=sys.stderr)

        def update(epoch, total, val_acc):
            bar.total = total
            bar.n = epoch
            bar.set_postfix(val_acc=f"{val_acc:.3f}")
            bar.refresh()

        update.close = bar.close
        return update

    return factory


def _line_progress(stream):
    def factory(method, seed):
        state = {"quarter": 0, "last": None, "printed": None}

        def say(epoch, total, val_acc):
            print(f"  {method} seed {seed}: epoch {epoch}/{total}  val_acc {val_acc:.3f}", file=stream, flush=True)
            state["printed"] = epoch

        def update(epoch, total, val_acc):
            state["last"] = (epoch, total, val_acc)
            quarter = 4 * epoch // max(total, 1)
            if quarter > state["quarter"]:
                state["quarter"] = quarter
                say(epoch, total, val_acc)

        def close():
            if state["last"] is not None and state["printed"] != state["last"][0]:
                say(*state["last"])  # early stop between quarters: the epoch it ended on

        update.close = close
        return update

    return factory


# ----------------------------------------------------------------------------- commands
def cmd_bench(args) -> int:
    from .bench import BenchConfig, aggregate, format_table, parse_methods, run_bench, write_results
    from .bench.runner import check_fusion_options

    cfg = _train_config(args, _preset_name(args.data))  # bad options fail before the data is made
    data, opts = _load(args)
    methods = parse_methods(args.fusions, len(data.stream_names))
    check_fusion_options(methods, cfg.fusion_options)
    bench = BenchConfig(
        data=args.data, data_options=opts, data_seed=args.data_seed,
        methods=methods, seeds=args.seeds,
        out=args.out, train=cfg, baselines=not args.no_baselines, stream_dropout=args.stream_dropout,
        save_checkpoints=args.save_checkpoints,
    )
    streams = list(data.stream_names)
    runs: list[dict] = []

    def on_run(run, resumed):
        runs.append(run)
        if not args.json:
            tag = "resumed" if resumed else f"{run['train_seconds']:.1f}s"
            print(f"  {run['method']:<18} seed {run['seed']}  acc {100 * run['accuracy']:.1f}%  ({tag})", file=sys.stderr)
        write_results(Path(args.out), _config_dict(bench), aggregate(runs, streams), runs, streams)

    if not args.json:
        print(f"bench: data={args.data} streams={streams} train={len(data.train.labels)} test={len(data.test.labels)} -> {args.out}", file=sys.stderr)
    run_bench(bench, data, on_run=on_run, progress_factory=_progress_factory(args.quiet or args.json))
    rows = aggregate(runs, streams)
    if args.json:
        print(json.dumps({"config": _config_dict(bench), "methods": rows}, indent=1, default=str))
    else:
        print(format_table(rows, streams))
        print(f"\nwrote {args.out}/results.json, results.csv, accuracy.png, weights.png")
    return 0


def _config_dict(bench) -> dict:
    from dataclasses import asdict

    return asdict(bench)


def cmd_train(args) -> int:
    from .bench.runner import check_fusion_options, evaluate_run, model_spec, parse_methods
    from .training import save_checkpoint, train_model
    from .training.models import baseline

    out = Path(args.save)
    if out.exists() and not args.overwrite:
        raise StreamFuseError(f"{str(out)!r} exists; nothing was overwritten. Choose another --save path or pass --overwrite")
    method = args.fusion
    if not baseline(method):
        parse_methods(method)
    elif args.fusion_option:
        raise StreamFuseError(f"--fusion-option applies to fusion models; the baseline {method!r} has no fusion")
    elif args.aux_loss:
        raise StreamFuseError(f"--aux-loss applies to fusion models; the baseline {method!r} is trained without it")
    elif args.stacked:
        raise StreamFuseError(f"--stacked applies to fusion models; the baseline {method!r} trains its encoders directly")
    cfg = _train_config(args, _preset_name(args.data))
    if not baseline(method):
        check_fusion_options([method], cfg.fusion_options)
    data, opts = _load(args)
    cfg.seed = args.seed
    if args.stream_dropout:
        cfg.fusion_options = dict(cfg.fusion_options, stream_dropout=args.stream_dropout)
    spec = model_spec(method, data, cfg, 0.0)
    factory = _progress_factory(args.quiet)
    progress = factory(method, args.seed) if factory else None
    model, info = train_model(spec, data.train.streams, data.train.labels, cfg, progress=progress)
    if progress is not None:
        progress.close()
    result = evaluate_run(model, data, spec, next(model.parameters()).device)
    data_ref = {"data": args.data, "data_options": opts, "data_seed": args.data_seed}
    save_checkpoint(out, model, spec, dict(cfg.to_dict(), **data_ref), {k: v for k, v in result.items() if k != "importance"})
    print(f"{method}: test accuracy {100 * result['accuracy']:.1f}%  macro-F1 {100 * result['macro_f1']:.1f}%  "
          f"({info['epochs_run']} epochs, {info['train_seconds']:.1f}s) -> {out}")
    if "importance" in result:
        print(result["importance"]["verdict"])
    return 0


def cmd_explain(args) -> int:
    from .importance import stream_importance
    from .training import load_checkpoint

    png = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(".importance.png")
    if png.exists() and not args.overwrite:
        raise StreamFuseError(f"{str(png)!r} exists; nothing was overwritten. Pass --out PATH or --overwrite")
    model, payload = load_checkpoint(args.checkpoint)
    cfg = payload["config"]
    if args.data is None:
        args.data, args.data_seed = cfg.get("data"), cfg.get("data_seed", 0)
        extra = cfg.get("data_options") or {}
        if args.data is None:
            raise StreamFuseError(f"checkpoint {args.checkpoint!r} does not record its data; pass --data")
    else:
        extra = {}
    data, _ = _load(args, extra_options=extra)
    streams = payload["spec"]["streams"]
    imp = stream_importance(model, ({s: data.test.streams[s] for s in streams}, data.test.labels), per_class=args.per_class)
    print(imp.to_markdown())
    print()
    print(imp.verdict)
    _importance_plot(imp, png)
    print(f"wrote {png}")
    return 0


def _importance_plot(imp, path: Path) -> dict:
    """Three panels (mean weight, accuracy drop when removed, accuracy Shapley) with 95% intervals,
    the verdict wrapped in full above them; the stream(s) the verdict names are drawn dark and a
    tie is labelled on every tied bar; an all-zero or absent panel says so. Returns what it drew."""
    import io
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .training.checkpoint import atomic_write_bytes

    rows = imp.table
    names = [r["stream"] for r in rows]
    leaders = list(getattr(imp, "leaders", []) or [])
    tag = "tie" if len(leaders) > 1 else "top"
    cols = [("weight", "mean learned weight"), ("ablation_acc_drop", "accuracy drop when removed"),
            ("shapley_acc", "Shapley value (accuracy)")]
    lines = textwrap.wrap(imp.verdict, width=175) or [""]
    text_h = 0.17 * len(lines) + 0.2
    fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 3.4 + text_h))
    panels = []
    for ax, (key, title) in zip(axes, cols):
        values = [r.get(key) for r in rows]
        ax.set_title(title, fontsize=10)
        if all(v is None for v in values):
            note = "not measured" if key != "weight" else "no learned weights\n(this model has none)"
            ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, color="#666666")
            ax.set_xticks([])
            ax.set_yticks([])
            panels.append({"key": key, "values": values, "note": note})
            continue
        vals = [v or 0.0 for v in values]
        ci = [r.get(f"{key}_ci95") for r in rows]
        err = None
        if all(c is not None for c in ci):
            err = [[max(v - c[0], 0.0) for v, c in zip(vals, ci)], [max(c[1] - v, 0.0) for v, c in zip(vals, ci)]]
        colors = ["#223f66" if n in leaders else "#88a8d4" for n in names]
        ax.bar(names, vals, yerr=err, capsize=4, color=colors)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.margins(y=0.15)  # room for the top/tie labels
        note = None
        if all(v == 0 for v in vals) and err is None or all(v == 0 for v in vals) and not any(max(e) for e in err):
            why = ": removing any one stream changes no prediction" if key == "ablation_acc_drop" else ""
            note = "all streams exactly 0" + why
            ax.text(0.5, 0.72, textwrap.fill(note, 30), ha="center", va="center", transform=ax.transAxes, color="#666666")
            ax.set_ylim(-1, 1)
        elif leaders and key != "weight":
            for i, n in enumerate(names):
                if n in leaders:
                    y = vals[i] + (err[1][i] if err is not None else 0.0)  # above the interval's top
                    ax.annotate(tag, (i, max(y, 0.0)), xytext=(0, 3), textcoords="offset points", ha="center",
                                fontsize=9, fontweight="bold")
        panels.append({"key": key, "values": vals, "note": note, "ci": err is not None})
    fig.text(0.01, 0.99, "\n".join(lines), ha="left", va="top", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - text_h / (3.4 + text_h)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, lambda fh: fh.write(buf.getvalue()))
    return {"title_lines": lines, "panels": panels, "leaders": leaders, "tag": tag if leaders else None}


def cmd_sweep(args) -> int:
    from .bench.sweep import run_sweep

    levels = []
    for t in args.noise.split(","):
        try:
            levels.append(float(t))
        except ValueError:
            raise StreamFuseError(f"--noise expects comma-separated numbers like 0,0.5,1,2; got {t!r}") from None
    return run_sweep(args, levels)


def cmd_list(args) -> int:
    from . import fusion_options, list_fusions
    from .data import list_datasets

    print("fusion methods:")
    for name in list_fusions():
        print(f"  {name:<16} options: {', '.join(fusion_options(name))}")
    print("datasets: " + ", ".join(list_datasets()) + ", or a folder of .npz files (see README)")
    return 0


# ----------------------------------------------------------------------------- parser
def _add_data_args(p, default="video"):
    which = ("default: the data recorded in the checkpoint, with its options and seed" if default is None
             else f"default {default}")
    p.add_argument("--data", default=default,
                   help=f"video (generated) | mfeat | basicmotions | PATH to a folder of .npz files ({which})")
    p.add_argument("--data-seed", type=int, default=0, help="seed of generated data (video) (default 0)")
    p.add_argument("--noise-streams", metavar="S=STD,...", help="add Gaussian noise to streams, e.g. rgb=1.0 (std relative to the stream's)")
    p.add_argument("--occlusion", metavar="S=FRAC,...", help="video: occlude a fraction of each frame of a stream, e.g. pose=0.3")
    p.add_argument("--drop", metavar="S,...", help="video: replace streams by pure noise (they carry no information)")
    p.add_argument("--data-option", action="append", metavar="KEY=VALUE", help="any other loader option, e.g. n_train=300")


def _add_train_args(p):
    p.add_argument("--epochs", type=int, help="training epochs (default: the dataset's preset)")
    p.add_argument("--width", type=int, help="encoder width")
    p.add_argument("--dim", type=int, help="fused width D")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--patience", type=int, help="early stopping: epochs without validation improvement")
    p.add_argument("--aux-loss", type=float, metavar="LAMBDA", help=
                   "add LAMBDA x the mean of per-stream auxiliary classifiers' losses (fusion models; default 0 = off)")
    p.add_argument("--stacked", action="store_true", help=
                   "fusion models: train each stream's encoder alone on half the training set, then only the "
                   "fusion head (encoders frozen) on the other half, so weights reflect unseen data")
    p.add_argument("--fusion-option", action="append", metavar="KEY=VALUE", help=
                   "an option of the fusion methods, e.g. stream_norm=true or num_heads=2 (repeatable; "
                   "see `streamfuse list`; every fusion trained must accept it)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, metavar="N", help=
                   "CPU threads for torch (default: torch's, one per core); on cores shared with other jobs "
                   "threads wait for each other and a run can take several times longer -- use --threads 1 there")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamfuse",
        description="Learned fusion of multi-stream networks: compare fusion methods on your data and find out which stream carries the information.",
        epilog="Start with `streamfuse bench` (43 s on 2 idle CPU cores, torch 2.13; several times longer when the "
               "cores are shared: see --threads). `streamfuse COMMAND --help` for details.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("bench", help="train and compare fusion methods on one dataset", description=
                       "Train every (fusion, seed), print a table per method and write results.json, results.csv and plots. Resumable.")
    _add_data_args(p)
    p.add_argument("--fusions", default="all", help="'all' or a comma list, e.g. attention,gmu (see `streamfuse list`)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per method (default 1)")
    p.add_argument("--out", default="runs/bench", help="output folder; re-running the same command resumes (default runs/bench)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout instead of a table")
    p.add_argument("--no-baselines", action="store_true", help="skip the single-stream and late-fusion baselines")
    p.add_argument("--stream-dropout", type=float, default=0.0, help="also train each fusion with this stream dropout ('<method>+sd')")
    p.add_argument("--save-checkpoints", action="store_true", help="keep every trained model under OUT/checkpoints")
    _add_train_args(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train", help="train one model and save a checkpoint")
    _add_data_args(p)
    p.add_argument("--fusion", default="adaptive", help="fusion method, 'late', or 'single:STREAM'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stream-dropout", type=float, default=0.0)
    p.add_argument("--save", default="model.pt", help="checkpoint path (never overwritten unless --overwrite)")
    p.add_argument("--overwrite", action="store_true")
    _add_train_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("explain", help="stream importance of a trained checkpoint: weights vs ablation vs Shapley")
    p.add_argument("checkpoint")
    _add_data_args(p, default=None)
    p.add_argument("--per-class", action="store_true")
    p.add_argument("--out", help="PNG path (default CHECKPOINT.importance.png; never overwritten unless --overwrite)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("sweep", help="retrain at growing noise on one stream; plot weights and Shapley values")
    _add_data_args(p)
    p.add_argument("--stream", required=True, help="the stream to degrade")
    p.add_argument("--noise", default="0,0.25,0.5,1,2", help="comma-separated noise levels (default 0,0.25,0.5,1,2)")
    p.add_argument("--fusions", default="scalar,adaptive,attention,gmu")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--out", default="runs/sweep", help=
                   "output folder (default runs/sweep): a resumable bench per level in OUT/noise-<level>, then "
                   "OUT/sweep.csv and OUT/sweep.png")
    _add_train_args(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("list", help="list fusion methods (with options) and datasets")
    p.set_defaults(func=cmd_list)
    return parser


def _set_threads(n) -> None:
    """``--threads N``: torch intra-op threads for this process (checked before any data or training)."""
    if n is None:
        return
    if n < 1:
        raise StreamFuseError(f"--threads must be an integer >= 1 (CPU threads for torch), got {n}")
    import torch

    torch.set_num_threads(n)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        _set_threads(getattr(args, "threads", None))
        return args.func(args)
    except StreamFuseError as exc:
        print(f"streamfuse {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished runs are kept in {getattr(args, 'out', '.')} and a re-run resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
