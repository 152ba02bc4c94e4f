"""A bench results folder: one set of settings, one writer at a time, nothing of anyone else's lost.

``open_folder(bench)`` is entered before any data is loaded. It proves the folder writable, takes
its lock (``FolderLock``: a second bench on the same folder stops at once, naming the holder's
pid) and refuses the folder, with nothing written, when

* a run file in ``runs/`` was made with other settings (its key differs from the key these
  settings give its method and seed), so a folder never mixes settings, whatever the methods;
* a summary file (``results.json``, ``results.csv``, ``accuracy.png``, ``weights.png``) is not
  one this bench wrote: the manifest ``.streamfuse-bench.json`` keeps the SHA-256 of each summary
  file it wrote, so a file made by something else, or edited since, is never overwritten.

``write_summary`` then rewrites the summary over every run in the folder (earlier invocations'
methods and seeds included, all with these settings), and the manifest with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from .._io import FolderLock, atomic_write_bytes, check_writable_dir
from ..errors import StreamFuseError
from ..training import TrainConfig
from ..training.models import baseline
from .report import aggregate, write_results
from .runner import RUN_FORMAT, BenchConfig, run_key

MANIFEST = ".streamfuse-bench.json"
MANIFEST_FORMAT = "streamfuse-bench-folder/1"
SUMMARY_FILES = ("results.json", "results.csv", "accuracy.png", "weights.png")


def settings(bench: BenchConfig) -> dict:
    """What every run in one folder shares: data, its options and seed, training settings."""
    train = bench.train.to_dict()
    for per_run in ("seed", "device"):
        train.pop(per_run)
    return {"data": bench.data, "data_options": bench.data_options, "data_seed": bench.data_seed,
            "train": train, "stream_dropout": bench.stream_dropout}


def _differences(stored: dict, current: dict) -> list[str]:
    """``["epochs 1 -> 2", ...]``; a training setting the stored manifest predates counts as its default."""
    defaults = TrainConfig().to_dict()
    out = []
    for key in sorted(set(stored) | set(current)):
        a, b = stored.get(key), current.get(key)
        if key == "train":
            for k in sorted(set(a or {}) | set(b or {})):
                x, y = (a or {}).get(k, defaults.get(k)), (b or {}).get(k, defaults.get(k))
                if json.dumps(x, sort_keys=True, default=str) != json.dumps(y, sort_keys=True, default=str):
                    out.append(f"{k} {x!r} -> {y!r}")
        elif json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True, default=str):
            out.append(f"{key} {a!r} -> {b!r}")
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _run_files(out: Path) -> list[tuple[Path, dict]]:
    """``(path, run)`` for every run file in ``out/runs``; an unreadable one is an error naming it."""
    found = []
    for path in sorted((Path(out) / "runs").glob("*.json")):
        run = _read_json(path)
        if not isinstance(run, dict) or run.get("format") != RUN_FORMAT or "method" not in run or "seed" not in run:
            raise StreamFuseError(f"run file {str(path)!r} is unreadable or not a streamfuse run; nothing was written. "
                                  "Move it away to recompute that run")
        found.append((path, run))
    return found


def folder_runs(out: Path) -> list[dict]:
    """Every run in ``out/runs``, parsed."""
    return [run for _, run in _run_files(out)]


def _refuse(out: Path, why: str) -> StreamFuseError:
    return StreamFuseError(f"{str(out)!r}: {why}; nothing was written or overwritten. Use another --out folder"
                           " (or move the file away)")


def check_folder(bench: BenchConfig) -> None:
    """Refuse ``bench.out`` if it mixes settings or holds summary files this bench did not write."""
    out = Path(bench.out)
    for path, run in _run_files(out):
        key = run_key(bench, run["method"], run["seed"])
        if run.get("key") != key:
            raise _refuse(out, f"holds runs made with other settings ({path.name}: key {run.get('key')!r}, expected {key!r}); "
                               "use the original settings to resume")
    present = [name for name in SUMMARY_FILES if (out / name).exists()]
    manifest = _read_json(out / MANIFEST) if (out / MANIFEST).exists() else None
    if (out / MANIFEST).exists() and (not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT):
        raise _refuse(out, f"{MANIFEST} is not a streamfuse bench manifest")
    if manifest is None:
        if present and not _legacy_results(out, bench):
            raise _refuse(out, f"{', '.join(present)} {'was' if len(present) == 1 else 'were'} not written by a streamfuse bench"
                               " with these settings")
        return
    diff = _differences(manifest.get("settings") or {}, settings(bench))
    if diff:
        raise _refuse(out, f"holds results made with other settings ({'; '.join(diff)}); use the original settings to resume")
    if manifest.get("writing"):
        return  # a bench died while rewriting the summary: the files are its own, old or new
    for name in present:
        if manifest.get("files", {}).get(name) != _sha256(out / name):
            raise _refuse(out, f"{name} was changed or replaced since streamfuse bench wrote it")


def _legacy_results(out: Path, bench: BenchConfig) -> bool:
    """A ``results.json`` from a bench before the manifest existed, with these settings."""
    payload = _read_json(out / "results.json")
    if not isinstance(payload, dict) or not isinstance(payload.get("runs"), list) or not payload["runs"]:
        return False
    return all(isinstance(r, dict) and r.get("format") == RUN_FORMAT and r.get("key") == run_key(bench, r.get("method", ""), r.get("seed", -1))
               for r in payload["runs"])


@contextlib.contextmanager
def open_folder(bench: BenchConfig, check: bool = True):
    """Writable, locked and (unless ``check=False``) checked ``bench.out`` for the ``with`` block.

    ``check=False`` is for settings known only once the data is loaded: call ``check_folder``
    then, still before any training.
    """
    out = check_writable_dir(bench.out, "--out")
    with FolderLock(out, "streamfuse bench"):
        if check:
            check_folder(bench)
        yield out


def _write_manifest(out: Path, bench: BenchConfig, files: dict, writing: bool) -> None:
    manifest = {"format": MANIFEST_FORMAT, "settings": settings(bench), "files": files, "writing": writing}
    atomic_write_bytes(out / MANIFEST, lambda fh: fh.write(json.dumps(manifest, indent=1, default=str).encode()))


def write_summary(bench: BenchConfig, runs: list[dict], streams: list[str], plots: bool = True) -> list[dict]:
    """Rewrite the summary files over ``runs`` plus every other run in the folder (the PNGs only
    with ``plots``); returns all runs.

    Runs of this invocation come first, in order; the folder's other runs (made earlier with the
    same settings: other methods or more seeds) follow, sorted by method and seed.
    """
    out = Path(bench.out)
    mine = {(r["method"], r["seed"]) for r in runs}
    rest = sorted((r for r in folder_runs(out) if (r["method"], r["seed"]) not in mine), key=lambda r: (r["method"], r["seed"]))
    every = list(runs) + rest
    config = asdict(bench)
    config["methods"] = list(dict.fromkeys(r["spec"]["method"] for r in every if not baseline(r["method"])))
    old = _read_json(out / MANIFEST) or {}
    _write_manifest(out, bench, old.get("files", {}), writing=True)
    write_results(out, config, aggregate(every, streams), every, streams, plots=plots)
    _write_manifest(out, bench, {n: _sha256(out / n) for n in SUMMARY_FILES if (out / n).exists()}, writing=False)
    return every

