"""``load_data(spec)``: one entry point for the built-in datasets and user folders.

``spec`` is a built-in name (``list_datasets()``: ``video`` generated, ``mfeat`` and
``basicmotions`` vendored) or the path of a folder of ``.npz`` files (``npz_folder.py``).
Options are passed on to the loader, which rejects any it does not know.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from streamfuse.data.base import DataError, MultiStreamData
from streamfuse.data.basicmotions import STREAMS as BASICMOTIONS_STREAMS
from streamfuse.data.basicmotions import load_basicmotions
from streamfuse.data.mfeat import VIEWS as MFEAT_VIEWS
from streamfuse.data.mfeat import load_mfeat
from streamfuse.data.npz_folder import load_npz_folder
from streamfuse.data.video import STREAMS as VIDEO_STREAMS
from streamfuse.data.video import load_video
from streamfuse.errors import suggest

_DATASETS: dict[str, Callable[..., MultiStreamData]] = {
    "video": load_video,
    "mfeat": load_mfeat,
    "basicmotions": load_basicmotions,
}


def list_datasets() -> list[str]:
    """Names of the built-in datasets, in a fixed order."""
    return list(_DATASETS)


_STREAMS: dict[str, list[str]] = {"video": list(VIDEO_STREAMS), "mfeat": list(MFEAT_VIEWS), "basicmotions": list(BASICMOTIONS_STREAMS)}


def stream_names_of(spec: str | os.PathLike) -> list[str] | None:
    """The stream names of a dataset without loading it (a built-in's declared streams, a folder's
    train.npz keys), so that arguments naming streams are checked before any data is loaded; None
    when that cannot be told cheaply (the loader then reports the problem)."""
    if isinstance(spec, str) and spec in _STREAMS:
        return list(_STREAMS[spec])
    path = Path(spec) / "train.npz" if isinstance(spec, (str, os.PathLike)) else None
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return [k for k in archive.files if k not in ("labels", "y")]
    except Exception:  # unreadable: load_data says why, with the file named
        return None


def load_data(spec: str | os.PathLike, *, seed: int = 0, **options) -> MultiStreamData:
    """Load a built-in dataset by name, or a user dataset from a folder of .npz files.

    A folder whose path is exactly a built-in name (``"video"``) loads the built-in dataset;
    write ``"./video"`` to mean the folder.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DataError(f"seed={seed!r}; expected an integer >= 0.")
    if isinstance(spec, str) and spec in _DATASETS:
        return _DATASETS[spec](seed=seed, **options)
    if not isinstance(spec, (str, os.PathLike)):
        raise DataError(f"dataset spec is {type(spec).__name__} {spec!r}; expected a name "
                        f"({', '.join(_DATASETS)}) or a folder path.")  # fmt: skip
    path = Path(spec)
    if path.is_dir():
        return load_npz_folder(path, seed=seed, **options)
    if path.exists():
        raise DataError(f"{path}: is a file; expected a folder holding train.npz "
                        f"(and optionally test.npz, meta.json).")  # fmt: skip
    raise DataError(
        f"unknown dataset {str(spec)!r}.{suggest(str(spec), _DATASETS)} Valid names: "
        f"{', '.join(_DATASETS)}; or the path of an existing folder of .npz files "
        f"(train.npz, optional test.npz)."
    )
