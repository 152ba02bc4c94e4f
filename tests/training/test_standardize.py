"""Input standardisation inside the model: training statistics only, checkpoints, constants, scale."""

import torch

from streamfuse.training import TrainConfig, load_checkpoint, predict, save_checkpoint, train_model
from streamfuse.training.standardize import StreamStandardizer, channel_stats


def data(n=150, seed=0, scale=1.0, shift=0.0):
    """A vector stream whose label lives in a few features (times ``scale``, plus ``shift``) and a
    sequence stream of noise; three classes."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    v = torch.randn(n, 6, generator=g) * 0.5
    v[torch.arange(n), y] += 1.5
    seq = torch.randn(n, 2, 10, generator=g) * 3 + 7
    return {"v": v * scale + shift, "s": seq}, y


def spec(method="concat", standardize=True):
    return {"method": method, "streams": ["v", "s"], "kinds": {"v": "vector", "s": "sequence"}, "in_channels": {"v": 6, "s": 2},
            "num_classes": 3, "width": 16, "dim": None, "dropout": 0.1, "fusion_options": {}, "standardize": standardize}


CFG = TrainConfig(epochs=8, batch_size=32, width=16, lr=3e-3)


def test_channel_stats_per_feature_per_channel_and_constant_channels():
    x = torch.randn(40, 3, 5, 4) * torch.tensor([1.0, 10.0, 100.0]).view(1, 3, 1, 1) + 50
    x[:, 2] = 7.0  # a constant channel
    mean, std = channel_stats(x)
    assert mean.shape == std.shape == (3,)
    assert torch.allclose(mean[:2], x[:, :2].double().mean((0, 2, 3)))
    assert torch.allclose(std[:2], x[:, :2].double().std((0, 2, 3), correction=0))
    assert mean[2] == 7.0 and std[2] == 1.0  # centred only, not divided by ~0
    near = torch.full((30, 2), 1e4)
    near[0, 0] += 1e-3  # float32 rounding noise on a large constant: still treated as constant
    assert channel_stats(near)[1].tolist() == [1.0, 1.0]


def test_standardizer_output_is_zscored_on_the_fitted_data_and_finite_for_constant_features():
    x = torch.randn(50, 4) * 1e4 + 3e4
    x[:, 3] = 123.0
    seq = torch.randn(50, 2, 8) * torch.tensor([0.01, 100.0]).view(1, 2, 1)
    st = StreamStandardizer({"x": 4, "seq": 2}).fit({"x": x, "seq": seq})
    zx, zs = st([x, seq])
    assert torch.isfinite(zx).all() and torch.all(zx[:, 3] == 0)
    assert torch.allclose(zx[:, :3].mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(zx[:, :3].std(0, correction=0), torch.ones(3), atol=1e-4)
    assert torch.allclose(zs.transpose(0, 1).reshape(2, -1).std(1, correction=0), torch.ones(2), atol=1e-4)


def test_training_fits_the_standardizer_on_training_data_only():
    (train, y), (test, _) = data(seed=0), data(seed=1, shift=100.0)  # a test split far from train
    model, _ = train_model(spec(), train, y, CFG)
    stats = model.standardizer.stats
    for s in ("v", "s"):
        mean, std = channel_stats(train[s])
        assert torch.allclose(stats[s].mean.double(), mean) and torch.allclose(stats[s].std.double(), std)
    assert not torch.allclose(stats["v"].mean.double(), channel_stats(test["v"])[0], atol=1.0)
    assert not hasattr(train_model(spec(standardize=False), train, y, CFG)[0], "standardizer")


def test_standardizer_round_trips_through_a_checkpoint(tmp_path):
    train, y = data(scale=1e4)
    test, _ = data(seed=2, scale=1e4)
    model, _ = train_model(spec("attention"), train, y, CFG)
    save_checkpoint(tmp_path / "m.pt", model, spec("attention"), CFG.to_dict())
    loaded, payload = load_checkpoint(tmp_path / "m.pt")
    assert payload["spec"]["standardize"] is True
    assert torch.equal(loaded.standardizer.stats["v"].std, model.standardizer.stats["v"].std)
    assert float(loaded.standardizer.stats["v"].std.max()) > 1e3  # the fitted scale, not the identity
    assert torch.allclose(predict(loaded, test), predict(model, test), atol=1e-5)


def test_a_stream_scaled_by_1e4_is_learned_as_well_as_unscaled():
    # Features scaled 1 .. 1e4 and offset, as raw measurements of different units come (mfeat's
    # `mor`). Without the standardizer this model scores about chance (0.32 against 0.81 measured);
    # a uniform scale alone would not show it: the encoder's LayerNorm absorbs that.
    def accuracy(scale):
        train, y = data(scale=scale, shift=3 * scale)
        test, y_test = data(seed=3, scale=scale, shift=3 * scale)
        model, _ = train_model(spec("single:v"), train, y, CFG)
        return (predict(model, test).argmax(1) == y_test).float().mean().item()

    plain, scaled = accuracy(torch.ones(6)), accuracy(torch.logspace(0, 4, 6))
    assert plain > 0.8  # the task is learnable at all
    assert abs(plain - scaled) <= 0.02
