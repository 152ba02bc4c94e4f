"""``basicmotions``: UEA BasicMotions -- four activities recorded by a smart watch.

Source: A. Bagnall, H. A. Dau, J. Lines, M. Flynn, J. Large, A. Bostrom, P. Southam, E. Keogh,
"The UEA multivariate time series classification archive, 2018", arXiv:1811.00075; BasicMotions
data from J. Clements (student project, University of East Anglia). Vendored from the copy inside
the aeon 1.6.0 wheel (BSD-3-Clause) by ``scripts/vendor_data.py`` into
``_vendored/basicmotions.npz`` (checked against ``SHA256`` on every load). See LICENSES.txt.

Four students performed four activities wearing a smart watch that records a 3D accelerometer
and a 3D gyroscope, sampled every 0.1 s for 10 s. The archive's six dimensions are accelerometer
x, y, z then gyroscope x, y, z: stated by the archive maintainers (tsml-repo issue #68, 2022,
after finding the project's source code; the description page was updated) and consistent with
the data -- dims 3-5 average close to 0 within a clip, as rotation rates do (median |clip mean|
0.06 against 0.74 for dims 0-2). So:

* ``accelerometer``: float32 ``(N, 3, 100)`` = dims 0-2, kind ``"sequence"``
* ``gyroscope``:     float32 ``(N, 3, 100)`` = dims 3-5, kind ``"sequence"``

4 classes, sorted: Badminton, Running, Standing, Walking. The archive's fixed split: 40 train /
40 test, 10 per class in each; ``seed`` does not change it.

Options:
  ``ts_dir=`` -- read ``BasicMotions_TRAIN.ts`` / ``BasicMotions_TEST.ts`` from this folder
  (``ts_format.read_ts``) instead of the vendored file.
  ``standardize=False`` -- if True, z-score each channel with the TRAIN mean and std over
  samples and time (the two sensors have different units and scales).
  ``noise={"gyroscope": 1.0}``, ``drop=[...]`` -- see ``knobs.py`` (per-channel std).
  ``path=`` -- read another copy of the vendored file; ``verify_checksum=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from streamfuse.data.base import DataError, MultiStreamData, Split
from streamfuse.data.knobs import apply_noise_and_drop, check_options, standardize_splits
from streamfuse.data.ts_format import read_ts
from streamfuse.data.vendored import VENDORED_DIR, load_vendored

STREAMS = {"accelerometer": slice(0, 3), "gyroscope": slice(3, 6)}
CLASSES = ["Badminton", "Running", "Standing", "Walking"]
SHA256 = "300d4cb94535587c06a5e048bb3170ee54fd81e1e84e3c953cc4398630ee1219"
CITATION = (
    "Bagnall, A., Dau, H. A., Lines, J., Flynn, M., Large, J., Bostrom, A., Southam, P., "
    "Keogh, E. (2018). The UEA multivariate time series classification archive, 2018. "
    "arXiv:1811.00075. BasicMotions data from Clements, J."
)
OPTIONS = ["ts_dir", "standardize", "noise", "drop", "path", "verify_checksum"]


def _from_ts(ts_dir: Path) -> dict[str, np.ndarray]:
    out = {}
    for split in ("train", "test"):
        path = Path(ts_dir) / f"BasicMotions_{split.upper()}.ts"
        if not path.is_file():
            raise DataError(f"{path}: file not found; expected the archive's BasicMotions "
                            f"{split.upper()} file in ts_dir.")  # fmt: skip
        x, labels = read_ts(path)
        if x.shape[1:] != (6, 100):
            raise DataError(f"{path}: series are {x.shape[1:]} (dims, length); expected (6, 100).")
        unknown = sorted(set(labels) - set(CLASSES))
        if unknown:
            raise DataError(f"{path}: labels {unknown} are not BasicMotions classes {CLASSES}.")
        out[f"X_{split}"] = x
        out[f"y_{split}"] = np.array([CLASSES.index(label) for label in labels], dtype=np.int64)
    return out


def load_basicmotions(seed: int = 0, **options) -> MultiStreamData:
    """Load BasicMotions (see module docstring)."""
    check_options("basicmotions", options, OPTIONS)
    if options.get("ts_dir") is not None:
        arrays = _from_ts(Path(options["ts_dir"]))
    else:
        expected = {
            "X_train": ("f", (None, 6, 100)), "y_train": ("i", (None,)),
            "X_test": ("f", (None, 6, 100)), "y_test": ("i", (None,)),
            "class_names": ("U", (len(CLASSES),)),
        }  # fmt: skip
        path = options.get("path") or VENDORED_DIR / "basicmotions.npz"
        arrays = load_vendored(
            path, SHA256, expected, verify_checksum=options.get("verify_checksum", True)
        )
        if list(arrays["class_names"]) != CLASSES:
            raise DataError(f"{path}: class_names {list(arrays['class_names'])}; "
                            f"expected {CLASSES}.")  # fmt: skip
    splits = {
        split: {s: arrays[f"X_{split}"][:, dims].astype(np.float32) for s, dims in STREAMS.items()}
        for split in ("train", "test")
    }
    names = list(STREAMS)
    if options.get("standardize", False):
        standardize_splits(splits, names)
    apply_noise_and_drop(
        splits, names, noise=options.get("noise"), drop=options.get("drop"), seed=seed
    )

    def to_split(split: str) -> Split:
        streams = {s: torch.from_numpy(np.ascontiguousarray(splits[split][s])) for s in names}
        return Split(streams, torch.from_numpy(arrays[f"y_{split}"].astype(np.int64)))

    return MultiStreamData(
        name="basicmotions",
        stream_names=names,
        kinds={s: "sequence" for s in names},
        num_classes=len(CLASSES),
        class_names=list(CLASSES),
        train=to_split("train"),
        test=to_split("test"),
        citation=CITATION,
    )
