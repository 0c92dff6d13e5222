"""``Canvas``: where a photo sits on the fixed model canvas, and the way there and back.

Every network works on a canvas of fixed size (H, W), e.g. 128 x 96. A photo of any size (H0, W0) is resized
keeping its aspect ratio until it fits, then centre-padded (white for images, background for label maps).
A ``Canvas`` value records that placement once, so that images, label maps and keypoints all take the same
way onto the canvas and back to the photo's own grid. Training data, the pipeline and the demo use it alike.

    cv = Canvas.fit(photo.shape[:2], (128, 96))
    x = cv.image(photo)                 # (128, 96, 3) uint8, white padding
    k = cv.keypoints(kps_on_photo)      # (18, 2) canvas xy
    out = cv.image_back(generated)      # PIL image of the photo's size
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from . import pose as K

IMAGE_PAD = 255  # white: VITON and DeepFashion backgrounds are white-ish, so the seam is invisible
LABEL_PAD = 0  # background


@dataclass(frozen=True)
class Canvas:
    """A photo of ``photo`` = (H0, W0) pixels placed on a canvas of ``size`` = (H, W).

    ``top, left, height, width``: the box the resized photo fills on the canvas (the rest is padding).
    """

    photo: tuple[int, int]
    size: tuple[int, int]
    top: int
    left: int
    height: int
    width: int

    @classmethod
    def fit(cls, photo: tuple[int, int], size: tuple[int, int]) -> Canvas:
        """Place an (H0, W0) photo on an (H, W) canvas: resize keeping the aspect ratio, centre-pad."""
        photo, size = (int(photo[0]), int(photo[1])), (int(size[0]), int(size[1]))
        if min(photo) < 1 or min(size) < 1:
            raise ValueError(f"Canvas.fit: sizes must be positive, got photo {photo} and canvas {size}")
        _, (rh, rw), (top, left) = K.fit_canvas(photo, size)
        return cls(photo, size, top, left, rh, rw)

    # -- geometry -------------------------------------------------------------------------------

    @property
    def content(self) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the photo on the canvas."""
        return self.top, self.left, self.height, self.width

    @property
    def resized(self) -> tuple[int, int]:
        """(height, width) of the photo once resized onto the canvas."""
        return self.height, self.width

    @property
    def is_identity(self) -> bool:
        """True when the photo already has the canvas size (nothing is resized or padded)."""
        return self.photo == self.size

    def _slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)

    # -- onto the canvas ------------------------------------------------------------------------

    def resize_image(self, image: np.ndarray | Image.Image) -> np.ndarray:
        """(H0, W0, 3) uint8 photo -> (height, width, 3) uint8, bilinear (PIL antialiases when shrinking)."""
        pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        if (pil.height, pil.width) != self.resized:
            pil = pil.resize((self.width, self.height), Image.BILINEAR)
        return np.asarray(pil)

    def resize_labels(self, labels: np.ndarray | Image.Image) -> np.ndarray:
        """(H0, W0) label map (array, or a label PNG as read, palette kept as indices) -> (height, width) uint8,
        nearest neighbour."""
        pil = labels if isinstance(labels, Image.Image) else Image.fromarray(np.asarray(labels).astype(np.uint8))
        if (pil.height, pil.width) != self.resized:
            pil = pil.resize((self.width, self.height), Image.NEAREST)
        return np.asarray(pil)

    def pad(self, content: np.ndarray, fill: int | float, dtype: np.dtype | type | None = None) -> np.ndarray:
        """Put a (height, width[, C]) array into the content box of a canvas filled with ``fill``."""
        content = np.asarray(content)
        if content.shape[:2] != self.resized:
            raise ValueError(f"Canvas.pad: content of shape {content.shape[:2]}, expected {self.resized}")
        out = np.full((*self.size, *content.shape[2:]), fill, dtype or content.dtype)
        rows, cols = self._slices()
        out[rows, cols] = content
        return out

    def image(self, image: np.ndarray | Image.Image, fill: int = IMAGE_PAD) -> np.ndarray:
        """(H0, W0, 3) uint8 photo -> (H, W, 3) uint8 canvas image (white padding by default)."""
        return self.pad(self.resize_image(image), fill, np.uint8)

    def labels(self, labels: np.ndarray | Image.Image, fill: int = LABEL_PAD) -> np.ndarray:
        """(H0, W0) label map -> (H, W) int64 canvas map (background padding)."""
        return self.pad(self.resize_labels(labels), fill, np.int64)

    def keypoints(self, kps: np.ndarray) -> np.ndarray:
        """(18, 2) xy on the photo -> (18, 2) xy on the canvas (missing joints stay -1)."""
        return K.keypoints_to_canvas(kps, self.photo, self.size)

    # -- back to the photo ----------------------------------------------------------------------

    def crop(self, canvas_array: np.ndarray) -> np.ndarray:
        """The content box of a (H, W[, C]) canvas array (padding cut away)."""
        rows, cols = self._slices()
        return np.ascontiguousarray(np.asarray(canvas_array)[rows, cols])

    def image_back(self, canvas_image: np.ndarray) -> Image.Image:
        """(H, W, 3) uint8 canvas image -> PIL image of the photo's size (bicubic)."""
        pil = Image.fromarray(self.crop(canvas_image))
        return pil if self.resized == self.photo else pil.resize((self.photo[1], self.photo[0]), Image.BICUBIC)

    def labels_back(self, canvas_labels: np.ndarray) -> np.ndarray:
        """(H, W) canvas label map -> (H0, W0) int64 on the photo (nearest neighbour)."""
        crop = Image.fromarray(self.crop(np.asarray(canvas_labels, np.uint8)))
        return np.asarray(crop.resize((self.photo[1], self.photo[0]), Image.NEAREST)).astype(np.int64)

    def keypoints_back(self, kps: np.ndarray) -> np.ndarray:
        """(18, 2) canvas xy -> float32 xy on the photo; joints missing or outside the photo become -1."""
        out = K.keypoints_from_canvas(kps, self.photo, self.size)
        h, w = self.photo
        outside = (out[:, 0] < -0.5) | (out[:, 1] < -0.5) | (out[:, 0] > w - 0.5) | (out[:, 1] > h - 0.5)
        out[outside | ~K.visible(kps)] = K.MISSING
        return out.astype(np.float32)

    # -- padding --------------------------------------------------------------------------------

    def outside(self, kps: np.ndarray) -> np.ndarray:
        """(18,) bool: canvas keypoints that fall on the padding (outside the photo's box)."""
        kps = np.asarray(kps)
        return ((kps[:, 0] < self.left - 0.5) | (kps[:, 0] > self.left + self.width - 0.5)
                | (kps[:, 1] < self.top - 0.5) | (kps[:, 1] > self.top + self.height - 0.5))

    def clear_padding(self, canvas_labels: np.ndarray, fill: int = LABEL_PAD) -> np.ndarray:
        """A copy of an (H, W) canvas label map with the padding set to ``fill`` (background)."""
        return self.pad(self.crop(canvas_labels), fill)


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1] on ``device``: how the networks see a picture."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(..., 3, H, W) in [-1, 1] -> (..., H, W, 3) uint8, the inverse of ``to_tensor`` (clamped, rounded)."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().movedim(-3, -1).cpu().numpy()
