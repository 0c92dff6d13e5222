"""Pictures the demo shows: the target-pose view, coloured parsing maps, the colour legend. No gradio here."""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from .. import parsing as P
from .. import pose as K
from .conversions import POSE_GRID, VIEW_SCALE, joint_index, photo_on_grid

DISPLAY_H = 256  # small model outputs are upscaled to at least this height for display
SOURCE_FADE = 0.35  # the source photo behind the pose view, darkened to this fraction (+ 10 grey levels)
RING = (7.0, 9.0)  # inner and outer radius (view pixels) of the ring around the selected joint


def upscale(img: np.ndarray | Image.Image, nearest: bool) -> Image.Image:
    """An image at least DISPLAY_H px high (nearest neighbour for label maps, bicubic for photos)."""
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, np.uint8))
    if im.height >= DISPLAY_H:
        return im
    s = DISPLAY_H / im.height
    return im.resize((max(1, round(im.width * s)), DISPLAY_H), Image.NEAREST if nearest else Image.BICUBIC)


def as_pil(x: Any) -> Image.Image:
    """A PIL image, an (H, W, 3) array (uint8, or float in [0, 1]) or a tensor -> RGB PIL image."""
    if isinstance(x, Image.Image):
        return x.convert("RGB")
    arr = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8) if arr.max() <= 1.0 else arr.astype(np.uint8)
    return Image.fromarray(arr).convert("RGB")


def status_text(notes: list[str], seconds: float) -> str:
    """The status line after a generation: time taken and the notes for the user."""
    return "\n\n".join([f"✓ Done in {seconds:.1f} s."] + [f"⚠ Note: {n}" for n in notes])


def parsing_image(index: Any) -> Image.Image:
    """A label map coloured with PALETTE (pixel-exact: only palette colours, upscaled by nearest neighbour)."""
    idx = np.asarray(index.detach().cpu() if hasattr(index, "detach") else index)
    return upscale(P.colorize(idx), nearest=True)


def pose_view(kps: np.ndarray, source: Image.Image | None = None, selected: str | None = None) -> np.ndarray:
    """The (18, 2) pose-grid skeleton drawn at VIEW_SCALE x the grid, over a faded copy of the source photo when
    given, with a ring around the ``selected`` joint: (512, 384, 3) uint8."""
    h, w = POSE_GRID[0] * VIEW_SCALE, POSE_GRID[1] * VIEW_SCALE
    bg = np.full((h, w, 3), 24, np.uint8)
    if source is not None:
        faded = photo_on_grid(source).astype(np.float32) * SOURCE_FADE + 10
        bg = np.asarray(Image.fromarray(faded.astype(np.uint8)).resize((w, h), Image.BILINEAR))
    big = K.validate_keypoints(kps).copy()
    vis = K.visible(big)
    big[vis] = (big[vis] + 0.5) * VIEW_SCALE - 0.5
    out = K.render_skeleton(big, (h, w), background=bg)
    j = joint_index(selected)
    if j is not None and vis[j]:
        yy, xx = np.mgrid[0:h, 0:w]
        d2 = (xx - big[j, 0]) ** 2 + (yy - big[j, 1]) ** 2
        out[(d2 <= RING[1] ** 2) & (d2 >= RING[0] ** 2)] = (255, 60, 60)
    return out


def skeleton_on_photo(kps: np.ndarray, im: Image.Image) -> np.ndarray:
    """The (18, 2) keypoints of a photo drawn over it: (H, W, 3) uint8."""
    return K.render_skeleton(np.asarray(kps), (im.height, im.width), background=np.asarray(im))


def legend_html(labels: tuple[int, ...] | None = None) -> str:
    """Colour chips and names of the parsing labels, as HTML (crisp at any zoom)."""
    labels = tuple(range(1, P.NUM_LABELS)) if labels is None else labels
    chips = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:2px 10px 2px 0;white-space:nowrap">'
        f'<span style="width:14px;height:14px;border:1px solid #777;margin-right:5px;display:inline-block;'
        f'background:rgb{tuple(int(c) for c in P.PALETTE[i])}"></span>{P.LABELS[i]}</span>'
        for i in labels)
    return f'<div class="sps-legend"><b style="margin-right:8px">Parsing colours:</b>{chips}' \
           f'<span style="margin-left:4px;color:#777">(black = background)</span></div>'


def brush_colours() -> list[str]:
    """The parsing palette as ``#rrggbb`` strings, one per label (the editor's brush colours)."""
    return ["#{:02x}{:02x}{:02x}".format(*(int(v) for v in c)) for c in P.PALETTE]
