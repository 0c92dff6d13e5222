"""Candidate variants of the pseudo-label search (docs/design.md 1.1): a horizontal flip and a rescale.

A candidate may be mirrored (left/right labels swapped, keypoints mirrored with left/right joints swapped) and
then rescaled by ``scale`` about the person's centre (the middle of the box around the visible keypoints).
Keypoints that leave the canvas become missing; pixels brought in from outside are padding. One numpy
implementation serves the search (the small search canvas, batched) and the semantic trainer's pseudo-pair
dataset (the training canvas), so the label the trainer loads is the map the search scored.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..canvas import LABEL_PAD
from ..parsing import FLIP_LABELS
from ..pose import FLIP_PERMUTATION

_FLIP_LUT = np.asarray(FLIP_LABELS, np.int64)
_FLIP_PERM = np.asarray(FLIP_PERMUTATION)


@dataclass(frozen=True)
class Variant:
    """How a candidate is shown: mirrored or not, then scaled about the person's centre."""

    flip: bool = False
    scale: float = 1.0

    @property
    def is_identity(self) -> bool:
        return not self.flip and self.scale == 1.0


def variant_set(flip: bool, scales: Sequence[float]) -> tuple[Variant, ...]:
    """Every (flip, scale) combination, unflipped first, scale 1 first within each (ties go to earlier ones)."""
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(f"scales must be positive, got {tuple(scales)}")
    ordered = sorted(dict.fromkeys(float(s) for s in scales), key=lambda s: (s != 1.0, s))
    return tuple(Variant(f, s) for f in ((False, True) if flip else (False,)) for s in ordered)


def person_centre(kps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(B, 18, 2) canvas keypoints -> (B, 2) xy centre of the box around the visible ones (canvas centre if none)."""
    vis = (kps >= 0).all(-1)  # (B, 18)
    mid = np.array([(size[1] - 1) / 2, (size[0] - 1) / 2], np.float32)
    lo = np.where(vis[..., None], kps, np.inf).min(1)
    hi = np.where(vis[..., None], kps, -np.inf).max(1)
    has = vis.any(1)[:, None]
    return np.where(has, (np.where(has, lo, 0) + np.where(has, hi, 0)) / 2, mid).astype(np.float32)


def flip_keypoints_batch(kps: np.ndarray, width: int, flip: np.ndarray) -> np.ndarray:
    """(B, 18, 2) keypoints mirrored on a ``width``-wide canvas, left/right joints swapped, where ``flip`` (B,)."""
    vis = (kps >= 0).all(-1, keepdims=True)
    mirrored = np.where(vis, np.stack([width - 1 - kps[..., 0], kps[..., 1]], -1), kps)[:, _FLIP_PERM]
    return np.where(flip[:, None, None], mirrored, kps).astype(np.float32)


@dataclass(frozen=True)
class VariantGrid:
    """Where each output pixel of a batch of variants reads from: output pixel (r, c) of item b is input pixel
    (rows[b, r], cols[b, c]) when ``ok[b, r, c]``, else padding. ``kps`` are the moved keypoints, ``centre`` the
    (B, 2) xy centre each was scaled about."""

    kps: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    ok: np.ndarray
    flip: np.ndarray
    centre: np.ndarray

    def resample(self, arr: np.ndarray, fill: float) -> np.ndarray:
        """(B, H, W, ...) array -> the same on the variants' grids (nearest neighbour, ``fill`` outside)."""
        b = np.arange(len(self.rows))[:, None, None]
        out = np.asarray(arr)[b, self.rows[:, :, None], self.cols[:, None, :]]
        ok = self.ok.reshape(self.ok.shape + (1,) * (out.ndim - 3))
        return np.where(ok, out, np.asarray(fill, out.dtype)).astype(out.dtype)

    def labels(self, labels: np.ndarray) -> np.ndarray:
        """(B, H, W) integer sps labels on the variants' grids, left/right swapped where flipped (an item without
        a map, all -1, stays so)."""
        lab = np.asarray(labels)
        no_map = (lab < 0).all((1, 2))
        out = np.where(no_map[:, None, None], lab, self.resample(lab, LABEL_PAD))
        swapped = _FLIP_LUT[np.clip(out, 0, None)].astype(out.dtype)
        return np.where(self.flip[:, None, None] & (out >= 0), swapped, out)


def variant_grid(kps: np.ndarray, flip: np.ndarray, scale: np.ndarray, size: tuple[int, int]) -> VariantGrid:
    """Flip then rescale a batch of poses on an (H, W) canvas, and the sampling grid that does it to maps.

    Args:
        kps: (B, 18, 2) canvas xy, -1 missing; flip: (B,) bool; scale: (B,) float.
    Returns:
        a VariantGrid; its ``kps`` (B, 18, 2) float32 have joints pushed off the canvas missing.
    """
    h, w = size
    flip = np.asarray(flip, bool).reshape(-1)
    scale = np.asarray(scale, np.float32).reshape(-1)
    kps = flip_keypoints_batch(np.asarray(kps, np.float32), w, flip)
    centre = person_centre(kps, size)  # (B, 2) after the flip
    vis = (kps >= 0).all(-1, keepdims=True)
    moved = (kps - centre[:, None]) * scale[:, None, None] + centre[:, None]
    inside = (moved >= 0).all(-1, keepdims=True) & (moved[..., :1] <= w - 1) & (moved[..., 1:] <= h - 1)
    kps = np.where(vis & inside, moved, -1.0).astype(np.float32)
    # output pixel q samples the (flipped) input at rint((q - c) / s + c): separable
    cols = np.rint((np.arange(w)[None] - centre[:, :1]) / scale[:, None] + centre[:, :1]).astype(np.int64)  # (B, W)
    rows = np.rint((np.arange(h)[None] - centre[:, 1:]) / scale[:, None] + centre[:, 1:]).astype(np.int64)  # (B, H)
    ok = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (B, H, W)
    cols = np.where(flip[:, None], w - 1 - cols, cols).clip(0, w - 1)
    return VariantGrid(kps, rows.clip(0, h - 1), cols, ok, flip, centre)


def apply_variant(kps: np.ndarray, flip: np.ndarray, scale: np.ndarray, size: tuple[int, int],
                  labels: np.ndarray | None = None, image: np.ndarray | None = None,
                  image_fill: float = 255) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Flip then rescale a batch of persons on an (H, W) canvas (see ``variant_grid``).

    Args:
        labels: optional (B, H, W) integer sps labels (negative values, e.g. -1 = no map, are kept as they are).
        image: optional (B, H, W, C) array (any dtype), resampled with the same nearest-neighbour grid.
    Returns:
        kps (B, 18, 2) float32, labels, image (None when not given).
    """
    g = variant_grid(kps, flip, scale, size)
    return (g.kps, None if labels is None else g.labels(labels),
            None if image is None else g.resample(image, image_fill))
