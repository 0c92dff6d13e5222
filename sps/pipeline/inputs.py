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
from ..canvas import Canvas
from ..errors import ImageReadError, KeypointError, ParsingError

MIN_SIDE = 8  # smaller photos are refused


@dataclass
class Photo:
    """One photo placed on the model canvas, with its keypoints and parsing once known (canvas coordinates)."""

    array: np.ndarray  # (H0, W0, 3) uint8, the photo
    canvas: Canvas  # where it sits on the model canvas
    image: torch.Tensor  # (1, 3, H, W) in [-1, 1]
    kps: np.ndarray | None = None  # (18, 2) canvas xy
    parsing: np.ndarray | None = None  # (H, W) int64 canvas labels

    @property
    def size(self) -> tuple[int, int]:
        return self.canvas.photo


IMAGE_TYPES = (str, Path, bytes, bytearray, Image.Image, np.ndarray, torch.Tensor)


def read_image(image: Any, where: str) -> np.ndarray:
    """Any supported image input -> (H0, W0, 3) uint8, or ImageReadError saying what is wrong."""
    from ..data import load_image

    if not isinstance(image, IMAGE_TYPES):
        raise ImageReadError(f"{where}: expected a file path, encoded bytes, a PIL image or an (H, W, 3) array, "
                             f"got {type(image).__name__}")
    try:
        arr = load_image(image)
    except ImageReadError:
        raise
    except (OSError, ValueError, TypeError) as exc:  # anything a decoder throws
        raise ImageReadError(f"{where}: cannot read image ({exc})") from None
    if arr.shape[0] < MIN_SIDE or arr.shape[1] < MIN_SIDE:
        raise ImageReadError(f"{where}: image of {arr.shape[0]}x{arr.shape[1]} pixels is too small")
    return arr


def place(image: Any, canvas_size: tuple[int, int], device: torch.device, where: str) -> Photo:
    """Read a photo and put it on the canvas: (1, 3, H, W) in [-1, 1] on ``device``."""
    arr = read_image(image, where)
    canvas = Canvas.fit(arr.shape[:2], canvas_size)
    x = torch.from_numpy(canvas.image(arr)).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)
    return Photo(arr, canvas, x)


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


def keypoints_on_canvas(keypoints: Any, grid: tuple[int, int], canvas_size: tuple[int, int], where: str) -> np.ndarray:
    """Given (18, 2) xy keypoints on a photo's ``grid`` (H, W), checked, -> the model canvas.

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
    return Canvas.fit((h, w), canvas_size).keypoints(kps)


def labels_on_canvas(index: Any, canvas: Canvas, where: str) -> np.ndarray:
    """A label map on the photo grid (or already on the canvas) -> (H, W) int64 on the canvas."""
    index = P.validate_labels(np.asarray(index), where=where)
    if index.shape == canvas.size:
        return index
    if index.shape != canvas.photo:
        raise ParsingError(f"{where}: shape {index.shape} matches neither the photo {canvas.photo} "
                           f"nor the model canvas {canvas.size}")
    return canvas.labels(index)
