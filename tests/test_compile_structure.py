"""The structure that makes fusions fast: every method compiles to ONE graph.

``torch.compile(fusion, fullgraph=True)`` raises on any graph break, and a host-device sync
(``.item()``, ``bool(tensor)``, ``.nonzero()``, data-dependent Python control flow) is a graph
break, so passing here means the forward pass, with and without a presence mask, never leaves
the graph and never waits for the device. The compiled result must match eager (outputs, weights
and gradients). No wall time is measured anywhere in this file.

Backend ``aot_eager``: it traces forward *and* backward through AOTAutograd like inductor does,
but skips inductor's C++ code generation, which takes ~5-20 s per graph on a 2-core machine; the
whole file runs in well under a minute.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

import streamfuse

from .fusions.variants import combined_variants, variant_id

BACKEND = "aot_eager"
WIDTHS = [6, 4, 5]
N = 3


def _cases():
    """Every method with its defaults, with and without a mask; every other option variant
    (``combined_variants``: each non-default choice, and all flags flipped) with a mask, the
    path that exercises most code."""
    out = []
    for name, options in combined_variants():
        out += [(name, options, True)] + ([(name, options, False)] if not options else [])
    return out


def _build(name, options):
    cls = streamfuse.FUSIONS[name]
    s = max(cls.min_streams, min(len(WIDTHS), cls.max_streams or len(WIDTHS)))
    dims = [8] * s if options.get("project") is False else WIDTHS[:s]
    torch.manual_seed(0)
    fusion = streamfuse.create_fusion(name, dims, 8, **options)
    with torch.no_grad():  # move off the initialisation so that every weight matters
        for p in fusion.parameters():
            p.add_(0.1 * torch.randn_like(p))
    # Maps for every method: token-level methods need them, pooled methods pool them in the graph.
    xs = [torch.randn(N, c, 2, 3) for c in dims]
    mask = torch.tensor([[True] + [False] * (s - 1), [True] * s, [False] * (s - 1) + [True]])
    return fusion, xs, mask


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    # Every fusion shares Fusion.forward's code object: without a reset, the recompile limit
    # (8 graphs per code object) would be hit part-way through the parametrisation.
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _run(fn, xs, mask, params):
    xs = [x.detach().clone().requires_grad_() for x in xs]
    fused, weights = fn(xs, mask=mask, return_weights=True)
    grads = torch.autograd.grad(fused.square().sum(), params + xs, allow_unused=True)
    return fused, weights, grads


@pytest.mark.parametrize(
    "name,options,masked", _cases(), ids=lambda v: v if isinstance(v, str) else ("mask" if v else "nomask") if isinstance(v, bool) else variant_id(v)
)
def test_fullgraph_compile_matches_eager(name, options, masked):
    fusion, xs, mask = _build(name, options)
    mask = mask if masked else None
    params = [p for p in fusion.parameters() if p.requires_grad]
    compiled = torch.compile(fusion, fullgraph=True, backend=BACKEND)

    fused_c, weights_c, grads_c = _run(compiled, xs, mask, params)  # raises on any graph break
    fused_e, weights_e, grads_e = _run(fusion, xs, mask, params)

    torch.testing.assert_close(fused_c, fused_e, rtol=1e-5, atol=1e-5)
    assert (weights_c is None) == (weights_e is None)
    if weights_e is not None:
        torch.testing.assert_close(weights_c, weights_e, rtol=1e-5, atol=1e-5)
    for gc, ge in zip(grads_c, grads_e):
        assert (gc is None) == (ge is None)
        if ge is not None:
            torch.testing.assert_close(gc, ge, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", streamfuse.list_fusions())
def test_mask_does_not_recompile(name):
    """A second mask with other values reuses the graph: no value-dependent guard (no sync)."""
    fusion, xs, mask = _build(name, {})
    counts = torch._dynamo.utils.counters
    counts.clear()
    compiled = torch.compile(fusion, fullgraph=True, backend=BACKEND)
    compiled(xs, mask=mask)
    other = mask.clone()
    other[1, 0] = False
    compiled(xs, mask=other)
    assert counts["stats"]["unique_graphs"] == 1, dict(counts["stats"])
