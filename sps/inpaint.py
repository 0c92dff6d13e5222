"""Filling unknown pixels from the known ones around them: a push-pull pyramid (Gortler et al., The Lumigraph, 1996).

    plate = push_pull(image, known)   # (C, H, W) float tensor, (H, W) weights in [0, 1], 1 = known

Known pixels come back unchanged; an unknown pixel takes a smooth blend of the known pixels around it, drawn from
coarser pyramid levels the farther they are. The fill has the colours of the surroundings and no structure: it is
what the pipeline paints where a re-posed person no longer stands, and on the strips a photo is grown by.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SMALL = 64 * 64  # images up to this many pixels are filled in float in one go


def push_pull(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill the unknown pixels of an image.

    Args:
        image: (C, H, W) float tensor (any range).
        known: (H, W) weights in [0, 1]: 1 = keep the pixel, 0 = fill it, in between = blend.
    Returns:
        (C, H, W) float tensor; unchanged where ``known`` is 1. With nothing known, the image is returned as is.
    """
    wt = known.to(image.dtype).clamp(0, 1)[None]  # (1, H, W)
    if not bool((wt > 0).any()):
        return image.clone()
    col = image * wt  # premultiplied colour
    levels = [(col, wt)]
    while col.shape[-2] > 1 or col.shape[-1] > 1:  # pull: halve until one pixel
        h, w = col.shape[-2:]
        pad = (0, w % 2, 0, h % 2)  # zero weight on the padding: it is unknown
        c2 = F.avg_pool2d(F.pad(col, pad)[None], 2)[0]  # (C, ceil(H/2), ceil(W/2))
        w2 = F.avg_pool2d(F.pad(wt, pad)[None], 2)[0]
        # a coarse cell takes the mean of its known children, and counts as known when any child is
        wt = (4 * w2).clamp(max=1)
        col = c2 / w2.clamp(min=1e-12) * wt
        levels.append((col, wt))
    filled = levels[-1][0] / levels[-1][1].clamp(min=1e-12)
    for col, wt in reversed(levels[:-1]):  # push: the coarser level fills what this one does not know
        h, w = col.shape[-2:]
        up = F.interpolate(filled[None], scale_factor=2, mode="bilinear", align_corners=False)[0, :, :h, :w]
        filled = col + (1 - wt) * up
    return filled


def fill_image(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``push_pull`` for an (H, W, 3) uint8 photo and an (H, W) bool mask of known pixels, lean on memory (a few
    uint8 copies of the photo): each pull step averages the known children of 2 x 2 cells in integers (a cell is
    known when any child is, as in ``push_pull``), the half-size image is filled recursively (in float once it is
    small), and the push writes the bilinear upscale into the unknown pixels only. Known pixels come back exactly."""
    out = np.array(image, dtype=np.uint8, copy=True)
    if known.all() or not known.any():
        return out
    h, w = known.shape
    if h * w <= SMALL:
        filled = push_pull(torch.from_numpy(out).permute(2, 0, 1).float(), torch.from_numpy(known))
        return filled.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    hp, wp = h + h % 2, w + w % 2
    count = np.zeros((hp, wp), np.uint16)
    count[:h, :w] = known
    total = np.zeros((hp, wp, 3), np.uint16)
    total[:h, :w] = out
    total[:h, :w][~known] = 0
    count = count[0::2, 0::2] + count[1::2, 0::2] + count[0::2, 1::2] + count[1::2, 1::2]  # (H/2, W/2) known
    total = total[0::2, 0::2] + total[1::2, 0::2] + total[0::2, 1::2] + total[1::2, 1::2]  # their colour sums
    seen = count > 0
    half = np.zeros((hp // 2, wp // 2, 3), np.uint8)
    half[seen] = (total[seen] / count[seen][:, None] + 0.5).astype(np.uint8)
    del total
    half = fill_image(half, seen)
    up = np.asarray(Image.fromarray(half).resize((wp, hp), Image.BILINEAR))[:h, :w]
    out[~known] = up[~known]
    return out
