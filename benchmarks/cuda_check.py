"""CUDA correctness check for every registered fusion (run on a GPU machine; never part of CI).

For each method: the same weights on CPU and CUDA give the same output and weights; gradients
reach every parameter on CUDA; masked streams cannot affect the CUDA output; bf16 autocast runs;
``torch.compile(fullgraph=True)`` (inductor) matches eager on CUDA; the head trains a few steps;
where the method folds (``streamfuse.fold_weights``), the folded form gives the CUDA module's
outputs and weights bit for bit, with and without a mask, eager and compiled. Then every option
variant of every method (``tests/fusions/variants.py``: ``mode="tokens"``, ``normalize="sigmoid"``,
``project=False``, ...) gets the CPU/CUDA, mask and gradient checks (not compile: it is slow, and the
defaults cover the code paths compile sees), on streams of one width given also stacked into one
tensor (the same output as the list).

    python benchmarks/cuda_check.py            # prints one line per method/variant, exits 1 on failure
    python benchmarks/cuda_check.py --no-variants

Without a CUDA device (a CPU-only torch build, or no GPU visible) it says so and exits 2.
"""

from __future__ import annotations

import argparse
import copy
import sys

from pathlib import Path

import torch

import streamfuse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fusions.variants import option_variants  # noqa: E402  (the suite's list of option variants)


def streams_for(f, n, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (2, 3, 3) if f.token_level else ()
    return [torch.randn((n, c) + shape, generator=g).to(device) for c in f.in_dims]


def eager_checks(name: str, options: dict, stacked: bool = False) -> tuple[list[str], torch.nn.Module, list[torch.Tensor], torch.Tensor]:
    """CPU/CUDA equality, masks and gradients of one method built with ``options``; with
    ``stacked``, streams of one width, also given as one stacked tensor."""
    problems = []
    in_dims = [6, 4, 5] if streamfuse.FUSIONS[name].max_streams is None else [6, 4]
    if options.get("project") is False or stacked:
        in_dims = [16] * len(in_dims)  # unprojected streams must already have the fused width
    cpu = streamfuse.create_fusion(name, in_dims, dim=16, **options).eval()
    with torch.no_grad():  # non-uniform stream weights, so a swapped stream shows
        for n, p in cpu.named_parameters():
            if n.endswith("theta"):
                p.normal_(0.0, 0.2)
    gpu = copy.deepcopy(cpu).cuda()
    xs = streams_for(cpu, 8, "cpu")
    xg = [x.cuda() for x in xs]
    out_c, w_c = cpu(xs, return_weights=True)
    out_g, w_g = gpu(xg, return_weights=True)
    if not torch.allclose(out_c, out_g.cpu(), atol=1e-4, rtol=1e-3):
        problems.append(f"CPU/CUDA outputs differ by {(out_c - out_g.cpu()).abs().max():.2e}")
    if w_c is not None and not torch.allclose(w_c, w_g.cpu(), atol=1e-4, rtol=1e-3):
        problems.append("CPU/CUDA weights differ")
    if len(set(in_dims)) == 1:  # streams of one width may come stacked (N, S, C[, *spatial])
        from_stack, listed = gpu(torch.stack(xg, 1)), gpu(xg)
        if not torch.allclose(from_stack, listed, atol=1e-5, rtol=1e-4):
            problems.append(f"stacked streams give another output (by {(from_stack - listed).abs().max():.2e})")
    mask = torch.rand(8, len(in_dims), device="cuda") > 0.5
    mask[:, 0] |= ~mask.any(1)
    junk = [torch.where(mask[:, i].view((-1,) + (1,) * (x.dim() - 1)), x, torch.randn_like(x) * 100) for i, x in enumerate(xg)]
    if not torch.allclose(gpu(xg, mask=mask), gpu(junk, mask=mask), atol=1e-5):
        problems.append("masked streams change the CUDA output")
    gpu.train()
    out = gpu([x.requires_grad_() for x in xg])
    out.square().sum().backward()
    missing = [n for n, p in gpu.named_parameters() if p.grad is None]
    if missing:
        problems.append(f"no gradient for {missing}")
    gpu.eval()
    return problems, gpu, xg, mask


def check(name: str) -> list[str]:
    # Every method shares Fusion.forward's code object; without a reset dynamo's per-code-object
    # recompile limit (8) is reached after a few methods and fullgraph=True turns that into an error.
    torch._dynamo.reset()
    problems, gpu, xg, mask = eager_checks(name, {})
    with torch.autocast("cuda", dtype=torch.bfloat16):
        if not torch.isfinite(gpu(xg).float()).all():
            problems.append("bf16 autocast gives non-finite output")
    compiled = torch.compile(gpu, fullgraph=True)
    with torch.no_grad():
        ref = gpu(xg, mask=mask)
        got = compiled(xg, mask=mask)
    if not torch.allclose(ref, got, atol=1e-4, rtol=1e-3):
        problems.append(f"compiled output differs by {(ref - got).abs().max():.2e}")
    if gpu.fold() is not None:
        problems += folded_checks(gpu, xg, mask)
    head = streamfuse.MultiStreamHead([3, 17], 4, fusion=name, dim=16).cuda()
    y = torch.randint(0, 4, (32,), device="cuda")
    pose = torch.randn(32, 17, 1, 1, 1, device="cuda")
    pose[torch.arange(32), y] += 2
    batch = [torch.randn(32, 3, 1, 1, 1, device="cuda"), pose]
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(head(batch), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if not losses[-1] < 0.5 * losses[0]:
        problems.append(f"head does not train on CUDA: {losses[0]:.3f} -> {losses[-1]:.3f}")
    return problems


def folded_checks(gpu, xg, mask) -> list[str]:
    """The folded form on CUDA: bit-equal outputs and weights, eager and compiled."""
    problems = []
    folded = streamfuse.fold_weights(gpu)
    with torch.no_grad():
        for m in (None, mask):
            out, w = gpu(xg, mask=m, return_weights=True)
            out_f, w_f = folded(xg, mask=m, return_weights=True)
            if not (torch.equal(out, out_f) and torch.equal(w, w_f)):
                problems.append(f"folded output/weights differ {'with' if m is not None else 'without'} a mask "
                                f"(by {(out - out_f).abs().max():.2e} / {(w - w_f).abs().max():.2e})")
        torch._dynamo.reset()
        got = torch.compile(folded, fullgraph=True)(xg, mask=mask)
        ref = gpu(xg, mask=mask)
    if not torch.allclose(ref, got, atol=1e-5, rtol=1e-4):
        problems.append(f"compiled folded output differs by {(ref - got).abs().max():.2e}")
    return problems


def check_variant(name: str, options: dict) -> list[str]:
    problems, gpu, xg, mask = eager_checks(name, options, stacked=True)
    if gpu.fold() is not None:
        folded = streamfuse.fold_weights(gpu)
        with torch.no_grad():
            if not torch.equal(gpu(xg, mask=mask), folded(xg, mask=mask)):
                problems.append("folded output differs with a mask")
    return problems


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-variants", action="store_true", help="check each method's defaults only")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not torch.cuda.is_available():
        why = ("this torch build has no CUDA support" if torch.version.cuda is None
               else f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device")
        print(f"cuda_check: no CUDA device: {why}. Run it on a GPU machine with a CUDA build of torch; "
              f"nothing was checked.", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    failed = 0
    for name in streamfuse.list_fusions():
        try:
            problems = check(name)
        except Exception as exc:  # report and go on: one broken method must not hide the others
            problems = [f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
        failed += bool(problems)
        print(f"{name:16s} {'ok' if not problems else 'FAIL: ' + '; '.join(problems)}", flush=True)
    for name, options in ([] if args.no_variants else option_variants()):
        if not options:
            continue  # the defaults were checked above
        try:
            problems = check_variant(name, options)
        except Exception as exc:
            problems = [f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
        failed += bool(problems)
        label = name + " " + ",".join(f"{k}={v}" for k, v in options.items())
        print(f"{label:40s} {'ok' if not problems else 'FAIL: ' + '; '.join(problems)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
