import pytest
import torch

import streamfuse


def _identity_streams(f):
    """Pre-projected equal-width streams, so the fusion is the bare weighted sum."""
    return [torch.randn(5, f.dim) for _ in range(f.num_streams)]


def test_scalar_softmax_is_w1_x1_plus_w2_x2():
    f = streamfuse.create_fusion("scalar", [6, 6], project=False, stream_norm=False)
    with torch.no_grad():
        f.theta.copy_(torch.tensor([0.1, -0.05]))
    x1, x2 = _identity_streams(f)
    w = torch.softmax(torch.tensor([1.0, -0.5]), 0)  # logit_scale 10
    out, weights = f([x1, x2], return_weights=True)
    torch.testing.assert_close(out, w[0] * x1 + w[1] * x2)
    torch.testing.assert_close(weights, w.expand(5, 2))


def test_scalar_sigmoid_and_none():
    for normalize, fn in [("sigmoid", torch.sigmoid), ("none", lambda t: 1 + t)]:
        f = streamfuse.create_fusion("scalar", [4, 4, 4], normalize=normalize, project=False, stream_norm=False, logit_scale=1.0)
        with torch.no_grad():
            f.theta.copy_(torch.tensor([0.3, -1.0, 2.0]))
        xs = _identity_streams(f)
        w = fn(f.theta.detach())
        torch.testing.assert_close(f(xs), sum(wi * x for wi, x in zip(w, xs)))


def test_convex_is_w_x1_plus_one_minus_w_x2():
    f = streamfuse.create_fusion("convex", [6, 6], project=False, stream_norm=False)
    with torch.no_grad():
        f.theta.fill_(0.08)
    x1, x2 = _identity_streams(f)
    w = torch.sigmoid(torch.tensor(0.8))
    out, weights = f([x1, x2], return_weights=True)
    torch.testing.assert_close(out, w * x1 + (1 - w) * x2)
    torch.testing.assert_close(weights[0], torch.stack([w, 1 - w]))
    # One stream masked: the other gets all the weight.
    mask = torch.tensor([[True, False]] * 5)
    torch.testing.assert_close(f([x1, x2], mask=mask), x1)


def test_logit_scale_lets_adam_move_the_weight():
    """With the default scale a few hundred AdamW steps at lr 1e-3 move the weight decisively."""
    torch.manual_seed(0)
    f = streamfuse.create_fusion("scalar", [4, 4], project=False, stream_norm=False)
    head = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(list(f.parameters()) + list(head.parameters()), lr=1e-3)
    y = torch.randint(0, 2, (256,))
    informative = torch.nn.functional.one_hot(y, 4).float() + 0.1 * torch.randn(256, 4)
    noise = torch.randn(256, 4) * 3
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(head(f([informative, noise])), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, w = f([informative, noise], return_weights=True)
    assert w[0, 0] > 0.9, f"informative stream weight only {w[0, 0]:.3f}"


def test_two_softmax_streams_sum_as_one_lerp_at_inference_and_as_multiply_adds_in_training():
    """Without autograd the S = 2 shortcut (``convex_pair``) gives the multiply-add chain's values
    on both projection layouts (one Linear per stream: a list; one batched matmul: stacked);
    with autograd the chain itself runs, bit for bit (trained models do not change)."""
    from streamfuse.layers import convex_pair

    torch.manual_seed(0)
    for method in ("scalar", "channel", "convex"):
        for in_dims in ([6, 6], [6, 4], [5, 5]):  # no projection; one Linear each; batched (D=5 -> 6)
            f = streamfuse.create_fusion(method, in_dims, dim=6)
            with torch.no_grad():
                f.theta.normal_(0, 0.1)
            xs = [torch.randn(4, c) for c in in_dims]
            w = f.shared_weights(f.logits(), "softmax", None)
            trained = f.project_and_sum(xs, w, shared=True, convex=True)
            assert torch.equal(trained, f.project_and_sum(xs, w, shared=True, convex=False))
            with torch.no_grad():
                parts = f.proj.project_each(xs)
                inferred = f.project_and_sum(xs, w, shared=True, convex=True)
                assert torch.equal(inferred, convex_pair(parts[0], parts[1], w[0]))
                torch.testing.assert_close(inferred, trained)
                assert torch.equal(f(xs), inferred)  # the module takes the shortcut


def test_two_streams_of_different_dtypes_under_autocast_still_fuse():
    """lerp needs one dtype; streams left in two dtypes by autocast take the multiply-adds."""
    f = streamfuse.create_fusion("scalar", [6, 6], project=False, stream_norm=False)
    x1, x2 = torch.randn(3, 6), torch.randn(3, 6)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # no_grad: where lerp would run
        out = f([x1.bfloat16(), x2])
    torch.testing.assert_close(out.float(), 0.5 * x1.bfloat16().float() + 0.5 * x2, atol=0.02, rtol=0.02)


@pytest.mark.parametrize("name", ["scalar", "convex", "channel"])
def test_a_parametrized_theta_is_still_used(name):
    """logits() reads theta from the parameter registry on the every-call path; a parametrized
    theta (torch.nn.utils.parametrize moves it out of the registry) must still be the one used."""
    from torch.nn.utils import parametrize

    f = streamfuse.create_fusion(name, [4, 4], project=False, stream_norm=False)
    with torch.no_grad():
        f.theta.normal_()
    plain = f.logits().detach().clone()

    class Negate(torch.nn.Module):
        def forward(self, x):
            return -x

    parametrize.register_parametrization(f, "theta", Negate())
    assert "theta" not in f._parameters
    torch.testing.assert_close(f.logits(), -plain, rtol=0, atol=0)
    torch.testing.assert_close(f.fold().logits, -plain, rtol=0, atol=0)
