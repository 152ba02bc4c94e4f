"""Contract tests run for every registered fusion: a new method is covered the day it is added."""

import copy
import io

import pytest
import torch

import streamfuse
from streamfuse import StreamFuseError

from ..conftest import ALL_FUSIONS, fit_dims, make_streams, partial_mask, streams_for
from .variants import dims_for, option_variants, variant_id

SEED_DIMS = [17, 3]
VARIANTS = option_variants()


def build_variant(name, options, in_dims=(6, 4, 5), dim=8):
    """Method ``name`` with ``options``, for as many of ``in_dims`` as it takes, and its widths."""
    dims = dims_for(options, fit_dims(name, list(in_dims)), dim)
    return streamfuse.create_fusion(name, dims, dim=dim, **options), dims


def variant_streams(f, dims, n, seed=0):
    """Maps for token-level fusions (as configured: transformer mode="tokens"), vectors otherwise."""
    return make_streams(dims, n, spatial=(2, 3, 3) if f.token_level else None, seed=seed)


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_seed_widths_as_vectors(name):
    f = streamfuse.create_fusion(name, SEED_DIMS, dim=16).eval()
    xs = make_streams(SEED_DIMS, n=5, spatial=None)
    if f.token_level:
        with pytest.raises(StreamFuseError, match="un-pooled feature map"):
            f(xs)
        return
    out, w = f(xs, return_weights=True)
    assert out.shape == (5, 16)
    _check_weight_shape(f, w, 5)


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_seed_widths_as_video_maps(name):
    f = streamfuse.create_fusion(name, SEED_DIMS, dim=16).eval()
    xs = make_streams(SEED_DIMS, n=3, spatial=(4, 5, 5))  # (N, C, T, H, W)
    out, w = f(xs, return_weights=True)
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    _check_weight_shape(f, w, 3)


def _check_weight_shape(f, w, n):
    if f.weight_level is None:
        assert w is None
    elif f.weight_level == "stream":
        assert w.shape == (n, f.num_streams)
    else:
        assert w.shape == (n, f.num_streams, f.dim)


@pytest.mark.parametrize("name", ALL_FUSIONS)
@pytest.mark.parametrize("in_dims", [[5, 7], [5, 7, 9], [4, 4, 4, 4], [3, 6, 9, 12, 2], [8, 1, 3, 5, 7, 2]])
def test_many_streams_of_different_widths(name, in_dims):
    cls = streamfuse.FUSIONS[name]
    if cls.max_streams is not None and len(in_dims) > cls.max_streams:
        with pytest.raises(StreamFuseError, match="at most"):
            streamfuse.create_fusion(name, in_dims)
        return
    f = streamfuse.create_fusion(name, in_dims, dim=12).eval()
    out, w = f(streams_for(name, in_dims, n=3), return_weights=True)
    assert out.shape == (3, 12)
    _check_weight_shape(f, w, 3)
    # Different inputs must give different outputs: the fusion actually reads the streams.
    assert not torch.allclose(out, f(streams_for(name, in_dims, n=3, seed=1)))


@pytest.mark.parametrize("name,options", VARIANTS, ids=variant_id)
def test_gradients_reach_every_stream_and_parameter(name, options):
    f, in_dims = build_variant(name, options)
    xs = [x.requires_grad_() for x in variant_streams(f, in_dims, n=6)]
    out = f(xs)
    (out * torch.randn_like(out)).sum().backward()
    for i, x in enumerate(xs):
        assert x.grad is not None and x.grad.abs().sum() > 0, f"no gradient reaches stream {i}"
    for pname, p in f.named_parameters():
        # DDP with find_unused_parameters=False needs every parameter in the graph.
        assert p.grad is not None, f"parameter {pname} gets no gradient (would break DDP)"
        assert p.grad.abs().sum() > 0, f"parameter {pname} gets an all-zero gradient"


def _normalised(f) -> bool:
    return f.weight_level is not None and f.name != "sum" and getattr(f, "normalize", "softmax") == "softmax"


@pytest.mark.parametrize("name,options", VARIANTS, ids=variant_id)
def test_normalised_weights_sum_to_one(name, options):
    f, in_dims = build_variant(name, options)
    f.eval()
    if not _normalised(f):
        pytest.skip(f"{name} {options} has no weights normalised across streams")
    xs = variant_streams(f, in_dims, n=7)
    # Move weights away from uniform so the check is not trivially true.
    with torch.no_grad():
        for p in f.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    _, w = f(xs, return_weights=True)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(dim=1), torch.ones_like(w.sum(dim=1)))
    if name != "mean":
        assert w.std() > 1e-4  # learned weights moved off uniform: the check above is not vacuous


@pytest.mark.parametrize("name,options", VARIANTS, ids=variant_id)
def test_masked_streams_cannot_affect_output(name, options):
    f, in_dims = build_variant(name, options)
    f.eval()
    with torch.no_grad():  # off the initialisation, so that every weight and logit matters
        for p in f.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    xs = variant_streams(f, in_dims, n=6)
    mask = partial_mask(6, len(in_dims))
    out, w = f(xs, mask=mask, return_weights=True)
    # Replace every absent entry by garbage (including NaN): nothing may change.
    ys = []
    for i, x in enumerate(xs):
        junk = torch.randn_like(x) * 100
        junk[:, 0] = float("nan")  # in every absent sample of the stream
        m = mask[:, i].view((-1,) + (1,) * (x.dim() - 1))
        ys.append(torch.where(m, x, junk))
    out2, w2 = f(ys, mask=mask, return_weights=True)
    torch.testing.assert_close(out, out2)
    if w is not None:
        torch.testing.assert_close(w, w2)
        absent = ~mask
        assert (w[absent] == 0).all(), "absent streams must get zero weight"
        if _normalised(f):
            torch.testing.assert_close(w.sum(1), torch.ones_like(w.sum(1)))
    # And the mask matters: without it, the output differs.
    assert not torch.allclose(out, f(xs))


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_all_streams_masked_in_a_row_is_an_error(name):
    f = streamfuse.create_fusion(name, [6, 4], dim=8)
    mask = torch.tensor([[1, 0], [0, 0]], dtype=torch.bool)
    with pytest.raises(StreamFuseError, match=r"rows \[1\] have no stream present"):
        f(streams_for(name, [6, 4], n=2), mask=mask)


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_stream_dropout_in_training_only(name):
    in_dims = fit_dims(name, [6, 4, 5])
    f = streamfuse.create_fusion(name, in_dims, dim=8, stream_dropout=0.9)
    xs = streams_for(name, in_dims, n=64)
    f.train()
    a, b = f(xs), f(xs)
    assert not torch.allclose(a, b), "training-mode stream dropout should randomise the output"
    assert torch.isfinite(a).all(), "dropout must never remove every stream of a sample"
    f.eval()
    torch.testing.assert_close(f(xs), f(xs))


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_state_dict_round_trip(name):
    in_dims = {"rgb": 3, "pose": 17}
    f = streamfuse.create_fusion(name, in_dims, dim=8).eval()
    with torch.no_grad():
        for p in f.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    buf = io.BytesIO()
    torch.save(f.state_dict(), buf)
    buf.seek(0)
    g = streamfuse.create_fusion(name, in_dims, dim=8).eval()
    g.load_state_dict(torch.load(buf, weights_only=True))
    xs = dict(zip(in_dims, streams_for(name, list(in_dims.values()), n=3)))
    torch.testing.assert_close(f(xs), g(xs), rtol=0, atol=0)


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_dict_input_uses_fixed_key_order(name):
    in_dims = {"rgb": 3, "pose": 17}
    f = streamfuse.create_fusion(name, in_dims, dim=8).eval()
    rgb, pose = streams_for(name, [3, 17], n=3)
    out = f({"pose": pose, "rgb": rgb})  # insertion order differs from in_dims: must not matter
    torch.testing.assert_close(out, f([rgb, pose]))


@pytest.mark.parametrize("name,options", VARIANTS, ids=variant_id)
def test_empty_batch(name, options):
    f, dims = build_variant(name, options, in_dims=(6, 4))
    f.eval()
    xs = variant_streams(f, dims, n=0)
    out, w = f(xs, return_weights=True)
    assert out.shape == (0, 8)
    _check_weight_shape(f, w, 0)
    # With a (0, S) mask too: cross_attention and transformer used to fail in a reshape.
    out, w = f(xs, mask=torch.ones(0, len(dims), dtype=torch.bool), return_weights=True)
    assert out.shape == (0, 8)
    _check_weight_shape(f, w, 0)
    # And at inference (no_grad: attention's fast path returns no weights for an empty batch).
    with torch.no_grad():
        out, w = f(xs, return_weights=True)
    assert out.shape == (0, 8)
    _check_weight_shape(f, w, 0)


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_bfloat16_autocast_on_cpu(name):
    f = streamfuse.create_fusion(name, [6, 4], dim=8).eval()
    xs = streams_for(name, [6, 4], n=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = f(xs)
    assert out.shape == (3, 8) and torch.isfinite(out.float()).all()
    torch.testing.assert_close(out.float(), f(xs), atol=0.15, rtol=0.1)


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_deepcopy_and_float64(name):
    f = copy.deepcopy(streamfuse.create_fusion(name, [6, 4], dim=8, dtype=torch.float64)).eval()
    xs = [x.double() for x in streams_for(name, [6, 4], n=2)]
    assert f(xs).dtype == torch.float64
