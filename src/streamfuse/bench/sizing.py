"""Training settings for user data (a folder of .npz files), sized from the data itself.

The built-in datasets have hand-tuned presets (``bench.presets.PRESETS``, measured in BENCHMARKS.md).
A user's folder gets ``PRESETS["folder"]`` (lr, standardisation) with the size-dependent settings
derived here, so a small vector data set is not given the encoder and schedule of a video one:

* ``width``: all streams vectors -> the widest stream's feature count rounded up to a power of
  two, within 64..256 (UCI mfeat's widest view, 240 features, gives 256, the width its own preset
  was tuned to); any sequence/image/video stream -> 64 (convolutions dominate the cost);
* ``batch_size``: a power of two near an eighth of the training samples, within 16..64;
* ``epochs``: enough for about ``STEPS`` optimiser steps, within 40..150 epochs (small data gets
  more epochs of few steps); ``patience``: a quarter of the epochs, at least 10;
* ``val_fraction``: 0.2 below 200 training samples (else 0.15), so validation can rank models.

Any of these given on the command line wins.
"""

from __future__ import annotations

import math
from dataclasses import replace

STEPS = 800
SIZED = ("width", "batch_size", "epochs", "patience", "val_fraction")


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(x, 1)))))


def sized_settings(data) -> dict:
    """The size-dependent settings (``SIZED``) for ``data`` (a ``MultiStreamData``), as a dict."""
    n = len(data.train)
    val_fraction = 0.2 if n < 200 else 0.15
    vectors = all(data.kinds[s] == "vector" for s in data.stream_names)
    widest = max(int(data.train.streams[s].shape[1]) for s in data.stream_names)
    width = min(256, max(64, 1 << math.ceil(math.log2(max(widest, 1))))) if vectors else 64
    batch_size = min(64, max(16, _pow2_floor(n / 8)))
    steps_per_epoch = max(1, math.ceil(n * (1 - val_fraction) / batch_size))
    epochs = min(150, max(40, math.ceil(STEPS / steps_per_epoch)))
    return {"width": width, "batch_size": batch_size, "epochs": epochs, "patience": max(10, epochs // 4), "val_fraction": val_fraction}


def size_config(cfg, data, given: set[str]):
    """``cfg`` (a ``TrainConfig``) with the ``sized_settings`` of ``data``, except those in ``given``."""
    return replace(cfg, **{k: v for k, v in sized_settings(data).items() if k not in given})
