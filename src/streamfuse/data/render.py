"""Draw skeleton clips (``skeleton.animate``) as the two streams of the ``video`` dataset.

* ``render_heatmaps`` -> pose stream, float32 ``(N, 17, T, H, W)``: one Gaussian per joint per
  frame (peak = detection confidence), the usual input of pose-based action recognition.
* ``render_rgb`` -> RGB stream, float32 ``(N, 3, T, H, W)`` in [0, 1]: the body as thick
  anti-aliased limbs in one random vivid colour per sample, over a greyish background with
  drifting greyish rectangles, vivid balls crossing the scene and mild per-pixel texture. The
  clutter moves on its own, so a network has to separate figure from ground to read the action.
* ``occlusion_masks`` -> bool ``(N, H, W)``: one random box per sample covering a given fraction
  of the frame, held still for the whole clip.

All of it is vectorised over samples and frames (loops run only over limbs and rectangles).
Coordinates: the frame is the unit square, pixel ``i`` has its centre at ``(i + 0.5) / size``.
"""

from __future__ import annotations

import numpy as np

# Limbs drawn for the RGB stream: COCO joint index pairs, plus neck and spine (see _segments).
_LIMBS = [(5, 6), (11, 12), (5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14),
          (14, 16), (5, 11), (6, 12)]  # fmt: skip
_LIMB_RADIUS, _TRUNK_RADIUS, _HEAD_RADIUS = 0.035, 0.06, 0.07  # in frame widths
# Difficulty of the RGB stream: drifting grey rectangles and vivid balls per clip. (More clutter,
# more balls or thinner limbs made a small 3D CNN need many more epochs to find the figure.)
CLUTTER, DISTRACTORS = 4, 1


def _pixel_centres(size: int) -> np.ndarray:
    return ((np.arange(size) + 0.5) / size).astype(np.float32)


def render_heatmaps(
    joints: np.ndarray, size: int, sigma_px: float, confidence: np.ndarray | None = None
) -> np.ndarray:
    """joints (N, T, J, 2) -> heatmaps (N, J, T, H, W): conf * exp(-d^2 / 2 sigma^2).

    ``confidence`` (N, T, J), default 1, is each Gaussian's peak height (0 = not detected).
    """
    g = _pixel_centres(size)
    inv = np.float32(size**2 / (2 * sigma_px**2))
    jt = np.ascontiguousarray(joints.transpose(0, 2, 1, 3))  # transpose the small array only
    # A 2D Gaussian is the outer product of two 1D ones: cheap and exact.
    gx = np.exp(-((g - jt[..., 0, None]) ** 2) * inv)  # (N, J, T, W)
    gy = np.exp(-((g - jt[..., 1, None]) ** 2) * inv)  # (N, J, T, H)
    if confidence is not None:
        gy *= confidence.transpose(0, 2, 1)[..., None]
    return np.ascontiguousarray(gy[..., :, None] * gx[..., None, :], dtype=np.float32)


def _segments(joints: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(start (N,T,2), end (N,T,2), radius) for every drawn body part."""
    mid_shoulder = joints[:, :, 5:7].mean(axis=2)
    mid_hip = joints[:, :, 11:13].mean(axis=2)
    nose = joints[:, :, 0]
    parts = [(joints[:, :, a], joints[:, :, b], _LIMB_RADIUS) for a, b in _LIMBS]
    parts.append((mid_shoulder, mid_hip, _TRUNK_RADIUS))
    parts.append((nose, mid_shoulder, _LIMB_RADIUS))
    parts.append((nose, nose, _HEAD_RADIUS))  # a zero-length segment is a disc
    return parts


def _body_coverage(joints: np.ndarray, size: int) -> np.ndarray:
    """Fraction of each pixel covered by the body, (N, T, H, W), edges anti-aliased over 1 px."""
    g = _pixel_centres(size)
    px, py = g[None, None, None, :], g[None, None, :, None]  # broadcast to (N, T, H, W)
    cover = np.zeros(joints.shape[:2] + (size, size), np.float32)
    for a, b, radius in _segments(joints):
        ax, ay = a[..., 0, None, None], a[..., 1, None, None]
        dx, dy = (b - a)[..., 0, None, None], (b - a)[..., 1, None, None]
        len2 = np.maximum(dx * dx + dy * dy, 1e-12)
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / len2, 0.0, 1.0)
        dist = np.hypot(px - ax - t * dx, py - ay - t * dy)
        np.maximum(cover, np.clip(0.5 + (radius - dist) * size, 0.0, 1.0), out=cover)
    return cover


def _saturated_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    """n vivid colours (n, 3): random RGB stretched so one channel is 0 and one is 1."""
    c = rng.uniform(0, 1, (n, 3))
    lo, hi = c.min(axis=1, keepdims=True), c.max(axis=1, keepdims=True)
    return ((c - lo) / np.maximum(hi - lo, 1e-6)).astype(np.float32)


def _muted_colours(n: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """n greyish colours (n, 1, 1, 1, 3): a grey level in [lo, hi] plus a tint of +-0.1."""
    grey = rng.uniform(lo, hi, (n, 1, 1, 1, 1)) + rng.uniform(-0.1, 0.1, (n, 1, 1, 1, 3))
    return grey.astype(np.float32)


def _discs(centre: np.ndarray, radius: float, size: int) -> np.ndarray:
    """Coverage (N, T, H, W) of discs of ``radius`` at ``centre`` (N, T, 2), 1-px soft edge."""
    g = _pixel_centres(size)
    dx = g - centre[..., 0, None]  # (N, T, W)
    dy = g - centre[..., 1, None]  # (N, T, H)
    dist = np.sqrt(dy[..., :, None] ** 2 + dx[..., None, :] ** 2)
    return np.clip(0.5 + (radius - dist) * size, 0.0, 1.0)


def render_rgb(joints: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """joints (N, T, J, 2) -> RGB clip (N, 3, T, H, W) in [0, 1] (see module docstring)."""
    n, frames = joints.shape[:2]
    g = _pixel_centres(size)
    t = np.arange(frames, dtype=np.float32)[None, :]
    # Background and clutter are greyish (small tint), the body is vivid: like a person against
    # a scene, the figure is separable from the ground, but only by looking at colour and shape.
    img = np.broadcast_to(_muted_colours(n, rng, 0.3, 0.7), (n, frames, size, size, 3)).copy()
    for _ in range(CLUTTER):  # rectangles drifting at their own constant velocity
        w, h = rng.uniform(0.15, 0.45, (2, n, 1))
        x0, y0 = rng.uniform(-0.2, 1.0, (2, n, 1))
        vx, vy = rng.uniform(-0.06, 0.06, (2, n, 1))
        left, top = (x0 + vx * t)[..., None], (y0 + vy * t)[..., None]  # (n, T, 1)
        in_x, in_y = (g >= left) & (g < left + w[..., None]), (g >= top) & (g < top + h[..., None])
        inside = in_y[..., :, None] & in_x[..., None, :]  # (n, T, H, W)
        img = np.where(inside[..., None], _muted_colours(n, rng, 0.1, 0.9), img)
    for _ in range(DISTRACTORS):  # vivid balls crossing the scene: colour alone is not enough
        start, velocity = rng.uniform(0, 1, (n, 1, 2)), rng.uniform(-0.08, 0.08, (n, 1, 2))
        ball = _discs(start + velocity * t[..., None], _HEAD_RADIUS, size)[..., None]
        img = img * (1 - ball) + _saturated_colours(n, rng)[:, None, None, None, :] * ball
    img += np.float32(0.04) * rng.standard_normal(img.shape, dtype=np.float32)
    cover = _body_coverage(joints, size)[..., None]
    body = _saturated_colours(n, rng)[:, None, None, None, :]
    img = img * (1 - cover) + body * cover
    return np.ascontiguousarray(np.clip(img, 0, 1).transpose(0, 4, 1, 2, 3), dtype=np.float32)


def occlusion_masks(n: int, size: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Bool (n, H, W): a box of ``fraction`` of the frame area per sample, aspect 1:2 to 2:1."""
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0), n))
    # w in [fraction, 1] keeps h = fraction / w in [fraction, 1]: the box fits and w * h is exact.
    w = np.clip(np.sqrt(fraction * aspect), fraction, 1.0)
    h = fraction / np.maximum(w, 1e-9)
    x0, y0 = rng.uniform(0, 1, n) * (1 - w), rng.uniform(0, 1, n) * (1 - h)
    g = _pixel_centres(size)
    in_x = (g >= x0[:, None]) & (g < (x0 + w)[:, None])
    in_y = (g >= y0[:, None]) & (g < (y0 + h)[:, None])
    return in_y[:, :, None] & in_x[:, None, :]
