"""Where does a trained ``gmu`` put a useless stream: in its gate, or in its candidate?

GMU (Arevalo et al. 2017, https://arxiv.org/abs/1702.01992) mixes per-stream candidates
``h_i = tanh(W_i x_i + b_i)`` with a gate ``z_i``. Its reported weight is the gate. But a stream
can also be silenced upstream of the gate: if ``W_i`` learns to ignore ``x_i``, ``h_i`` is the
same vector ``tanh(b_i)`` for every sample and carries nothing, whatever ``z_i`` is. This script
prints, per stream of each checkpoint, on the checkpoint's own test split:

- ``gate``: mean of ``z_i`` (the weight that `streamfuse bench` reports),
- ``|h|``: mean absolute candidate value (how large the stream's input to the mix is),
- ``h sd``: standard deviation of ``h_i`` across samples, averaged over channels (how much the
  candidate varies from sample to sample, i.e. can tell samples apart),
- ``z·h sd``: the same for the gated contribution ``z_i * h_i``.

    streamfuse train --data video --drop pose --fusion gmu --stacked ... --save gmu.pt
    python benchmarks/gmu_candidates.py gmu.pt [more.pt ...]
"""

from __future__ import annotations

import argparse

import torch

from streamfuse.data import load_data
from streamfuse.training import load_checkpoint


@torch.no_grad()
def candidate_stats(path: str) -> list[dict]:
    model, payload = load_checkpoint(path)
    if payload["spec"]["method"] != "gmu":
        raise SystemExit(f"{path}: a {payload['spec']['method']!r} checkpoint; this script reads gmu models")
    cfg = payload["config"]
    data = load_data(cfg["data"], seed=cfg.get("data_seed", 0), **(cfg.get("data_options") or {}))
    fusion = model.head.fusion
    seen = {}
    handle = fusion.register_forward_pre_hook(lambda mod, args: seen.__setitem__("xs", args[0]))
    _, z = model(data.test.streams, return_weights=True)  # z: (N, S, D)
    handle.remove()
    xs = seen["xs"]
    xs = [xs[s] for s in fusion.stream_names] if isinstance(xs, dict) else list(xs)
    h = torch.tanh(fusion.proj([x.flatten(1) for x in xs]))  # (N, S, D), as in GatedMultimodalFusion.fuse
    return [
        {
            "stream": s,
            "gate": z[:, i].mean().item(),
            "|h|": h[:, i].abs().mean().item(),
            "h sd": h[:, i].std(0).mean().item(),
            "z·h sd": (z[:, i] * h[:, i]).std(0).mean().item(),
        }
        for i, s in enumerate(fusion.stream_names)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    args = parser.parse_args()
    print("| checkpoint | stream | gate | abs h | h sd | z·h sd |\n|---|---|---|---|---|---|")
    for path in args.checkpoints:
        for r in candidate_stats(path):
            print(f"| {path} | {r['stream']} | {r['gate']:.3f} | {r['|h|']:.3f} | {r['h sd']:.3f} | {r['z·h sd']:.3f} |")


if __name__ == "__main__":
    main()
