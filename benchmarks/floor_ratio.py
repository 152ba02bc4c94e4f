"""Pre-projected weighted sums (``scalar``/``channel`` with ``project=False, stream_norm=False``)
against the floor, side by side, inference forward (``eval()``, ``no_grad``).

The setting of issue 14: S streams of ``(N, D) = (256, 512)`` already at the fused width, so the
method is only a weighted sum. The floor is the fastest eager way to read the S·N·D inputs once
with the weights already normalised (``floor_candidates`` of ``bench_fusions.py``): a chain of
``addcmul_`` over the list of streams (the floor the issue measured against), at S = 2 one
``lerp`` (the weights are a softmax, so ``w_2 = 1 - w_1``; ours runs it too), or one ``bmm`` over
streams the caller has already stacked into ``(N, S, D)``. Ours takes the list; every ratio is
reported. These floors use one weight per stream; ``channel`` has one per stream and channel,
which the same kernels read more slowly, so its rows also get "× own floor": the faster of the
chain and (S = 2) ``lerp`` with ``(D,)`` weights. Each method is timed as trained (weights
computed from the parameters on every call) and folded (``streamfuse.fold_weights``: the weights
as constants, for inference), each given the list and ("stacked" rows) the pre-stacked
``(N, S, D)`` tensor; a stacked row's own floor is the fastest read of that tensor: the ``bmm``
or (S = 2) one ``lerp`` of its two views, and for ``channel`` the chain or ``lerp`` over its views
with ``(D,)`` weights. Each round times every candidate and method once, in turn (``blocked_autorange``
medians), so a shared machine's drifting load hits them alike; the report is the median over
rounds of each ratio taken within the round, with the lowest and highest.

    python benchmarks/floor_ratio.py [--rounds 15] [--threads 1] [--streams 2 4 8 16] [--device cuda]

On CUDA (``--device cuda``) the Timer synchronises the device around each timed block, so a
median is the wall time of the launched kernels, which at this size is mostly launch overhead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from torch.utils import benchmark

import streamfuse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fusions import floor_candidates  # noqa: E402

METHODS = ("scalar", "channel", "scalar folded", "channel folded",
           "scalar stacked", "channel stacked", "scalar folded stacked", "channel folded stacked")
N, D = 256, 512


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-run-time", type=float, default=0.2)
    p.add_argument("--streams", type=int, nargs="+", default=[2, 4, 8, 16])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch sees no CUDA device")
    for name in ("rounds", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if any(s < 2 for s in args.streams):
        p.error(f"--streams must all be >= 2, got {args.streams}")
    if not args.min_run_time > 0:  # also refuses nan
        p.error(f"--min-run-time must be > 0 seconds, got {args.min_run_time}")
    torch.set_num_threads(args.threads)
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{args.threads} thread(s)"
    print(f"N={N}, D={D}, inference forward, {where}, {args.rounds} rounds, torch {torch.__version__}\n")
    print("| method | S | median µs | addcmul chain µs | × chain | lerp µs (S=2) | × lerp | pre-stacked bmm µs | × bmm | "
          "× own floor | lowest–highest × chain |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in args.streams:
        # without compile: the addcmul_ chain, the bmm and (S=2) the lerp
        cands = floor_candidates(SimpleNamespace(compile=False), s)
        chain, bmm = "eager addcmul loop(xs)", "eager bmm(X)"
        lerp = next((name for name in cands if "lerp" in name), None)
        torch.manual_seed(0)
        xs = [torch.randn(N, D, device=args.device) for _ in range(s)]
        x = torch.stack(xs, dim=1)
        w = torch.softmax(torch.randn(s, device=args.device), 0)
        fns = {name: (lambda fn=fn: fn(xs, x, w)) for name, (fn, _) in cands.items()}
        # the same floors with per-channel weights (D,), channel's own
        wd = torch.softmax(torch.randn(s, D, device=args.device), 0)
        fns["chain (D,)"] = lambda fn=cands[chain][0]: fn(xs, x, wd)
        # the same on the stack's views: the floors for a pre-stacked input
        fns["chain (D,) views"] = lambda fn=cands[chain][0]: fn(x.unbind(1), x, wd)
        if lerp is not None:
            fns["lerp (D,)"] = lambda fn=cands[lerp][0]: fn(xs, x, wd)
            fns["lerp views"] = lambda fn=cands[lerp][0]: fn(x.unbind(1), x, w)
            fns["lerp (D,) views"] = lambda fn=cands[lerp][0]: fn(x.unbind(1), x, wd)
        fusions = {}
        for m in METHODS:
            f = streamfuse.create_fusion(m.split()[0], [D] * s, project=False, stream_norm=False, device=args.device).eval()
            with torch.no_grad():
                f.theta.normal_(0.0, 0.1)  # trained-looking, non-uniform weights
            fusions[m] = streamfuse.fold_weights(f) if "folded" in m else f
        fns.update({m: (lambda f=f, inp=(x if m.endswith("stacked") else xs): f(inp)) for m, f in fusions.items()})
        times: dict[str, list[float]] = {k: [] for k in fns}
        with torch.no_grad():
            for _ in range(args.rounds):
                for k, fn in fns.items():
                    times[k].append(benchmark.Timer("f()", globals={"f": fn}).blocked_autorange(min_run_time=args.min_run_time).median)

        def cols(m: str, floor: str | None) -> str:
            if floor is None:
                return "– | –"
            by = [a / b for a, b in zip(times[m], times[floor])]
            return f"{statistics.median(times[floor]) * 1e6:.1f} | {statistics.median(by):.2f}"

        for m in METHODS:
            by_chain = [a / b for a, b in zip(times[m], times[chain])]
            if m.endswith("stacked"):
                own = [k for k in (("chain (D,) views", "lerp (D,) views") if m.startswith("channel") else (bmm, "lerp views")) if k in times]
            else:
                own = [k for k in (("chain (D,)", "lerp (D,)") if m.startswith("channel") else (chain, lerp)) if k in times]
            by_own = [a / min(times[k][r] for k in own) for r, a in enumerate(times[m])]
            print(f"| {m} | {s} | {statistics.median(times[m]) * 1e6:.1f} | {cols(m, chain)} | {cols(m, lerp)} | "
                  f"{cols(m, bmm)} | {statistics.median(by_own):.2f} | {min(by_chain):.2f}–{max(by_chain):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
