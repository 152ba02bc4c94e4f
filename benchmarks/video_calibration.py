"""Calibration of the generated ``video`` data: each stream alone, and the two averaged.

Trains ``single:pose`` and ``single:rgb`` (the bench's single-stream baselines: the reference
3D-CNN encoder of each stream, then pool -> dropout -> fc) on the default-size data (600/300
clips), then scores the test clips with each model and with the mean of the two models' class
probabilities (two independently trained single-stream models averaged, as a two-stream
ensemble would be). The docstring of ``streamfuse/data/video.py`` quotes this script's output.

    python benchmarks/video_calibration.py [--seeds 3] [--epochs 20] [--lr 2e-3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch

from streamfuse.bench.presets import train_config
from streamfuse.bench.runner import model_spec
from streamfuse.data import load_data
from streamfuse.training import predict, train_model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    for name in ("seeds", "epochs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not (args.lr > 0 and args.lr < float("inf")):  # also refuses nan
        p.error(f"--lr must be a finite number > 0, got {args.lr}")
    torch.set_num_threads(args.threads)
    data = load_data("video")  # default sizes: 600 training, 300 test clips
    y = data.test.labels
    rows = {"pose": [], "rgb": [], "pose+rgb averaged": []}
    for seed in range(args.seeds):
        cfg = train_config("video", seed=seed, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size)
        probs = {}
        for s in data.stream_names:
            model, _ = train_model(model_spec(f"single:{s}", data, cfg, 0.0), data.train.streams, data.train.labels, cfg)
            probs[s] = predict(model, data.test.streams).softmax(1)
            rows[s].append(float((probs[s].argmax(1) == y).float().mean()))
        rows["pose+rgb averaged"].append(float(((probs["pose"] + probs["rgb"]) / 2).argmax(1).eq(y).float().mean()))
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rows.items()), flush=True)
    print(f"\nvideo, {len(data.train.labels)}/{len(y)} clips, {args.epochs} epochs, lr {args.lr:g}, batch {args.batch_size}, "
          f"width {cfg.width}, {args.seeds} seeds (test accuracy, chance 0.125):")
    for k, v in rows.items():
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        print(f"  {k:<18} {statistics.mean(v):.3f} ± {sd:.3f}   ({', '.join(f'{x:.3f}' for x in v)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
