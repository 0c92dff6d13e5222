"""Keypoints on CCP street photos, checked against CCP's clothing labels (CCP has no keypoint annotation).

Two uses of the same label geometry:

- ``label_agreement``: how plausible estimated keypoints are, scored against the labels (a joint must lie on the
  worn body, not on a carried bag or the street; an ankle must lie at a foot). It is the pose estimator's
  street-photo metric in ``python -m sps.evaluate photos``.
- ``pseudo_keypoints``: training labels for the pose estimator on CCP. A joint is kept only where the estimator
  finds it on the photo and on its mirror image at the same place (within ``AGREE`` of the photo's height) and,
  on a labelled photo, where it lies on the worn body; an ankle the estimator misses is read off the footwear.
  Every other joint is *unknown* (written as missing; the folder's ``keypoints.pseudo`` marker tells
  ``PersonDataset`` that missing means unknown there, so training leaves those heatmaps free).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import pose as K

AGREE = 0.03  # flip agreement: at most this share of the photo's height between the two estimates
ON_BODY = 0.02  # a joint may lie this share of the height off the worn-body mask (label edges are rough)
AT_FOOT = 0.04  # an ankle lies within this share of the height of footwear or socks
FOOTWEAR = ("boots", "clogs", "flats", "heels", "loafers", "pumps", "sandals", "shoes", "sneakers", "wedges", "socks")
NOT_BODY = ("null", "bag", "purse", "wallet")  # background and what is carried rather than worn
BODY_JOINTS = tuple(range(14))  # nose, neck, arms, legs (the face joints are too small to check against labels)
LEG_JOINTS = (8, 9, 10, 11, 12, 13)
ANKLES = (10, 13)  # right, left
MIN_FOOT_PIXELS = 0.0004  # each foot's footwear covers at least this share of the photo to place an ankle


@dataclass
class LabelMasks:
    """Masks of one labelled photo (H, W) bool: ``body`` (worn: hair, skin, garments, footwear), ``foot``
    (footwear and socks)."""

    body: np.ndarray
    foot: np.ndarray

    @classmethod
    def from_labels(cls, ccp_labels: np.ndarray, names: tuple[str, ...]) -> LabelMasks:
        """From CCP label ids (H, W) and the class names of ``labels.txt``."""
        ids = np.asarray(ccp_labels, np.int64)
        not_body = np.isin(ids, [i for i, n in enumerate(names) if n in NOT_BODY])
        foot = np.isin(ids, [i for i, n in enumerate(names) if n in FOOTWEAR])
        return cls(~not_body, foot)


def _near(mask: np.ndarray, xy: np.ndarray, radius: float) -> bool:
    """Whether ``mask`` has a pixel within a square of half-side ``radius`` around the point (x, y)."""
    h, w = mask.shape
    x, y = int(round(float(xy[0]))), int(round(float(xy[1])))
    r = max(1, int(round(radius)))
    if not (0 <= x < w and 0 <= y < h):
        return False
    return bool(mask[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].any())


def label_agreement(kps: np.ndarray, masks: LabelMasks) -> dict[str, int]:
    """Counts for one photo's (18, 2) keypoints against its label masks: body joints found and how many lie on the
    worn body; whether feet are labelled, how many ankles are found and how many lie at a foot; whether all six
    leg joints are found."""
    kps = K.validate_keypoints(kps)
    h = masks.body.shape[0]
    vis = K.visible(kps)
    found = [j for j in BODY_JOINTS if vis[j]]
    feet = masks.foot.mean() >= 2 * MIN_FOOT_PIXELS
    ankles = [j for j in ANKLES if vis[j]]
    return {
        "body_found": len(found),
        "body_on": sum(_near(masks.body, kps[j], ON_BODY * h) for j in found),
        "feet": int(feet),
        "ankles_found": len(ankles) if feet else 0,
        "ankles_at_foot": sum(_near(masks.foot, kps[j], AT_FOOT * h) for j in ankles) if feet else 0,
        "legs_complete": int(all(vis[j] for j in LEG_JOINTS)),
    }


def summarise_agreement(rows: list[dict[str, int]]) -> dict[str, float]:
    """Rates over photos: joints on the body, photos with both ankles found (of those with labelled feet), ankles
    at a foot, photos with all six leg joints."""
    tot = {k: sum(r[k] for r in rows) for k in rows[0]} if rows else {}
    n = max(1, len(rows))
    return {
        "joints on body": tot.get("body_on", 0) / max(1, tot.get("body_found", 0)),
        "body joints per photo": tot.get("body_found", 0) / n,
        "both ankles found": sum(r["ankles_found"] == 2 for r in rows) / max(1, tot.get("feet", 0)),
        "ankles at a foot": tot.get("ankles_at_foot", 0) / max(1, tot.get("ankles_found", 0)),
        "all leg joints": tot.get("legs_complete", 0) / n,
    }


def facing_camera(kps: np.ndarray) -> bool | None:
    """True when the person faces the camera (their right shoulder or hip on the image's left), False when they
    turn their back, None when neither pair is seen."""
    vis = K.visible(kps)
    for r, l in ((2, 5), (8, 11)):
        if vis[r] and vis[l] and abs(kps[r, 0] - kps[l, 0]) > 1:
            return bool(kps[r, 0] < kps[l, 0])
    return None


def ankles_from_footwear(kps: np.ndarray, foot: np.ndarray) -> np.ndarray:
    """(18, 2) keypoints with the missing ankles read off the footwear mask (H, W): the footwear pixels split
    between the two feet at the middle of the knees (or hips, or the footwear's median column); each ankle at
    the foot's column centre, 0.12 x the body height above the sole (where the estimator's own ankles sit), at
    most at the foot's top (low shoes).
    Needs the facing (which foot is the person's right) and both feet labelled; otherwise unchanged."""
    out = K.validate_keypoints(kps)
    vis = K.visible(out)
    face = facing_camera(out)
    ys, xs = np.nonzero(foot)
    if face is None or len(xs) < 2 * MIN_FOOT_PIXELS * foot.size or (vis[10] and vis[13]):
        return out
    split = next((0.5 * (out[a, 0] + out[b, 0]) for a, b in ((9, 12), (8, 11)) if vis[a] and vis[b]),
                 float(np.median(xs)))
    left_of = xs < split
    height = float(np.ptp(out[vis, 1])) if vis.sum() >= 2 else foot.shape[0] * 0.8
    for ankle, on_image_left in ((10, face), (13, not face)):  # facing us: the right foot is on the image's left
        if vis[ankle]:
            continue
        side = left_of if on_image_left else ~left_of
        if side.sum() < MIN_FOOT_PIXELS * foot.size:
            continue
        top, sole = ys[side].min(), ys[side].max()
        y = max(float(top), sole - 0.12 * height)
        band = side & (np.abs(ys - y) <= 2)
        out[ankle] = (float(xs[band].mean()) if band.any() else float(xs[side].mean()), y)
    return out


def mirror_agreement(estimate: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                     first: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The estimate of a photo (H, W, 3) and of its mirror image (flipped back, sides swapped), both (18, 2), and
    (18,) bool: joints found on both within ``AGREE`` x the height. ``first``: the photo's estimate when at hand."""
    h, w = image.shape[:2]
    a = K.validate_keypoints(estimate(image) if first is None else first)
    b = K.flip_keypoints(K.validate_keypoints(estimate(np.ascontiguousarray(image[:, ::-1]))), w)
    return a, b, K.visible(a) & K.visible(b) & (np.linalg.norm(a - b, axis=1) <= AGREE * h)


def pseudo_keypoints(estimate: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                     masks: LabelMasks | None = None, first: np.ndarray | None = None) -> np.ndarray:
    """(18, 2) training keypoints of a photo (H, W, 3) uint8, missing = unknown (see the module docstring).

    ``estimate`` maps a photo to (18, 2) keypoints on its grid (e.g. ``SPSPipeline.analyse(...)[0]``); ``first``
    is its estimate of ``image`` when already at hand."""
    h = image.shape[0]
    a, b, both = mirror_agreement(estimate, image, first)
    out = np.where(both[:, None], 0.5 * (a + b), K.MISSING).astype(np.float32)
    if masks is not None:
        for j in BODY_JOINTS:
            if both[j] and not _near(masks.body, out[j], ON_BODY * h):
                out[j] = K.MISSING
        out = ankles_from_footwear(out, masks.foot)
    return out
