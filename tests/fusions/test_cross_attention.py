import torch

import streamfuse


def test_attention_maps_x1_queries_x2_and_back():
    f = streamfuse.create_fusion("cross_attention", {"rgb": 3, "pose": 17}, dim=16).eval()
    rgb, pose = torch.randn(2, 3, 4, 5, 5), torch.randn(2, 17, 2, 3, 3)  # different token counts
    maps = f.attention_maps({"rgb": rgb, "pose": pose})
    assert maps["rgb"]["pose"].shape == (2, 100, 18)
    assert maps["pose"]["rgb"].shape == (2, 18, 100)
    for q in maps.values():
        total = sum(part.sum(-1) for part in q.values())
        torch.testing.assert_close(total, torch.ones_like(total))
    # Masking the key stream sends all the attention to the null token.
    mask = torch.tensor([[True, False], [True, True]])
    masked = f.attention_maps({"rgb": rgb, "pose": pose}, mask=mask)
    torch.testing.assert_close(masked["rgb"]["null"][0], torch.ones(100, 1))


def test_positions_matter():
    """Tokens keep their positions: permuting spatial positions of one stream changes the output."""
    f = streamfuse.create_fusion("cross_attention", [4, 4], dim=8).eval()
    a, b = torch.randn(2, 4, 6), torch.randn(2, 4, 6)
    out = f([a, b])
    out_perm = f([a, b[..., torch.randperm(6)]])
    assert not torch.allclose(out, out_perm)


def test_different_ranks_per_stream():
    f = streamfuse.create_fusion("cross_attention", [3, 5], dim=8).eval()
    out = f([torch.randn(2, 3, 10), torch.randn(2, 5, 2, 2, 2)])  # a sequence and a video map
    assert out.shape == (2, 8)
