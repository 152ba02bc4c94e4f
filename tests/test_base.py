"""Bad input: every error names the stream, what it got and what was expected."""

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
    with pytest.raises(StreamFuseError, match="expected a list of 2 tensors or a dict"):
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


def test_mask_errors(fusion):
    xs = [torch.randn(2, 3), torch.randn(2, 17)]
    with pytest.raises(StreamFuseError, match="mask: expected a bool tensor"):
        fusion(xs, mask=torch.ones(2, 2))
    with pytest.raises(StreamFuseError, match=r"mask: expected shape \(N, S\) = \(2, 2\)"):
        fusion(xs, mask=torch.ones(2, 3, dtype=torch.bool))


def test_unknown_method_lists_and_suggests():
    with pytest.raises(StreamFuseError, match=r"unknown fusion method 'atention'. Did you mean 'attention'\? Valid choices: adaptive, attention"):
        streamfuse.create_fusion("atention", [3, 17])


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
