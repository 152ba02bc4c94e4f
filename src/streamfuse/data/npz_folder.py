"""Your own data: a folder of ``.npz`` files, loaded with ``load_data("path/to/folder")``.

Format::

    my_data/
      train.npz    required
      test.npz     optional
      meta.json    optional

``train.npz`` / ``test.npz`` hold one array per stream, keyed by the stream's name, plus the
labels under ``labels`` (or ``y``, not both)::

    np.savez("my_data/train.npz", rgb=rgb, flow=flow, labels=y)

* a stream array is ``(N, C)`` (kind ``"vector"``), ``(N, C, L)`` (``"sequence"``),
  ``(N, C, H, W)`` (``"image"``) or ``(N, C, T, H, W)`` (``"video"``): any numeric dtype,
  converted to float32, no NaN or Inf; the streams keep the order they have in ``train.npz``;
* a stream's name keys the model's per-stream modules (``torch.nn.ModuleDict``): not empty, no
  ``.``, not one of its attribute names (``keys``, ``training``...); anything else goes;
* ``labels`` is ``(N,)`` of integers >= 0 (a float array is accepted if every value is a whole
  number); the classes are ``0 .. max label`` unless ``meta.json`` names them, so without names
  the labels must be numbered without gaps (ids such as 100, 200, 300 are refused);
* no split may be empty, and no stream may have a zero-size axis;
* ``test.npz`` must hold the same streams with the same per-sample shapes. Without it, a
  stratified 20% of ``train.npz`` is held out as the test split (round(0.2 * n) per class, drawn
  with ``numpy.random.default_rng(0)``, so the split does not depend on ``seed``);
* ``meta.json`` may hold ``{"class_names": [...], "kinds": {"stream": "video"}, "citation":
  "..."}``; kinds not given are inferred from the array rank as above;
* every class ``0 .. K-1`` (K = the number of ``class_names``, else max label + 1) needs
  training samples, and there must be at least two: a class only the test split holds, an
  unused class name or label, or a single class is refused (nothing could learn or score it).

Options: ``noise=``, ``drop=`` as for every dataset (``knobs.py``). Every problem raises
``DataError`` naming the file and stream, what was found and what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from streamfuse.data.base import KIND_RANKS, DataError, MultiStreamData, Split
from streamfuse.data.knobs import apply_noise_and_drop, check_options
from streamfuse.data.vendored import read_npz

OPTIONS = ["noise", "drop"]
MAX_LABEL = 100_000  # far beyond any classifier here; a larger label is an id, not a class
_MODULE_DICT = nn.ModuleDict()
META_KEYS = ["class_names", "kinds", "citation"]
HELD_OUT = 0.2
_KIND_OF_RANK = {rank: kind for kind, rank in KIND_RANKS.items()}


def _labels(path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    keys = [k for k in ("labels", "y") if k in arrays]
    if len(keys) != 1:
        got = "both 'labels' and 'y'" if keys else f"keys {sorted(arrays)}"
        raise DataError(f"{path}: got {got}; expected exactly one label array, 'labels' or 'y'.")
    key, y = keys[0], arrays[keys[0]]
    if y.ndim != 1:
        raise DataError(f"{path}: {key!r} has shape {y.shape}; expected (N,).")
    if y.dtype.kind in "f" and np.isfinite(y).all() and np.array_equal(y, np.round(y)):
        y = y.astype(np.int64)  # whole numbers stored as floats (e.g. from pandas) are fine
    if y.dtype.kind not in "iu":
        raise DataError(f"{path}: {key!r} is {y.dtype} with values like {y[:3].tolist()}; "
                        f"expected integer class labels.")  # fmt: skip
    if len(y) and y.min() < 0:
        raise DataError(f"{path}: {key!r} has a negative label {int(y.min())}; expected >= 0.")
    if len(y) and int(y.max()) > MAX_LABEL:  # (before int64, which would wrap a huge uint64)
        raise DataError(f"{path}: {key!r} has a label {int(y.max())}; expected class numbers "
                        f"0..K-1 (at most {MAX_LABEL}): renumber them, e.g. with "
                        f"np.unique(y, return_inverse=True).")  # fmt: skip
    return y.astype(np.int64)


def _check_name(path: Path, name: str) -> None:
    """Stream names key the per-stream modules of the trained model (``nn.ModuleDict``), which
    refuses an empty name, a "." and the names of its own attributes."""
    if not name or "." in name:
        raise DataError(f"{path}: stream {name!r}: a stream name must be non-empty and without '.' "
                        f"(it keys the model's per-stream modules); rename the array.")  # fmt: skip
    if hasattr(_MODULE_DICT, name):
        raise DataError(f"{path}: stream {name!r}: the name is taken by torch.nn.ModuleDict (which "
                        f"holds the per-stream modules); rename the array, e.g. to {name + '_stream'!r}.")  # fmt: skip


def _stream(path: Path, name: str, x: np.ndarray, n: int) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: stream {name!r} has dtype {x.dtype}; expected a real numeric "
                        f"array (bool, int, uint or float).")  # fmt: skip
    if not 2 <= x.ndim <= 5:
        raise DataError(f"{path}: stream {name!r} has shape {x.shape}; expected (N, C), (N, C, L),"
                        f" (N, C, H, W) or (N, C, T, H, W).")  # fmt: skip
    if 0 in x.shape[1:]:
        raise DataError(f"{path}: stream {name!r} has shape {x.shape}; expected at least one "
                        f"channel and one position along every axis after N.")  # fmt: skip
    if x.shape[0] != n:
        raise DataError(f"{path}: stream {name!r} has {x.shape[0]} samples but the labels have "
                        f"{n}; expected the same N.")  # fmt: skip
    with np.errstate(over="ignore"):  # values beyond float32 become inf, reported just below
        x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{path}: stream {name!r} has {int(bad.sum())} NaN/Inf values (after "
                        f"conversion to float32; first at index {first}); expected finite "
                        f"values.")  # fmt: skip
    return x


def _read_split(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a folder with train.npz "
                        f"(and optionally test.npz, meta.json).")  # fmt: skip
    arrays = read_npz(path)
    y = _labels(path, arrays)
    if len(y) == 0:
        raise DataError(f"{path}: 0 samples; expected at least one (an empty split can be neither "
                        f"trained nor scored).")  # fmt: skip
    names = [k for k in arrays if k not in ("labels", "y")]
    if not names:
        raise DataError(f"{path}: only labels, no stream arrays; expected one array per stream.")
    for name in names:
        _check_name(path, name)
    return {k: _stream(path, k, arrays[k], len(y)) for k in names}, y


def _held_out(y: np.ndarray, path: Path) -> np.ndarray:
    """Bool mask of a stratified HELD_OUT fraction of ``y`` (fixed seed, see module docstring)."""
    rng, test = np.random.default_rng(0), np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        test[rng.permutation(members)[: int(round(HELD_OUT * len(members)))]] = True
    if not test.any() or test.all():
        raise DataError(f"{path}: {len(y)} samples are too few to hold out a stratified "
                        f"{HELD_OUT:.0%} test split; expected a test.npz next to it.")  # fmt: skip
    return test


def _meta(folder: Path) -> dict:
    path = folder / "meta.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read JSON ({e}); expected a JSON object.") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: got a JSON {type(meta).__name__}; expected an object.")
    for key in meta:
        if key not in META_KEYS:
            raise DataError(f"{path}: unknown key {key!r}; expected only {', '.join(META_KEYS)}.")
    return meta


def _kinds(folder: Path, meta: dict, train: dict[str, np.ndarray]) -> dict[str, str]:
    given = meta.get("kinds", {})
    path = folder / "meta.json"
    if not isinstance(given, dict):
        raise DataError(f"{path}: 'kinds' is {given!r}; expected an object stream -> kind.")
    for name in given:
        if name not in train:
            raise DataError(f"{path}: 'kinds' names stream {name!r}, which train.npz lacks; "
                            f"streams: {', '.join(train)}.")  # fmt: skip
    kinds = {}
    for name, x in train.items():
        kind = given.get(name, _KIND_OF_RANK[x.ndim])
        if KIND_RANKS.get(kind) != x.ndim:
            raise DataError(f"{path}: stream {name!r} is given kind {kind!r} but has shape "
                            f"{x.shape}; expected one of {', '.join(KIND_RANKS)} matching rank "
                            f"{x.ndim} ({_KIND_OF_RANK[x.ndim]!r}).")  # fmt: skip
        kinds[name] = kind
    return kinds


def _check_classes(folder: Path, y_train: np.ndarray, y_test: np.ndarray, names: list[str]) -> None:
    """Refuse data a classifier cannot be trained or honestly scored on: fewer than two classes
    in train, a class (named or labelled) that train lacks."""
    counts = np.bincount(y_train, minlength=len(names))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        only = f"class {names[present[0]]!r}" if len(present) else "no class"
        raise DataError(f"{folder / 'train.npz'}: every training label is {only}; expected at least two "
                        f"classes to tell apart.")  # fmt: skip
    in_test = np.bincount(y_test, minlength=len(names))
    unseen = [c for c in range(len(names)) if counts[c] == 0 and in_test[c] > 0]
    if unseen:
        listed = ", ".join(f"{names[c]!r} ({in_test[c]} test samples)" for c in unseen)
        raise DataError(f"{folder / 'test.npz'}: class {listed} has no training samples, so no model "
                        f"trained here can predict it; expected every test class in train.npz too.")  # fmt: skip
    empty = [c for c in range(len(names)) if counts[c] == 0]
    if empty:
        listed = ", ".join(f"{c} {names[c]!r}" for c in empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        raise DataError(f"{folder}: class {listed} has no samples (class_names in meta.json: "
                        f"{len(names)}, labels in 0..{len(names) - 1}); expected every class to "
                        f"have training samples: drop unused names or renumber the labels "
                        f"0..K-1.")  # fmt: skip


def _check_numbering(folder: Path, y_train: np.ndarray) -> None:
    """Without class names the classes are 0..max label: training labels with gaps (ids such as
    100, 200, 300) would make hundreds of empty classes; say so briefly instead of listing them.
    (A class only the test split holds is named by ``_check_classes``.)"""
    used = np.unique(y_train)
    if len(used) != int(used[-1]) + 1:
        missing = np.setdiff1d(np.arange(int(used[-1]) + 1), used)
        raise DataError(f"{folder}: the labels take {len(used)} distinct values up to {int(used[-1])} "
                        f"({_few(used)}); expected classes numbered 0..K-1 without gaps, but "
                        f"{len(missing)} numbers are unused ({_few(missing)}): renumber them, e.g. "
                        f"with np.unique(y, return_inverse=True), or name every class in "
                        f"meta.json's class_names.")  # fmt: skip


def _few(values: np.ndarray, most: int = 5) -> str:
    shown = ", ".join(str(int(v)) for v in values[:most])
    return shown + (", ..." if len(values) > most else "")


def load_npz_folder(folder: str | Path, seed: int = 0, **options) -> MultiStreamData:
    """Load a user dataset folder (format in the module docstring)."""
    check_options("npz folder", options, OPTIONS)
    folder = Path(folder)
    train, y_train = _read_split(folder / "train.npz")
    if (folder / "test.npz").is_file():
        test, y_test = _read_split(folder / "test.npz")
        for name in train:
            if name not in test:
                raise DataError(f"{folder / 'test.npz'}: stream {name!r} is missing; expected the"
                                f" streams of train.npz: {', '.join(train)}.")  # fmt: skip
            if test[name].shape[1:] != train[name].shape[1:]:
                raise DataError(f"{folder / 'test.npz'}: stream {name!r} has per-sample shape "
                                f"{test[name].shape[1:]}; expected {train[name].shape[1:]} as "
                                f"in train.npz.")  # fmt: skip
        for name in test:
            if name not in train:
                raise DataError(f"{folder / 'test.npz'}: stream {name!r} is not in train.npz; "
                                f"expected only {', '.join(train)}.")  # fmt: skip
        test = {name: test[name] for name in train}  # train.npz fixes the order
    else:
        mask = _held_out(y_train, folder / "train.npz")
        test, y_test = {k: v[mask] for k, v in train.items()}, y_train[mask]
        train, y_train = {k: v[~mask] for k, v in train.items()}, y_train[~mask]

    meta = _meta(folder)
    kinds = _kinds(folder, meta, train)
    top = int(max(y_train.max(initial=-1), y_test.max(initial=-1)))
    class_names = meta.get("class_names", [str(c) for c in range(top + 1)])
    if not isinstance(class_names, list) or not all(isinstance(c, str) for c in class_names):
        raise DataError(f"{folder / 'meta.json'}: 'class_names' is {class_names!r}; expected a "
                        f"list of strings.")  # fmt: skip
    if top >= len(class_names):
        raise DataError(f"{folder / 'meta.json'}: {len(class_names)} class_names but labels go "
                        f"up to {top}; expected one name per class 0..{top}.")  # fmt: skip
    if "class_names" not in meta:
        _check_numbering(folder, y_train)
    _check_classes(folder, y_train, y_test, class_names)

    names = list(train)
    splits = {"train": train, "test": test}
    noise, drop = options.get("noise"), options.get("drop")
    apply_noise_and_drop(splits, names, noise=noise, drop=drop, seed=seed)

    def to_split(split: str, y: np.ndarray) -> Split:
        return Split({k: torch.from_numpy(splits[split][k]) for k in names}, torch.from_numpy(y))

    return MultiStreamData(
        name=folder.resolve().name,
        stream_names=names,
        kinds=kinds,
        num_classes=len(class_names),
        class_names=list(class_names),
        train=to_split("train", y_train),
        test=to_split("test", y_test),
        citation=str(meta.get("citation", "")),
    )
