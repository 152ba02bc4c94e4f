"""Where the time of one pre-projected weighted sum goes: ``scalar`` with ``project=False,
stream_norm=False`` at N=256, D=512, inference forward, against its floor (the ``addcmul_`` chain
with the weights already normalised), piece by piece with ``timeit`` (best of 7 repeats).

    python benchmarks/floor_breakdown.py [--streams 2]

The pieces are the steps of ``Fusion.forward`` for this method: the input checks, the parameter
dtype lookup, the weight logits (``k * theta``), their softmax, and the weighted sum itself; what
the module call costs beyond them is the Python of ``forward`` and ``nn.Module.__call__``.
"""

from __future__ import annotations

import argparse
import sys
import timeit

import torch

import streamfuse

N, D = 256, 512


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=2)
    args = p.parse_args(argv)
    if args.streams < 2:
        p.error(f"--streams must be >= 2, got {args.streams}")
    torch.set_num_threads(1)
    s = args.streams
    f = streamfuse.create_fusion("scalar", [D] * s, project=False, stream_norm=False).eval()
    xs = [torch.randn(N, D) for _ in range(s)]
    w = torch.softmax(torch.randn(s), 0)

    def floor():
        out = xs[0] * w[0]
        for i in range(1, s):
            out = out.addcmul_(xs[i], w[i])
        return out

    def us(fn, n=3000):
        return min(timeit.repeat(fn, number=n, repeat=7)) / n * 1e6

    with torch.no_grad():
        logits = f.logits()
        weights = f.shared_weights(logits, "softmax", None)
        rows = {
            "floor (addcmul_ chain, weights given)": us(floor),
            "scalar module call": us(lambda: f(xs)),
            "  input checks (check_streams)": us(lambda: f.check_streams(xs)),
            "  parameter dtype": us(f.parameter_dtype),
            "  weight logits (k * theta)": us(f.logits),
            "  softmax of the logits": us(lambda: f.shared_weights(logits, "softmax", None)),
            "  weighted sum (project_and_sum)": us(lambda: f.project_and_sum(xs, weights, shared=True)),
        }
    print(f"S={s}, N={N}, D={D}, one thread, torch {torch.__version__}\n")
    print("| step | µs |")
    print("|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
