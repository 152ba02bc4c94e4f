"""MultiStreamHead: the seed's head, training, export."""

import warnings

import pytest
import torch

import streamfuse
from streamfuse import MultiStreamHead, StreamFuseError

from .conftest import ALL_FUSIONS


def seed_batch(n=16, seed=0):
    """The seed's pooled two-stream outputs: RGB (N, 3, 1, 1, 1) and pose (N, 17, 1, 1, 1)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    pose = torch.randn(n, 17, 1, 1, 1, generator=g)
    pose[torch.arange(n), y] += 2.0  # the pose stream carries the label
    rgb = torch.randn(n, 3, 1, 1, 1, generator=g)
    return [rgb, pose], y


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_seed_head_trains_on_a_tiny_batch(name):
    torch.manual_seed(0)
    head = MultiStreamHead([3, 17], num_classes=4, fusion=name, dropout=0.5)
    xs, y = seed_batch()
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(head(xs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_head_pools_and_flattens_any_rank():
    head = MultiStreamHead({"rgb": 3, "pose": 17}, num_classes=5, fusion="sum", dropout=0.0, pool="max").eval()
    rgb, pose = torch.randn(2, 3, 4, 6, 6), torch.randn(2, 17, 9)
    expected = head.fc(head.fusion([rgb.flatten(2).amax(-1), pose.amax(-1)]))
    torch.testing.assert_close(head({"rgb": rgb, "pose": pose}), expected)


def test_token_level_fusion_gets_unpooled_maps():
    head = MultiStreamHead([3, 17], num_classes=5, fusion="cross_attention", dim=8).eval()
    scores, w = head([torch.randn(2, 3, 2, 4, 4), torch.randn(2, 17, 2, 4, 4)], return_weights=True)
    assert scores.shape == (2, 5) and w.shape == (2, 2)


def test_head_options_and_errors():
    head = MultiStreamHead([3, 17], 4, fusion="scalar", normalize="sigmoid", stream_dropout=0.2)
    assert head.fusion.normalize == "sigmoid" and head.fusion.stream_dropout == 0.2
    with pytest.raises(StreamFuseError, match="pool='sum' is not valid"):
        MultiStreamHead([3, 17], 4, pool="sum")
    with pytest.raises(StreamFuseError, match="unknown fusion method 'adaptve'. Did you mean 'adaptive'"):
        MultiStreamHead([3, 17], 4, fusion="adaptve")
    with pytest.raises(StreamFuseError, match="num_classes"):
        MultiStreamHead([3, 17], 0)


def test_head_accepts_a_fusion_instance():
    f = streamfuse.AttentionFusion([3, 17], dim=8)
    head = MultiStreamHead([3, 17], 4, fusion=f)
    assert head.fusion is f and head.fc.in_features == 8
    with pytest.raises(StreamFuseError, match=r"in_channels \[3, 16\] differ from the given fusion's streams"):
        MultiStreamHead([3, 16], 4, fusion=f)
    named = streamfuse.ScalarFusion({"rgb": 3, "pose": 17})
    MultiStreamHead({"rgb": 3, "pose": 17}, 4, fusion=named)
    MultiStreamHead({"pose": 17, "rgb": 3}, 4, fusion=named)  # matched by name, any order
    with pytest.raises(StreamFuseError, match="give the same streams"):
        MultiStreamHead({"rgb": 3, "flow": 17}, 4, fusion=named)




@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_torch_export_matches_eager(name):
    head = MultiStreamHead([3, 17], num_classes=6, fusion=name, dim=8).eval()
    xs = (torch.randn(4, 3, 2, 3, 3), torch.randn(4, 17, 2, 3, 3))
    ep = torch.export.export(_ListInput(head), xs)
    torch.testing.assert_close(ep.module()(*xs), head(list(xs)))


class _ListInput(torch.nn.Module):
    """Exporters take positional tensors; the head takes a list."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, *streams):
        return self.head(list(streams))


class _Masked(torch.nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, rgb, pose, mask):
        return self.head([rgb, pose], mask=mask)


def _onnx_cases():
    return [(name, {}) for name in ALL_FUSIONS] + [("transformer", {"mode": "tokens"})]


def _export_and_run(name, options, tmp_path, dynamo, masked):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    head = MultiStreamHead([3, 17], num_classes=6, fusion=name, dim=8, **options).eval()
    xs = (torch.randn(4, 3, 2, 3), torch.randn(4, 17, 2, 3))
    mask = torch.tensor([[1, 1], [1, 0], [0, 1], [1, 1]], dtype=torch.bool)
    args, names = (xs + (mask,), ["rgb", "pose", "mask"]) if masked else (xs, ["rgb", "pose"])
    module = _Masked(head) if masked else _ListInput(head)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on the eager-only mask check
        torch.onnx.export(module.eval(), args, str(path), input_names=names, output_names=["scores"], dynamo=dynamo)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {n: a.numpy() for n, a in zip(names, args)})
    torch.testing.assert_close(torch.from_numpy(got), module(*args), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,options", _onnx_cases(), ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()) or "default")
def test_onnx_dynamo_export_with_mask_runs_in_onnxruntime(name, options, tmp_path):
    """The dynamo exporter (the default ahead), with a mask: transformer used to fail on
    repeat_interleave(output_size=...)."""
    _export_and_run(name, options, tmp_path, dynamo=True, masked=True)


@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("name,options", _onnx_cases(), ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()) or "default")
def test_onnx_torchscript_export_runs_in_onnxruntime(name, options, masked, tmp_path):
    _export_and_run(name, options, tmp_path, dynamo=False, masked=masked)


def test_head_asks_for_weights_only_when_asked():
    """transformer computes its weights with an extra attention pass: not on a plain forward."""
    head = MultiStreamHead([3, 17], 4, fusion="transformer", dim=8).train()
    calls = []
    head.fusion.layers[-1].self_attn.register_forward_hook(lambda *a: calls.append(1))
    xs = [torch.randn(4, 3), torch.randn(4, 17)]
    head(xs).sum().backward()
    assert len(calls) == 1, "training forward must run the last attention once"
    calls.clear()
    _, w = head(xs, return_weights=True)
    assert len(calls) == 2 and w.shape == (4, 2)
