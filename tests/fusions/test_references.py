"""Every method equals its hand-written reference (benchmarks/references.py): values, not shapes,
for every option variant, with and without a mask. The references are the plain loops one would
write in a training script, so this is the specification of each method's math."""

import importlib.util
from pathlib import Path

import pytest
import torch

from ..conftest import partial_mask
from .test_registry_contract import VARIANTS, build_variant, variant_streams
from .variants import variant_id

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "references.py"
_spec = importlib.util.spec_from_file_location("streamfuse_references", _PATH)
references = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(references)


def test_every_method_has_a_reference():
    import streamfuse

    assert set(references.REFERENCES) == set(streamfuse.list_fusions())


@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("name,options", VARIANTS, ids=variant_id)
def test_method_equals_its_reference(name, options, masked):
    torch.manual_seed(0)
    f, dims = build_variant(name, options, in_dims=(6, 4, 5))
    f.eval()
    with torch.no_grad():  # off the initialisation, so every parameter shapes the output
        for p in f.parameters():
            p.add_(0.2 * torch.randn_like(p))
    ref = references.build_reference(f).eval()
    xs = variant_streams(f, dims, n=6)
    if not f.token_level:  # pooled methods get maps: the reference must pool them the same way
        xs = [x.unsqueeze(-1).expand(-1, -1, 3) + torch.randn(x.shape[0], x.shape[1], 3) for x in xs]
    mask = partial_mask(6, len(dims)) if masked else None
    with torch.no_grad():
        got, want = f(xs, mask=mask), ref(xs, mask)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    if masked:  # and the mask mattered
        assert not torch.allclose(got, f(xs), atol=1e-4)
