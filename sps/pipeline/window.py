"""Where the pipeline works on a photo: the output ``Frame`` (the photo, grown when the target pose leaves it) and
the person's ``Window`` (a canvas-shaped box of the frame around the person and the target pose).

    frame = Frame.holding(photo_size, target)            # pads the photo when target joints fall outside it
    win = Window.around(box, canvas_size)                # box (x0, y0, x1, y1) on the frame grid
    x = win.image(frame_image)                           # (H, W, 3) uint8 model-canvas image of the window
    k = win.keypoints(frame_kps); back = win.keypoints_back(k)

Both are plain geometry; reading the window (parser, pose estimator) and pasting back live in the pipeline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .. import pose as K
from ..canvas import IMAGE_PAD, LABEL_PAD, Canvas
from .poses import pose_box, strict


@dataclass(frozen=True)
class Frame:
    """The output's pixel grid: the photo (H0, W0) with ``pad`` = (top, bottom, left, right) pixels added."""

    photo: tuple[int, int]
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)

    @classmethod
    def holding(cls, photo: tuple[int, int], target: np.ndarray) -> Frame:
        """The photo, grown on each side that a joint of the loose ``target`` pose (photo grid) falls beyond, far
        enough to hold the body it draws there (``pose_box``: crown, hands, feet)."""
        h, w = photo
        vis = np.isfinite(target).all(1)
        pts = target[vis]
        if not vis.any():
            return cls(photo)
        x0, y0, x1, y1 = pose_box(target)
        grow = lambda beyond, extent: math.ceil(extent) if beyond else 0
        pad = (grow((pts[:, 1] < -0.5).any(), -y0), grow((pts[:, 1] > h - 0.5).any(), y1 - (h - 1)),
               grow((pts[:, 0] < -0.5).any(), -x0), grow((pts[:, 0] > w - 0.5).any(), x1 - (w - 1)))
        return cls(photo, tuple(max(0, p) for p in pad))

    @property
    def size(self) -> tuple[int, int]:
        t, b, l, r = self.pad
        return self.photo[0] + t + b, self.photo[1] + l + r

    @property
    def grown(self) -> bool:
        return any(self.pad)

    @property
    def photo_box(self) -> tuple[slice, slice]:
        """Rows and columns of the frame that hold the photo."""
        t, _, l, _ = self.pad
        return slice(t, t + self.photo[0]), slice(l, l + self.photo[1])

    def keypoints(self, pose: np.ndarray) -> np.ndarray:
        """A loose pose (NaN missing) on the photo grid -> (18, 2) strict keypoints on the frame grid."""
        t, _, l, _ = self.pad
        return strict(np.maximum(np.asarray(pose, np.float64) + (l, t), 0))

    def photo_keypoints(self, kps: np.ndarray) -> np.ndarray:
        """(18, 2) frame keypoints -> the photo grid (joints outside the photo become missing)."""
        t, _, l, _ = self.pad
        return K.crop_keypoints(kps, t, l, self.photo)

    def place(self, array: np.ndarray, fill: float) -> np.ndarray:
        """A photo-grid array (H0, W0[, C]) -> the frame grid, ``fill`` on the added strips."""
        if not self.grown:
            return array
        out = np.full((*self.size, *array.shape[2:]), fill, array.dtype)
        out[self.photo_box] = array
        return out


@dataclass(frozen=True)
class Window:
    """A box of the frame grid, ``top, left, height, width`` (it may reach outside the frame), with the model
    canvas's aspect ratio; ``canvas`` places it on the model canvas."""

    top: int
    left: int
    height: int
    width: int
    canvas: Canvas

    @classmethod
    def around(cls, box: np.ndarray, canvas_size: tuple[int, int], margin: float = 0.06) -> Window:
        """The smallest canvas-shaped box holding ``box`` (x0, y0, x1, y1) plus ``margin`` x its size on each
        side, centred on it."""
        x0, y0, x1, y1 = (float(v) for v in box)
        bw, bh = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
        ratio = canvas_size[0] / canvas_size[1]  # H / W
        height = max(8, math.ceil(max(bh, bw * ratio)))
        width = max(1, round(height / ratio))
        top = math.floor((y0 + y1) / 2 - height / 2)
        left = math.floor((x0 + x1) / 2 - width / 2)
        return cls(top, left, height, width, Canvas.fit((height, width), canvas_size))

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(top, left, height, width) on the frame grid."""
        return self.top, self.left, self.height, self.width

    def overlap(self, size: tuple[int, int]) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """Where the window meets an (H, W) frame: (rows, cols) on the frame and (rows, cols) on the window."""
        r0, r1 = max(0, self.top), min(size[0], self.top + self.height)
        c0, c1 = max(0, self.left), min(size[1], self.left + self.width)
        r1, c1 = max(r0, r1), max(c0, c1)
        return ((slice(r0, r1), slice(c0, c1)),
                (slice(r0 - self.top, r1 - self.top), slice(c0 - self.left, c1 - self.left)))

    def crop(self, array: np.ndarray, fill: float) -> np.ndarray:
        """The window's pixels of a frame-grid array (H, W[, C]); ``fill`` where the window leaves the frame."""
        out = np.full((self.height, self.width, *array.shape[2:]), fill, array.dtype)
        (fr, fc), (wr, wc) = self.overlap(array.shape[:2])
        out[wr, wc] = array[fr, fc]
        return out

    def paste(self, frame: np.ndarray, window_array: np.ndarray) -> np.ndarray:
        """Write a window-sized array into a frame-grid array (in place, the part inside the frame); returns it."""
        (fr, fc), (wr, wc) = self.overlap(frame.shape[:2])
        frame[fr, fc] = window_array[wr, wc]
        return frame

    # -- onto the model canvas and back ---------------------------------------------------------

    def image(self, frame_image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 frame image -> the window on the model canvas (white outside the frame)."""
        return self.canvas.image(self.crop(frame_image, IMAGE_PAD))

    def labels(self, frame_labels: np.ndarray) -> np.ndarray:
        """(H, W) frame label map -> the window's labels on the model canvas (background outside the frame)."""
        return self.canvas.labels(self.crop(np.asarray(frame_labels), LABEL_PAD))

    def keypoints(self, kps: np.ndarray) -> np.ndarray:
        """(18, 2) frame keypoints -> model canvas (joints left or above the window become missing)."""
        return self.canvas.keypoints(K.pad_keypoints(kps, -self.top, -self.left))

    def keypoints_back(self, kps: np.ndarray) -> np.ndarray:
        """(18, 2) model-canvas keypoints -> the frame grid (missing stay missing)."""
        vis = K.visible(np.asarray(kps))
        out = K.keypoints_from_canvas(kps, (self.height, self.width), self.canvas.size)
        out[vis] = np.maximum(out[vis], 0)  # a joint on the window's first pixel row may round a hair below 0
        return K.pad_keypoints(out, self.top, self.left)

    def labels_back(self, canvas_labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(H, W) canvas labels -> an (H0, W0) = ``size`` frame-grid map, background outside the window."""
        crop = Image.fromarray(self.canvas.crop(np.asarray(canvas_labels, np.uint8)))
        window = np.asarray(crop.resize((self.width, self.height), Image.NEAREST))  # uint8: a tenth of int64
        return self.paste(np.zeros(size, np.uint8), window).astype(np.int64)
