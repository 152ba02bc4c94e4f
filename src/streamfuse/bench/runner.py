"""``streamfuse bench``: train and compare every fusion method on one dataset.

For every (method, seed) a run trains a model, scores it on the test split and measures cost and
stream importance; the result is written atomically to ``OUT/runs/<method>__seed<k>.json`` the
moment it finishes. A run whose file exists is loaded instead of recomputed, so re-running the
same command resumes, and Ctrl-C loses at most the run in progress. Each run file carries a key
(a hash of the data, the training settings, the method and the seed); a folder holding runs with
other settings is refused rather than mixed or overwritten. The CLI checks and locks the whole
folder before loading data (``folder.py``); ``run_bench`` itself takes no lock.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StreamFuseError, unknown_choice
from ..importance import stream_importance
from ..training import TrainConfig, macro_f1, predict, train_model
from .._io import atomic_write_bytes
from ..training.balance import BALANCE, make_recipe, recipe_fusion_options
from ..training.checkpoint import data_fingerprint, save_checkpoint
from ..training.model_methods import method_names, method_options, stream_range
from ..training.models import baseline
from .linear import linear_spec, train_linear

RUN_FORMAT = "streamfuse-run/1"
INFER_TIMING_PASSES = 3  # timed passes over the test set after the scored one; infer/s is their median


@dataclass
class BenchConfig:
    data: str = "video"
    data_options: dict = field(default_factory=dict)
    data_seed: int = 0
    methods: list[str] = field(default_factory=list)
    seeds: int = 1
    out: str = "runs/bench"
    train: TrainConfig = field(default_factory=TrainConfig)
    baselines: bool = True
    stream_dropout: float = 0.0  # > 0 adds a "<method>+sd" variant trained with stream dropout
    save_checkpoints: bool = False
    # How the runs are scheduled, never what one computes (not in any run key): ``workers`` > 1
    # trains them in that many processes (``workers.py``) with ``threads`` torch threads each
    # (None: the cores shared out); 1 trains them here, with this process's threads.
    workers: int = 1
    threads: int | None = None


def method_list(names: list[str], streams: list[str], baselines: bool, stream_dropout: float) -> list[str]:
    """Expand the requested fusion names with the baselines and stream-dropout variants."""
    methods = list(names)
    if stream_dropout > 0:
        methods += [f"{m}+sd" for m in names if "stream_dropout" in method_options(m)]
    if baselines:
        methods += ["late", "linear"] + [f"single:{s}" for s in streams]
    return methods


def fits(name: str, num_streams: int) -> bool:
    """Whether method ``name`` accepts ``num_streams`` streams (``convex`` takes exactly two)."""
    lo, hi = stream_range(name)
    return num_streams >= lo and (hi is None or num_streams <= hi)


def parse_methods(text: str, num_streams: int | None = None) -> list[str]:
    """``"all"`` (every method that accepts ``num_streams`` streams) or a comma list of names.

    Unknown names, and named methods that cannot take this many streams, are errors raised before
    any training starts.
    """
    known = method_names()
    if text.strip() == "all":
        return [n for n in known if num_streams is None or fits(n, num_streams)]
    names = [t.strip() for t in text.split(",") if t.strip()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise StreamFuseError(f"--fusions names {', '.join(map(repr, repeated))} more than once (got {text!r}); give each method once")
    for n in names:
        if n not in known:
            raise unknown_choice("fusion method", n, known)
        if num_streams is not None and not fits(n, num_streams):
            lo, hi = stream_range(n)
            raise StreamFuseError(f"fusion {n!r} takes {lo}..{hi or 'any'} streams; this data has {num_streams}")
    if not names:
        raise StreamFuseError("--fusions is empty; give 'all' or names such as 'attention,gmu'")
    return names


def check_fusion_options(methods: list[str], options: dict) -> None:
    """Refuse, before any training, an option that one of the fusion ``methods`` does not take,
    or a value whose type differs from the option's default (``stream_norm=maybe``)."""
    for key, value in options.items():
        if key in ("device", "dtype"):
            raise StreamFuseError(f"fusion option {key!r} is set for the whole model: use --device (the bench trains in float32)")
        refusing = [m for m in methods if key not in method_options(m)]
        if refusing:
            takers = [m for m in method_names() if key in method_options(m)]
            own = list(method_options(refusing[0]))
            raise StreamFuseError(
                f"fusion option {key!r} is not an option of {', '.join(map(repr, refusing))}; "
                + (f"methods that take it: {', '.join(takers)} (choose them with --fusions)" if takers
                   else f"no method takes it; the options of {refusing[0]!r} are: {', '.join(own)}" if own
                   else f"no method takes it, and {refusing[0]!r} takes no options")
            )
        for m in methods:
            default = method_options(m)[key]  # every method takes the option (checked above)
            if isinstance(default, bool):
                ok, want = isinstance(value, bool), "true or false"
            elif isinstance(default, int | float):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and (isinstance(value, int) or isinstance(default, float))
                want = "an integer" if isinstance(default, int) else "a number"
            else:
                continue  # None or a string default: the constructor checks the value
            if not ok:
                raise StreamFuseError(f"fusion option {key}={json.dumps(value)} for {m!r}: expected {want} (default {json.dumps(default)})")


def base_method(method: str) -> str:
    """The fusion a bench method name trains: ``"scalar+sd"`` (the stream-dropout variant) -> ``"scalar"``."""
    return method.removesuffix("+sd")


def model_spec(method: str, data, cfg: TrainConfig, stream_dropout: float) -> dict:
    base = base_method(method)
    options = recipe_fusion_options(cfg.balance, base, cfg.fusion_options)
    if method.endswith("+sd"):
        method, options["stream_dropout"] = base, stream_dropout
    first = {s: data.train.streams[s] for s in data.stream_names}
    return {
        "method": method,
        "streams": list(data.stream_names),
        "kinds": dict(data.kinds),
        "in_channels": {s: int(x.shape[1]) for s, x in first.items()},
        "num_classes": int(data.num_classes),
        "width": cfg.width,
        "dim": cfg.dim,
        "dropout": cfg.dropout,
        "pool": cfg.pool,
        "fusion_options": options if not baseline(method) else {},
        "aux_loss": cfg.aux_loss if not baseline(method) else 0.0,
        "standardize": bool(cfg.standardize),
    }


def run_key(bench: BenchConfig, method: str, seed: int) -> str:
    train = dict(bench.train.to_dict(), seed=seed)
    if method == "linear":  # the logistic regression depends on the validation split only
        train = {"val_fraction": train["val_fraction"], "seed": seed}
    train.pop("device", None)  # the same run on another device is the same experiment
    # Settings added later enter the key only when they differ from the behaviour before them
    # (aux_loss 0, decay_all True, stacked False, balance "none"), so such folders still resume;
    # baselines take neither aux losses, balancing nor stacked training.
    if not train.get("aux_loss") or baseline(method):
        train.pop("aux_loss", None)
    if train.get("decay_all", True):
        train.pop("decay_all", None)
    if not train.get("stacked") or baseline(method):
        train.pop("stacked", None)
    if train.get("balance", "none") == "none" or baseline(method):
        train.pop("balance", None)
    # keep_streams True is the behaviour before warm-start recipes left uninformative streams out
    if train.get("keep_streams", True) or baseline(method) or not BALANCE[train.get("balance", "none")].warm_start:
        train.pop("keep_streams", None)
    if not train.get("standardize"):
        train.pop("standardize", None)
    if not baseline(method):  # the options the method is built with, the recipe's defaults included
        train["fusion_options"] = recipe_fusion_options(bench.train.balance, base_method(method), train.get("fusion_options") or {})
        train.update(make_recipe(bench.train.balance, 2, method=base_method(method)).run_key_extras(bench.train.epochs))
    blob = json.dumps(
        {"data": bench.data, "opts": bench.data_options, "dseed": bench.data_seed, "train": train, "method": method, "sd": bench.stream_dropout},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def run_path(out: Path, method: str, seed: int) -> Path:
    return out / "runs" / f"{file_stem(method)}__seed{seed}.json"


def file_stem(method: str) -> str:
    """A method name as a file name: ":" becomes "-" (as it always has, so old folders resume);
    a stream name in it ("single:a/b") cannot leave the folder: the path separators, and "%"
    to keep the mapping one-to-one, are percent-encoded. Every other character is kept."""
    return method.replace(":", "-").replace("%", "%25").replace("/", "%2F").replace("\\", "%5C")


def load_run(path: Path, key: str) -> dict | None:
    """The finished run at ``path``, None if absent; an error if it was made with other settings."""
    if not path.exists():
        return None
    try:
        run = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StreamFuseError(f"run file {str(path)!r} is unreadable ({exc}); move it away to recompute that run") from exc
    if run.get("format") != RUN_FORMAT or run.get("key") != key:
        raise StreamFuseError(
            f"{str(path.parent.parent)!r} holds runs made with other settings ({path.name}: key {run.get('key')!r}, "
            f"expected {key!r}); nothing was overwritten. Use another --out folder, or the original settings to resume."
        )
    return run


def evaluate_run(model, data, spec: dict, device) -> dict:
    """Test metrics, inference speed and importance for one trained model."""
    test, y = data.test.streams, data.test.labels
    scores = predict(model, test, 256, device=device)
    # Timed on a warm model: the pass above pays the first call's one-off costs (allocator growth,
    # CUDA handles and kernel loads), which made the first method of a CUDA bench read 4x slower.
    # predict copies its scores to the CPU, which waits for the device.
    seconds = []
    for _ in range(INFER_TIMING_PASSES):
        start = time.perf_counter()
        predict(model, test, 256, device=device)
        seconds.append(time.perf_counter() - start)
    pred = scores.argmax(1)
    result = {
        "accuracy": (pred == y).float().mean().item(),
        "macro_f1": macro_f1(pred, y, data.num_classes),
        "params": sum(p.numel() for p in model.parameters()),
        "infer_samples_per_s": len(y) / max(statistics.median(seconds), 1e-9),
    }
    if not spec["method"].startswith("single:"):
        # the linear baseline has no fusion weights; its masked stream's term is dropped (mean replacement)
        methods = ("ablation", "shapley") if spec["method"] == "linear" else ("weights", "ablation", "shapley")
        imp = stream_importance(model, ({s: test[s] for s in spec["streams"]}, y), methods=methods)
        result["importance"] = imp.to_dict()
    return result


def train_and_evaluate(method: str, data, cfg: TrainConfig, stream_dropout: float = 0.0, progress=None):
    """Train ``method`` (a fusion, ``"<fusion>+sd"``, ``"late"``, ``"linear"`` or
    ``"single:<stream>"``) on ``data.train`` with ``cfg`` (seed ``cfg.seed``) and score it on
    ``data.test``.

    Returns ``(model, spec, record)``: the trained model, its spec, and the run's record (training
    time, epochs, validation accuracy, then ``evaluate_run``'s metrics). ``bench`` and ``train``
    both train through here. ``linear`` is the logistic regression of ``linear.py``: it uses only
    ``cfg.val_fraction`` and ``cfg.seed`` (its ``C`` is chosen on that validation split), and its
    record has no epochs.
    """
    if method == "linear":
        spec = linear_spec(data)
        model, info = train_linear(spec, data.train.streams, data.train.labels, cfg.val_fraction, cfg.seed)
        spec.update(C=info["C"], val_accuracy_by_C=info["val_accuracy_by_C"])
        info.update(epochs_run=None, best_epoch=None)
    else:
        spec = model_spec(method, data, cfg, stream_dropout)
        model, info = train_model(spec, data.train.streams, data.train.labels, cfg, progress=progress)
    record = {k: info[k] for k in ("train_seconds", "epochs_run", "best_epoch", "val_accuracy")}
    if "train_cpu_seconds" in info:
        record["train_cpu_seconds"] = info["train_cpu_seconds"]
    if info.get("balance"):
        record["balance"] = info["balance"]  # the recipe's state: G-Blend weights, OGM coefficients
    if info.get("left_out"):
        record["left_out"] = info["left_out"]  # streams no better than the class prior alone
        record["stream_evidence"] = info["stream_evidence"]
    record.update(evaluate_run(model, data, spec, next(model.parameters()).device))
    return model, spec, record


def data_record(bench: BenchConfig, loaded=None) -> dict:
    """How to load the data again (stored in checkpoints): a folder path made absolute, and, given
    the ``loaded`` data of a folder, its fingerprint (``explain`` refuses the folder once its files
    change). A built-in data set is not fingerprinted: it is vendored, or generated from a recipe
    whose floats differ in the last bit between CPUs."""
    data = bench.data
    record = {"data_options": bench.data_options, "data_seed": bench.data_seed}
    if any(data == name for name in _builtin_datasets()):
        return {"data": data, **record}
    record = {"data": str(Path(data).resolve()), **record}
    if loaded is not None:
        record["data_fingerprint"] = data_fingerprint(loaded)
    return record


def _builtin_datasets() -> list[str]:
    from ..data import list_datasets

    return list_datasets()


def run_one(bench: BenchConfig, data, method: str, seed: int, progress=None) -> dict:
    cfg = TrainConfig(**dict(bench.train.to_dict(), seed=seed))
    model, spec, record = train_and_evaluate(method, data, cfg, bench.stream_dropout, progress)
    run = {"format": RUN_FORMAT, "key": run_key(bench, method, seed), "method": method, "seed": seed, "spec": spec}
    run.update(record)
    out = Path(bench.out)
    if bench.save_checkpoints:
        save_checkpoint(out / "checkpoints" / f"{file_stem(method)}__seed{seed}.pt", model, spec,
                        dict(cfg.to_dict(), **data_record(bench, data)),
                        {"accuracy": run["accuracy"]})
    atomic_write_bytes(run_path(out, method, seed), lambda fh: fh.write(json.dumps(run, indent=1).encode()))
    return run


def run_bench(bench: BenchConfig, data, on_run=None, progress_factory=None) -> list[dict]:
    """Run (or resume) every (method, seed); ``on_run(run, resumed)`` is called after each.
    With ``bench.workers`` > 1 the runs train in worker processes (no per-epoch progress)."""
    methods = method_list(bench.methods, data.stream_names, bench.baselines, bench.stream_dropout)
    if bench.workers > 1:
        from .workers import train_in_workers

        return train_in_workers(bench, data, methods, on_run)
    out = Path(bench.out)
    runs = []
    for method in methods:
        for seed in range(bench.seeds):
            key = run_key(bench, method, seed)
            run = load_run(run_path(out, method, seed), key)
            resumed = run is not None
            if run is None:
                progress = progress_factory(method, seed) if progress_factory else None
                try:
                    run = run_one(bench, data, method, seed, progress)
                finally:
                    if progress is not None and hasattr(progress, "close"):
                        progress.close()
            runs.append(run)
            if on_run is not None:
                on_run(run, resumed)
    return runs
