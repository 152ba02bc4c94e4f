import pytest
import torch

from streamfuse import StreamFuseError
from streamfuse.training import TrainConfig, build_model, load_checkpoint, predict, save_checkpoint

from .test_loop import synthetic


def test_round_trip_gives_identical_predictions(tmp_path):
    streams, y, spec = synthetic(n=30)
    model = build_model(spec).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, spec, TrainConfig().to_dict(), {"accuracy": 0.5})
    loaded, payload = load_checkpoint(path)
    assert payload["metrics"]["accuracy"] == 0.5 and payload["spec"] == spec
    torch.testing.assert_close(predict(loaded, streams), predict(model, streams), rtol=0, atol=0)
    assert not list(tmp_path.glob("*.tmp")), "the temporary file must be renamed away"


@pytest.mark.parametrize("method", ["late", "single:a", "gmu"])
def test_baselines_round_trip(tmp_path, method):
    streams, _, spec = synthetic(n=10)
    spec = dict(spec, method=method)
    save_checkpoint(tmp_path / "m.pt", build_model(spec), spec, {})
    loaded, _ = load_checkpoint(tmp_path / "m.pt")
    assert predict(loaded, streams).shape == (10, 3)


def test_corrupt_and_foreign_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(StreamFuseError, match="bad.pt' cannot be read"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    with pytest.raises(StreamFuseError, match="format None, expected 'streamfuse-checkpoint/1'"):
        load_checkpoint(foreign)
    with pytest.raises(StreamFuseError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_checkpoint(tmp_path):
    streams, _, spec = synthetic(n=10)
    path = tmp_path / "m.pt"
    save_checkpoint(path, build_model(spec), spec, {})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(StreamFuseError, match="cannot be read"):
        load_checkpoint(path)


def test_aux_loss_spec_and_heads_round_trip(tmp_path):
    streams, _, spec = synthetic(n=10)
    spec = dict(spec, aux_loss=0.5)
    model = build_model(spec).eval()
    save_checkpoint(tmp_path / "m.pt", model, spec, TrainConfig(aux_loss=0.5).to_dict())
    loaded, payload = load_checkpoint(tmp_path / "m.pt")
    assert payload["spec"]["aux_loss"] == 0.5 and payload["config"]["aux_loss"] == 0.5
    for s in spec["streams"]:
        torch.testing.assert_close(loaded(streams, return_aux=True)[1][s], model(streams, return_aux=True)[1][s], rtol=0, atol=0)
    assert predict(loaded, streams).shape == (10, 3)


def test_a_checkpoint_without_spec_or_weights_is_a_clear_error(tmp_path):
    from streamfuse.training.checkpoint import FORMAT

    torch.save({"format": FORMAT, "config": {}}, tmp_path / "m.pt")
    with pytest.raises(StreamFuseError, match="m.pt' has no spec or state_dict; it is incomplete"):
        load_checkpoint(tmp_path / "m.pt")


def test_checkpoints_honour_the_umask(tmp_path):
    import os
    import stat

    _, _, spec = synthetic(n=10)
    old = os.umask(0o077)
    try:
        save_checkpoint(tmp_path / "private.pt", build_model(spec), spec, {})
        os.umask(0o002)
        save_checkpoint(tmp_path / "shared.pt", build_model(spec), spec, {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.pt").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "shared.pt").stat().st_mode) == 0o664


def test_training_leaves_the_flush_denormal_setting_as_it_found_it():
    from streamfuse.training import train_model
    from streamfuse.training.loop import denormals_flushed

    streams, y, spec = synthetic(n=30)
    for setting in (False, True):
        torch.set_flush_denormal(setting)
        try:
            train_model(spec, streams, y, TrainConfig(epochs=1, batch_size=16))
            assert denormals_flushed() is setting
        finally:
            torch.set_flush_denormal(False)


def test_attention_checkpoint_from_before_the_query_default_loads_with_its_mlp_scorer(tmp_path):
    streams, _, spec = synthetic()  # spec: attention, no fusion options (the default scorer)
    trained = dict(spec, fusion_options={"scorer": "mlp"})
    model = build_model(trained).eval()
    save_checkpoint(tmp_path / "old.pt", model, spec, {})  # as saved when "mlp" was the default
    loaded, payload = load_checkpoint(tmp_path / "old.pt")
    assert loaded.head.fusion.scorer == "mlp" and payload["spec"]["fusion_options"] == {"scorer": "mlp"}
    torch.testing.assert_close(predict(loaded, streams), predict(model, streams))
    save_checkpoint(tmp_path / "new.pt", build_model(spec), spec, {})
    assert load_checkpoint(tmp_path / "new.pt")[0].head.fusion.scorer == "query"
