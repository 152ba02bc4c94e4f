"""A 17-joint 2D skeleton (COCO keypoint order) performing simple periodic actions.

This is the hidden "true motion" behind the generated ``video`` dataset; ``render.py`` turns it
into the pose-heatmap and RGB streams. The figure faces the camera, so the person's left side is
on the image's right.

``animate(labels, frames, rng) -> joints`` float32 ``(N, T, 17, 2)`` in frame coordinates
(x right, y down, the frame is the unit square; joints can leave it, e.g. a raised hand).

Each action is a few joint angles driven by a phase ``p`` (one cycle per clip, give or take).
Per sample we draw position, scale, tilt, speed (0.75-1.25 cycles per clip), start phase,
movement amplitude (x0.75-1.25) and walking direction; per joint and frame a small jitter. That
makes the classes overlap a little (a slow, small wave looks like a clap near its peak) so the task
is learnable but not solved by a single pixel.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
ACTIONS = ["wave_left", "wave_right", "clap", "squat", "jump", "kick", "walk", "jumping_jack"]

# Body coordinates: pelvis centre at (0, 0), y down, standing height about 1.3 units.
_HEAD = np.array([[0, -0.62], [0.04, -0.66], [-0.04, -0.66], [0.08, -0.63], [-0.08, -0.63]])
_SHOULDER_X, _SHOULDER_Y, _HIP_X = 0.18, -0.45, 0.10
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.25, 0.22, 0.30, 0.28
_GROUND = _THIGH + _SHIN  # ankle height when standing straight: feet stay on it unless jumping
_SIDE = {"L": 1.0, "R": -1.0}  # image-x direction that points away from the body for each side


def _pose_angles(action: str, p: np.ndarray, amp: np.ndarray) -> dict[str, np.ndarray]:
    """Limb angles (radians from straight down, positive = away from the body) and lift.

    Keys ``ua_L, fa_L, ua_R, fa_R`` (upper/fore arm), ``th_L, sh_L, th_R, sh_R`` (thigh/shin),
    ``lift`` (upward body offset). p, amp broadcast to (n, T).
    """
    z = np.zeros_like(p)
    a = {"ua_L": z + 0.15, "fa_L": z + 0.10, "ua_R": z + 0.15, "fa_R": z + 0.10,
         "th_L": z + 0.05, "sh_L": z.copy(), "th_R": z + 0.05, "sh_R": z.copy(), "lift": z.copy()}  # fmt: skip
    o = (1 - np.cos(p)) / 2  # 0 -> 1 -> 0 once per cycle
    if action in ("wave_left", "wave_right"):
        s = action[5].upper()
        a[f"ua_{s}"] = z + 2.3
        a[f"fa_{s}"] = np.pi - 0.2 + 0.7 * amp * np.sin(p)  # forearm up, swinging side to side
    elif action == "clap":
        for s in "LR":  # hands meet at the chest, then open wide
            a[f"ua_{s}"] = 0.4 + 0.5 * amp * o
            a[f"fa_{s}"] = -1.6 + 2.0 * amp * o
    elif action == "squat":
        for s in "LR":  # knees out, pelvis drops (feet stay on the ground), arms forward
            a[f"th_{s}"] = 0.05 + 1.0 * amp * o
            a[f"sh_{s}"] = -1.0 * amp * o
            a[f"ua_{s}"] = a[f"fa_{s}"] = 0.15 + 1.2 * amp * o
    elif action == "jump":
        air, crouch = np.maximum(np.sin(p), 0), np.maximum(-np.sin(p), 0)
        a["lift"] = 0.25 * amp * air
        for s in "LR":  # crouch, then take off with the arms thrown up
            a[f"th_{s}"] = 0.05 + 0.5 * crouch + 0.2 * air
            a[f"sh_{s}"] = -0.5 * crouch - 0.2 * air
            a[f"ua_{s}"] = a[f"fa_{s}"] = 0.15 + 2.4 * amp * air
    elif action == "kick":
        k = np.maximum(np.sin(p), 0)
        a["th_R"] = 0.05 + 1.4 * amp * k  # side kick with the right leg, arms out for balance
        a["sh_R"] = 0.05 + 0.9 * amp * k
        a["ua_L"] = a["ua_R"] = z + 0.6
    elif action == "walk":
        for s, sign in (("L", 1.0), ("R", -1.0)):  # legs alternate, arms swing against them
            a[f"th_{s}"] = 0.05 + 0.3 * amp * sign * np.sin(p)
            a[f"sh_{s}"] = 0.5 * a[f"th_{s}"]
            a[f"ua_{s}"] = 0.15 - 0.3 * amp * sign * np.sin(p)
            a[f"fa_{s}"] = a[f"ua_{s}"] + 0.1
    elif action == "jumping_jack":
        for s in "LR":  # arms up over the head and legs apart, together
            a[f"ua_{s}"] = 0.15 + 2.6 * amp * o
            a[f"fa_{s}"] = a[f"ua_{s}"] + 0.2
            a[f"th_{s}"] = a[f"sh_{s}"] = 0.05 + 0.35 * amp * o
    return a


def _limb(start_x, start_y, angle, length, side):
    """End point of a limb of ``length`` leaving (start_x, start_y) at ``angle`` (see above)."""
    return start_x + _SIDE[side] * length * np.sin(angle), start_y + length * np.cos(angle)


def _body_joints(a: dict[str, np.ndarray]) -> np.ndarray:
    """Forward kinematics: angles -> joints (n, T, 17, 2) in body coordinates, feet on ground."""
    n, t = a["lift"].shape
    j = np.zeros((n, t, 17, 2))
    j[:, :, :5] = _HEAD
    for s, (sh, el, wr, hp, kn, an) in {"L": (5, 7, 9, 11, 13, 15), "R": (6, 8, 10, 12, 14, 16)}.items():
        j[:, :, sh] = (_SIDE[s] * _SHOULDER_X, _SHOULDER_Y)
        j[:, :, hp] = (_SIDE[s] * _HIP_X, 0.0)
        j[:, :, el, 0], j[:, :, el, 1] = _limb(j[:, :, sh, 0], j[:, :, sh, 1], a[f"ua_{s}"], _UPPER_ARM, s)
        j[:, :, wr, 0], j[:, :, wr, 1] = _limb(j[:, :, el, 0], j[:, :, el, 1], a[f"fa_{s}"], _FOREARM, s)
        j[:, :, kn, 0], j[:, :, kn, 1] = _limb(j[:, :, hp, 0], 0.0, a[f"th_{s}"], _THIGH, s)
        j[:, :, an, 0], j[:, :, an, 1] = _limb(j[:, :, kn, 0], j[:, :, kn, 1], a[f"sh_{s}"], _SHIN, s)
    # The lower ankle stands on the ground (a bent leg lowers the pelvis); "lift" is a jump.
    drop = _GROUND - np.maximum(j[:, :, 15, 1], j[:, :, 16, 1]) - a["lift"]
    j[..., 1] += drop[..., None]
    return j


def animate(labels: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Joint positions float32 (N, T=frames, 17, 2) in frame coordinates for action ``labels``."""
    n = len(labels)
    t = np.arange(frames) / frames
    speed = rng.uniform(0.75, 1.25, (n, 1))
    p = 2 * np.pi * (speed * t + rng.uniform(0, 1, (n, 1)))  # (n, T) phase
    amp = rng.uniform(0.75, 1.25, (n, 1))
    scale = rng.uniform(0.42, 0.55, n)  # frame widths per body unit
    tilt = rng.uniform(-0.15, 0.15, n)
    centre = np.stack([rng.uniform(0.35, 0.65, n), rng.uniform(0.45, 0.55, n)], axis=1)
    walk_dir = rng.choice([-1.0, 1.0], n)
    jitter = rng.normal(0, 0.02, (n, frames, 17, 2))

    body = np.zeros((n, frames, 17, 2))
    for k, action in enumerate(ACTIONS):
        idx = np.flatnonzero(labels == k)
        if idx.size:
            body[idx] = _body_joints(_pose_angles(action, p[idx], amp[idx]))
    # Walkers cross part of the frame; everyone else stays put.
    is_walk = labels == ACTIONS.index("walk")
    body[is_walk, :, :, 0] += (walk_dir[is_walk, None] * 0.6 * (t - 0.5))[:, :, None]
    body += jitter
    c, s = np.cos(tilt)[:, None, None], np.sin(tilt)[:, None, None]
    x, y = body[..., 0], body[..., 1]
    rotated = np.stack([c * x - s * y, s * x + c * y], axis=-1)
    out = rotated * scale[:, None, None, None] + centre[:, None, None, :]
    return out.astype(np.float32)
