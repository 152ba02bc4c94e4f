"""Write a vendored data set as a user-data folder, features exactly as they come.

    python benchmarks/make_user_folder.py mfeat|basicmotions OUT_DIR

OUT_DIR gets ``train.npz`` / ``test.npz`` (the fixed split of ``--data mfeat`` / ``basicmotions``)
and ``meta.json`` (class names, citation), NOT standardised. mfeat: six vector streams; the raw
``mor`` stream (morphological features) reaches 1.76e4 while ``fou`` stays below 1 and the other
streams below 1.4e3 -- the badly scaled stream of issue 15, as a practitioner saving their
features would meet it. basicmotions: two sequence streams, 40 / 40 samples (small data).
Refuses to write into a folder that already holds any of the three files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from streamfuse.data import load_data

FILES = ("train.npz", "test.npz", "meta.json")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("mfeat", "basicmotions"):
        print("usage: " + __doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    name, out = argv[0], Path(argv[1])
    taken = [f for f in FILES if (out / f).exists()]
    if taken:
        print(f"{out} already holds {', '.join(taken)}; nothing was written. Choose another folder.", file=sys.stderr)
        return 2
    data = load_data(name, standardize=False)
    out.mkdir(parents=True, exist_ok=True)
    for name, split in (("train", data.train), ("test", data.test)):
        arrays = {s: split.streams[s].numpy() for s in data.stream_names}
        np.savez(out / f"{name}.npz", **arrays, labels=split.labels.numpy())
    meta = {"class_names": data.class_names, "citation": data.citation}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    for s in data.stream_names:
        x = data.train.streams[s]
        print(f"{s:<4} {tuple(x.shape[1:])}  train range {float(x.min()):.4g} .. {float(x.max()):.4g}")
    print(f"wrote {out}/train.npz, test.npz, meta.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
