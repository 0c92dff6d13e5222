"""Common edits of a parsing map, for controlled manipulation (docs/design.md 1.4): edit, then regenerate with
``SPSPipeline.edit(image, edited_map)``.

Every helper takes an (H, W) label map (sps.parsing.LABELS) and the (18, 2) xy keypoints on the same grid,
returns a new map, and changes only the labels its name says:

- ``longer_sleeves``: arm pixels (6, 7) on the arm from the shoulder down to the elbow or wrist -> upper clothes (3).
- ``shorter_sleeves``: upper-clothes pixels (3) on the arms, past a short cap at the shoulder -> arm (6 / 7).
- ``trousers_to_shorts``: pants pixels (4) below the knees -> leg (8 / 9).
- ``trousers_to_skirt``: pants (4) -> skirt (5), widened between the legs (background / leg pixels between
  the skirt's left and right edges) down to the knees; pants below the knees -> leg (knee-length skirt).

Arm and leg regions come from ``sps.parts.part_masks`` (capsules around the bones).
"""
from __future__ import annotations

import numpy as np

from . import parsing as P
from . import pose as K
from .errors import TooFewKeypointsError
from .parts import PART_NAMES, part_masks, segment_distance

BG, FACE, HAIR, UPPER, PANTS, SKIRT, L_ARM, R_ARM, L_LEG, R_LEG = range(10)
_PART = {name: i for i, name in enumerate(PART_NAMES)}
# COCO-18 joints: (shoulder, elbow, wrist) per side, (hip, knee, ankle) per side.
_ARM = {"right": (2, 3, 4), "left": (5, 6, 7)}
_LEG = {"right": (8, 9, 10), "left": (11, 12, 13)}
_ARM_LABEL = {"right": R_ARM, "left": L_ARM}
_LEG_LABEL = {"right": R_LEG, "left": L_LEG}


def _inputs(parsing: np.ndarray, kps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = P.validate_labels(parsing)
    kps = K.validate_keypoints(kps)
    masks = part_masks(kps, index.shape).astype(bool)  # (10, H, W)
    return index, kps, masks


def _along(kps: np.ndarray, a: int, b: int, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) projection parameter t of each pixel on the bone a -> b (0 at a, 1 at b)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    p, q = kps[a], kps[b]
    d = q - p
    return ((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / max(float(d @ d), 1e-6)


def _need(kps: np.ndarray, joints: tuple[int, ...], what: str) -> None:
    vis = K.visible(kps)
    missing = [K.KEYPOINT_NAMES[j] for j in joints if not vis[j]]
    if missing:
        raise TooFewKeypointsError(f"{what}: needs the {', '.join(missing)} keypoint(s)")


def _sides(kps: np.ndarray, joints: dict[str, tuple[int, ...]], need: int) -> list[str]:
    """Sides whose first ``need`` joints are visible."""
    vis = K.visible(kps)
    return [s for s, js in joints.items() if all(vis[j] for j in js[:need])]


def longer_sleeves(parsing: np.ndarray, kps: np.ndarray, to: str = "wrist") -> np.ndarray:
    """Arm pixels from the shoulder down to the elbow (``to="elbow"``) or the wrist -> upper clothes.

    Only arm pixels inside the arm's part masks and not past the end joint change; hands beyond the wrist stay.
    """
    if to not in ("elbow", "wrist"):
        raise ValueError(f"to must be 'elbow' or 'wrist', got {to!r}")
    index, kps, masks = _inputs(parsing, kps)
    out = index.copy()
    sides = _sides(kps, _ARM, 3 if to == "wrist" else 2)
    if not sides:
        _need(kps, _ARM["right"][:3 if to == "wrist" else 2], "longer_sleeves")
    for side in sides:
        sh, el, wr = _ARM[side]
        region = masks[_PART[f"{side}_upper_arm"]] & (_along(kps, sh, el, index.shape) <= 1.0)
        if to == "wrist":
            region = masks[_PART[f"{side}_upper_arm"]] | (masks[_PART[f"{side}_forearm"]]
                                                          & (_along(kps, el, wr, index.shape) <= 1.0))
        arm = (index == L_ARM) | (index == R_ARM)
        out[region & arm] = UPPER
    return out


def shorter_sleeves(parsing: np.ndarray, kps: np.ndarray, keep: float = 0.35) -> np.ndarray:
    """Upper-clothes pixels on the arms -> arm of that side, except a cap of ``keep`` x the upper arm's length
    at the shoulder (a short sleeve) and torso pixels nearer the body's midline (neck to mid-hip) than the arm's
    bones (an arm hanging beside the body still loses its sleeve)."""
    index, kps, masks = _inputs(parsing, kps)
    out = index.copy()
    sides = _sides(kps, _ARM, 2)
    if not sides:
        _need(kps, _ARM["right"][:2], "shorter_sleeves")
    torso = masks[_PART["torso"]]
    vis = K.visible(kps)
    midline = None  # neck -> mid-hip: on the torso mask, a pixel nearer an arm bone than this is arm
    if vis[1] and (vis[8] or vis[11]):
        hips = kps[[j for j in (8, 11) if vis[j]]].mean(0)
        midline = segment_distance(index.shape, kps[1], hips)
    for side in sides:
        sh, el, wr = _ARM[side]
        arm = masks[_PART[f"{side}_upper_arm"]] & (_along(kps, sh, el, index.shape) > keep)
        arm |= masks[_PART[f"{side}_forearm"]]
        on_body = torso
        if midline is not None:
            bone = segment_distance(index.shape, kps[sh], kps[el])
            if vis[wr]:
                bone = np.minimum(bone, segment_distance(index.shape, kps[el], kps[wr]))
            on_body = torso & (midline <= bone)
        out[arm & ~on_body & (index == UPPER)] = _ARM_LABEL[side]
    return out


def _below_knees(index: np.ndarray, kps: np.ndarray, masks: np.ndarray, what: str) -> dict[str, np.ndarray]:
    """Per side, the pixels below the knee: in the shin mask, or past the knee along the thigh's direction
    and nearer to this leg than to the other."""
    sides = _sides(kps, _LEG, 2)
    if not sides:
        _need(kps, _LEG["right"][:2] + _LEG["left"][:2], what)
    h, w = index.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = {}
    for side in sides:
        hip, knee, _ = _LEG[side]
        dist[side] = (xx - kps[knee, 0]) ** 2 + (yy - kps[knee, 1]) ** 2
    out = {}
    for side in sides:
        hip, knee, _ = _LEG[side]
        below = (_along(kps, hip, knee, index.shape) > 1.0) | masks[_PART[f"{side}_shin"]]
        nearer = np.ones_like(below) if len(sides) == 1 else dist[side] <= min(d for s, d in dist.items() if s != side)
        out[side] = below & nearer
    return out


def trousers_to_shorts(parsing: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """Pants pixels below the knees -> leg of the nearer side."""
    index, kps, masks = _inputs(parsing, kps)
    out = index.copy()
    for side, below in _below_knees(index, kps, masks, "trousers_to_shorts").items():
        out[below & (index == PANTS)] = _LEG_LABEL[side]
    return out


def trousers_to_skirt(parsing: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """Pants -> skirt down to the knees (widened to fill the gap between the legs), pants below the knees -> leg."""
    index, kps, masks = _inputs(parsing, kps)
    out = index.copy()
    below = _below_knees(index, kps, masks, "trousers_to_skirt")
    below_any = np.zeros(index.shape, bool)
    for side, b in below.items():
        out[b & (index == PANTS)] = _LEG_LABEL[side]
        below_any |= b
    skirt = (index == PANTS) & ~below_any
    out[skirt] = SKIRT
    # Widen: on each row between the hips and the knees, fill background / leg pixels between the skirt's edges.
    vis = K.visible(kps)
    hips = [kps[j, 1] for j in (8, 11) if vis[j]]
    knees = [kps[j, 1] for j in (9, 12) if vis[j]]
    if hips and knees:
        top, bottom = int(np.floor(min(hips))), int(np.ceil(max(knees)))
        for y in range(max(0, top), min(index.shape[0], bottom + 1)):
            xs = np.flatnonzero(skirt[y])
            if xs.size >= 2:
                seg = slice(xs[0], xs[-1] + 1)
                row = index[y, seg]
                fill = np.isin(row, (BG, L_LEG, R_LEG, PANTS)) & ~below_any[y, seg]
                out[y, seg][fill] = SKIRT
    return out


EDITS = {
    "longer sleeves": longer_sleeves,
    "shorter sleeves": shorter_sleeves,
    "trousers to shorts": trousers_to_shorts,
    "trousers to skirt": trousers_to_skirt,
}
