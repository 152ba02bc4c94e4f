"""Where the time of one pre-projected weighted sum goes: ``scalar`` with ``project=False,
stream_norm=False`` at N=256, D=512, inference forward, against its floors (the ``addcmul_`` chain
with the weights already normalised and, at S = 2, one ``lerp``), piece by piece with ``timeit``
(best of 7 repeats).

    python benchmarks/floor_breakdown.py [--streams 2] [--instructions]

The pieces are the steps of ``Fusion.forward`` for this method: the input checks, the parameter
dtype lookup, the weight logits (``k * theta``), their softmax, and the weighted sum itself; what
the module call costs beyond them is the Python of ``forward`` and ``nn.Module.__call__``. The
same module folded for inference (``streamfuse.fold_weights``: the weights as constants) is
timed and counted too.
``--instructions`` also counts the CPU instructions of the floors and of the module call with
valgrind (``torch.utils.benchmark``'s ``collect_callgrind``; about a minute each): unlike a time,
the count is the same on an idle and on a loaded machine, so the per-call overhead it shows can be
compared between runs. It does not see memory stalls, which make up much of the floors' time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import timeit

import torch
from torch.utils import benchmark

import streamfuse

N, D = 256, 512


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--instructions", action="store_true", help="also count instructions with valgrind")
    args = p.parse_args(argv)
    if args.streams < 2:
        p.error(f"--streams must be >= 2, got {args.streams}")
    if args.instructions and shutil.which("valgrind") is None:
        p.error("--instructions needs valgrind on PATH")
    torch.set_num_threads(1)
    s = args.streams
    f = streamfuse.create_fusion("scalar", [D] * s, project=False, stream_norm=False).eval()
    xs = [torch.randn(N, D) for _ in range(s)]
    w = torch.softmax(torch.randn(s), 0)
    folded = streamfuse.fold_weights(f)

    def floor():
        out = xs[0] * w[0]
        for i in range(1, s):
            out = out.addcmul_(xs[i], w[i])
        return out

    def us(fn, n=3000):
        return min(timeit.repeat(fn, number=n, repeat=7)) / n * 1e6

    def lerp():
        return torch.lerp(xs[1], xs[0], w[0])

    with torch.no_grad():
        logits = f.logits()
        weights = f.shared_weights(logits, "softmax", None)
        rows = {
            "floor (addcmul_ chain, weights given)": us(floor),
            **({"floor (lerp, weights given)": us(lerp)} if s == 2 else {}),
            "scalar module call": us(lambda: f(xs)),
            "folded scalar module call (streamfuse.fold_weights)": us(lambda: folded(xs)),
            "  input checks (check_streams)": us(lambda: f.check_streams(xs)),
            "  parameter dtype": us(f.parameter_dtype),
            "  weight logits (k * theta)": us(f.logits),
            "  softmax of the logits": us(lambda: f.shared_weights(logits, "softmax", None)),
            "  weighted sum (project_and_sum)": us(lambda: f.project_and_sum(xs, weights, shared=True, convex=True)),
        }
    print(f"S={s}, N={N}, D={D}, one thread, torch {torch.__version__}\n")
    print("| step | µs |")
    print("|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.1f} |")
    if args.instructions:
        print("\n| call | instructions | × addcmul_ chain |")
        print("|---|---|---|")
        counts = {name: instructions(stmt, s) for name, stmt in INSTRUCTION_STMTS.items() if s == 2 or "lerp" not in name}
        for name, count in counts.items():
            print(f"| {name} | {count:,.0f} | {count / counts['floor (addcmul_ chain)']:.2f} |")
    return 0


INSTRUCTION_STMTS = {
    "floor (addcmul_ chain)": "out = xs[0] * w[0]\nfor i in range(1, len(xs)): out = out.addcmul_(xs[i], w[i])",
    "floor (lerp)": "torch.lerp(xs[1], xs[0], w[0])",
    "scalar module call": "f(xs)",
    "folded scalar module call": "g(xs)",
}


def instructions(stmt: str, s: int, number: int = 100) -> float:
    """Instructions per call of ``stmt`` (valgrind, denoised), with the same setup as the timings."""
    setup = (
        "import torch, streamfuse\ntorch.set_num_threads(1)\ntorch.set_grad_enabled(False)\n"
        f"f = streamfuse.create_fusion('scalar', [{D}] * {s}, project=False, stream_norm=False).eval()\n"
        f"xs = [torch.randn({N}, {D}) for _ in range({s})]\nw = torch.softmax(torch.randn({s}), 0)\n"
        "g = streamfuse.fold_weights(f)"
    )
    stats = benchmark.Timer(stmt, setup=setup).collect_callgrind(number=number, collect_baseline=False)
    return stats.counts(denoise=True) / number


if __name__ == "__main__":
    sys.exit(main())
