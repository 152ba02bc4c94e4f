"""stream_importance: exact and sampled Shapley, ablation, weights, agreement, masking, errors."""

import itertools
import json
import math

import pytest
import torch
from torch import nn

from streamfuse import MultiStreamHead, StreamFuseError
from streamfuse.importance import StreamImportance, average_ranks, spearman, stream_importance


pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------- models
class HandModel(nn.Module):
    """Two classes; the class-1 logit is a known function of the present streams:

        z = sum_{i present} a_i * x_i  +  b * x_0 * x_1 * [streams 0 and 1 both present]

    with x_i = stream i's single value per row. Optionally reports fixed per-stream weights."""

    def __init__(self, a=(1.0, 0.5, -0.7), b=0.8, weights=None):
        super().__init__()
        self.a, self.b, self.fixed_weights = a, b, weights

    def forward(self, streams, mask=None, return_weights=False):
        xs = [x[:, 0].double() for x in (streams.values() if isinstance(streams, dict) else streams)]
        n = xs[0].shape[0]
        m = torch.ones(n, len(xs), dtype=torch.float64) if mask is None else mask.double()
        assert not (mask is not None and bool((~mask.any(1)).any())), "a row with no stream reached the model"
        z = sum(a * x * m[:, i] for i, (a, x) in enumerate(zip(self.a, xs)))
        z = z + self.b * xs[0] * xs[1] * m[:, 0] * m[:, 1]
        scores = torch.stack([torch.zeros_like(z), z], dim=1)
        if not return_weights:
            return scores
        w = None if self.fixed_weights is None else torch.tensor(self.fixed_weights).expand(n, len(xs))
        return scores, w


HAND_X = [  # rows: (x0, x1, x2), label
    ((1.0, 0.5, -1.0), 1),
    ((-0.5, 1.5, 0.3), 1),
    ((2.0, -1.0, 0.2), 0),
    ((-1.2, -0.4, 0.9), 0),
    ((0.7, 0.9, -0.6), 1),
    ((-0.3, 2.0, -0.2), 1),
    ((0.4, -1.5, 1.1), 1),
]


def hand_data():
    x = torch.tensor([r for r, _ in HAND_X], dtype=torch.float64)
    y = torch.tensor([lab for _, lab in HAND_X])
    return [x[:, i : i + 1].clone() for i in range(3)], y


def hand_values(a, b):
    """v_acc(T) and v_ll(T) for every coalition T, by hand (plain Python over the rows)."""
    n = len(HAND_X)
    p1 = sum(lab for _, lab in HAND_X) / n
    prior = {0: 1 - p1, 1: p1}
    majority = 1 if p1 > 0.5 else 0
    acc, ll = {}, {}
    acc[()] = sum(lab == majority for _, lab in HAND_X) / n
    ll[()] = sum(math.log(prior[lab]) for _, lab in HAND_X) / n
    for size in (1, 2, 3):
        for t in itertools.combinations(range(3), size):
            a_sum, l_sum = 0.0, 0.0
            for x, lab in HAND_X:
                z = sum(a[i] * x[i] for i in t) + (b * x[0] * x[1] if 0 in t and 1 in t else 0.0)
                pred = 1 if z > 0 else 0
                a_sum += pred == lab
                l_sum += (z if lab == 1 else 0.0) - math.log(1.0 + math.exp(z))
            acc[t], ll[t] = a_sum / n, l_sum / n
    return acc, ll


def shapley3(v, i):
    """Closed-form Shapley value of player i in a 3-player game (coalitions as sorted tuples)."""
    j, k = (p for p in range(3) if p != i)
    t = lambda *ps: tuple(sorted(ps))  # noqa: E731
    return (
        (v[(i,)] - v[()]) / 3
        + (v[t(i, j)] - v[(j,)]) / 6
        + (v[t(i, k)] - v[(k,)]) / 6
        + (v[(0, 1, 2)] - v[t(j, k)]) / 3
    )


# --------------------------------------------------------------------------------------------- exact
def test_exact_shapley_matches_hand_computation():
    a, b = (1.0, 0.5, -0.7), 0.8
    xs, y = hand_data()
    r = stream_importance(HandModel(a, b), (xs, y), batch_size=3)  # batches of 3, 3, 1 rows
    acc, ll = hand_values(a, b)
    assert r.exact is True and r.num_samples is None
    assert r.forward_passes == 7 * 3  # each non-empty coalition once per batch; v(empty) is the prior
    assert r.full_accuracy == pytest.approx(acc[(0, 1, 2)]) and r.full_loglik == pytest.approx(ll[(0, 1, 2)])
    assert r.empty_accuracy == pytest.approx(5 / 7) and r.empty_loglik == pytest.approx(ll[()])
    for i, row in enumerate(r.table):
        assert row["shapley_acc"] == pytest.approx(shapley3(acc, i), abs=1e-12)
        assert row["shapley_loglik"] == pytest.approx(shapley3(ll, i), abs=1e-9)
        rest = tuple(p for p in range(3) if p != i)
        assert row["ablation_acc_drop"] == pytest.approx(acc[(0, 1, 2)] - acc[rest], abs=1e-12)
        assert row["ablation_loss_increase"] == pytest.approx(ll[(0, 1, 2)] - ll[rest], abs=1e-9)
        assert row["weight"] is None and row["shapley_acc_ci95"][0] <= row["shapley_acc_ci95"][1]  # bootstrap
    # efficiency: the Shapley values share out exactly the gain of the full model over no stream
    assert sum(row["shapley_acc"] for row in r.table) == pytest.approx(acc[(0, 1, 2)] - acc[()], abs=1e-12)
    assert sum(row["shapley_loglik"] for row in r.table) == pytest.approx(ll[(0, 1, 2)] - ll[()], abs=1e-9)
    # the interaction makes this game non-additive: Shapley differs from the solo gain v({i}) - v({})
    assert abs(r.table[0]["shapley_loglik"] - (ll[(0,)] - ll[()])) > 1e-3


def test_stream_that_cannot_affect_output_gets_exactly_zero():
    xs, y = hand_data()
    model = HandModel(a=(1.0, 0.5, 0.0))  # stream 2 has no effect on the output
    # removing it through the mask: ablation is exactly 0; with v(empty) = class prior its Shapley
    # value is (v({2}) - v(empty)) / 3, the model's blind output (logits 0, 0) against the prior
    r = stream_importance(model, (xs, y))
    dead = r.table[2]
    assert dead["ablation_acc_drop"] == 0.0 and dead["ablation_loss_increase"] == 0.0
    acc, ll = hand_values((1.0, 0.5, 0.0), 0.8)
    assert acc[(2,)] == 2 / 7 and ll[(2,)] == pytest.approx(math.log(0.5))
    assert dead["shapley_acc"] == pytest.approx((acc[(2,)] - acc[()]) / 3, abs=1e-12)
    assert dead["shapley_loglik"] == pytest.approx((ll[(2,)] - ll[()]) / 3, abs=1e-12)
    # replacing it by its mean, v(empty) = the model with every stream at its mean: the dummy
    # axiom holds, so ablation and Shapley are exactly 0
    r = stream_importance(model, (xs, y), masking="mean", baseline=[x.mean(0) for x in xs])
    assert r.empty == "model"
    dead = r.table[2]
    assert (dead["ablation_acc_drop"], dead["ablation_loss_increase"]) == (0.0, 0.0)
    assert (dead["shapley_acc"], dead["shapley_loglik"]) == (0.0, 0.0)
    assert r.table[0]["shapley_loglik"] != 0.0 and r.table[1]["shapley_loglik"] != 0.0


def test_dead_stream_in_a_real_concat_head():
    g = torch.Generator().manual_seed(1)
    head = MultiStreamHead({"a": 4, "b": 3, "c": 5}, num_classes=3, fusion="concat", dropout=0.0).eval()
    with torch.no_grad():
        head.fusion.proj.weight[:, 4:7] = 0.0  # stream 'b' enters through zero columns only
    xs = {k: torch.randn(60, c, generator=g) for k, c in {"a": 4, "b": 3, "c": 5}.items()}
    y = torch.randint(0, 3, (60,), generator=g)
    r = stream_importance(head, (xs, y), batch_size=16)
    b = r.table[1]
    assert b["stream"] == "b" and (b["ablation_acc_drop"], b["ablation_loss_increase"]) == (0.0, 0.0)
    with torch.no_grad():  # v({b}): the head's blind output
        blind = head(xs, mask=torch.tensor([[False, True, False]]).repeat(60, 1))
    acc_b = (blind.argmax(1) == y).double().mean().item()
    ll_b = torch.log_softmax(blind.double(), 1).gather(1, y[:, None]).mean().item()
    assert b["shapley_acc"] == pytest.approx((acc_b - r.empty_accuracy) / 3, abs=1e-12)
    assert b["shapley_loglik"] == pytest.approx((ll_b - r.empty_loglik) / 3, abs=1e-9)
    r = stream_importance(head, (xs, y), masking="mean", baseline={k: v.mean(0) for k, v in xs.items()}, batch_size=16)
    b = r.table[1]
    assert (b["ablation_acc_drop"], b["ablation_loss_increase"], b["shapley_acc"], b["shapley_loglik"]) == (0, 0, 0, 0)
    assert r.table[0]["shapley_loglik"] != 0.0


# --------------------------------------------------------------------------------------------- agreement
@pytest.mark.parametrize(
    "x, y",
    [
        ([0.1, 0.5, 0.2, 0.9], [1.0, 3.0, 2.0, 4.0]),
        ([1, 2, 2, 3, 3, 3], [6, 5, 5, 1, 2, 1]),  # ties on both sides
        ([0.3, 0.3, 0.1], [0.2, 0.1, 0.1]),
        ([1.0, float("nan"), 3.0, 2.0, 5.0], [2.0, 1.0, None, 1.0, 7.0]),  # missing pairs dropped
        ([5, 4, 3, 2, 1, 0, 7, 7], [0, 1, 2, 3, 3, 5, 1, 9]),
    ],
)
def test_spearman_matches_scipy(x, y):
    stats = pytest.importorskip("scipy.stats")
    nan = float("nan")
    expected = stats.spearmanr([nan if v is None else v for v in x], [nan if v is None else v for v in y], nan_policy="omit")
    assert spearman(x, y) == pytest.approx(float(expected.statistic), abs=1e-12)


def test_spearman_undefined_cases_and_ranks():
    assert average_ranks([3, 1, 3, 2]) == [3.5, 1.0, 3.5, 2.0]
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))  # constant ranking
    assert math.isnan(spearman([1.0, None], [2.0, 3.0]))  # one pair left
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(3)
    for _ in range(20):  # random vectors with many ties
        x = torch.randint(0, 4, (9,), generator=g).tolist()
        y = torch.randint(0, 4, (9,), generator=g).tolist()
        ref = stats.spearmanr(x, y).statistic
        got = spearman(x, y)
        assert (math.isnan(got) and math.isnan(ref)) or got == pytest.approx(ref, abs=1e-12)


def test_agreement_in_result_matches_scipy_and_verdict_reports_disagreement():
    stats = pytest.importorskip("scipy.stats")
    xs, y = hand_data()
    # the model claims stream 0 matters most, stream 2 least; its output says otherwise
    model = HandModel(a=(0.0, 1.0, 0.3), b=0.0, weights=[0.6, 0.1, 0.3])
    r = stream_importance(model, (xs, y), bootstrap=0)  # no intervals: the point values decide
    w = [row["weight"] for row in r.table]
    assert w == pytest.approx([0.6, 0.1, 0.3])
    for key, col in [("weights_vs_ablation", "ablation_loss_increase"), ("weights_vs_shapley", "shapley_loglik"),
                     ("weights_vs_shapley_acc", "shapley_acc"), ("weights_vs_ablation_acc", "ablation_acc_drop")]:
        ref = stats.spearmanr(w, [row[col] for row in r.table]).statistic
        got = r.agreement[key]
        assert (math.isnan(got) and math.isnan(ref)) or got == pytest.approx(ref, abs=1e-12)
    assert r.agreement["weights_vs_shapley"] < 0.3
    assert "DISAGREE with" in r.verdict and "do not reflect" in r.verdict
    top = max(range(3), key=lambda i: r.table[i]["shapley_loglik"])
    assert f"stream {r.streams[top]!r} carries the most information per Shapley" in r.verdict
    assert "largest mean weight is on 'stream0'" in r.verdict
    # 7 rows: resampling them reorders the streams, so with the bootstrap the verdict will not say DISAGREE
    rb = stream_importance(model, (xs, y))
    assert rb.agreement == r.agreement and "DISAGREE" not in rb.verdict
    lo, hi = rb.agreement_ci["weights_vs_shapley"]
    assert lo <= r.agreement["weights_vs_shapley"] <= hi and lo < 0.3 < hi
    assert "weights are not settled against ablation and Shapley" in rb.verdict


# --------------------------------------------------------------------------------------------- sampled
class AdditiveModel(nn.Module):
    """K classes; every stream holds the one-hot label. Present streams add a_i to the log-probability
    of the true class, starting from log(1/K): the log-likelihood game is additive (phi_i = a_i) and
    any non-empty coalition is always right (phi_acc = (1 - 1/K) / S for balanced labels)."""

    def __init__(self, a, k):
        super().__init__()
        self.a, self.k = torch.tensor(a, dtype=torch.float64), k

    def forward(self, streams, mask=None, return_weights=False):
        m = mask.double()
        onehot = sum(x.double() * m[:, i : i + 1] for i, x in enumerate(streams)) > 0
        p_true = torch.exp(m @ self.a) / self.k
        probs = torch.where(onehot, p_true[:, None], ((1 - p_true) / (self.k - 1))[:, None])
        return probs.log().float()


def test_sampled_shapley_for_nine_streams_has_ci_and_recovers_an_additive_model():
    s, k = 9, 4
    a = [0.02 * (i + 1) for i in range(s)]  # sum 0.9 < log(K)
    y = torch.arange(40) % k
    onehot = torch.nn.functional.one_hot(y, k).float()
    data = ([onehot.clone() for _ in range(s)], y)
    r = stream_importance(AdditiveModel(a, k), data, methods=("ablation", "shapley"), num_samples=150, seed=1)
    assert r.exact is False and r.num_samples == 150
    assert r.forward_passes <= 2**s  # cached coalitions are never re-run
    true_acc = (1 - 1 / k) / s
    covered = 0
    for i, row in enumerate(r.table):
        lo, hi = row["shapley_loglik_ci95"]
        assert row["shapley_loglik"] == pytest.approx(a[i], abs=1e-6)  # additive: every permutation agrees
        assert hi - lo < 1e-5 and lo <= row["shapley_loglik"] <= hi
        assert row["ablation_loss_increase"] == pytest.approx(a[i], abs=1e-6)
        lo, hi = row["shapley_acc_ci95"]
        assert lo < row["shapley_acc"] < hi and hi - lo > 0.01  # accuracy is not additive: a real interval
        assert row["shapley_acc"] == pytest.approx(true_acc, abs=0.06)
        covered += lo <= true_acc <= hi
    assert covered >= 8  # 95% intervals
    assert sum(row["shapley_acc"] for row in r.table) == pytest.approx(1 - 1 / k, abs=1e-9)
    lo, hi = r.table[0]["shapley_acc_ci95"]
    assert "150 permutations, 95% CI" in r.to_markdown() and f"[{lo:+.3f}, {hi:+.3f}]" in r.to_markdown()
    json.dumps(r.to_dict(), allow_nan=False)
    assert r.to_dict()["table"][0]["shapley_acc_ci95"][0] == pytest.approx(r.table[0]["shapley_acc_ci95"][0])


# --------------------------------------------------------------------------------------------- real heads
def pose_batch(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    pose = torch.randn(n, 17, 2, generator=g)
    pose[torch.arange(n), y] += 2.0  # the pose stream carries the label
    rgb = torch.randn(n, 3, 2, generator=g)
    return {"rgb": rgb, "pose": pose}, y


def trained_head(fusion, xs, y, steps=60):
    torch.manual_seed(0)
    head = MultiStreamHead({"rgb": 3, "pose": 17}, num_classes=4, fusion=fusion, dropout=0.1)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(head(xs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


def test_attention_head_dict_and_list_inputs_agree_and_find_pose():
    xs, y = pose_batch()
    head = trained_head("attention", xs, y)
    head.train()
    head.fusion.eval()  # a mixed train/eval state must come back as it was
    reversed_dict = {"pose": xs["pose"], "rgb": xs["rgb"]}  # key order differs from the head's
    r = stream_importance(head, (reversed_dict, y), batch_size=100)
    assert head.training and head.dropout.training and not head.fusion.training
    assert r.streams == ["rgb", "pose"]
    r_list = stream_importance(head, ([xs["rgb"], xs["pose"]], y), batch_size=100)
    assert r_list.table == r.table and r_list.streams == ["rgb", "pose"]
    head.eval()
    with torch.no_grad():
        scores, w = head(xs, return_weights=True)
    assert r.full_accuracy == pytest.approx((scores.argmax(1) == y).double().mean().item())
    assert [row["weight"] for row in r.table] == pytest.approx(w.double().mean(0).tolist(), abs=1e-6)
    assert sum(row["weight"] for row in r.table) == pytest.approx(1.0, abs=1e-6)
    rgb, pose = r.table
    assert pose["weight"] > rgb["weight"] and pose["shapley_loglik"] > rgb["shapley_loglik"]
    assert pose["ablation_acc_drop"] > 0.2
    assert r.agreement["weights_vs_ablation"] == 1.0 and r.agreement["weights_vs_shapley"] == 1.0
    assert r.verdict.startswith(
        "weights agree with ablation and Shapley (Spearman 1.00, 1.00; 95% bootstrap interval 1.00 to 1.00")
    assert "stream 'pose' carries the most information" in r.verdict
    assert sum(row["shapley_acc"] for row in r.table) == pytest.approx(r.full_accuracy - r.empty_accuracy, abs=1e-12)
    text, md = str(r), r.to_markdown()
    assert "pose" in text and "| pose |" in md and r.verdict in md


def test_concat_head_has_no_weights_and_no_agreement():
    xs, y = pose_batch(n=128)
    head = trained_head("concat", xs, y, steps=30)
    r = stream_importance(head, ([xs["rgb"], xs["pose"]], y))
    assert all(row["weight"] is None for row in r.table)
    assert r.agreement is None
    assert r.verdict.startswith("the model has no learned stream weights")
    assert "'pose' carries the most information" in r.verdict
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["table"][0]["weight"] is None and d["agreement"] is None


def test_channel_level_weights_are_averaged_over_d_and_per_class_tables_add_up():
    xs, y = pose_batch(n=96, seed=2)
    head = MultiStreamHead({"rgb": 3, "pose": 17}, num_classes=4, fusion="adaptive", dropout=0.0).eval()
    r = stream_importance(head, (xs, y), per_class=True, batch_size=40)
    with torch.no_grad():
        _, w = head(xs, return_weights=True)
    assert w.dim() == 3
    assert [row["weight"] for row in r.table] == pytest.approx(w.double().mean((0, 2)).tolist(), abs=1e-6)
    counts = torch.bincount(y, minlength=4).tolist()
    assert [c["class"] for c in r.per_class] == [c for c in range(4) if counts[c]]
    for key in ("shapley_acc", "shapley_loglik", "ablation_acc_drop", "ablation_loss_increase", "weight"):
        for i in range(2):  # every measure is a mean over rows, so the classes' values average to the total
            total = sum(c["num_rows"] * c["table"][i][key] for c in r.per_class) / len(y)
            assert total == pytest.approx(r.table[i][key], abs=1e-9), key
    assert sum(c["num_rows"] * c["full_accuracy"] for c in r.per_class) / len(y) == pytest.approx(r.full_accuracy)
    json.dumps(r.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------------------------- 'mean' masking
class PlainModel(nn.Module):
    """No mask argument: a linear classifier on a vector stream and a pooled sequence stream."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(3 + 2 + 4, 3)

    def forward(self, streams):
        a, b, c = streams
        return self.lin(torch.cat([a, b.mean(-1), c], dim=1))


def plain_data(n=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(n, 3, generator=g), torch.randn(n, 2, 5, generator=g), torch.randn(n, 4, generator=g)]
    y = torch.randint(0, 3, (n,), generator=g)
    return xs, y


def test_mean_masking_replaces_a_stream_by_its_baseline():
    model = PlainModel()
    xs, y = plain_data()
    base = [x.mean(0) for x in xs]
    base[1] = xs[1].mean((0, 2))  # a (C,) vector is read as per-channel means of the (C, L) stream
    r = stream_importance(model, (xs, y), baseline=base, batch_size=16)
    assert r.masking == "mean"
    with torch.no_grad():
        full = model(xs)
        cut = model([xs[0], base[1].view(2, 1).expand(50, 2, 5), xs[2]])
    acc = lambda s: (s.argmax(1) == y).double().mean().item()  # noqa: E731
    ll = lambda s: torch.log_softmax(s.double(), 1).gather(1, y[:, None]).mean().item()  # noqa: E731
    assert r.full_accuracy == pytest.approx(acc(full))
    assert r.table[1]["ablation_acc_drop"] == pytest.approx(acc(full) - acc(cut), abs=1e-12)
    assert r.table[1]["ablation_loss_increase"] == pytest.approx(ll(full) - ll(cut), abs=1e-6)
    assert all(row["weight"] is None for row in r.table) and r.agreement is None
    total = sum(row["shapley_loglik"] for row in r.table)
    assert total == pytest.approx(r.full_loglik - r.empty_loglik, abs=1e-9)


def test_mean_masking_shapley_matches_captum():
    captum_attr = pytest.importorskip("captum.attr")
    model = PlainModel().eval()
    xs, y = plain_data(n=40, seed=4)
    base = [x.mean(0) for x in xs]
    r = stream_importance(model, (xs, y), masking="mean", baseline=base, empty="model", batch_size=7)

    def accuracy(*inputs):
        return (model(list(inputs)).argmax(1) == y).double().mean()

    def loglik(*inputs):
        return torch.log_softmax(model(list(inputs)).double(), 1).gather(1, y[:, None]).mean()

    masks = tuple(torch.full((1,) + x.shape[1:], i) for i, x in enumerate(xs))
    baselines = tuple(b.unsqueeze(0) for b in base)
    with torch.no_grad():
        for fn, key in ((accuracy, "shapley_acc"), (loglik, "shapley_loglik")):
            attr = captum_attr.ShapleyValues(fn).attribute(tuple(xs), baselines=baselines, feature_mask=masks)
            expected = [float(t.flatten()[0]) for t in attr]
            # float32 model: batches of 7 rows vs one batch of 40 round differently (~1e-9)
            assert [row[key] for row in r.table] == pytest.approx(expected, abs=1e-6), key
    with torch.no_grad():
        assert r.empty_accuracy == pytest.approx(accuracy(*[b.expand_as(x) for b, x in zip(base, xs)]).item())


# --------------------------------------------------------------------------------------------- errors
def test_errors_name_what_is_wrong():
    xs, y = pose_batch(n=12)
    head = MultiStreamHead({"rgb": 3, "pose": 17}, num_classes=4, fusion="attention")
    with pytest.raises(StreamFuseError, match=r"unknown importance method 'shaply'\. Did you mean 'shapley'.*ablation, shapley, weights"):
        stream_importance(head, (xs, y), methods=("weights", "shaply"))
    bad = {"rgb": xs["rgb"], "pose": xs["pose"][:10]}
    with pytest.raises(StreamFuseError, match=r"stream 'pose'.*\(10, 17, 2\).*N=12"):
        stream_importance(head, (bad, y))
    with pytest.raises(StreamFuseError, match=r"empty \(N=0"):
        stream_importance(head, ({k: v[:0] for k, v in xs.items()}, y[:0]))
    with pytest.raises(StreamFuseError, match=r"masking='mean' needs baseline="):
        stream_importance(head, (xs, y), masking="mean")
    with pytest.raises(StreamFuseError, match=r"PlainModel\.forward has no `mask` argument.*baseline="):
        stream_importance(PlainModel(), plain_data())
    with pytest.raises(StreamFuseError, match=r"labels: values must be class indices in \[0, 3\].*from 0 to 4"):
        stream_importance(head, (xs, torch.cat([torch.tensor([0, 4]), y[2:]])))
    with pytest.raises(StreamFuseError, match=r"labels: expected an int64 tensor"):
        stream_importance(head, (xs, y.float()))
    with pytest.raises(StreamFuseError, match=r"empty='model'.*masking='mean'"):
        stream_importance(head, (xs, y), empty="model")
    with pytest.raises(StreamFuseError, match=r"baseline for stream 'stream1': shape \(3\) does not broadcast.*\(2, 5\)"):
        stream_importance(PlainModel(), plain_data(), baseline=[torch.zeros(3), torch.zeros(3), torch.zeros(4)])
    with pytest.raises(StreamFuseError, match=r"stream keys do not match.*missing \['pose'\]"):
        stream_importance(head, ({"rgb": xs["rgb"], "depth": xs["pose"]}, y))
    with pytest.raises(StreamFuseError, match=r"data: expected \(streams, labels\)"):
        stream_importance(head, xs)


def test_data_object_weights_only_and_defaults():
    class Split:
        def __init__(self, streams, labels):
            self.streams, self.labels = streams, labels

    xs, y = pose_batch(n=30)
    head = trained_head("scalar", xs, y, steps=30).eval()
    r = stream_importance(head, Split(xs, y), methods="weights")
    assert isinstance(r, StreamImportance) and r.forward_passes == 1
    assert r.table[0]["shapley_acc"] is None and r.table[0]["ablation_acc_drop"] is None
    assert r.verdict.startswith("only learned weights were computed")
    assert r.agreement == {} and r.exact is None  # weights, but nothing to rank them against


# --------------------------------------------------------------------------------------------- honesty
class SumOfTwo(nn.Module):
    """Two classes, two streams holding the same signal with independent noise; class-1 logit is
    the sum of the present streams. Reports fixed weights, slightly favouring stream 'a'."""

    stream_names = ["a", "b"]

    def __init__(self, weights=(0.507, 0.493), flip=False):
        super().__init__()
        self.w, self.flip = torch.tensor(weights), flip

    def forward(self, streams, mask=None, return_weights=False):
        xs = [streams[n][:, 0] for n in self.stream_names]
        m = torch.ones(xs[0].shape[0], 2) if mask is None else mask.float()
        z = (xs[0] * m[:, 0] + xs[1] * m[:, 1]) * (-1 if self.flip else 1)
        scores = torch.stack([torch.zeros_like(z), z], 1)
        return (scores, self.w.expand(len(z), 2)) if return_weights else scores


def twin_data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    sig = 2.0 * y.float() - 1.0
    return {n_: (sig + 1.5 * torch.randn(n, generator=g))[:, None] for n_ in ("a", "b")}, y


def test_two_equal_streams_are_a_tie_not_a_disagreement():
    xs, y = twin_data()
    r = stream_importance(SumOfTwo(), (xs, y))
    assert abs(r.agreement["weights_vs_shapley"]) == 1.0  # two streams: Spearman is +-1 by construction
    lo, hi = r.agreement_ci["weights_vs_shapley"]
    assert lo == -1.0 and hi == 1.0  # ... and its bootstrap interval shows the order is a coin flip
    assert "DISAGREE" not in r.verdict and "carries the most information" not in r.verdict
    assert "streams 'a', 'b' TIE per Shapley" in r.verdict or "streams 'b', 'a' TIE per Shapley" in r.verdict
    assert "not settled" in r.verdict
    for row in r.table:  # every measured column has its interval, around its value
        for key in ("weight", "ablation_loss_increase", "shapley_loglik", "shapley_acc"):
            lo, hi = row[f"{key}_ci95"]
            assert lo <= row[key] + 1e-12 and row[key] <= hi + 1e-12
    assert "[low, high]: 95% bootstrap over the 400 test rows (200 resamples)" in r.to_markdown()


def test_bootstrap_measures_are_row_means_of_the_table():
    from streamfuse.importance.bootstrap import per_row_measures
    from streamfuse.importance.coalitions import CoalitionGame
    from streamfuse.importance.inputs import unpack_data
    from streamfuse.importance.shapley import exact_shapley

    xs, y = hand_data()
    model = HandModel(weights=[0.6, 0.1, 0.3])
    d = unpack_data((xs, y), model)
    game = CoalitionGame(model, d, masking="mask", baselines=None, batch_size=3, device=torch.device("cpu"),
                         empty="prior", prior=None, weights_arg=True, keep_rows=True)
    game.evaluate([game.full])
    shap = exact_shapley(game)
    rows = per_row_measures(game, ablation=True, shapley=True)
    torch.testing.assert_close(rows["shapley_acc"].mean(0), shap.values[:, 0])
    torch.testing.assert_close(rows["shapley_loglik"].mean(0), shap.values[:, 1])
    r = stream_importance(model, (xs, y))
    for key in ("ablation_acc_drop", "ablation_loss_increase", "weight"):
        assert rows[key].mean(0).tolist() == pytest.approx([row[key] for row in r.table], abs=1e-9), key


def test_coalition_game_misuse_is_named_not_a_none_error():
    """K, the class counts and the prior exist only after the first evaluation; 'mean' masking needs baselines."""
    from streamfuse.importance.coalitions import CoalitionGame
    from streamfuse.importance.inputs import unpack_data

    xs, y = hand_data()
    model = HandModel(weights=[0.6, 0.1, 0.3])
    d = unpack_data((xs, y), model)
    common = dict(batch_size=3, device=torch.device("cpu"), empty="prior", prior=None, weights_arg=False)
    game = CoalitionGame(model, d, masking="mask", baselines=None, **common)
    with pytest.raises(RuntimeError, match="evaluate a coalition first"):
        game.value(0)
    game.evaluate([game.full])
    assert game.class_stats()[0] == game.num_classes and float(game.value(0)[0]) > 0
    with pytest.raises(StreamFuseError, match="baselines are needed with masking='mean'"):
        CoalitionGame(model, d, masking="mean", baselines=None, **common)


def test_a_model_below_chance_or_the_class_prior_gets_a_warning_and_no_claim():
    xs, y = twin_data()
    r = stream_importance(SumOfTwo(flip=True), (xs, y))  # anti-correlated: far below chance
    assert r.full_accuracy < 0.5
    assert r.warning is not None and r.verdict.startswith("WARNING: the model does no better than chance or the class prior")
    assert "chance 50.0% (1/K, K=2)" in r.verdict and "carries the most information" not in r.verdict
    assert r.to_markdown().startswith(f"**{r.warning}**") and str(r).startswith(r.warning)
    # above chance but below the class prior: 3/4 of the labels are class 1, the model is right on 60%
    y2 = torch.tensor([1, 1, 1, 0] * 25)
    sig = (2.0 * y2 - 1.0)[:, None]
    sig[:40] *= -1
    r2 = stream_importance(SumOfTwo(), ({"a": sig, "b": sig.clone()}, y2))
    assert 0.5 < r2.full_accuracy <= 0.75
    assert "class prior 75.0% (always answering class 1)" in r2.verdict and "carries the most" not in r2.verdict
    r3 = stream_importance(SumOfTwo(), twin_data())
    assert r3.warning is None and r3.full_accuracy > 0.75


def test_bad_seed_per_class_prior_and_nan_input_name_the_real_cause():
    xs, y = twin_data(n=40)
    model = SumOfTwo()
    with pytest.raises(StreamFuseError, match=r"seed must be an int >= 0, got 'a'"):
        stream_importance(model, (xs, y), seed="a")
    with pytest.raises(StreamFuseError, match=r"per_class must be True or False, got 'yes'"):
        stream_importance(model, (xs, y), per_class="yes")
    with pytest.raises(StreamFuseError, match=r"prior: class probabilities must sum to 1, got a sum of 15"):
        stream_importance(model, (xs, y), prior=[5.0, 10.0])
    with pytest.raises(StreamFuseError, match=r"bootstrap must be 0 \(off\) or at least 20"):
        stream_importance(model, (xs, y), bootstrap=5)
    with pytest.raises(StreamFuseError, match=r"prior: only used with empty='prior'"):
        stream_importance(PlainModel(), plain_data(), baseline=[torch.zeros(3), torch.zeros(2), torch.zeros(4)],
                          prior=[0.3, 0.3, 0.4])
    bad = {"a": xs["a"].clone(), "b": xs["b"]}
    bad["a"][3, 0] = float("nan")
    with pytest.raises(StreamFuseError, match=r"stream 'a': 1 NaN/Inf values in the data"):
        stream_importance(model, (bad, y))
    nan_mean = {k: v.mean(0) for k, v in xs.items()}
    nan_mean["b"][0] = float("nan")  # a baseline is checked like the data, not blamed on the model
    with pytest.raises(StreamFuseError, match=r"baseline for stream 'b': 1 NaN/Inf values"):
        stream_importance(model, (xs, y), masking="mean", baseline=nan_mean)

    class NanOut(SumOfTwo):
        def forward(self, streams, mask=None, return_weights=False):
            out = super().forward(streams, mask, return_weights)
            scores = out[0] if return_weights else out
            scores[0, 1] = float("nan")
            return out

    r = stream_importance(NanOut(), (xs, y))  # a diverged model: the verdict names the cause, a bench goes on
    assert r.verdict.startswith("no importance could be computed: the model returns NaN/Inf class scores on 1 of 40 "
                                "rows with streams ['a', 'b'] present")
    assert r.leaders == [] and "carries" not in r.verdict and "weights" not in r.verdict.split("--")[0]
