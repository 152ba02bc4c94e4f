"""Settings of a bench, train or sweep run, built from plain values and checked before any work.

    PRESETS                 per-dataset training settings that converge on that data (BENCHMARKS.md)
    data_options(...)       loader options from the CLI's stream knobs and KEY=VALUE pairs
    train_config(...)       a checked ``TrainConfig``: the dataset's preset with the given overrides
    check_fusions(...)      every chosen fusion built once on dummy widths with the chosen options

Every check raises ``StreamFuseError`` naming the flag (``--epochs``), the value and the valid
range, so a bad value is refused before any data is loaded or any model trained.
"""

from __future__ import annotations

import json
import math
import re

from ..errors import StreamFuseError, suggest, unknown_choice
from ..training import TrainConfig
from ..training.balance import BALANCE, recipe_fusion_options
from ..training.model_methods import model_method
from ..training.models import baseline, build_model

# Per-dataset training presets: what a run needs to converge on that data (see BENCHMARKS.md).
# "balance": the recipe fusion models train with, chosen per dataset on validation accuracy
# (BENCHMARKS.md, "Balanced training" and "Per-stream losses through the fused head"): masked
# where one stream starves the others (video, 5 seeds, the 7 weighting fusions: mean validation
# accuracy 0.699 against warmstart's 0.676; warmstart itself led plain training 0.650 to 0.640
# over the 13 fusions, 3 seeds); plain joint training where validation cannot tell them apart
# (mfeat, basicmotions: a tie, and warm starts cost one training per stream first); masked for
# user data, whose streams nobody has checked for starving.
PRESETS = {
    "video": {"epochs": 15, "width": 32, "batch_size": 32, "lr": 3e-3, "patience": 8, "pool": "max", "balance": "masked"},
    "mfeat": {"epochs": 40, "width": 256, "batch_size": 64, "lr": 1e-3, "patience": 10, "dropout": 0.5, "balance": "none"},
    "basicmotions": {"epochs": 60, "width": 64, "batch_size": 16, "lr": 3e-3, "patience": 20, "val_fraction": 0.2, "balance": "none"},
    "folder": {"epochs": 40, "width": 64, "batch_size": 64, "lr": 1e-3, "patience": 10, "standardize": True, "balance": "masked"},
}

# Quick data settings for the default `streamfuse bench` (video, every method); any option given
# on the command line replaces these. The full-size generator (600/300 clips of 16x16) is used by
# the BENCHMARKS.md runs via --data-option.
QUICK_DATA = {"video": {"n_train": 480, "n_test": 240}}

# The integer settings and their smallest valid value (flags are ``--`` + name with dashes).
INT_MINIMUM = {"epochs": 1, "width": 1, "dim": 1, "batch_size": 1, "patience": 1, "seeds": 1, "seed": 0, "data_seed": 0}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_int(name: str, value, minimum: int | None = None) -> int:
    """``value`` as an int >= ``minimum`` (default ``INT_MINIMUM[name]``), else an error naming ``--name``."""
    lo = INT_MINIMUM[name] if minimum is None else minimum
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise StreamFuseError(f"{flag(name)} must be an integer >= {lo}, got {value!r}")
    return value


def check_number(name: str, value, lo: float, hi: float = math.inf, *, lo_open: bool = False, hi_open: bool = False, note: str = "") -> float:
    """``value`` as a finite float in ``lo..hi`` (each end open or closed), else an error naming ``--name``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        if hi == math.inf:
            span = f"{'>' if lo_open else '>='} {lo:g}"
        else:
            span = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise StreamFuseError(f"{flag(name)} must be a number {span}{f' ({note})' if note else ''}, got {value!r}")
    return float(value)


def preset_name(data: str) -> str:
    return data if data in PRESETS else "folder"


def parse_stream_values(text: str, name: str) -> dict:
    """``"rgb=0.5,pose=0"`` -> ``{"rgb": 0.5, "pose": 0.0}`` (the CLI form of a per-stream knob;
    the loader checks the stream names and ranges once it knows the streams)."""
    from ..data.knobs import split_pairs

    out = {}
    for key, value in split_pairs(text, flag(name)).items():
        try:
            out[key] = float(value)
        except ValueError:
            raise StreamFuseError(f"{flag(name)}: value for {key!r} must be a number, got {value!r}") from None
    return out


def parse_json_options(items, name: str) -> dict:
    """``["n_train=300", "stream_norm=true"]`` -> ``{"n_train": 300, "stream_norm": True}`` (JSON values, else strings)."""
    opts = {}
    for item in items or []:
        if "=" not in item:
            raise StreamFuseError(f"{flag(name)} expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            opts[k.strip()] = json.loads(v)
        except ValueError:
            opts[k.strip()] = v
    return opts


def data_options(data: str, noise_streams=None, occlusion=None, drop=None, data_option=None) -> dict:
    """Loader options: the quick defaults of ``data``, then the stream knobs, then KEY=VALUE pairs."""
    from ..data.knobs import split_items

    opts = dict(QUICK_DATA.get(data, {}))
    if noise_streams:
        opts["noise"] = parse_stream_values(noise_streams, "noise_streams")
    if occlusion:
        opts["occlusion"] = parse_stream_values(occlusion, "occlusion")
    if drop:
        opts["drop"] = split_items(drop)
    flags = {"--noise-streams": opts.get("noise"), "--occlusion": opts.get("occlusion"), "--drop": opts.get("drop")}
    given = parse_json_options(data_option, "data_option")
    flags.update({f"--data-option {k}": given[k] for k in ("noise", "occlusion", "drop") if k in given})
    _check_stream_flags(data, flags)
    opts.update(given)
    return opts


def _check_stream_flags(data: str, given: dict) -> None:
    """Stream names in the stream knobs, checked against the data's streams before it is loaded
    (the loader checks them again, naming its option rather than the flag)."""
    from ..data import stream_names_of

    known = stream_names_of(data)
    if known is None:
        return
    for flag, names in given.items():
        for name in names if isinstance(names, dict | list | tuple) else ():  # other types: the loader says
            if name not in known:
                raise StreamFuseError(f"{flag} names stream {name!r}, which {data} does not have.{suggest(str(name), known)} "
                                      f"Valid streams: {', '.join(known)}")


def train_config(data: str, *, device: str = "cpu", stacked: bool = False, fusion_options=None, **overrides) -> TrainConfig:
    """The preset of ``data`` with ``overrides`` (None = keep the preset), every value checked."""
    preset = dict(PRESETS[preset_name(data)])
    preset.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("epochs", "width", "batch_size", "patience"):
        check_int(key, preset[key])
    if preset.get("dim") is not None:
        check_int("dim", preset["dim"])
    check_number("lr", preset["lr"], 0.0, lo_open=True)
    check_number("aux_loss", preset.get("aux_loss", 0.0), 0.0, note="0 = no per-stream auxiliary losses")
    balance = preset.get("balance", TrainConfig.balance)
    if balance not in BALANCE:
        raise unknown_choice("--balance recipe", balance, BALANCE)
    if balance != "none" and (preset.get("aux_loss") or stacked):
        # --aux-loss and --stacked are training recipes of their own, on plain joint training:
        # asking for one replaces the preset's recipe; asking for both recipes is an error
        given = "--aux-loss" if preset.get("aux_loss") else "--stacked"
        if overrides.get("balance") is not None:
            raise StreamFuseError(f"{given} applies to plain joint training (--balance none); --balance {balance} sets its own "
                                  f"per-stream losses and stages. Give one of them")
        preset["balance"] = "none"
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise StreamFuseError("--device cuda: no CUDA device is available here; use --device cpu")
    return TrainConfig(device=device, stacked=bool(stacked), fusion_options=dict(fusion_options or {}), **preset)


def fusion_only_settings(method: str, cfg: TrainConfig, stream_dropout: float = 0.0) -> list[str]:
    """The flags set in ``cfg`` that only fusion models take, when ``method`` is a baseline."""
    if not baseline(method):
        return []
    on = {"--fusion-option": cfg.fusion_options, "--aux-loss": cfg.aux_loss, "--stacked": cfg.stacked, "--stream-dropout": stream_dropout}
    return [name for name, value in on.items() if value]


def check_fusions(methods, cfg: TrainConfig, stream_dropout: float = 0.0, num_streams: int = 2) -> None:
    """Build every fusion in ``methods`` once, as the bench will, on ``num_streams`` dummy streams
    of width ``cfg.width``, and run one forward pass, so that an option the method refuses
    (``num_heads=0``, ``normalize`` on ``convex``) is reported before any data is loaded. A
    model-level method (``training.model_methods``) is built whole, on vector streams, after its
    declared options are checked."""
    import torch

    from ..head import MultiStreamHead

    widths = {f"s{i}": cfg.width for i in range(num_streams)}
    for method in methods:
        options = recipe_fusion_options(cfg.balance, method, cfg.fusion_options)
        entry = model_method(method)
        if entry is not None:  # a network of its own (e.g. late_learned): its declared options only
            if cfg.aux_loss > 0 and not entry.aux_loss:
                raise StreamFuseError(f"--aux-loss applies to fusion models; the {entry.kind} {method!r} is trained "
                                      f"without it: give --aux-loss 0 or leave {method!r} out of --fusions")
            refused = [k for k in options if k not in entry.options]
            lone_sd = stream_dropout > 0 and len(methods) == 1  # in a bench with others it gets no "+sd" variant
            if refused or (lone_sd and "stream_dropout" not in entry.options):
                if not entry.options:
                    raise StreamFuseError(f"{method!r} is a {entry.kind} with no fusion module: it takes no "
                                          f"--fusion-option or --stream-dropout; leave it out of --fusions to use them")
                raise StreamFuseError(f"{method!r} is a {entry.kind}: its fusion options are {', '.join(entry.options)}; "
                                      f"got {', '.join(refused) or '--stream-dropout'}")
        if stream_dropout > 0 and (entry is None or "stream_dropout" in entry.options):
            options["stream_dropout"] = stream_dropout
        try:
            if entry is None:
                head = MultiStreamHead(widths, 2, fusion=method, dim=cfg.dim, pool=cfg.pool, dropout=cfg.dropout, **options)
                head({s: torch.zeros(2, w, 3) for s, w in widths.items()})
            else:  # the whole network, on vector streams of 3 channels
                streams = list(widths)
                model = build_model({"method": method, "streams": streams, "kinds": dict.fromkeys(streams, "vector"),
                                     "in_channels": dict.fromkeys(streams, 3), "num_classes": 2, "width": cfg.width,
                                     "dim": cfg.dim, "dropout": cfg.dropout, "pool": cfg.pool, "fusion_options": options})
                model.eval()({s: torch.zeros(2, 3) for s in streams})
        except StreamFuseError as exc:
            raise StreamFuseError(f"fusion {method!r} with options {json.dumps(options)}: {exc}") from None
        except TypeError as exc:
            fixed = re.search(r"multiple values for keyword argument '(\w+)'", str(exc))
            if fixed is None:
                raise _cannot_build(method, options, cfg, exc) from None
            raise StreamFuseError(f"fusion {method!r} sets {fixed[1]!r} itself and does not take it as an option; "
                                  f"leave out --fusion-option {fixed[1]}=..., or choose another method") from None
        except Exception as exc:  # noqa: BLE001 - a library error on odd options still gets named
            raise _cannot_build(method, options, cfg, exc) from None


def _cannot_build(method: str, options: dict, cfg: TrainConfig, exc: Exception) -> StreamFuseError:
    sizes = f"--width {cfg.width}" + (f", --dim {cfg.dim}" if cfg.dim is not None else "")
    return StreamFuseError(f"fusion {method!r} cannot be built with options {json.dumps(options)} ({sizes}): {type(exc).__name__}: {exc}")
