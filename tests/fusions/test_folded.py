"""``Fusion.fold()`` / ``FoldedWeightedSum``: constant weights give the source's outputs, bit for bit."""

import pytest
import torch

import streamfuse
from streamfuse.fusions import folded as folded_module
from tests.conftest import make_streams
from tests.fusions.variants import dims_for, option_variants, variant_id

FOLDABLE = ("scalar", "convex", "channel")
VARIANTS = [v for v in option_variants() if v[0] in FOLDABLE]
IN_DIMS, DIM = [6, 4], 6


def _trained(name, options, in_dims=IN_DIMS):
    """A source with non-uniform weights (fresh ones are uniform, which would hide a mix-up)."""
    f = streamfuse.create_fusion(name, dims_for(options, in_dims, DIM), DIM, **options).eval()
    with torch.no_grad():
        f.theta.normal_(0.0, 0.2)
    return f


@pytest.mark.parametrize("name", streamfuse.list_fusions())
def test_only_input_independent_weights_fold(name):
    f = streamfuse.create_fusion(name, [8, 8])
    folded = f.fold()
    if name in FOLDABLE:
        assert isinstance(folded, streamfuse.FoldedWeightedSum)
        assert folded.weight_level == f.weight_level
        assert folded.fold() is None  # already constants
    else:
        assert folded is None


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{n}-{variant_id(o)}" for n, o in VARIANTS])
@pytest.mark.parametrize("grad", [False, True], ids=["inference", "autograd"])
def test_fold_equals_source_bit_for_bit(variant, grad):
    name, options = variant
    f = _trained(name, options)
    g = f.fold()
    xs = make_streams(f.in_dims, n=5, spatial=None, seed=1)
    maps = make_streams(f.in_dims, n=5, spatial=(2, 3), seed=2)
    named = dict(zip(f.stream_names, xs))
    mask = torch.tensor([[True, False], [True, True], [False, True], [True, True], [False, True]])
    with torch.set_grad_enabled(grad):
        for streams, m in [(xs, None), (named, None), (maps, None), (xs, mask)]:
            a, wa = f(streams, mask=m, return_weights=True)
            b, wb = g(streams, mask=m, return_weights=True)
            assert torch.equal(a, b) and torch.equal(wa, wb)
            assert torch.equal(f(streams, mask=m), g(streams, mask=m))


def test_two_softmax_streams_fold_to_one_lerp_at_inference(monkeypatch):
    calls = []
    real = folded_module.convex_pair
    monkeypatch.setattr(folded_module, "convex_pair", lambda *a: calls.append(1) or real(*a))
    f = _trained("scalar", {"project": False, "stream_norm": False})
    g = f.fold()
    xs = make_streams(f.in_dims, n=5, spatial=None)
    with torch.no_grad():
        assert torch.equal(g(xs), f(xs))
    assert calls == [1]
    assert torch.equal(g(xs), f(xs))  # autograd on: the multiply-adds, as in the source
    assert calls == [1]
    # three streams, or sigmoid weights (which do not sum to one): never a lerp
    for other in (_trained("scalar", {"project": False}, [6, 6, 6]), _trained("scalar", {"normalize": "sigmoid", "project": False, "stream_norm": False})):
        with torch.no_grad():
            ys = make_streams(other.in_dims, n=5, spatial=None)
            assert torch.equal(other.fold()(ys), other(ys))
    assert calls == [1]


def test_fold_leaves_the_source_alone_and_does_not_train():
    f = _trained("channel", {})
    before = {k: v.clone() for k, v in f.state_dict().items()}
    g = f.fold()
    assert "theta" not in dict(g.named_parameters()) and "weights" in dict(g.named_buffers())
    with torch.no_grad():
        for p in g.parameters():  # the projection is a copy, not shared
            p.add_(1.0)
    for k, v in f.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert g.proj is not f.proj


def test_folded_state_dict_round_trip_and_mismatches():
    f, other = _trained("scalar", {}), _trained("scalar", {})
    g = f.fold()
    h = other.fold()
    assert not torch.equal(h.weights, g.weights)
    h.load_state_dict(g.state_dict())
    xs = make_streams(f.in_dims, n=3, spatial=None)
    assert torch.equal(h(xs), g(xs))
    sig = _trained("scalar", {"normalize": "sigmoid"}).fold()
    with pytest.raises(streamfuse.StreamFuseError, match="normalize='softmax'"):
        sig.load_state_dict(g.state_dict())
    renamed = streamfuse.create_fusion("scalar", {"rgb": 6, "pose": 4}, DIM).fold()
    with pytest.raises(streamfuse.StreamFuseError, match="rgb=6, pose=4"):
        renamed.load_state_dict(g.state_dict())


def test_folded_checks_its_inputs_like_any_fusion():
    g = _trained("convex", {}).fold()
    with pytest.raises(streamfuse.StreamFuseError, match="expected 2 streams"):
        g([torch.randn(3, 6)])
    with pytest.raises(streamfuse.StreamFuseError, match="stream 'stream1': expected 4 channels"):
        g([torch.randn(3, 6), torch.randn(3, 5)])
    with pytest.raises(streamfuse.StreamFuseError, match=r"rows \[1\] have no stream present"):
        g([torch.randn(2, 6), torch.randn(2, 4)], mask=torch.tensor([[True, False], [False, False]]))


def test_folded_follows_its_dtype():
    f = _trained("channel", {"project": False, "stream_norm": False})
    g = f.fold()
    xs = make_streams(f.in_dims, n=3, spatial=None, dtype=torch.float64)
    with torch.no_grad():
        out = g(xs)  # float64 streams into float32 constants: cast, as the source does
        assert out.dtype == torch.float32 and torch.equal(out, f(xs))
        # converted after folding: float32 constants widened, so equal up to float32 rounding;
        # folded after converting: bit for bit
        g64, f64 = g.double(), f.double()
        assert g64(xs).dtype == torch.float64
        torch.testing.assert_close(g64(xs), f64(xs), rtol=1e-6, atol=1e-6)
        assert torch.equal(f64.fold()(xs), f64(xs))


def test_folded_compiles_without_graph_breaks():
    f = _trained("scalar", {"project": False, "stream_norm": False})
    g = f.fold()
    xs = make_streams(f.in_dims, n=4, spatial=None)
    compiled = torch.compile(g, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(xs), f(xs), rtol=0, atol=0)


def test_the_folded_record_keeps_the_source_options_that_still_matter():
    plain = _trained("scalar", {"stream_norm": False}, [4, 4, 4])
    with pytest.raises(streamfuse.StreamFuseError, match="trained with stream_norm=False but this fusion has stream_norm=True"):
        _trained("scalar", {}, [4, 4, 4]).fold().load_state_dict(plain.fold().state_dict())
    # logit_scale is inside the folded logits already: weights from k=1 load where k=10 was folded
    k1 = _trained("scalar", {"logit_scale": 1.0})
    _trained("scalar", {}).fold().load_state_dict(k1.fold().state_dict())


def test_stream_dropout_carries_over_for_training_mode():
    f = _trained("scalar", {"stream_dropout": 0.5}).train()
    g = f.fold()
    assert g.stream_dropout == 0.5
    xs = make_streams(f.in_dims, n=8, spatial=None)
    torch.manual_seed(3)
    a = f(xs)
    torch.manual_seed(3)
    assert torch.equal(g(xs), a)


def test_folded_inside_inference_mode_runs_outside_it():
    f = _trained("channel", {})
    with torch.inference_mode():
        g = f.fold()
    xs = [x.requires_grad_() for x in make_streams(f.in_dims, n=3, spatial=None)]
    g(xs).sum().backward()  # no "inference tensors cannot be saved for backward"
    assert xs[0].grad is not None
    g.load_state_dict(f.fold().state_dict())
