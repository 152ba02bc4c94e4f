"""``attention`` vs torchmultimodal's ``AttentionFusionModule``, side by side, forward+backward.

The setting of issue 14: N=256 pooled streams of widths C=[2048, 512] fused to D=512 (where TMM's
module projects each stream and weights them by a softmax over one linear layer of the
concatenated inputs). Each round times every module once, in turn (``torch.utils.benchmark``
``blocked_autorange``, median of its blocks), so slow drifts of a shared machine's load hit them
alike; the report is the median over rounds of each module's time divided by TMM's in the same
round, with the lowest and highest round ratio.

    pip install --no-deps torchmultimodal-nightly   # its fusion modules need torch only
    python benchmarks/attention_vs_tmm.py [--rounds 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
from torch.utils import benchmark

import streamfuse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fusions import TMM, TMM_INSTALL, tmm_modules  # noqa: E402

VARIANTS = {
    "attention (default: scorer=query)": {},
    "attention (scorer=mlp, hidden=D//2)": {"scorer": "mlp"},
    "attention (scorer=query, stream_norm=False)": {"stream_norm": False},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-run-time", type=float, default=0.3)
    args = p.parse_args(argv)
    for name in ("rounds", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if not args.min_run_time > 0:  # also refuses nan
        p.error(f"--min-run-time must be > 0 seconds, got {args.min_run_time}")
    if TMM is None:
        p.error(f"torchmultimodal is not installed; {TMM_INSTALL}")
    torch.set_num_threads(args.threads)
    dims, n, d = [2048, 512], 256, 512
    torch.manual_seed(0)
    xs = [torch.randn(n, c, requires_grad=True) for c in dims]
    modules = {"torchmultimodal AttentionFusionModule": tmm_modules(dims, d, "cpu")["attention"]}
    modules.update({k: streamfuse.create_fusion("attention", dims, d, **o) for k, o in VARIANTS.items()})

    def step(module):
        def run():
            out = module(xs)
            torch.autograd.grad(out.sum(), [*xs, *module.parameters()])

        return run

    times = {k: [] for k in modules}
    for _ in range(args.rounds):
        for k, m in modules.items():
            times[k].append(benchmark.Timer("f()", globals={"f": step(m)}).blocked_autorange(min_run_time=args.min_run_time).median)
    ref = times["torchmultimodal AttentionFusionModule"]
    print(f"N={n}, C={dims}, D={d}, fwd+bwd, {args.threads} thread(s), {args.rounds} rounds, torch {torch.__version__}\n")
    print("| module | median ms | × TMM (median over rounds) | lowest–highest round |")
    print("|---|---|---|---|")
    for k, t in times.items():
        ratios = [a / b for a, b in zip(t, ref)]
        print(f"| {k} | {statistics.median(t) * 1e3:.2f} | {statistics.median(ratios):.3f} | {min(ratios):.2f}–{max(ratios):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
