"""StreamFuseHead inside MMAction2's RGBPoseConv3D recognizer, against the real packages.

A reduced backbone (base widths 8/4, one block per stage: pathway widths 256 and 64) on tiny clips
(RGB 4 x 32 x 32, heatmaps 16 x 8 x 8: 4 and 16 tokens) keeps every test to a second or so on CPU.
"""

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import streamfuse

pytest.importorskip("mmaction")
pytest.importorskip("mmengine")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # mmcv-lite's missing ops; the 1.2.0 wheel's missing drn (tested below)
    from streamfuse.integrations import mmaction_compat
    from streamfuse.integrations.mmaction import DEFAULT_DIM, RecognizerStreams, StreamFuseHead

from mmaction.registry import MODELS  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmaction.structures import ActionDataSample  # noqa: E402

init_default_scope("mmaction")  # what a config's default_scope does under mmengine's Runner
ROOT = Path(__file__).resolve().parents[2]
K = 5
RGB_C, POSE_C = 256, 64  # 8 * 8 * 4 and 4 * 4 * 4: base width * 2^(stages-1) * bottleneck expansion


def backbone_cfg():
    return dict(
        type="RGBPoseConv3D", speed_ratio=4, channel_ratio=4,
        rgb_pathway=dict(num_stages=4, stage_blocks=(1, 1, 1, 1), lateral=True, lateral_infl=1,
                         lateral_activate=(0, 0, 1, 1), fusion_kernel=7, base_channels=8, conv1_kernel=(1, 7, 7),
                         inflate=(0, 0, 1, 1), with_pool2=False),
        pose_pathway=dict(num_stages=3, stage_blocks=(1, 1, 1), lateral=True, lateral_inv=True, lateral_infl=16,
                          lateral_activate=(0, 1, 1), fusion_kernel=7, in_channels=17, base_channels=4,
                          out_indices=(2,), conv1_kernel=(1, 7, 7), conv1_stride_s=1, conv1_stride_t=1,
                          pool1_stride_s=1, pool1_stride_t=1, inflate=(0, 1, 1), spatial_strides=(2, 2, 2),
                          temporal_strides=(1, 1, 1), dilations=(1, 1, 1), with_pool2=False),
    )


def build(fusion="adaptive", **head):
    torch.manual_seed(0)
    cfg = dict(type="MMRecognizer3D", backbone=backbone_cfg(),
               cls_head=dict(type="StreamFuseHead", num_classes=K, in_channels=(RGB_C, POSE_C), fusion=fusion, **head))
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def clips(n=4, views=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = {"imgs": torch.randn(n, views, 3, 4, 32, 32, generator=g),
              "heatmap_imgs": torch.rand(n, views, 17, 16, 8, 8, generator=g)}
    labels = torch.arange(n) % K
    samples = [ActionDataSample().set_gt_label(int(y)) for y in labels]
    return inputs, samples, labels


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """3D convolutions on a busy 2-core machine: one thread per test process avoids OpenMP thrashing."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def feats(_one_thread):
    """The reduced backbone's real output: maps of different widths and token counts."""
    model = build()
    inputs, _, _ = clips(n=3)
    with torch.no_grad():
        rgb, pose = model.extract_feat(inputs)[0]
    assert rgb.shape[:2] == (3, RGB_C) and pose.shape[:2] == (3, POSE_C)
    assert rgb[0, 0].numel() != pose[0, 0].numel()  # token counts differ (4 vs 16)
    return rgb, pose


def test_registry_builds_recognizer_with_our_head():
    model = build()
    assert type(model).__name__ == "MMRecognizer3D" and type(model.backbone).__name__ == "RGBPoseConv3D"
    assert isinstance(model.cls_head, StreamFuseHead) and model.cls_head.stream_names == ["rgb", "pose"]
    assert model.cls_head.head.fusion.dim == DEFAULT_DIM
    assert model.cls_head.loss_components == ["rgb", "pose"]  # RGBPoseHead's default


def test_loss_and_predict_modes():
    model = build(loss_components=["rgb", "pose"], loss_weights=[0.5, 0.25])
    inputs, samples, _ = clips()
    model.train()
    losses = model(dict(inputs), samples, mode="loss")
    assert {"loss_cls", "top1_acc", "rgb_loss_cls", "pose_loss_cls"} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    model.eval()
    with torch.no_grad():
        out = model(dict(inputs), samples, mode="predict")
    assert len(out) == 4
    for s in out:
        assert s.pred_score.shape == (K,) and torch.allclose(s.pred_score.sum(), torch.tensor(1.0))
        assert s.stream_weights.shape == (2, DEFAULT_DIM) and s.stream_names == ["rgb", "pose"]
        assert torch.allclose(s.stream_weights.sum(0), torch.ones(DEFAULT_DIM), atol=1e-5)


def test_predict_averages_weights_over_clips():
    model = build(fusion="attention").eval()
    inputs, samples, _ = clips(n=2, views=3)
    with torch.no_grad():
        out = model(dict(inputs), samples, mode="predict")
        feats = model.extract_feat(dict(inputs))[0]
        _, w = model.cls_head(feats, return_weights=True)
    assert out[1].stream_weights.shape == (2,)
    assert torch.allclose(out[1].stream_weights, w[3:6].mean(0))


def test_optimiser_steps_lower_the_loss():
    model = build(dropout=0.0).train()
    inputs, samples, _ = clips(n=4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(4):
        loss = model(dict(inputs), samples, mode="loss")["loss_cls"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert history[-1] < 0.7 * history[0], history


@pytest.mark.parametrize("fusion", streamfuse.list_fusions() + ["transformer-tokens"])
def test_every_fusion_takes_both_pathways_and_masking_isolates_them(fusion, feats):
    options = {"mode": "tokens"} if fusion == "transformer-tokens" else {}
    head = MODELS.build(dict(type="StreamFuseHead", num_classes=K, in_channels=[RGB_C, POSE_C],
                             fusion=fusion.split("-")[0], dim=32, **options)).eval()
    rgb, pose = feats
    samples = [ActionDataSample().set_gt_label(i) for i in range(3)]
    with torch.no_grad():
        assert head(feats).shape == (3, K)
        assert torch.isfinite(head.loss(feats, samples)["loss_cls"])
        assert head.predict(feats, samples)[0].pred_score.shape == (K,)
        for keep, other in ((0, 1), (1, 0)):
            mask = torch.zeros(3, 2, dtype=torch.bool)
            mask[:, keep] = True
            changed = list(feats)
            changed[other] = torch.randn_like(feats[other]) * 10
            # masking one pathway: the output comes from the other alone, whatever the masked one holds
            assert torch.allclose(head(feats, mask=mask), head(changed, mask=mask), atol=1e-5)
            assert not torch.allclose(head(feats), head(changed), atol=1e-5)


def test_stream_importance_through_the_recognizer():
    model = build()
    inputs, _, labels = clips(n=6)
    streams = [inputs["imgs"][:, 0], inputs["heatmap_imgs"][:, 0]]
    report = streamfuse.stream_importance(RecognizerStreams(model), (streams, labels), methods=("weights", "ablation"))
    assert report.masking == "mask" and [r["stream"] for r in report.table] == ["rgb", "pose"]
    assert all(r["weight"] is not None and r["ablation_acc_drop"] is not None for r in report.table)
    assert model.training  # train/eval state restored


def test_bad_options_name_the_choice():
    with pytest.raises(streamfuse.StreamFuseError, match="loss_components"):
        StreamFuseHead(K, (RGB_C, POSE_C), loss_components=["depth"])
    with pytest.raises(streamfuse.StreamFuseError, match="loss_weights"):
        StreamFuseHead(K, (RGB_C, POSE_C), loss_components=["rgb"], loss_weights=[1.0, 2.0])
    with pytest.raises(streamfuse.StreamFuseError, match="stream_names"):
        StreamFuseHead(K, (RGB_C, POSE_C), stream_names=["rgb"])
    for bad in (float("nan"), -1.0, "1"):
        with pytest.raises(streamfuse.StreamFuseError, match=r"StreamFuseHead: option loss_weights\['rgb'\]=.* is not valid; expected a finite number >= 0"):
            StreamFuseHead(K, (RGB_C, POSE_C), loss_components=["rgb"], loss_weights=[bad])
    with pytest.raises(streamfuse.StreamFuseError, match="option fused_weight=nan is not valid; expected a finite number >= 0"):
        StreamFuseHead(K, (RGB_C, POSE_C), fused_weight=float("nan"))
    with pytest.raises(streamfuse.StreamFuseError, match="cls_head"):
        RecognizerStreams(MODELS.build(dict(type="MMRecognizer3D", backbone=backbone_cfg(),
                                            cls_head=dict(type="RGBPoseHead", num_classes=K, in_channels=[RGB_C, POSE_C]))))


def test_drn_workaround_only_for_that_error(monkeypatch):
    calls = []

    def fail(name):
        calls.append(name)
        raise ModuleNotFoundError("No module named 'mmaction.models.something_else'", name="mmaction.models.something_else")

    monkeypatch.setattr(mmaction_compat.importlib, "import_module", fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning, no stand-in: the error is passed on as it is
        with pytest.raises(ModuleNotFoundError, match="something_else"):
            mmaction_compat.import_mmaction_models()
    assert calls == ["mmaction.models"]


def test_import_streamfuse_loads_no_mmaction():
    code = "import sys, streamfuse; print(sorted(m for m in sys.modules if m.startswith(('mmaction', 'mmengine', 'streamfuse.integrations'))))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"


def test_drn_stand_in_only_where_the_wheel_lacks_drn():
    import importlib.util

    package = Path(importlib.util.find_spec("mmaction").submodule_search_locations[0])
    missing = not (package / "models" / "localizers" / "drn").is_dir()
    drn = sys.modules["mmaction.models.localizers.drn"]
    assert (getattr(drn, "__file__", None) is None) == missing
    if missing:
        with pytest.raises(ImportError, match="missing from the installed mmaction2 wheel"):
            drn.drn.DRN()


def test_drn_workaround_warns_and_retries_on_exactly_that_error(monkeypatch):
    calls = []

    def import_module(name):
        calls.append(name)
        if len(calls) == 1:
            raise ModuleNotFoundError(f"No module named '{mmaction_compat.MISSING}'", name=mmaction_compat.MISSING)
        return sys.modules["mmaction.models"]

    monkeypatch.setattr(mmaction_compat.importlib, "import_module", import_module)
    for name in (mmaction_compat.MISSING, mmaction_compat.MISSING + ".drn"):  # restored after the test
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.warns(UserWarning, match="packaging bug of mmaction2 1.2.0"):
        assert mmaction_compat.import_mmaction_models() is sys.modules["mmaction.models"]
    assert calls == ["mmaction.models", "mmaction.models"]
    assert sys.modules[mmaction_compat.MISSING + ".drn"].DRN is mmaction_compat._MissingDRN


def test_example_config_is_the_stock_one_with_our_head():
    from mmengine.config import Config

    cfg = Config.fromfile(str(ROOT / "configs" / "mmaction" / "rgbpose_conv3d_streamfuse.py"))
    import importlib.util

    package = Path(importlib.util.find_spec("mmaction").submodule_search_locations[0])
    stock = Config.fromfile(str(package / ".mim" / "configs" / "skeleton" / "posec3d" / "rgbpose_conv3d" / "rgbpose_conv3d.py"))
    assert cfg.model.cls_head.type == "StreamFuseHead" and stock.model.cls_head.type == "RGBPoseHead"
    def unscoped(x):  # a base config inherited from a package gets `_scope_` keys
        if isinstance(x, dict):
            return {k: unscoped(v) for k, v in x.items() if k != "_scope_"}
        return [unscoped(v) for v in x] if isinstance(x, list) else x

    for key in ("train_pipeline", "test_pipeline", "train_cfg", "optim_wrapper", "load_from"):
        assert unscoped(cfg[key]) == unscoped(stock[key]), key
    assert unscoped(cfg.model.backbone) == unscoped(stock.model.backbone)
    assert {k: v for k, v in cfg.model.cls_head.items() if k != "fusion"} == {**stock.model.cls_head, "type": "StreamFuseHead"}
    assert "streamfuse.integrations.mmaction" in cfg.custom_imports.imports
    head = MODELS.build(cfg.model.cls_head)
    assert sum(p.numel() for p in head.parameters()) < 6e6  # adaptive at D=512: 2.9 M, vs ~36 M for the stock backbone


def test_loss_takes_dict_features_and_predict_names_a_sample_mismatch(feats):
    head = StreamFuseHead(K, (RGB_C, POSE_C), loss_components=["rgb"]).eval()  # (no dropout: equal losses)
    rgb, pose = feats
    samples = [ActionDataSample().set_gt_label(i % K) for i in range(rgb.shape[0])]
    as_list, as_dict = head.loss([rgb, pose], samples), head.loss({"rgb": rgb, "pose": pose}, samples)
    assert set(as_dict) == set(as_list) and torch.allclose(as_dict["loss_cls"], as_list["loss_cls"])
    with torch.no_grad(), pytest.raises(streamfuse.StreamFuseError, match="predict: 3 feature rows for 2 data samples"):
        head.predict([rgb, pose], samples[:2])
