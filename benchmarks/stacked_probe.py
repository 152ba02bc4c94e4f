"""Probe for issue #3/#4: does a fusion weight follow held-out information if the head is trained
on samples its encoders never saw?

Two-stage ("stacked") training on the generated video data with one stream replaced by noise:
stage 1 trains one single-stream model per stream on half A of the training clips (30 epochs,
no early stopping); stage 2 freezes those encoders (eval-mode BatchNorm) and trains only the
fusion head (fusion + classifier, AdamW 2e-3, no weight decay, 30 epochs) on half B. Memorised
noise features of A do not carry over to B, so the head sees the noise stream as what it is.
Not a library feature (yet): a measurement that tells the next step.

    python benchmarks/stacked_probe.py            # both directions, every weighting method, ~45 s on 2 cores
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F

from streamfuse.data import load_data
from streamfuse.training.loop import TrainConfig, take, train_model
from streamfuse.training.models import build_model

METHODS = ["scalar", "convex", "channel", "adaptive", "attention", "gmu", "selective"]


def run(drop: str, methods=METHODS, seed: int = 0) -> list[str]:
    data = load_data("video", seed=seed, n_train=600, n_test=300, drop=drop)
    streams, y = data.train.streams, data.train.labels
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    half_a, half_b = perm[: len(y) // 2], perm[len(y) // 2:]
    base = dict(streams=data.stream_names, kinds=data.kinds, num_classes=data.num_classes, width=64, pool="max",
                in_channels={s: v.shape[1] for s, v in streams.items()})
    cfg = TrainConfig(epochs=30, width=64, lr=2e-3, patience=30, seed=seed)
    encoders, alone = {}, {}
    for s in data.stream_names:
        model, _ = train_model(dict(base, method=f"single:{s}"), take(streams, half_a), y[half_a], cfg)
        with torch.no_grad():
            alone[s] = (model(data.test.streams).argmax(1) == data.test.labels).float().mean().item()
        encoders[s] = model.encoders[s]
    rows = []
    for method in methods:
        torch.manual_seed(seed)
        net = build_model(dict(base, method=method))
        for s in data.stream_names:
            net.encoders[s].load_state_dict(encoders[s].state_dict())
            net.encoders[s].requires_grad_(False)
        opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=2e-3, weight_decay=0.0)
        xb, yb = take(streams, half_b), y[half_b]
        for _ in range(30):
            net.train()
            for enc in net.encoders.values():
                enc.eval()  # frozen: keep BatchNorm statistics from stage 1
            for idx in torch.randperm(len(yb)).split(32):
                loss = F.cross_entropy(net(take(xb, idx)), yb[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            scores, w = net(data.test.streams, return_weights=True)
        acc = (scores.argmax(1) == data.test.labels).float().mean().item()
        mean_w = w.float().mean(dim=tuple(d for d in range(w.dim()) if d != 1)).tolist()
        cells = " | ".join(f"{v:.2f}" for v in mean_w)
        rows.append(f"| {drop} | {method} | {100 * acc:.1f} | {cells} |")
    rows.append(f"| {drop} | (stage-1 single-stream models) | " + " / ".join(f"{s} {100 * a:.1f}" for s, a in alone.items()) + " | | |")
    return rows


def main() -> int:
    torch.set_num_threads(2)
    start = time.perf_counter()
    lines = ["| noise stream | method | test acc % | w[pose] | w[rgb] |", "|---|---|---|---|---|"]
    for drop in ("pose", "rgb"):
        lines += run(drop)
    print("\n".join(lines))
    print(f"\n{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
