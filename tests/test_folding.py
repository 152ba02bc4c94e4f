"""``streamfuse.fold_weights``: every foldable fusion of a model folded, the model otherwise unchanged."""

import pytest
import torch
from torch import nn

import streamfuse


def _streams(n=4):
    return [torch.randn(n, 3, 1, 1, 1), torch.randn(n, 17, 1, 1, 1)]


def _trained_head(fusion):
    head = streamfuse.MultiStreamHead([3, 17], num_classes=5, fusion=fusion).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.normal_(0.0, 0.3)
    return head


def test_head_is_folded_in_a_copy():
    head = _trained_head("channel")
    folded = streamfuse.fold_weights(head)
    assert isinstance(folded.fusion, streamfuse.FoldedChannelWeightedSum)
    assert isinstance(head.fusion, streamfuse.ChannelFusion)  # the source keeps training
    xs = _streams()
    with torch.no_grad():
        a, wa = head(xs, return_weights=True)
        b, wb = folded(xs, return_weights=True)
    assert torch.equal(a, b) and torch.equal(wa, wb)


def test_inplace_replaces_inside_the_given_model():
    head = _trained_head("scalar")
    xs = _streams()
    with torch.no_grad():
        before = head(xs)
    assert streamfuse.fold_weights(head, inplace=True) is head
    assert isinstance(head.fusion, streamfuse.FoldedWeightedSum)
    with torch.no_grad():
        assert torch.equal(head(xs), before)


def test_nothing_to_fold_gives_an_equal_copy():
    head = _trained_head("attention")
    folded = streamfuse.fold_weights(head)
    assert folded is not head and type(folded.fusion) is type(head.fusion)
    xs = _streams()
    with torch.no_grad():
        assert torch.equal(folded(xs), head(xs))
    fusion = streamfuse.create_fusion("attention", [3, 17])
    copied = streamfuse.fold_weights(fusion)
    assert copied is not fusion and isinstance(copied, streamfuse.AttentionFusion)
    assert streamfuse.fold_weights(fusion, inplace=True) is fusion


def test_a_fusion_is_returned_folded():
    fusion = streamfuse.create_fusion("convex", [3, 17])
    assert isinstance(streamfuse.fold_weights(fusion), streamfuse.FoldedWeightedSum)


def test_a_fusion_used_twice_stays_one_module():
    shared = streamfuse.create_fusion("scalar", [4, 4])
    model = nn.ModuleDict({"a": shared, "b": shared})
    folded = streamfuse.fold_weights(model)
    assert isinstance(folded["a"], streamfuse.FoldedWeightedSum) and folded["a"] is folded["b"]


def test_refuses_what_is_not_a_module():
    with pytest.raises(streamfuse.StreamFuseError, match="expected an nn.Module .* got dict"):
        streamfuse.fold_weights({"fusion": "scalar"})
    with pytest.raises(streamfuse.StreamFuseError, match="inplace must be True or False, got 'yes'"):
        streamfuse.fold_weights(_trained_head("scalar"), inplace="yes")


def test_in_place_folding_keeps_the_projection_training():
    """An optimizer built before an in-place fold still trains the (shared, not copied) projection."""
    head = _trained_head("scalar").train()
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    proj = head.fusion.proj
    streamfuse.fold_weights(head, inplace=True)
    assert head.fusion.proj is proj
    before = [p.detach().clone() for p in proj.parameters()]
    head(_streams()).sum().backward()
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, proj.parameters()))


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_a_folded_head_exports_to_onnx(dynamo, tmp_path):
    """Exported under no_grad, the two-stream lerp path is what gets traced: onnxruntime agrees."""
    import warnings

    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")

    class TwoInputs(nn.Module):
        def __init__(self, head):
            super().__init__()
            self.head = head

        def forward(self, a, b):
            return self.head([a, b])

    head = streamfuse.MultiStreamHead([8, 8], num_classes=5, fusion="scalar", dim=8, project=False, stream_norm=False).eval()
    with torch.no_grad():
        head.fusion.theta.normal_()
    module = TwoInputs(streamfuse.fold_weights(head)).eval()
    xs = (torch.randn(4, 8), torch.randn(4, 8))
    path = tmp_path / "folded.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, xs, str(path), input_names=["a", "b"], output_names=["scores"], dynamo=dynamo)
        want = head(list(xs))
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"a": xs[0].numpy(), "b": xs[1].numpy()})
    torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-5)
