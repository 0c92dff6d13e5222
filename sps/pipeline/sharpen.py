"""The composite at the photo's own resolution: the source photo sampled through G_A's warp field.

G_A works on the model canvas (128 x 96 for the cpu preset). Its composite output is a blend of the source warped
by a field (part-wise affine + learned residual flow) and its generated image. The field is in normalised
coordinates, so instead of upsampling the small composite we rebuild it over the output window's own pixels: the
part transforms are applied to every window pixel (the part choice and the residual flow upsampled from the
canvas), the source photo is sampled there at full resolution, and only the generated image and the blend mask
are upsampled. What the source shows stays as sharp as the photo; only what it does not show is G_A's painting.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..models import flow as W
from ..models.appearance import AppearanceOutput
from ..parts import NUM_PARTS
from .compose import limb_cores, to_window
from .reading import View
from .window import Window


def _content_box(window: Window) -> tuple[float, float, float, float]:
    """The window's content box on its canvas in normalised coordinates (x0, y0, x1, y1)."""
    t, l, h, w = window.canvas.content
    ch, cw = window.canvas.size
    return 2 * l / cw - 1, 2 * t / ch - 1, 2 * (l + w) / cw - 1, 2 * (t + h) / ch - 1


def _canvas_to_photo(grid: torch.Tensor, view: View) -> torch.Tensor:
    """(..., 2) normalised coordinates on the source view's canvas -> normalised coordinates on its photo."""
    win, frame = view.window, view.frame
    t, l, h, w = win.canvas.content
    ch, cw = win.canvas.size
    h0, w0 = view.source.photo.size
    top, _, left, _ = frame.pad
    out = torch.empty_like(grid)
    for axis, (cs, off, n, wn, start, pad, size) in enumerate(((cw, l, w, win.width, win.left, left, w0),
                                                              (ch, t, h, win.height, win.top, top, h0))):
        canvas_px = ((grid[..., axis] + 1) * cs - 1) / 2
        photo_px = (canvas_px - off + 0.5) * (wn / n) - 0.5 + start - pad
        out[..., axis] = (2 * photo_px + 1) / size - 1
    return out


def limbs_from_photo(app: AppearanceOutput, probs: torch.Tensor, kps: np.ndarray) -> AppearanceOutput:
    """G_A's composite with the blend mask raised to the warped photo along the target's limb bones.

    On the bone cores (``limb_cores``) that the target parsing (``probs`` (1, 10, H, W)) calls person, the mask is
    at least how much of the source person the warp samples there (``app.visible``). A thin shin or forearm moved
    by its part transform lands on the target's bone, but its few pixels rarely agree with the target labels well
    enough for the learned mask to take them, and G_A's own painting of a limb 2-3 canvas pixels wide lets the
    street show through. Returned unchanged without a composite."""
    if app.mask is None or app.visible is None:
        return app
    size = tuple(app.mask.shape[-2:])
    core = torch.from_numpy(limb_cores(kps, size)).to(app.mask)[None, None]  # (1, 1, H, W)
    person = (probs.argmax(1, keepdim=True) > 0).to(app.mask)
    mask = torch.maximum(app.mask, app.visible * core * person)
    return dataclasses.replace(app, mask=mask, image=W.composite(app.generated, app.warped, mask))


@torch.inference_mode()
def window_composite(app: AppearanceOutput, source: View, window: Window) -> torch.Tensor | None:
    """(3, h, w) in [-1, 1]: G_A's composite rebuilt over ``window``'s pixels (the output window on the frame),
    sampling the photo of ``source`` (the view G_A's source came from). None when G_A does not composite."""
    if app.grid is None:
        return None
    size = (window.height, window.width)
    dev = app.grid.device
    coords = W.target_coordinates(size, dev, _content_box(window))  # (h, w, 3) normalised target canvas
    # the part each window pixel follows: the upsampled one-hot's largest channel (smooth part edges)
    best = torch.full((1, *size), -1.0, device=dev)
    part = torch.zeros((1, *size), dtype=torch.long, device=dev)  # (1, h, w)
    for j in range(NUM_PARTS):
        up = to_window(window, app.choice[0, j:j + 1])  # (1, h, w)
        part = torch.where(up > best, torch.full_like(part, j), part)
        best = torch.maximum(best, up)
    grid = W.selected_grid(app.theta[:1].float(), part, coords)  # (1, h, w, 2)
    grid += to_window(window, app.flow[0]).permute(1, 2, 0)[None]
    photo = torch.from_numpy(np.array(source.source.photo.array)).to(dev)  # a writable copy (uint8)
    photo = photo.permute(2, 0, 1)[None].float().div_(127.5).sub_(1)  # (1, 3, H0, W0)
    warped = W.sample(photo, _canvas_to_photo(grid, source))[0]  # (3, h, w)
    del grid, coords, part, best
    mask = to_window(window, app.mask[0]).clamp_(0, 1)  # (1, h, w)
    return W.composite(to_window(window, app.generated[0]), warped, mask)
