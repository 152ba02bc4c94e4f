"""Bad input: every error names the stream, what it got and what was expected."""

import json

import pytest
import torch

import streamfuse
from streamfuse import StreamFuseError


@pytest.fixture
def fusion():
    return streamfuse.create_fusion("attention", {"rgb": 3, "pose": 17}, dim=8)


def test_error_family_is_value_error():
    assert issubclass(StreamFuseError, ValueError)


def test_wrong_number_of_streams(fusion):
    with pytest.raises(StreamFuseError, match=r"expected 2 streams \['rgb', 'pose'\] with channels \[3, 17\], got 3"):
        fusion([torch.randn(2, 3), torch.randn(2, 17), torch.randn(2, 5)])


def test_batch_sizes_differ(fusion):
    with pytest.raises(StreamFuseError, match=r"stream 'pose': batch size 5 differs from stream 'rgb'.s 4"):
        fusion([torch.randn(4, 3), torch.randn(5, 17)])


def test_channels_differ_from_in_dims(fusion):
    with pytest.raises(StreamFuseError, match=r"stream 'pose': expected 17 channels .* got shape \(2, 16, 1, 1, 1\)"):
        fusion([torch.randn(2, 3, 1, 1, 1), torch.randn(2, 16, 1, 1, 1)])


def test_rank_one_input(fusion):
    with pytest.raises(StreamFuseError, match=r"stream 'rgb': expected a \(N, C\) vector or \(N, C, \*spatial\) map"):
        fusion([torch.randn(3), torch.randn(2, 17)])


def test_vector_given_to_token_level_method():
    f = streamfuse.create_fusion("cross_attention", {"rgb": 3, "pose": 17})
    with pytest.raises(StreamFuseError, match=r"stream 'rgb'.*got shape \(2, 3\).*un-pooled feature map"):
        f([torch.randn(2, 3), torch.randn(2, 17, 4)])


def test_non_floating_dtype(fusion):
    with pytest.raises(StreamFuseError, match=r"stream 'pose': expected a floating-point tensor, got dtype torch.int64"):
        fusion([torch.randn(2, 3), torch.ones(2, 17, dtype=torch.long)])


def test_not_a_tensor(fusion):
    with pytest.raises(StreamFuseError, match=r"stream 'rgb': expected a torch.Tensor, got list"):
        fusion([[1.0, 2.0, 3.0], torch.randn(2, 17)])


def test_streams_on_different_devices(fusion):
    meta = torch.empty(2, 17, device="meta")
    with pytest.raises(StreamFuseError, match=r"stream 'pose' is on meta but stream 'rgb' is on cpu"):
        fusion([torch.randn(2, 3), meta])


def test_dict_keys_validated(fusion):
    with pytest.raises(StreamFuseError, match=r"missing \['pose'\], unexpected \['depth'\]"):
        fusion({"rgb": torch.randn(2, 3), "depth": torch.randn(2, 17)})


def test_not_a_list(fusion):
    with pytest.raises(StreamFuseError, match="expected a list of 2 tensors, a dict with keys .* or one stack"):
        fusion("rgb,pose")
    # one tensor is read as stacked streams, which streams of different widths cannot be
    with pytest.raises(StreamFuseError, match=r"one width for every stream; got shape \(2, 20\).*list or dict of 2 tensors"):
        fusion(torch.randn(2, 20))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_inf_checked_only_when_asked(bad):
    xs = [torch.randn(2, 3), torch.randn(2, 17)]
    xs[1][1, 4] = bad
    loose = streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17})
    assert not torch.isfinite(loose(xs)).all()  # hot path: no check, the NaN propagates
    strict = streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, check_finite=True)
    with pytest.raises(StreamFuseError, match=r"stream 'pose': 1 NaN/Inf values in a tensor of shape \(2, 17\)"):
        strict(xs)


def test_check_finite_ignores_what_the_mask_leaves_out():
    """NaN marking a missing modality is fine once the mask says it is absent; in a present
    sample it is still an error."""
    xs = [torch.randn(2, 3), torch.randn(2, 17)]
    xs[1][0] = float("nan")
    strict = streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, check_finite=True)
    mask = torch.tensor([[True, False], [True, True]])
    out = strict(xs, mask=mask)
    assert torch.isfinite(out).all()
    with pytest.raises(StreamFuseError, match=r"stream 'pose': 17 NaN/Inf values \(present samples only\)"):
        strict(xs, mask=torch.ones(2, 2, dtype=torch.bool))


def test_mask_errors(fusion):
    xs = [torch.randn(2, 3), torch.randn(2, 17)]
    with pytest.raises(StreamFuseError, match="mask: expected a bool tensor"):
        fusion(xs, mask=torch.ones(2, 2))
    with pytest.raises(StreamFuseError, match=r"mask: expected shape \(N, S\) = \(2, 2\)"):
        fusion(xs, mask=torch.ones(2, 3, dtype=torch.bool))


def test_unknown_method_lists_and_suggests():
    with pytest.raises(StreamFuseError, match=r"unknown fusion method 'atention'. Did you mean 'attention'\? Valid choices: adaptive, attention"):
        streamfuse.create_fusion("atention", [3, 17])
    with pytest.raises(StreamFuseError, match=r"unknown fusion method None. Valid choices") as err:
        streamfuse.create_fusion(None, [3, 17])
    assert "Did you mean" not in str(err.value)  # str(None) = "None" is not a near miss of "convex"


@pytest.mark.parametrize("device", [True, "x", 1.5, [0]])
def test_a_device_torch_cannot_parse_is_refused_by_name(device):
    with pytest.raises(StreamFuseError, match=r"option device=.* is not valid; expected a torch.device"):
        streamfuse.create_fusion("scalar", [3, 17], device=device)
    assert streamfuse.create_fusion("scalar", [3, 17], device="cpu").theta.device.type == "cpu"


def test_unknown_option_lists_valid_ones():
    with pytest.raises(StreamFuseError, match=r"fusion 'scalar' has no option 'normalise'. Did you mean 'normalize'\?.*Valid options: normalize"):
        streamfuse.create_fusion("scalar", [3, 17], normalise="softmax")


def test_bad_option_value():
    with pytest.raises(StreamFuseError, match=r"channel: option normalize='softplus' is not valid; expected one of softmax, sigmoid, none"):
        streamfuse.create_fusion("channel", [3, 17], normalize="softplus")


@pytest.mark.parametrize("in_dims", [[3, 0], [3, 2.5], "17,3", 5])
def test_bad_in_dims(in_dims):
    with pytest.raises(StreamFuseError, match="in_dims"):
        streamfuse.create_fusion("sum", in_dims)


def test_convex_needs_two_streams():
    with pytest.raises(StreamFuseError, match=r"'convex' needs at least 2 and at most 2 streams; in_dims has 3"):
        streamfuse.create_fusion("convex", [3, 4, 5])


def test_project_false_needs_equal_widths():
    with pytest.raises(StreamFuseError, match=r"project=False needs every stream to have width D=17"):
        streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, project=False)


def test_errors_survive_python_O():
    # Input checks are explicit raises, not asserts, so they hold under `python -O`.
    import subprocess
    import sys

    code = (
        "import torch, streamfuse\n"
        "f = streamfuse.create_fusion('sum', [3, 17])\n"
        "try:\n    f([torch.randn(2, 3)])\nexcept streamfuse.StreamFuseError:\n    print('raised')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "raised"


# ----------------------------------------------------------------------------- dtypes, empty axes
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
@pytest.mark.parametrize("name", streamfuse.list_fusions())
def test_other_float_dtypes_are_cast_to_the_parameters(name, dtype):
    f = streamfuse.create_fusion(name, [6, 4], dim=8).eval()
    spatial = (2, 3) if f.token_level else ()
    xs = [torch.randn((3, c) + spatial) for c in (6, 4)]
    out = f([x.to(dtype) for x in xs])
    assert out.dtype == torch.float32
    ref = f([x.to(dtype).float() for x in xs])  # the same values, cast by hand
    torch.testing.assert_close(out, ref)


def test_integer_maps_into_the_head_name_the_stream():
    head = streamfuse.MultiStreamHead({"rgb": 3, "pose": 17}, 4)
    with pytest.raises(StreamFuseError, match=r"stream 'rgb': expected a floating-point tensor, got dtype torch.int64"):
        head({"rgb": torch.ones(2, 3, 4, 4, dtype=torch.long), "pose": torch.randn(2, 17, 4, 4)})


@pytest.mark.parametrize("name", ["attention", "cross_attention"])
def test_empty_spatial_axis_is_an_error(name):
    f = streamfuse.create_fusion(name, {"rgb": 3, "pose": 5}, check_finite=True)
    with pytest.raises(StreamFuseError, match=r"stream 'pose': a map needs at least one position along every spatial axis, got shape \(2, 5, 0, 5\)"):
        f([torch.randn(2, 3, 4, 5), torch.randn(2, 5, 0, 5)])


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_empty_spatial_axis_through_the_head(pool):
    head = streamfuse.MultiStreamHead({"rgb": 3, "pose": 5}, 4, pool=pool)
    with pytest.raises(StreamFuseError, match=r"stream 'pose': a map needs at least one position"):
        head([torch.randn(2, 3, 4), torch.randn(2, 5, 0)])


# ----------------------------------------------------------------------------- checkpoints
def _moved(f):
    with torch.no_grad():
        for p in f.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return f


@pytest.mark.parametrize(
    "saved,loaded",
    [
        ({"rgb": 8, "pose": 8}, {"rgbx": 8, "pose": 8}),  # renamed
        ({"rgb": 8, "pose": 8}, {"pose": 8, "rgb": 8}),  # reordered, same widths
        ([3, 17], [17, 3]),  # concat: swapped widths give the same weight shape
    ],
    ids=["renamed", "reordered", "swapped-widths"],
)
@pytest.mark.parametrize("name", ["concat", "scalar", "attention"])
def test_state_dict_refuses_other_streams(name, saved, loaded):
    state = _moved(streamfuse.create_fusion(name, saved, dim=8)).state_dict()
    other = streamfuse.create_fusion(name, loaded, dim=8)
    if any(a.shape != b.shape for a, b in zip(state.values(), other.state_dict().values()) if a.dtype != torch.uint8):
        pytest.skip("the parameter shapes already differ")
    with pytest.raises(StreamFuseError, match=r"these weights were trained for streams \[.*\] .* but this fusion has \["):
        other.load_state_dict(state)


def test_state_dict_is_tensors_only_and_loads_with_weights_only(tmp_path):
    head = _moved(streamfuse.MultiStreamHead({"rgb": 3, "pose": 17}, 4, fusion="attention"))
    state = head.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    torch.save(state, tmp_path / "h.pt")
    other = streamfuse.MultiStreamHead({"rgb": 3, "pose": 17}, 4, fusion="attention")
    other.load_state_dict(torch.load(tmp_path / "h.pt", weights_only=True))
    swapped = streamfuse.MultiStreamHead({"pose": 17, "rgb": 3}, 4, fusion="concat")
    with pytest.raises(StreamFuseError, match="rgb=3, pose=17"):
        swapped.load_state_dict(_moved(streamfuse.MultiStreamHead({"rgb": 3, "pose": 17}, 4, fusion="concat")).state_dict())


def test_old_state_dict_without_stream_record_loads_with_a_warning():
    f = _moved(streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, dim=8)).eval()
    old = {k: v for k, v in f.state_dict().items() if not k.endswith("_extra_state")}
    g = streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, dim=8).eval()
    with pytest.warns(UserWarning, match="no stream record"):
        result = g.load_state_dict(old)
    assert not result.missing_keys and not result.unexpected_keys
    xs = [torch.randn(2, 3), torch.randn(2, 17)]
    torch.testing.assert_close(f(xs), g(xs), rtol=0, atol=0)


def _other_value(opt, value):
    """A valid value of option ``opt`` other than ``value`` (None when there is none to try)."""
    if opt.kind == "float":
        return value * 2 if opt.high is None or value * 2 < opt.high else value / 2
    if opt.kind == "int":
        return value + 1
    if opt.kind == "bool":
        return not value
    if opt.kind == "choice":
        return next(c for c in opt.choices if c != value)
    if opt.kind == "module_class":
        return torch.nn.ReLU if value is not torch.nn.ReLU else torch.nn.GELU
    return None


@pytest.mark.parametrize("name", streamfuse.list_fusions())
def test_state_dict_refuses_weights_saved_under_other_recorded_options(name):
    """Every recorded option (one that changes what the same weights compute) is saved with the
    weights; loading into a fusion built with another value fails and names the option, whether
    or not the parameter shapes differ. Training-only options (dropout) are not recorded."""
    cls = streamfuse.FUSIONS[name]
    in_dims = {"rgb": 8, "pose": 8}
    base = streamfuse.create_fusion(name, in_dims, dim=8)
    recorded = base.recorded_options()
    specs = cls.option_specs()
    assert all(specs[k].recorded for k in recorded)
    assert not {"dropout", "stream_dropout", "check_finite", "device", "dtype"} & set(recorded)
    tried = 0
    for option, value in recorded.items():
        other = _other_value(specs[option], base._option_values[option])
        try:
            g = streamfuse.create_fusion(name, in_dims, dim=8, **{option: other})
        except (StreamFuseError, TypeError):
            continue  # e.g. num_heads that does not divide D, or an activation class as norm_layer
        tried += 1
        same_shapes = all(a.shape == b.shape for a, b in zip(base.state_dict().values(), g.state_dict().values()))
        if same_shapes and len(base.state_dict()) == len(g.state_dict()):
            with pytest.raises(StreamFuseError, match=rf"trained with {option}=.* but this fusion has {option}="):
                g.load_state_dict(base.state_dict())
        else:
            with pytest.raises((StreamFuseError, RuntimeError)):
                g.load_state_dict(base.state_dict())
    if cls.options and any(o.recorded for o in cls.options.values()):
        assert tried > 0, f"no recorded option of {name} could be varied"


def test_logit_scale_is_recorded_and_checked_and_old_records_load():
    f = _moved(streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, dim=8)).eval()
    assert f.recorded_options() == {"normalize": "softmax", "logit_scale": 10.0, "stream_norm": True}
    assert "k" not in f.state_dict() and float(f.k) == 10.0  # the tensor copy is a non-saved buffer
    assert f.double().k.dtype == torch.float64
    with pytest.raises(StreamFuseError, match=r"trained with logit_scale=10.0 but this fusion has logit_scale=1.0; .*create it with logit_scale=10.0"):
        streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, dim=8, logit_scale=1.0).load_state_dict(f.float().state_dict())
    # a record written before options were recorded holds only the streams: it loads unchecked
    state = f.float().state_dict()
    record = json.loads(bytes(state["_extra_state"].tolist()).decode())
    del record["options"]
    state["_extra_state"] = torch.tensor(list(json.dumps(record).encode()), dtype=torch.uint8)
    g = streamfuse.create_fusion("scalar", {"rgb": 3, "pose": 17}, dim=8).eval()
    g.load_state_dict(state)
    xs = [torch.randn(2, 3), torch.randn(2, 17)]
    torch.testing.assert_close(f(xs), g(xs), rtol=0, atol=0)


def test_weights_of_one_method_do_not_load_into_another():
    """sum and mean have the same (projection) parameters: only the record's method tells them apart."""
    dims = {"rgb": 3, "pose": 17}
    saved = streamfuse.create_fusion("sum", dims, dim=8).state_dict()
    with pytest.raises(StreamFuseError, match="saved from a 'sum' fusion; load them into a 'sum' fusion"):
        streamfuse.create_fusion("mean", dims, dim=8).load_state_dict(saved)
    streamfuse.create_fusion("sum", dims, dim=8).load_state_dict(saved)
    record = json.loads(bytes(saved["_extra_state"].tolist()).decode())
    del record["method"]  # a record written before the method was: loads unchecked, as before
    saved["_extra_state"] = torch.tensor(list(json.dumps(record).encode()), dtype=torch.uint8)
    streamfuse.create_fusion("mean", dims, dim=8).load_state_dict(saved)


def test_project_and_sum_needs_a_stream_projection():
    """A method whose ``proj`` is not a ``StreamProjection`` (concat's is one nn.Linear) is told so."""
    concat = streamfuse.create_fusion("concat", [3, 5])
    with pytest.raises(TypeError, match="concat: project_and_sum needs self.proj from build_projection, got Linear"):
        concat.project_and_sum([torch.randn(2, 3), torch.randn(2, 5)], None)
