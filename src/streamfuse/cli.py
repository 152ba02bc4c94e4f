"""The ``streamfuse`` command: bench, train, explain, sweep.

    streamfuse bench                     compare every fusion on the built-in video data
    streamfuse bench --data mfeat --seeds 5 --out runs/mfeat
    streamfuse train --data basicmotions --fusion attention --save model.pt
    streamfuse explain model.pt          which stream carries the information?
    streamfuse sweep --data video --stream rgb --noise 0,0.5,1,2

Everything here sits above the library (``import streamfuse`` never imports it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import StreamFuseError

# Third-party packages each command needs, all from the "bench" extra (the library needs torch only).
EXTRAS = {"list": ("numpy",), "bench": ("numpy", "matplotlib", "tqdm"), "train": ("numpy", "tqdm"),
          "explain": ("numpy", "matplotlib"), "sweep": ("numpy", "matplotlib", "tqdm")}


def _missing_extra(command: str) -> StreamFuseError | None:
    """The error to give when a package of the ``bench`` extra that ``command`` needs is absent."""
    import importlib.util

    missing = []
    for name in EXTRAS.get(command, ()):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
            found = False
        if not found:
            missing.append(name)
    if not missing:
        return None
    return StreamFuseError(f"`streamfuse {command}` needs {', '.join(missing)}, from the 'bench' extra; install it with "
                           f"pip install \"streamfuse[bench]\" (the library itself needs torch only)")


def _schedule_note(run: dict) -> str:
    """``"trained under 2 schedules, kept the better on validation: plain fine-tuning 0.750 (loss
    0.855), kept; encoders frozen for the first 5 epochs 0.639 (loss 1.263)"``, or "" when the recipe trained one
    (``masked`` tries two for deep heads; the run's ``balance.schedules``)."""
    tried = (run.get("balance") or {}).get("schedules")
    if not tried or len(tried) < 2:
        return ""
    kept = run["balance"]["frozen_epochs"]

    def name(frozen: int) -> str:
        return f"encoders frozen for the first {frozen} epoch{'s' if frozen != 1 else ''}" if frozen else "plain fine-tuning"

    parts = [f"{name(t['frozen_epochs'])} {t['val_accuracy']:.3f} (loss {t['val_loss']:.3f}){', kept' if t['frozen_epochs'] == kept else ''}" for t in tried]
    return f"trained under {len(tried)} schedules, kept the better on validation: {'; '.join(parts)}"


def _left_out_note(run: dict) -> str:
    """``"  [left out: pose (alone on validation: accuracy 0.17 vs the class prior's 0.12, z=1.1 <
    2.94; 0.06 nats/sample below the prior, t=-1.3 < 1.96); ...]"``, or ""."""
    if not run.get("left_out"):
        return ""
    ev = run.get("stream_evidence", {})

    from .training.loop import LEAVE_OUT_T, accuracy_threshold

    def why(e: dict) -> str:
        acc = ""
        if e.get("z") is not None:  # runs recorded before the accuracy test have no z
            acc = (f"accuracy {e['accuracy']:.2f} vs the class prior's {e['prior_accuracy']:.2f}, z={e['z']:.1f} "
                   f"< {accuracy_threshold(e.get('looks', 1)):.2f}; ")
        return (f"alone on validation: {acc}{abs(e['gain']):.2f} nats/sample {'below' if e['gain'] < 0 else 'above'} "
                f"the prior, t={e['t']:.1f} < {LEAVE_OUT_T:.2f}")

    parts = [f"{s} ({why(ev[s])})" if s in ev else s for s in run["left_out"]]
    return f"  [left out: {', '.join(parts)}; --keep-streams keeps every stream]"


def _data_options(args) -> dict:
    from .bench.presets import data_options

    return data_options(args.data, args.noise_streams, args.occlusion, args.drop, args.data_option)


def _train_config(args):
    """The dataset's preset with the command line's training flags, every value checked."""
    from .bench.presets import check_int, parse_json_options, preset_name, train_config

    check_int("data_seed", args.data_seed)
    overrides = {k: getattr(args, k, None) for k in ("epochs", "width", "batch_size", "lr", "dim", "patience", "aux_loss", "balance")}
    overrides["standardize"] = False if getattr(args, "no_standardize", False) else None  # None: the preset's
    overrides["keep_streams"] = True if getattr(args, "keep_streams", False) else None
    return train_config(preset_name(args.data), device=args.device, stacked=args.stacked,
                        fusion_options=parse_json_options(args.fusion_option, "fusion_option"), **overrides)


def _sized_except(args) -> tuple[str, ...] | None:
    """User data (a folder): the sized settings given on the command line (``bench/sizing.py``
    sizes the others from the data); None for a built-in dataset (its preset applies as it is)."""
    from .bench.presets import preset_name

    if preset_name(args.data) != "folder":
        return None
    return tuple(k for k in ("width", "batch_size", "epochs", "patience") if getattr(args, k, None) is not None)


def _sized(cfg, args, data):
    """``cfg`` with the settings sized from ``data`` for user data; unchanged for built-in data."""
    given = _sized_except(args)
    if given is None:
        return cfg
    from .bench.sizing import size_config

    return size_config(cfg, data, set(given))


def _load(data: str, data_seed: int, opts: dict):
    from .data import load_data

    return load_data(data, seed=data_seed, **opts)


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
    from .bench import BenchConfig, aggregate, format_table, parse_methods, run_bench
    from .bench.folder import check_folder, open_folder, write_summary
    from .bench.presets import check_fusions, check_int, check_number
    from .bench.report import baseline_verdict
    from .bench.runner import check_fusion_options

    # Every argument and the output folder are checked before the data is loaded.
    check_int("seeds", args.seeds)
    sd = check_number("stream_dropout", args.stream_dropout, 0.0, 1.0, hi_open=True)
    cfg = _train_config(args)
    names = parse_methods(args.fusions)
    check_fusion_options(names, cfg.fusion_options)
    check_fusions(names, cfg, sd)
    bench = BenchConfig(
        data=args.data, data_options=_data_options(args), data_seed=args.data_seed, methods=names, seeds=args.seeds,
        out=args.out, train=cfg, baselines=not args.no_baselines, stream_dropout=sd, save_checkpoints=args.save_checkpoints,
        workers=_workers(args), threads=args.threads,
    )
    sized = _sized_except(args) is not None
    with open_folder(bench, check=not sized):  # user data: checked once its sized settings are known
        data = _load(args.data, args.data_seed, bench.data_options)
        if sized:
            bench.train = _sized(cfg, args, data)
            check_folder(bench)  # still before any training
        streams = list(data.stream_names)
        bench.methods = parse_methods(args.fusions, len(streams))
        if not bench.methods and not bench.baselines:
            raise StreamFuseError(f"--fusions {args.fusions!r}: no method takes {len(streams)} streams and --no-baselines is set; nothing to train")
        runs: list[dict] = []

        def on_run(run, resumed):
            runs.append(run)
            if not args.json:
                tag = "resumed" if resumed else f"{run['train_seconds']:.1f}s"
                print(f"  {run['method']:<18} seed {run['seed']}  acc {100 * run['accuracy']:.1f}%  ({tag}){_left_out_note(run)}",
                      file=sys.stderr)
            if not resumed:  # the tables follow each new run (plots at the end); resumed ones change nothing until then
                write_summary(bench, runs, streams, plots=False)

        if not args.json:
            print(f"bench: data={args.data} streams={streams} train={len(data.train.labels)} test={len(data.test.labels)} -> {args.out}"
                  + (_workers_note(bench) if bench.workers > 1 else ""), file=sys.stderr)
        runs = run_bench(bench, data, on_run=on_run, progress_factory=_progress_factory(args.quiet or args.json))  # (method, seed) order
        every = write_summary(bench, runs, streams)
    rows = aggregate(runs, streams)
    if args.json:
        print(json.dumps({"config": _config_dict(bench), "methods": rows, "verdict": baseline_verdict(rows)}, indent=1, default=str))
        return 0
    print(format_table(rows, streams))
    verdict = baseline_verdict(rows)
    if verdict:
        print(f"\n{verdict}")
    print(f"\nwrote {args.out}/results.json, results.csv, accuracy.png, weights.png")
    earlier = sorted({r["method"] for r in every[len(runs):]})
    if earlier:
        print(f"(the folder's summary also keeps {len(every) - len(runs)} earlier runs with these settings: {', '.join(earlier)})")
    return 0


def _config_dict(bench) -> dict:
    from dataclasses import asdict

    return asdict(bench)


def cmd_train(args) -> int:
    from .bench.presets import check_fusions, check_int, check_number, fusion_only_settings
    from .bench.runner import BenchConfig, check_fusion_options, data_record, parse_methods, train_and_evaluate
    from .training import save_checkpoint
    from .training.models import baseline

    out = Path(args.save)
    if out.exists() and not args.overwrite:
        raise StreamFuseError(f"{str(out)!r} exists; nothing was overwritten. Choose another --save path or pass --overwrite")
    check_int("seed", args.seed)
    sd = check_number("stream_dropout", args.stream_dropout, 0.0, 1.0, hi_open=True)
    cfg = _train_config(args)
    method = args.fusion
    refused = fusion_only_settings(method, cfg, sd)
    if refused:
        raise StreamFuseError(f"{', '.join(refused)} {'apply' if len(refused) > 1 else 'applies'} to fusion models; "
                              f"the baseline {method!r}{' (a logistic regression)' if method == 'linear' else ''} is trained "
                              f"without {'them' if len(refused) > 1 else 'it'}")
    if not baseline(method):
        parse_methods(method)
        check_fusion_options([method], cfg.fusion_options)
        check_fusions([method], cfg, sd)
    from ._io import check_writable_file

    check_writable_file(out, "--save")
    opts = _data_options(args)
    _refuse_own_input(out, "--save", data_files(args.data))
    data = _load(args.data, args.data_seed, opts)
    if not baseline(method):
        parse_methods(method, len(data.stream_names))  # a method's stream count, against the data
    if method.startswith("single:") and method.split(":", 1)[1] not in data.stream_names:
        raise StreamFuseError(f"--fusion {method}: data {args.data!r} has no stream {method.split(':', 1)[1]!r}; "
                              f"its streams are {data.stream_names}")
    cfg = _sized(cfg, args, data)
    cfg.seed = args.seed
    if sd:
        cfg.fusion_options = dict(cfg.fusion_options, stream_dropout=sd)
    factory = _progress_factory(args.quiet)
    progress = factory(method, args.seed) if factory else None
    try:
        model, spec, result = train_and_evaluate(method, data, cfg, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    ref = data_record(BenchConfig(data=args.data, data_options=opts, data_seed=args.data_seed), data)
    save_checkpoint(out, model, spec, dict(cfg.to_dict(), **ref), {k: v for k, v in result.items() if k != "importance"})
    how = f"C={spec['C']:g} chosen on validation" if method == "linear" else f"{result['epochs_run']} epochs"
    if _schedule_note(result):
        how += " in the kept schedule; the time counts every schedule"
    print(f"{method}: test accuracy {100 * result['accuracy']:.1f}%  macro-F1 {100 * result['macro_f1']:.1f}%  "
          f"({how}, {result['train_seconds']:.1f}s) -> {out}")
    if result.get("left_out"):
        print(_left_out_note(result).strip())
    if _schedule_note(result):
        print(_schedule_note(result))
    if "importance" in result:
        print(result["importance"]["verdict"])
    return 0


def data_files(data: str) -> list[Path]:
    """The files a data folder is read from (none for a built-in data set's name)."""
    folder = Path(data)
    return [folder / f for f in ("train.npz", "test.npz", "meta.json")] if folder.is_dir() else []


def _refuse_own_input(out: Path, flag: str, inputs: list[Path]) -> None:
    """An output must never replace a file the command reads, --overwrite or not."""
    target = out.resolve()
    for path in inputs:
        if path.resolve() == target:
            raise StreamFuseError(f"{flag} {str(out)!r} is {str(path)!r}, which this command reads; nothing was "
                                  f"written. Choose another {flag} path")


def cmd_explain(args) -> int:
    from ._io import check_writable_file
    from .importance import stream_importance
    from .training.checkpoint import check_data_matches, check_same_data, checkpoint_data, load_checkpoint

    png = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(".importance.png")
    _refuse_own_input(png, "--out", [Path(args.checkpoint)] + (data_files(args.data) if args.data else []))
    if png.exists() and not args.overwrite:
        raise StreamFuseError(f"{str(png)!r} exists; nothing was overwritten. Pass --out PATH or --overwrite")
    check_writable_file(png, "--out")
    model, payload = load_checkpoint(args.checkpoint)
    method = payload["spec"].get("method", "")
    if isinstance(method, str) and method.startswith("single:"):
        raise StreamFuseError(f"checkpoint {args.checkpoint!r} is the single-stream baseline {method!r}: one stream, "
                              f"nothing to compare. explain ranks the streams of a fusion model; `streamfuse bench` "
                              f"reports every stream alone")
    cfg = payload.get("config") if isinstance(payload.get("config"), dict) else {}
    if args.data is None:
        if not cfg:
            raise StreamFuseError(f"checkpoint {args.checkpoint!r} has no config recording its data; pass --data")
        data_name, data_seed, opts = checkpoint_data(args.checkpoint, cfg)
        _refuse_own_input(png, "--out", data_files(data_name))
    else:
        from .bench.presets import check_int

        data_name, data_seed, opts = args.data, check_int("data_seed", args.data_seed), _data_options(args)
    data = _load(data_name, data_seed, opts)
    spec = payload["spec"]
    check_data_matches(args.checkpoint, spec, data, data_name)
    if args.data is None:
        check_same_data(args.checkpoint, cfg, data, data_name)
    imp = stream_importance(model, ({s: data.test.streams[s] for s in spec["streams"]}, data.test.labels), per_class=args.per_class)
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
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._io import save_figure

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
    save_figure(fig, path)
    return {"title_lines": lines, "panels": panels, "leaders": leaders, "tag": tag if leaders else None}


def cmd_sweep(args) -> int:
    from .bench.presets import check_fusions, check_int
    from .bench.runner import check_fusion_options, parse_methods
    from .bench.sweep import TOLERANCE, SweepConfig, check_levels, run_sweep, trend

    levels = []
    for t in args.noise.split(","):
        try:
            levels.append(float(t))
        except ValueError:
            raise StreamFuseError(f"--noise expects comma-separated numbers like 0,0.5,1,2; got {t!r}") from None
    check_levels(levels)
    check_int("seeds", args.seeds)
    cfg = _train_config(args)
    methods = parse_methods(args.fusions)
    check_fusion_options(methods, cfg.fusion_options)
    check_fusions(methods, cfg)
    sweep = SweepConfig(data=args.data, stream=args.stream, levels=levels, methods=methods, train=cfg,
                        data_options=_data_options(args), data_seed=args.data_seed, seeds=args.seeds, out=args.out,
                        sized=_sized_except(args), workers=_workers(args), threads=args.threads)
    rows = run_sweep(sweep, _progress_factory(args.quiet), log=lambda text: print(text, file=sys.stderr))
    s = args.stream
    print(f"| method | {s} weight by noise | falls? | {s} Shapley by noise | falls? |")
    print("|---|---|---|---|---|")
    for m in methods:
        ws = [r[f"weight[{s}]"] for r in rows if r["method"] == m]
        ss = [r[f"shapley_acc[{s}]"] for r in rows if r["method"] == m]
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"| {m} | {' '.join(map(fmt, ws))} | {trend(ws)} | {' '.join(map(fmt, ss))} | {trend(ss)} |")
    print(f"\nfalls = no step up by more than {TOLERANCE} and the last value more than {TOLERANCE} below the first")
    print(f"wrote {args.out}/sweep.csv and sweep.png (per-level runs in {args.out}/noise-<level>/)")
    return 0


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


def _add_workers_arg(p):
    p.add_argument("--workers", type=int, metavar="W", help=
                   "train this many runs at once, each in a process of its own with --threads threads (default: "
                   "the cores shared out); results are the same as one at a time with those threads. Default: 2 "
                   "on a CPU with 2 or more cores (small 3D CNNs gain more from a second process than from a second "
                   "thread), 1 with --device cuda")


def _workers(args) -> int:
    """``--workers``, checked before any data is loaded: an int >= 1, 1 unless training on CPU in
    one process (not under torchrun); the default is ``bench.workers.default_workers``."""
    from .bench import workers
    from .bench.presets import check_int

    if args.workers is None:
        return workers.default_workers(args.device)
    n = check_int("workers", args.workers, 1)
    distributed = workers.under_torchrun()
    if n > 1 and args.device == "cuda":
        raise StreamFuseError(f"--workers {n} trains in CPU processes; with --device cuda use --workers 1")
    if n > 1 and distributed:
        raise StreamFuseError(f"--workers {n}: under torchrun every rank trains each run together (DDP); use --workers 1")
    return n


def _workers_note(bench) -> str:
    from .bench.workers import worker_threads

    threads = worker_threads(bench.workers, bench.threads)
    return f" (up to {bench.workers} worker processes, {threads} thread{'s' if threads > 1 else ''} each; a line per finished run)"


def _recipe_defaults_text(balance) -> str:
    """``--balance masked builds scalar, convex, ... with logit_scale=1`` for every recipe that has
    fusion defaults (read from the recipes, so the help cannot go stale)."""
    parts = []
    for name, recipe in balance.items():
        methods_by_options: dict[str, list[str]] = {}
        for method, options in recipe.fusion_defaults.items():
            text = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in options.items())
            methods_by_options.setdefault(text, []).append(method)
        parts += [f"--balance {name} builds {', '.join(ms)} with {text}" for text, ms in methods_by_options.items()]
    return "; ".join(parts) or "none"


def _add_train_args(p):
    from .training.balance import BALANCE  # the recipes list themselves in the help
    p.add_argument("--epochs", type=int, help="training epochs (default: the dataset's preset)")
    p.add_argument("--width", type=int, help="encoder width")
    p.add_argument("--dim", type=int, help="fused width D")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--patience", type=int, help="early stopping: epochs without validation improvement")
    p.add_argument("--aux-loss", type=float, metavar="LAMBDA", help=
                   "add LAMBDA x the mean of per-stream auxiliary classifiers' losses (fusion models; default 0 = off)")
    p.add_argument("--balance", metavar="RECIPE", help=
                   "how fusion models are trained: "
                   + "; ".join(f"{name} ({recipe.summary})" for name, recipe in BALANCE.items())
                   + ". Default: the dataset's preset (see README)")
    p.add_argument("--keep-streams", action="store_true", help=
                   "warm-start recipes: keep every stream in the fused model; by default a stream whose model "
                   "alone predicts the validation labels no better than the class prior (neither its accuracy nor its "
                   "log-likelihood beats the prior's; two one-sided tests at 2.5 %%) "
                   "is left out (reported), as its training features can only be memorised noise")
    p.add_argument("--stacked", action="store_true", help=
                   "fusion models: train each stream's encoder alone on half the training set, then only the "
                   "fusion head (encoders frozen) on the other half, so weights reflect unseen data")
    p.add_argument("--fusion-option", action="append", metavar="KEY=VALUE", help=
                   "an option of the fusion methods, e.g. stream_norm=true or num_heads=2 (repeatable; "
                   "see `streamfuse list`; every fusion trained must accept it). A value given here replaces "
                   "the recipe's own defaults: " + _recipe_defaults_text(BALANCE))
    p.add_argument("--no-standardize", action="store_true", help=
                   "user data (a folder): feed the streams as they are; by default each is z-scored per feature "
                   "(vectors) or per channel with training-split statistics stored in the model")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, metavar="N", help=
                   "CPU threads for torch (default: torch's, one per core); on cores shared with other jobs "
                   "threads wait for each other and a run can take several times longer -- use --threads 1 there")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamfuse",
        description="Learned fusion of multi-stream networks: compare fusion methods on your data and find out which stream carries the information.",
        epilog="Start with `streamfuse bench` (every method on small generated video clips: 2 min 29 s on 2 CPU cores, "
               "torch 2.13; several times longer when the cores are shared: see --threads). "
               "`streamfuse COMMAND --help` for details.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("bench", help="train and compare fusion methods on one dataset", description=
                       "Train every (fusion, seed), print a table per method and write results.json, results.csv and plots. Resumable.")
    _add_data_args(p)
    p.add_argument("--fusions", default="all", help="'all' or a comma list, e.g. attention,gmu (see `streamfuse list`)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per method (default 1)")
    p.add_argument("--out", default="runs/bench", help="output folder; re-running the same command resumes (default runs/bench)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout instead of a table")
    p.add_argument("--no-baselines", action="store_true", help="skip the single-stream, late-fusion and linear baselines")
    p.add_argument("--stream-dropout", type=float, default=0.0, help="also train each fusion with this stream dropout ('<method>+sd')")
    p.add_argument("--save-checkpoints", action="store_true", help="keep every trained model under OUT/checkpoints")
    _add_train_args(p)
    _add_workers_arg(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train", help="train one model and save a checkpoint")
    _add_data_args(p)
    p.add_argument("--fusion", default="adaptive", help="fusion method, 'late', 'linear' (logistic regression) or 'single:STREAM'")
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
    _add_workers_arg(p)
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
        missing = _missing_extra(args.command)
        if missing is not None:
            raise missing
        _set_threads(getattr(args, "threads", None))
        return args.func(args)
    except ModuleNotFoundError as exc:
        if exc.name not in ("numpy", "matplotlib", "tqdm"):
            raise
        print(f"streamfuse {args.command}: error: {_missing_extra(args.command) or exc}", file=sys.stderr)
        return 2
    except StreamFuseError as exc:
        print(f"streamfuse {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command in ("bench", "sweep"):
            print(f"\ninterrupted; finished runs are kept in {args.out} and a re-run resumes", file=sys.stderr)
        else:
            print(f"\ninterrupted; nothing was saved by this `streamfuse {args.command}`", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
