"""Turning what a user passes (paths, PIL images, arrays, keypoint lists, label maps) into canvas arrays."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .. import parsing as P
from .. import pose as K
from ..canvas import Canvas, to_tensor
from ..data.images import read_image
from ..errors import KeypointError, ParsingError


@dataclass
class Photo:
    """One photo placed on the model canvas, with its keypoints and parsing once known (canvas coordinates).

    ``original``: the photo's (H, W) as given, before a large photo is downscaled to ``array`` (see read_image).
    """

    array: np.ndarray  # (H0, W0, 3) uint8, the photo
    canvas: Canvas  # where it sits on the model canvas
    image: torch.Tensor  # (1, 3, H, W) in [-1, 1]
    kps: np.ndarray | None = None  # (18, 2) canvas xy
    parsing: np.ndarray | None = None  # (H, W) int64 canvas labels
    original: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.canvas.photo

    @property
    def downscale(self) -> float:
        """Pixels of ``array`` per pixel of the photo as given (1.0 when it was not downscaled)."""
        return self.size[0] / self.original[0] if self.original else 1.0

    def grid_keypoints(self, kps: np.ndarray) -> np.ndarray:
        """(18, 2) keypoints on the photo as given -> on ``array``'s grid."""
        return kps if self.original in (None, self.size) else K.resize_keypoints(kps, self.original, self.size)

    def grid_labels(self, index: np.ndarray) -> np.ndarray:
        """An (H, W) label map of the photo as given -> ``array``'s grid (nearest neighbour)."""
        if self.original in (None, self.size) or index.shape != self.original:
            return index
        return P.resize_labels(index, self.size)


def place(image: Any, canvas_size: tuple[int, int], device: torch.device, where: str,
          max_side: int | None = None) -> Photo:
    """Read a photo (downscaled to ``max_side``) and put it on the canvas: (1, 3, H, W) in [-1, 1] on ``device``."""
    arr, original = read_image(image, where, max_side)
    canvas = Canvas.fit(arr.shape[:2], canvas_size)
    return Photo(arr, canvas, to_tensor(canvas.image(arr), device), original=original)


def is_keypoint_like(x: Any) -> bool:
    """Keypoints come as sequences / small 1-2D arrays; images as paths, PIL, bytes or (H, W, C) arrays."""
    if isinstance(x, (str, Path, bytes, bytearray, Image.Image)):
        return False
    if isinstance(x, (list, tuple)):
        return True
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.ndim <= 2 and np.prod(x.shape) <= 400
    return False


def as_numpy(x: Any) -> np.ndarray:
    """Keypoints given as a tensor, array or nested list -> float32 array (KeypointError if impossible)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise KeypointError(f"keypoints: cannot convert to an array ({exc})") from None


def check_grid(grid: Any, where: str) -> tuple[int, int]:
    """A keypoint grid (H, W) of positive whole numbers, or KeypointError."""
    try:
        h, w = (float(v) for v in grid)
    except (TypeError, ValueError):
        raise KeypointError(f"{where}: expected a size (H, W), got {grid!r}") from None
    if not (h >= 1 and w >= 1 and h == int(h) and w == int(w)):
        raise KeypointError(f"{where}: the size (H, W) must be positive whole numbers, got {tuple(grid)!r}")
    return int(h), int(w)


def keypoints_on_grid(keypoints: Any, grid: tuple[int, int], where: str) -> np.ndarray:
    """Given (18, 2) xy keypoints on a photo's ``grid`` (H, W), checked and returned as float32 (-1 missing).

    Visible joints may lie a little outside the grid (a pose cut by the frame), but not farther than the grid's
    own size: such coordinates belong to another grid (pass ``target_size``) or are nonsense.
    """
    if keypoints is None or isinstance(keypoints, dict):
        raise KeypointError(f"{where}: expected 18 (x, y) keypoints, got {type(keypoints).__name__}")
    kps = K.validate_keypoints(as_numpy(keypoints), where=where)
    h, w = check_grid(grid, where)
    vis = K.visible(kps)
    far = vis & ((kps[:, 0] > 2 * w) | (kps[:, 1] > 2 * h))
    if far.any():
        j = int(np.flatnonzero(far)[0])
        raise KeypointError(f"{where}: {K.KEYPOINT_NAMES[j]} at ({kps[j, 0]:.6g}, {kps[j, 1]:.6g}) lies far outside "
                            f"the {h}x{w} grid of the keypoints (pass target_size when they belong to another one)")
    return kps


def grid_to_photo(pose: np.ndarray, grid: tuple[int, int], photo: tuple[int, int]) -> np.ndarray:
    """A loose pose (NaN missing) on a ``grid`` (H, W) that the photo is fitted into (resized, centred, as the
    demo's pose grid) -> the photo's own (H0, W0) grid; joints may land outside the photo (loose, not dropped)."""
    cv = Canvas.fit(photo, grid)
    scale = np.array([photo[1] / cv.width, photo[0] / cv.height])
    return (np.asarray(pose, np.float64) - (cv.left, cv.top) + 0.5) * scale - 0.5


def labels_on_grid(index: Any, photo: Photo, where: str) -> np.ndarray:
    """A label map on the photo as given, on its (downscaled) grid, or on its model canvas -> (H0, W0) int64 on
    the photo's (downscaled) grid."""
    index = P.validate_labels(np.asarray(index), where=where)
    if index.shape == photo.size:
        return index
    if index.shape == photo.original:
        return photo.grid_labels(index)
    if index.shape == photo.canvas.size:
        return photo.canvas.labels_back(index)
    raise ParsingError(f"{where}: shape {index.shape} matches neither the photo {photo.original or photo.size} "
                       f"nor the model canvas {photo.canvas.size}")
