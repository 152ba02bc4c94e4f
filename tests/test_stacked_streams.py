"""Streams stacked into one tensor ``(N, S, C[, *spatial])``: the same result as the list, for every
method and option variant, with and without a mask, under autograd, compiled; errors that say how
a tensor is read."""

import pytest
import torch

import streamfuse
from streamfuse import StreamFuseError

from .conftest import ALL_FUSIONS, fit_dims, make_streams, partial_mask
from .fusions.variants import dims_for, option_variants, variant_id

VARIANTS = option_variants()


def build(name, options, s=3, c=8, dim=8):
    """Method ``name`` over ``s`` streams of one width (a stack has one width), weights off uniform."""
    dims = dims_for(options, fit_dims(name, [c] * s), dim)
    f = streamfuse.create_fusion(name, dims, dim=dim, **options).eval()
    with torch.no_grad():
        for p in f.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return f, dims


def stack_of(f, dims, n=6, seed=0):
    xs = make_streams(dims, n, spatial=(2, 3, 3) if f.token_level else None, seed=seed)
    return xs, torch.stack(xs, dim=1)


@pytest.mark.parametrize("name,options", VARIANTS, ids=variant_id)
@pytest.mark.parametrize("masked", [False, True], ids=["all-present", "masked"])
@pytest.mark.parametrize("c", [8, 5], ids=["C=D", "projected"])  # C != D = 8: the batched projection reads the stack
def test_a_stack_gives_what_the_list_gives(name, options, masked, c):
    f, dims = build(name, options, c=c)
    xs, x = stack_of(f, dims)
    mask = partial_mask(6, len(dims)) if masked else None
    if masked:  # absent entries of the stack hold garbage, NaN included: nothing may change
        junk = torch.randn_like(x) * 100
        junk[:, :, 0] = float("nan")  # in every absent slot
        x = torch.where(mask.view(mask.shape + (1,) * (x.dim() - 2)), x, junk)
    with torch.no_grad():
        want, want_w = f(xs, mask=mask, return_weights=True)
        got, got_w = f(x, mask=mask, return_weights=True)
    # (a batched product and a chain of multiply-adds round differently in the last bit)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert (got_w is None) == (want_w is None)
    if want_w is not None:
        torch.testing.assert_close(got_w, want_w, rtol=1e-5, atol=1e-6)
    # the stack is read, stream by stream: another stream 0 changes the output (not a constant
    # shift, which a stream's LayerNorm removes)
    y = x.clone()
    y[:, 0] += torch.randn_like(y[:, 0])
    with torch.no_grad():
        assert not torch.allclose(f(y, mask=mask), got)


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_a_stack_trains_like_the_list(name):
    f, dims = build(name, {})
    f.train()
    xs, x = stack_of(f, dims)
    grads = []
    for inp in (xs, x):
        f.zero_grad()
        leaf = [t.clone().requires_grad_() for t in inp] if isinstance(inp, list) else inp.clone().requires_grad_()
        f(leaf).square().sum().backward()
        grads.append(([p.grad.clone() for p in f.parameters()],
                      torch.stack([t.grad for t in leaf], 1) if isinstance(leaf, list) else leaf.grad))
    for a, b in zip(grads[0][0], grads[1][0]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["scalar", "convex", "channel"])
@pytest.mark.parametrize("s", [2, 4])
def test_a_folded_stack_is_the_source_bit_for_bit(name, s):
    if name == "convex" and s != 2:
        pytest.skip("convex takes two streams")
    f, dims = build(name, {"project": False, "stream_norm": False}, s=s)
    folded = streamfuse.fold_weights(f)
    _, x = stack_of(f, dims)
    mask = partial_mask(6, s)
    with torch.no_grad():
        for m in (None, mask):
            out, w = f(x, mask=m, return_weights=True)
            out_f, w_f = folded(x, mask=m, return_weights=True)
            assert torch.equal(out, out_f) and torch.equal(w, w_f)


def test_pooled_maps_stacked_are_pooled_like_a_list():
    f = streamfuse.create_fusion("attention", [5, 5, 5], dim=8).eval()
    xs = make_streams([5, 5, 5], 4, spatial=(2, 3, 3))  # (N, C, T, H, W) each
    with torch.no_grad():
        torch.testing.assert_close(f(torch.stack(xs, 1)), f(xs))
    head = streamfuse.MultiStreamHead([5, 5, 5], 3, fusion="scalar", pool="max").eval()
    with torch.no_grad():
        torch.testing.assert_close(head(torch.stack(xs, 1)), head(xs))


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_a_stack_compiles_without_graph_breaks(name):
    """Dynamo traces the stacked path whole (``backend="eager"``: no code generation, which
    ``tests/test_compile_structure.py`` covers for the list)."""
    torch._dynamo.reset()
    f, dims = build(name, {})
    _, x = stack_of(f, dims)
    mask = partial_mask(6, len(dims))
    compiled = torch.compile(f, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x, mask=mask), f(x, mask=mask))


def test_stack_errors_say_how_a_tensor_is_read():
    f = streamfuse.create_fusion("scalar", {"a": 8, "b": 8, "c": 8})
    with pytest.raises(StreamFuseError, match=r"stacked on dim 1; expected \(N, S, C\[, \*spatial\]\) = \(N, 3, 8\), got shape \(4, 2, 8\)"):
        f(torch.randn(4, 2, 8))  # two streams, not three
    with pytest.raises(StreamFuseError, match=r"got shape \(4, 3, 7\)"):
        f(torch.randn(4, 3, 7))  # wrong width
    with pytest.raises(StreamFuseError, match=r"got shape \(4, 8\); otherwise pass a list or dict of 3 tensors"):
        f(torch.randn(4, 8))  # one stream's vector, not a stack
    with pytest.raises(StreamFuseError, match="floating-point"):
        f(torch.ones(4, 3, 8, dtype=torch.long))
    with pytest.raises(StreamFuseError, match="at least one position"):
        f(torch.randn(4, 3, 8, 0))
    with pytest.raises(StreamFuseError, match=r"mask: expected shape \(N, S\) = \(4, 3\)"):
        f(torch.randn(4, 3, 8), mask=torch.ones(4, 2, dtype=torch.bool))
    uneven = streamfuse.create_fusion("scalar", {"pose": 17, "rgb": 3})
    with pytest.raises(StreamFuseError, match=r"one width for every stream.*\{'pose': 17, 'rgb': 3\}.*list or dict of 2"):
        uneven(torch.randn(4, 2, 17))
    with pytest.raises(StreamFuseError, match=r"got 1: \['\(4, 3, 8\)'\]; streams stacked into one tensor .* not in a list"):
        f([torch.randn(4, 3, 8)])  # the stack wrapped in a list
    tokens = streamfuse.create_fusion("cross_attention", [8, 8])
    with pytest.raises(StreamFuseError, match="attends over tokens"):
        tokens(torch.randn(4, 2, 8))  # pooled vectors, but this method needs maps


def test_check_finite_names_the_stream_of_a_stack():
    f = streamfuse.create_fusion("scalar", {"a": 4, "b": 4}, check_finite=True)
    x = torch.randn(3, 2, 4)
    x[1, 1, 0] = float("nan")
    with pytest.raises(StreamFuseError, match="stream 'b'"):
        f(x)
    f(x, mask=torch.tensor([[1, 1], [1, 0], [1, 1]], dtype=torch.bool))  # the NaN is in an absent stream


def test_a_head_given_one_stream_map_reports_the_shape_it_was_given():
    head = streamfuse.MultiStreamHead([17, 3], 4, fusion="scalar")
    with pytest.raises(StreamFuseError, match=r"got shape \(2, 17, 8, 4, 4\)"):
        head(torch.randn(2, 17, 8, 4, 4))  # the pose stream alone, not a stack of both


def test_a_subclass_that_changes_the_list_math_gets_a_stack_as_its_views():
    """An inherited fuse_stacked would bypass a subclass's own fuse: it must not be used."""

    class Gained(streamfuse.ScalarFusion):
        def __init__(self, in_dims, **kw):
            super().__init__(in_dims, **kw)
            self.gain = torch.nn.Parameter(torch.tensor([1.0, 2.0]))

        def fuse(self, xs, mask, need_weights):
            return super().fuse([x * g for x, g in zip(xs, self.gain)], mask, need_weights)

    f = Gained([8, 8], project=False, stream_norm=False).eval()
    assert not Gained.reads_stacks and streamfuse.ScalarFusion.reads_stacks
    for n in (2, 4):  # N == S once: a tensor taken for the list would not even fail
        x = torch.randn(n, 2, 8)
        with torch.no_grad():
            torch.testing.assert_close(f(x), f(list(x.unbind(1))))


def test_a_stack_keeps_the_list_dtype_under_autocast():
    f = streamfuse.create_fusion("scalar", [8, 8, 8]).eval()
    x = torch.randn(6, 3, 8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = f(list(x.unbind(1))), f(x)
    assert a.dtype == b.dtype
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_stack_errors_hint_at_the_usual_mistakes():
    f = streamfuse.create_fusion("scalar", [64] * 3)
    xs = [torch.randn(5, 64) for _ in range(3)]
    with pytest.raises(StreamFuseError, match=r"got shape \(3, 5, 64\); torch.stack\(xs\) stacks on dim 0.*dim=1"):
        f(torch.stack(xs))
    with pytest.raises(StreamFuseError, match=r"got shape \(15, 64\); .*\.view\(-1, 3, 64\)"):
        f(torch.cat(xs))
    with pytest.raises(StreamFuseError, match="or one stack"):
        f("not streams")


def test_a_head_given_an_unpoolable_tensor_reports_its_shape():
    head = streamfuse.MultiStreamHead([17, 3], 4, fusion="scalar")
    with pytest.raises(StreamFuseError, match=r"got shape \(2, 2, 17, 8, 4, 4\)"):
        head(torch.randn(2, 2, 17, 8, 4, 4))  # S and C_0 match, but the streams differ in width


def test_stream_importance_takes_a_stack_like_the_list():
    torch.manual_seed(0)
    head = streamfuse.MultiStreamHead([8] * 3, 4, fusion="scalar").eval()
    x, y = torch.randn(40, 3, 8), torch.randint(0, 4, (40,))
    a = streamfuse.stream_importance(head, (x, y), methods=("weights", "ablation"))
    b = streamfuse.stream_importance(head, (list(x.unbind(1)), y), methods=("weights", "ablation"))
    assert a.to_dict() == b.to_dict()
    with pytest.raises(StreamFuseError, match=r"stacked on dim 1.*got shape \(40, 8\)"):
        streamfuse.stream_importance(head, (torch.randn(40, 8), y))
