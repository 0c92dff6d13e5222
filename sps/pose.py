"""COCO-18 keypoints: names, limbs, file formats, heatmaps, skeleton drawing and geometric transforms.

Convention used everywhere in sps: a pose is a float32 array of shape (18, 2) holding ``(x, y)``
pixel coordinates on the image it belongs to, and a joint that is not visible is ``(-1, -1)``.
Batched torch poses have shape (B, 18, 2) with the same convention.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import torch

from .errors import KeypointError, TooFewKeypointsError

NUM_KEYPOINTS = 18
MISSING = -1.0

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

# Bones drawn by render_skeleton (pairs of joint indices), OpenPose's usual 17 + ear-shoulder links dropped.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)

# Index permutation that swaps left and right joints (used by horizontal flips).
FLIP_PERMUTATION: tuple[int, ...] = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)

# One colour per limb for rendering (RGB, OpenPose-like rainbow).
LIMB_COLORS: tuple[tuple[int, int, int], ...] = tuple(
    tuple(int(255 * c) for c in _hsv) for _hsv in (
        __import__("colorsys").hsv_to_rgb(i / len(LIMBS), 0.9, 1.0) for i in range(len(LIMBS))
    )
)




# ----------------------------------------------------------------------------------------------
# Validation and basic helpers
# ----------------------------------------------------------------------------------------------

def validate_keypoints(kps: np.ndarray | Iterable, where: str = "keypoints") -> np.ndarray:
    """Return ``kps`` as a float32 (18, 2) array, raising KeypointError on a wrong shape or NaN."""
    arr = np.asarray(kps, dtype=np.float32)
    if arr.ndim != 2 or arr.shape != (NUM_KEYPOINTS, 2):
        raise KeypointError(f"{where}: expected {NUM_KEYPOINTS} keypoints of (x, y), got shape {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise KeypointError(f"{where}: keypoints contain NaN or infinity")
    arr = arr.copy()
    arr[(arr < 0).any(axis=1)] = MISSING
    return arr


def visible(kps: np.ndarray | torch.Tensor):
    """Boolean mask of visible joints: shape (..., 18)."""
    return (kps[..., 0] >= 0) & (kps[..., 1] >= 0)


FACING_AWAY = 0.3  # x shoulder distance: how far the person's right shoulder must lie right of the left one


def facing_away(kps: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(..., 18, 2) image xy -> (...) bool: back views, the person's right shoulder on the image's right of the
    left one by more than ``FACING_AWAY`` x their distance (a front view has it on the left; a side view has the two
    close together). False when a shoulder is missing."""
    r, l = kps[..., 2, :], kps[..., 5, :]
    both = visible(kps)[..., 2] & visible(kps)[..., 5]
    return both & (r[..., 0] - l[..., 0] > FACING_AWAY * ((r - l) ** 2).sum(-1) ** 0.5)


def num_visible(kps: np.ndarray) -> int:
    """Number of visible joints of one pose."""
    return int(visible(np.asarray(kps)).sum())


# Joints the part transforms need at the least: neck and both shoulders (torso and arm anchors).
REQUIRED_JOINTS: tuple[int, ...] = (1, 2, 5)


def check_required_joints(kps: np.ndarray, where: str = "pose") -> None:
    """The one rule for a usable pose (source or target): raise TooFewKeypointsError naming the missing
    joints among the neck and both shoulders."""
    vis = visible(np.asarray(kps))
    missing = [KEYPOINT_NAMES[j] for j in REQUIRED_JOINTS if not vis[j]]
    if missing:
        raise TooFewKeypointsError(
            f"{where}: the pose needs at least the neck and both shoulders; missing: {', '.join(missing)} "
            f"({int(vis.sum())} of 18 joints visible)")


# ----------------------------------------------------------------------------------------------
# File formats
# ----------------------------------------------------------------------------------------------

def _parse_int_list(text: str, where: str) -> list[int]:
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise KeypointError(f"{where}: expected a bracketed list, got {text[:40]!r}")
    try:
        values = [int(float(v)) for v in text[1:-1].split(",") if v.strip()]
    except ValueError as exc:
        raise KeypointError(f"{where}: non-numeric keypoint value ({exc})") from None
    if len(values) != NUM_KEYPOINTS:
        raise KeypointError(f"{where}: expected {NUM_KEYPOINTS} values, got {len(values)}")
    return values


def parse_keypoint_line(line: str, where: str = "line") -> tuple[str, np.ndarray]:
    """Parse one ``name: [y...]: [x...]`` row of the shared keypoint CSV into (name, (18, 2) xy)."""
    parts = line.strip().split(":")
    if len(parts) != 3:
        raise KeypointError(f"{where}: expected 'name: [y ...]: [x ...]', got {line.strip()[:60]!r}")
    name = parts[0].strip()
    if not name:
        raise KeypointError(f"{where}: empty image name")
    ys = _parse_int_list(parts[1], where)
    xs = _parse_int_list(parts[2], where)
    kps = np.stack([np.asarray(xs, np.float32), np.asarray(ys, np.float32)], axis=1)
    kps[(kps < 0).any(axis=1)] = MISSING
    return name, kps


def read_keypoints_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read a keypoint CSV (``name:keypoints_y:keypoints_x``) into ``{image name: (18, 2) xy array}``.

    Errors name the file and the 1-based line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    out: dict[str, np.ndarray] = {}
    with path.open() as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or (lineno == 1 and line.startswith("name:")):
                continue
            name, kps = parse_keypoint_line(line, where=f"{path}:{lineno}")
            out[name] = kps
    return out


def format_keypoint_line(name: str, kps: np.ndarray) -> str:
    """Inverse of parse_keypoint_line (coordinates are rounded to integers)."""
    kps = validate_keypoints(kps)
    ys = [int(round(v)) if v >= 0 else -1 for v in kps[:, 1]]
    xs = [int(round(v)) if v >= 0 else -1 for v in kps[:, 0]]
    return f"{name}: {ys}: {xs}"


def write_keypoints_csv(path: str | Path, poses: Mapping[str, np.ndarray]) -> None:
    """Write ``{name: (18, 2) xy}`` in the shared keypoint CSV format."""
    lines = ["name:keypoints_y:keypoints_x"] + [format_keypoint_line(n, k) for n, k in poses.items()]
    Path(path).write_text("\n".join(lines) + "\n")


def read_openpose_json(path: str | Path, person: int = 0, threshold: float = 0.05) -> np.ndarray:
    """Read one person's COCO-18 ``pose_keypoints_2d`` from an OpenPose JSON file.

    Joints with confidence below ``threshold`` are marked missing. Raises KeypointError if the file
    holds no person or not 18 keypoints.
    """
    data = json.loads(Path(path).read_text())
    people = data.get("people", [])
    if len(people) <= person:
        raise KeypointError(f"{path}: no person #{person} in OpenPose JSON ({len(people)} found)")
    flat = people[person].get("pose_keypoints_2d", people[person].get("pose_keypoints", []))
    if len(flat) != NUM_KEYPOINTS * 3:
        raise KeypointError(f"{path}: expected {NUM_KEYPOINTS * 3} values (COCO-18 x, y, c), got {len(flat)}")
    arr = np.asarray(flat, np.float32).reshape(NUM_KEYPOINTS, 3)
    kps = arr[:, :2].copy()
    kps[arr[:, 2] < threshold] = MISSING
    return kps


def write_openpose_json(path: str | Path, kps: np.ndarray) -> None:
    """Write one pose as an OpenPose JSON file (confidence 1 for visible joints, 0 for missing)."""
    kps = validate_keypoints(kps)
    vis = visible(kps)
    flat: list[float] = []
    for (x, y), v in zip(kps.tolist(), vis.tolist()):
        flat += [x, y, 1.0] if v else [0.0, 0.0, 0.0]
    Path(path).write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": flat}]}))


# ----------------------------------------------------------------------------------------------
# Heatmaps and rendering
# ----------------------------------------------------------------------------------------------

def heatmap_sigma(height: int) -> float:
    """Gaussian sigma for a canvas of the given height: 6 px at 256 px high, scaled linearly."""
    return 6.0 * height / 256.0


def heatmaps_torch(kps: torch.Tensor, size: tuple[int, int], sigma: float | None = None) -> torch.Tensor:
    """Gaussian heatmaps for a batch of poses.

    Args:
        kps: (B, 18, 2) xy pixel coordinates, -1 for missing.
        size: (H, W) of the canvas.
        sigma: Gaussian sigma in pixels (default: heatmap_sigma(H)).
    Returns:
        (B, 18, H, W) float tensor in [0, 1]; all-zero channels for missing joints.
    """
    h, w = size
    sigma = heatmap_sigma(h) if sigma is None else sigma
    kps = kps.float()
    ys = torch.arange(h, dtype=kps.dtype, device=kps.device)
    xs = torch.arange(w, dtype=kps.dtype, device=kps.device)
    # separable Gaussian: exp(-(dx^2 + dy^2) / 2s^2) = gx * gy
    gx = torch.exp(-((xs[None, None, :] - kps[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, 18, W)
    gy = torch.exp(-((ys[None, None, :] - kps[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, 18, H)
    maps = gy[..., :, None] * gx[..., None, :]  # (B, 18, H, W)
    return maps * visible(kps)[..., None, None].to(maps.dtype)


def heatmaps(kps: np.ndarray, size: tuple[int, int], sigma: float | None = None) -> np.ndarray:
    """(18, H, W) float32 Gaussian heatmaps of one (18, 2) pose; see heatmaps_torch."""
    return heatmaps_torch(torch.from_numpy(validate_keypoints(kps))[None], size, sigma)[0].numpy()


def render_skeleton(
    kps: np.ndarray,
    size: tuple[int, int],
    background: np.ndarray | None = None,
    thickness: float | None = None,
) -> np.ndarray:
    """Draw a pose as coloured bones and joints.

    Args:
        kps: (18, 2) xy pixel coordinates, -1 for missing.
        size: (H, W) of the output (ignored when ``background`` is given).
        background: optional (H, W, 3) uint8 image to draw on.
        thickness: bone half-width in pixels (default scales with the height).
    Returns:
        (H, W, 3) uint8 RGB image.
    """
    kps = validate_keypoints(kps)
    if background is not None:
        canvas = np.asarray(background, np.uint8).copy()
        h, w = canvas.shape[:2]
    else:
        h, w = size
        canvas = np.zeros((h, w, 3), np.uint8)
    r = max(1.0, h / 128.0) if thickness is None else thickness
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vis = visible(kps)
    for (a, b), color in zip(LIMBS, LIMB_COLORS):
        if not (vis[a] and vis[b]):
            continue
        p, q = kps[a], kps[b]
        d = q - p
        length2 = float(d @ d) or 1e-6
        t = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / length2, 0, 1)
        dist2 = (xx - p[0] - t * d[0]) ** 2 + (yy - p[1] - t * d[1]) ** 2
        canvas[dist2 <= r * r] = color
    for j in np.flatnonzero(vis):
        x, y = kps[j]
        canvas[(xx - x) ** 2 + (yy - y) ** 2 <= (1.6 * r) ** 2] = (255, 255, 255)
    return canvas


# ----------------------------------------------------------------------------------------------
# Geometric transforms (images are resized / padded / cropped / flipped alongside)
# ----------------------------------------------------------------------------------------------

def _apply(kps: np.ndarray, fn) -> np.ndarray:
    kps = validate_keypoints(kps)
    vis = visible(kps)
    out = kps.copy()
    out[vis] = fn(kps[vis])
    return out


def resize_keypoints(kps: np.ndarray, src_size: tuple[int, int], dst_size: tuple[int, int]) -> np.ndarray:
    """Scale keypoints when an image of (H, W) ``src_size`` is resized to ``dst_size``.

    Pixel centres map to pixel centres (the convention of PIL's and torch's resampling).
    """
    sy, sx = dst_size[0] / src_size[0], dst_size[1] / src_size[1]
    return _apply(kps, lambda p: (p + 0.5) * np.array([sx, sy], np.float32) - 0.5)


def pad_keypoints(kps: np.ndarray, top: int, left: int) -> np.ndarray:
    """Shift keypoints when ``top`` rows and ``left`` columns are added before the image."""
    return _apply(kps, lambda p: p + np.array([left, top], np.float32))


def crop_keypoints(kps: np.ndarray, top: int, left: int, size: tuple[int, int]) -> np.ndarray:
    """Keypoints of an (H, W) = ``size`` crop starting at (top, left); joints outside become missing."""
    out = pad_keypoints(kps, -top, -left)
    h, w = size
    outside = (out[:, 0] < 0) | (out[:, 1] < 0) | (out[:, 0] > w - 1) | (out[:, 1] > h - 1)
    out[outside] = MISSING
    return out


def flip_keypoints(kps: np.ndarray, width: int) -> np.ndarray:
    """Mirror keypoints horizontally on an image ``width`` pixels wide, swapping left/right joints."""
    out = _apply(kps, lambda p: np.stack([width - 1 - p[:, 0], p[:, 1]], axis=1))
    return out[list(FLIP_PERMUTATION)]


def fit_canvas(src_size: tuple[int, int], canvas: tuple[int, int]) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """How to place an (H, W) image on a canvas keeping its aspect ratio: resize then centre-pad.

    Returns:
        scale, resized (H, W), padding (top, left).
    """
    h, w = src_size
    ch, cw = canvas
    scale = min(ch / h, cw / w)
    rh, rw = max(1, min(ch, round(h * scale))), max(1, min(cw, round(w * scale)))
    return scale, (rh, rw), ((ch - rh) // 2, (cw - rw) // 2)


def keypoints_to_canvas(kps: np.ndarray, src_size: tuple[int, int], canvas: tuple[int, int]) -> np.ndarray:
    """Map keypoints of an (H, W) image onto a canvas filled by fit_canvas (resize + centre-pad)."""
    _, resized, (top, left) = fit_canvas(src_size, canvas)
    return pad_keypoints(resize_keypoints(kps, src_size, resized), top, left)


def keypoints_from_canvas(kps: np.ndarray, src_size: tuple[int, int], canvas: tuple[int, int]) -> np.ndarray:
    """Inverse of keypoints_to_canvas: canvas coordinates back to the original image's."""
    _, resized, (top, left) = fit_canvas(src_size, canvas)
    return resize_keypoints(pad_keypoints(kps, -top, -left), resized, src_size)


def pose_scale(kps: np.ndarray) -> float:
    """A size for the person: the largest of shoulder width, neck-hip and head-neck distances (0 if none)."""
    kps = validate_keypoints(kps)
    vis = visible(kps)
    cands = []
    for a, b, k in ((2, 5, 1.0), (1, 8, 0.6), (1, 11, 0.6), (0, 1, 1.3)):
        if vis[a] and vis[b]:
            cands.append(k * float(np.linalg.norm(kps[a] - kps[b])))
    return max(cands) if cands else 0.0


def pose_descriptor(kps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Translation- and scale-normalised pose: (18, 2) coordinates relative to the visible centroid,
    divided by their RMS spread, and the (18,) visibility mask. Missing joints are zeros."""
    kps = validate_keypoints(kps)
    vis = visible(kps)
    out = np.zeros_like(kps)
    if vis.sum() >= 2:
        pts = kps[vis]
        centred = pts - pts.mean(axis=0)
        spread = math.sqrt(float((centred**2).sum(axis=1).mean())) or 1.0
        out[vis] = centred / spread
    return out, vis
