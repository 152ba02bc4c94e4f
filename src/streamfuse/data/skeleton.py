"""A 17-joint 2D skeleton (COCO keypoint order) performing simple periodic actions.

This is the hidden "true motion" behind the generated ``video`` dataset; ``render.py`` turns it
into the pose-heatmap and RGB streams. The figure faces the camera, so the person's left side is
on the image's right.

``animate(labels, frames, rng) -> joints`` float32 ``(N, T, 17, 2)`` in frame coordinates
(x right, y down, the frame is the unit square; joints can leave it, e.g. a raised hand).
``estimate_pose(joints, rng)`` adds the errors of a 2D pose estimator (see there).

Each action is a few joint angles driven by a phase ``p`` (about one cycle per clip). Per sample
we draw position, drift, scale, tilt, speed (0.6-1.4 cycles per clip, so some clips show only
part of a cycle), start phase and movement amplitude (x0.6-1.3); walkers also cross the frame;
every joint gets a small per-frame jitter. Classes therefore overlap a little (a slow, small
wave looks like a clap near its peak): learnable, but not from a single pixel.
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
# Difficulty: per-sample movement amplitude and speed (cycles per clip) ranges, and the pose
# estimator's errors (localisation std in frame widths, miss and ghost rates per joint-frame).
AMPLITUDE, SPEED = (0.6, 1.3), (0.6, 1.4)
POSE_NOISE, POSE_MISS, POSE_GHOST = 0.07, 0.4, 0.1
_SIDE = {"L": 1.0, "R": -1.0}  # image-x direction that points away from the body for each side


def _pose_angles(action: str, p: np.ndarray, amp: np.ndarray) -> dict[str, np.ndarray]:
    """Limb angles (radians from straight down, positive = away from the body) and lift.

    Keys ``ua_L, fa_L, ua_R, fa_R`` (upper/fore arm), ``th_L, sh_L, th_R, sh_R`` (thigh/shin),
    ``lift`` (upward body offset). p, amp broadcast to (n, T).
    """
    z = np.zeros_like(p)
    a = {"lift": z.copy()}
    for s in "LR":  # standing: arms hanging slightly out, legs almost straight
        a[f"ua_{s}"], a[f"fa_{s}"], a[f"th_{s}"], a[f"sh_{s}"] = z + 0.15, z + 0.10, z + 0.05, z
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
    chains = {"L": (5, 7, 9, 11, 13, 15), "R": (6, 8, 10, 12, 14, 16)}
    for s, (shoulder, elbow, wrist, hip, knee, ankle) in chains.items():
        j[:, :, shoulder] = (_SIDE[s] * _SHOULDER_X, _SHOULDER_Y)
        j[:, :, hip] = (_SIDE[s] * _HIP_X, 0.0)
        for start, end, angle, length in (
            (shoulder, elbow, a[f"ua_{s}"], _UPPER_ARM),
            (elbow, wrist, a[f"fa_{s}"], _FOREARM),
            (hip, knee, a[f"th_{s}"], _THIGH),
            (knee, ankle, a[f"sh_{s}"], _SHIN),
        ):
            x, y = _limb(j[:, :, start, 0], j[:, :, start, 1], angle, length, s)
            j[:, :, end, 0], j[:, :, end, 1] = x, y
    # The lower ankle stands on the ground (a bent leg lowers the pelvis); "lift" is a jump.
    drop = _GROUND - np.maximum(j[:, :, 15, 1], j[:, :, 16, 1]) - a["lift"]
    j[..., 1] += drop[..., None]
    return j


def animate(labels: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Joint positions float32 (N, T=frames, 17, 2) in frame coordinates for action ``labels``."""
    n = len(labels)
    t = np.arange(frames) / frames
    speed = rng.uniform(*SPEED, (n, 1))  # cycles per clip: some clips show part of a cycle
    p = 2 * np.pi * (speed * t + rng.uniform(0, 1, (n, 1)))  # (n, T) phase
    amp = rng.uniform(*AMPLITUDE, (n, 1))
    scale = rng.uniform(0.42, 0.55, n)  # frame widths per body unit
    tilt = rng.uniform(-0.25, 0.25, n)
    centre = np.stack([rng.uniform(0.35, 0.65, n), rng.uniform(0.45, 0.55, n)], axis=1)
    # Every figure drifts a little (camera pan, shuffling feet); walkers also cross the frame.
    drift = rng.uniform(-0.15, 0.15, (n, 2)) * [1.0, 0.3]
    walk = (labels == ACTIONS.index("walk")) * rng.choice([-1.0, 1.0], n) * rng.uniform(0.3, 0.6, n)
    jitter = rng.normal(0, 0.02, (n, frames, 17, 2))

    body = np.zeros((n, frames, 17, 2))
    for k, action in enumerate(ACTIONS):
        idx = np.flatnonzero(labels == k)
        if idx.size:
            body[idx] = _body_joints(_pose_angles(action, p[idx], amp[idx]))
    body += jitter
    c, s = np.cos(tilt)[:, None, None], np.sin(tilt)[:, None, None]
    x, y = body[..., 0], body[..., 1]
    rotated = np.stack([c * x - s * y, s * x + c * y], axis=-1)
    move = (drift + np.stack([walk, np.zeros(n)], axis=1))[:, None, :] * (t - 0.5)[None, :, None]
    out = rotated * scale[:, None, None, None] + (centre[:, None, :] + move)[:, :, None, :]
    return out.astype(np.float32)


def estimate_pose(joints: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """What a 2D pose estimator would report for the true ``joints`` (N, T, 17, 2).

    Returns (estimated joints (N, T, 17, 2), confidence (N, T, 17) in [0, 1]). Errors modelled,
    all independent of the action: localisation noise, missed detections (confidence 0), ghost
    detections (a joint reported somewhere random in the frame) and varying confidence (0.5-1).
    They make the pose stream imperfect in ways the RGB stream is not, so fusing can help.
    """
    n, frames = joints.shape[:2]
    est = joints + rng.normal(0, POSE_NOISE, joints.shape).astype(np.float32)
    ghost = rng.uniform(size=(n, frames, 17)) < POSE_GHOST
    est[ghost] = rng.uniform(0, 1, (int(ghost.sum()), 2))
    conf = rng.uniform(0.5, 1.0, (n, frames, 17)) * (rng.uniform(size=(n, frames, 17)) >= POSE_MISS)
    return est, conf.astype(np.float32)
