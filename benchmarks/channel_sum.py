"""Channel-level weighted sums at inference: multiply-then-sum against multiply-adds over views.

``sum_s w[s] * x[:, s]`` for stacked streams ``x (N, S, D)`` and channel-level weights, shared
``(S, D)`` (``channel`` without a mask) or per sample ``(N, S, D)`` (``adaptive``, ``gmu``,
``selective``, or ``channel`` with a mask). ``(x * w).sum(1)`` writes the whole ``(N, S, D)``
product before reducing it; the chain ``x[:, 0] * w[0]``, then ``addcmul_`` per further stream,
reads each stream's view once and writes only ``(N, D)``. ``layers.masking.weighted_sum`` takes
the chain at inference on CPU since this measurement; on CUDA (``--device cuda``) the chain's S
kernel launches lose to the two kernels of multiply-then-sum, which it keeps there (and under
autograd, as trained).
Interleaved rounds (``blocked_autorange`` medians), one thread, inference (``no_grad``):

    python benchmarks/channel_sum.py [--rounds 7] [--streams 2 4 8 16] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from torch.utils import benchmark

N, D = 256, 512


def product_then_sum(x, w):
    return (x * w).sum(dim=1)


def chain_over_views(x, w):
    ws = w.unbind(0) if w.dim() == 2 else w.unbind(1)
    xs = x.unbind(1)
    out = xs[0] * ws[0]
    for xi, wi in zip(xs[1:], ws[1:]):
        out = out.addcmul_(xi, wi)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--streams", type=int, nargs="+", default=[2, 4, 8, 16])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch sees no CUDA device")
    if args.rounds < 1 or any(s < 2 for s in args.streams):
        p.error(f"--rounds must be >= 1 and --streams all >= 2, got {args.rounds} and {args.streams}")
    torch.set_num_threads(1)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "1 thread"
    print(f"N={N}, D={D}, inference, {where}, {args.rounds} rounds, torch {torch.__version__}\n")
    print("| weights | S | (x * w).sum(1) µs | chain over views µs | chain / product-sum |")
    print("|---|---|---|---|---|")
    torch.manual_seed(0)
    for s in args.streams:
        x = torch.randn(N, s, D, device=args.device)
        for label, w in (("shared (S, D)", torch.softmax(torch.randn(s, D, device=args.device), 0)),
                         ("per sample (N, S, D)", torch.softmax(torch.randn(N, s, D, device=args.device), 1))):
            torch.testing.assert_close(chain_over_views(x, w), product_then_sum(x, w))
            times: dict[str, list[float]] = {"product": [], "chain": []}
            with torch.no_grad():
                for _ in range(args.rounds):
                    for k, fn in (("product", product_then_sum), ("chain", chain_over_views)):
                        t = benchmark.Timer("f(x, w)", globals={"f": fn, "x": x, "w": w})
                        times[k].append(t.blocked_autorange(min_run_time=0.2).median)
            ratio = statistics.median(c / q for c, q in zip(times["chain"], times["product"]))
            print(f"| {label} | {s} | {statistics.median(times['product']) * 1e6:.1f} | "
                  f"{statistics.median(times['chain']) * 1e6:.1f} | {ratio:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
