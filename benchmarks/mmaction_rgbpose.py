"""RGBPoseHead's 1:1 score fusion vs streamfuse's StreamFuseHead on one RGBPoseConv3D backbone.

MMAction2's RGBPoseConv3D (PoseC3D's RGB + pose-heatmap two-pathway 3D CNN) at reduced widths
(base 16 / 8, one block per stage: pathway widths 512 / 128), trained from scratch on CPU on
streamfuse's generated ``video`` data (17-joint pose heatmaps + RGB clips of 8 actions). The
pathways' input shapes follow the stock config's ratios: the pose pathway sees 4x the frames
(``speed_ratio``) at 1/4 of the resolution (heatmaps at ``scaling=0.25``):

    rgb   (N, 3, T/4, 32, 32)   every 4th frame            -> (N, 512, T/4, 1, 1)
    pose  (N, 17, T, 8, 8)      heatmaps, 4x4 average pool -> (N, 128, T, 1, 1)

Heads compared, each with the same backbone initialisation, data order and optimiser per seed:
``rgbpose`` (stock ``RGBPoseHead``: one classifier per pathway, loss on each, test score = the two
pathways' probabilities averaged 1:1), and ``StreamFuseHead`` variants (the integration's defaults, ``dim=512`` and
per-pathway losses, unless named otherwise). Printed per head: test
accuracy (mean +- sd over seeds), accuracy from each pathway alone (RGBPoseHead: that pathway's
classifier; StreamFuseHead: the same head with the other pathway masked), the mean learned
weight of rgb, head parameters and training seconds.

    python benchmarks/mmaction_rgbpose.py --out benchmarks/results/mmaction_rgbpose.md
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from streamfuse.data.video import load_video

warnings.filterwarnings("ignore", module="mmcv")
from mmaction.registry import MODELS  # noqa: E402
from mmaction.structures import ActionDataSample  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from streamfuse.integrations.mmaction import StreamFuseHead  # noqa: E402

HEADS = {
    # the stock config's head_cfg, and the same line with only `type` switched (integration defaults)
    "rgbpose": dict(type="RGBPoseHead", loss_components=["rgb", "pose"], loss_weights=[1.0, 1.0]),
    "adaptive": dict(type="StreamFuseHead", fusion="adaptive", loss_components=["rgb", "pose"], loss_weights=[1.0, 1.0]),
    "adaptive, D=256": dict(type="StreamFuseHead", fusion="adaptive", dim=256),
    "adaptive, D=256, fused loss only": dict(type="StreamFuseHead", fusion="adaptive", dim=256, loss_components=[]),
    "attention": dict(type="StreamFuseHead", fusion="attention"),
}
WIDTHS = (512, 128)


def backbone_cfg() -> dict:
    rgb = dict(num_stages=4, stage_blocks=(1, 1, 1, 1), lateral=True, lateral_infl=1, lateral_activate=(0, 0, 1, 1),
               fusion_kernel=7, base_channels=16, conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), with_pool2=False)
    pose = dict(num_stages=3, stage_blocks=(1, 1, 1), lateral=True, lateral_inv=True, lateral_infl=16,
                lateral_activate=(0, 1, 1), fusion_kernel=7, in_channels=17, base_channels=8, out_indices=(2,),
                conv1_kernel=(1, 7, 7), conv1_stride_s=1, conv1_stride_t=1, pool1_stride_s=1, pool1_stride_t=1,
                inflate=(0, 1, 1), spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 1), dilations=(1, 1, 1),
                with_pool2=False)
    return dict(type="RGBPoseConv3D", speed_ratio=4, channel_ratio=4, rgb_pathway=rgb, pose_pathway=pose)


def prepare(split, mean=None, std=None):
    """Video split -> (imgs (N, 1, 3, T/4, 32, 32) standardised, heatmaps (N, 1, 17, T, 8, 8), labels)."""
    rgb = split.streams["rgb"][:, :, ::4]
    if mean is None:
        mean, std = rgb.mean(dim=(0, 2, 3, 4), keepdim=True), rgb.std(dim=(0, 2, 3, 4), keepdim=True)
    pose = split.streams["pose"]
    n, c, t, h, w = pose.shape
    pose = F.avg_pool2d(pose.reshape(n, c * t, h, w), 4).reshape(n, c, t, h // 4, w // 4)
    return ((rgb - mean) / std).unsqueeze(1), pose.unsqueeze(1), split.labels, mean, std


def build(head: dict, num_classes: int, seed: int):
    torch.manual_seed(seed)  # same backbone initialisation for every head
    model = MODELS.build(dict(type="MMRecognizer3D", backbone=backbone_cfg(),
                              cls_head=dict(head, num_classes=num_classes, in_channels=list(WIDTHS), average_clips="prob")))
    model.init_weights()
    return model


def evaluate(model, imgs, heat, labels, batch: int) -> dict:
    model.eval()
    rows = {"both": [], "rgb": [], "pose": [], "w_rgb": []}
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            x = {"imgs": imgs[i:i + batch], "heatmap_imgs": heat[i:i + batch]}
            feats, _ = model.extract_feat(x)
            head = model.cls_head
            if isinstance(head, StreamFuseHead):
                n = feats[0].shape[0]
                scores, w = head(feats, return_weights=True)
                rows["both"].append(scores)
                for k, name in enumerate(("rgb", "pose")):
                    mask = torch.zeros(n, 2, dtype=torch.bool)
                    mask[:, k] = True
                    rows[name].append(head(feats, mask=mask))
                if w is not None:
                    rows["w_rgb"].append(w[:, 0].reshape(n, -1).mean(1))
            else:
                per = head(feats)  # {'rgb': (N, K), 'pose': (N, K)}
                rows["both"].append(per["rgb"].softmax(1) + per["pose"].softmax(1))  # 1:1 score fusion
                rows["rgb"].append(per["rgb"])
                rows["pose"].append(per["pose"])
    out = {k: float((torch.cat(v).argmax(1) == labels).float().mean()) for k, v in rows.items() if k != "w_rgb"}
    out["w_rgb"] = float(torch.cat(rows["w_rgb"]).mean()) if rows["w_rgb"] else None
    return out


def run(name: str, head: dict, data, seed: int, args) -> dict:
    (imgs, heat, labels), test, k = data
    model = build(head, k, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    order = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(len(labels), generator=order)
        for i in range(0, len(labels), args.batch):
            idx = perm[i:i + args.batch]
            samples = [ActionDataSample().set_gt_label(int(y)) for y in labels[idx]]
            losses = model({"imgs": imgs[idx], "heatmap_imgs": heat[idx]}, samples, mode="loss")
            loss = sum(v for key, v in losses.items() if "loss" in key)
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    result = evaluate(model, *test, args.batch)
    result.update(head=name, seed=seed, seconds=seconds, params=sum(p.numel() for p in model.cls_head.parameters()))
    print(f"  {name:16s} seed {seed}: acc {result['both']:.3f} (rgb alone {result['rgb']:.3f}, pose alone "
          f"{result['pose']:.3f}) {seconds:.0f} s", flush=True)
    return result


def table(results: list[dict], args) -> str:
    lines = [f"| head | head params | test acc % (mean ± sd, {len(args.seeds)} seeds) | rgb alone % | pose alone % | w[rgb] | train s / run |",
             "|---|---|---|---|---|---|---|"]
    for name in args.heads:
        rs = [r for r in results if r["head"] == name]
        col = {k: [100 * r[k] for r in rs] for k in ("both", "rgb", "pose")}
        sd = statistics.stdev(col["both"]) if len(rs) > 1 else 0.0
        w = [r["w_rgb"] for r in rs if r["w_rgb"] is not None]
        lines.append(
            f"| {name} | {rs[0]['params'] / 1e3:.0f} k | {statistics.mean(col['both']):.1f} ± {sd:.1f} "
            f"| {statistics.mean(col['rgb']):.1f} | {statistics.mean(col['pose']):.1f} "
            f"| {f'{statistics.mean(w):.2f}' if w else '—'} | {statistics.mean(r['seconds'] for r in rs):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--frames", type=int, default=8, help="pose frames T (rgb gets T/4); a multiple of 4")
    parser.add_argument("--n-train", type=int, default=320)
    parser.add_argument("--n-test", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--heads", nargs="+", default=["rgbpose", "adaptive, D=256", "adaptive, D=256, fused loss only", "adaptive"],
                        choices=list(HEADS))
    parser.add_argument("--out", type=Path, help="write the markdown table here (refuses to overwrite)")
    args = parser.parse_args()
    if args.frames < 4 or args.frames % 4:
        parser.error(f"--frames {args.frames}: expected a multiple of 4 (rgb takes every 4th frame)")
    for flag in ("epochs", "n_train", "n_test", "batch", "threads"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected an integer >= 1")
    if args.out is not None and (args.out.exists() or not args.out.parent.is_dir()):
        parser.error(f"--out {args.out}: exists already, or its folder does not exist (nothing is overwritten)")
    torch.set_num_threads(args.threads)
    init_default_scope("mmaction")
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-parameter init report
    results = []
    for seed in args.seeds:
        video = load_video(seed=seed, frames=args.frames, size=32, n_train=args.n_train, n_test=args.n_test)
        *train, mean, std = prepare(video.train)
        *test, _, _ = prepare(video.test, mean, std)
        for name in args.heads:
            results.append(run(name, HEADS[name], (train, test, video.num_classes), seed, args))
    text = table(results, args)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
