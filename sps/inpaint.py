"""Filling unknown pixels from the known ones around them.

    plate = push_pull(image, known)       # (C, H, W) float tensor, (H, W) weights in [0, 1], 1 = known
    plate = fill_image(photo, known)      # (H, W, 3) uint8 photo, (H, W) bool: the same, lean on memory
    plate = mirror_fill(photo, known)     # the scene's own texture continued across the hole
    plate = fill_scene(photo, known)      # mirror_fill on a textured scene, fill_image on a plain backdrop

``push_pull`` is a push-pull pyramid (Gortler et al., The Lumigraph, 1996): an unknown pixel takes a smooth blend
of the known pixels around it, drawn from coarser pyramid levels the farther they are. It has the colours of the
surroundings and no structure: a grey smudge where a re-posed person no longer stands on a street. ``mirror_fill``
continues the scene across such a hole instead: each row is mirrored in from both sides of the hole (pavement,
stairs, kerbs and walls run on through it) and the two meet in a short cross-fade; push-pull fills what no row
can reach. Known pixels come back unchanged (but for the ring ``fill_scene`` fills again on a plain backdrop).
(Mirroring the rest along the columns as well was tried: it striped the fill, ``python -m sps.evaluate fill``.)
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


MIRROR_FADE = 0.25  # the two mirrored sides meet in a cross-fade over this share of the hole's width
# Scene texture (``scene_texture``) below which a plain backdrop is filled smoothly (push-pull) rather than mirrored:
# the mean gradient magnitude, in grey levels per pixel at a height of 256 px, measured 1/32 to 3/32 of the height
# away from the hole. On 40 photos each: studio DeepFashion 0.2-2.2 (5th-95th percentile), CCP streets 6.9-14.3,
# Market-1501 5.9-17.9.
FLAT_SCENE = 4.0
TEXTURE_HEIGHT = 256
# On a plain backdrop the pixels of this ring around the hole (x the height) that stand out from the backdrop (more
# than REMNANT_LEVEL grey levels from what the pixels beyond the ring make of it) are filled again: the remains of
# the removed person's outline and of the shadow at their feet.
BACKDROP_RING = 1 / 32
REMNANT_LEVEL = 12
REMNANT_REACH = 3 / 32  # x the height: how far remains that stand out and join the hole are followed past the ring
EDGE = 2  # px: the photo's border, left out of that estimate


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """An (H, W) bool mask grown by ``radius`` px (a square; one row pass and one column pass)."""
    mask = np.asarray(mask, bool)
    rows = mask.copy()
    for k in range(1, min(radius, mask.shape[1] - 1) + 1):
        rows[:, k:] |= mask[:, :-k]
        rows[:, :-k] |= mask[:, k:]
    out = rows.copy()
    for k in range(1, min(radius, mask.shape[0] - 1) + 1):
        out[k:] |= rows[:-k]
        out[:-k] |= rows[k:]
    return out


def joined(seed: np.ndarray, allowed: np.ndarray, steps: int) -> np.ndarray:
    """(H, W) bool ``seed`` grown through the 8-connected ``allowed`` pixels, ``steps`` pixels at most: the part of
    ``allowed`` that joins the seed (a person's labels past the body their joints draw, a removed person's remains
    around the hole) comes with it, what lies apart stays out."""
    grown, ok = np.array(seed, bool), np.asarray(allowed, bool)
    for _ in range(steps):
        rows = grown.copy()  # a 3 x 3 dilation, one row pass and one column pass of boolean shifts
        rows[1:] |= grown[:-1]
        rows[:-1] |= grown[1:]
        wider = rows.copy()
        wider[:, 1:] |= rows[:, :-1]
        wider[:, :-1] |= rows[:, 1:]
        wider = grown | (wider & ok)
        if np.array_equal(wider, grown):
            break
        grown = wider
    return grown


def _thumbnail_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(W, H) of a copy ``TEXTURE_HEIGHT`` px high of an (H, W, ...) array, for PIL."""
    h, w = shape[:2]
    return max(1, round(w * TEXTURE_HEIGHT / h)), TEXTURE_HEIGHT


def scene_texture(image: np.ndarray, known: np.ndarray) -> float:
    """How textured the scene around the unknown pixels of an (H, W, 3) uint8 photo is: the mean gradient magnitude
    of the known pixels 1/32 to 3/32 of the height away from the unknown ones (not at their edge, where a removed
    person's outline lingers), on a copy scaled to a height of ``TEXTURE_HEIGHT`` px. 0 when nothing is that far."""
    size = _thumbnail_size(known.shape)
    grey = Image.fromarray(np.asarray(image, np.uint8)).convert("L").resize(size, Image.BILINEAR)
    grey = np.asarray(grey, np.float32)
    hole = np.asarray(Image.fromarray(~np.asarray(known, bool)).resize(size, Image.NEAREST))
    r = TEXTURE_HEIGHT // 32
    ring = dilate(hole, 3 * r) & ~dilate(hole, r)
    if not ring.any():
        return 0.0
    gy, gx = np.gradient(grey)
    return float(np.hypot(gx, gy)[ring].mean())


def fill_scene(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the unknown pixels of an (H, W, 3) uint8 photo as its scene asks: a textured scene with itself mirrored
    in (``mirror_fill``); a plain backdrop (``scene_texture`` below ``FLAT_SCENE``) smoothly (``fill_image``), with
    the pixels of the ring of ``BACKDROP_RING`` x the height around the hole that stand out from the backdrop
    (``REMNANT_LEVEL``) filled again as well: there a removed person's outline and the shadow at their feet
    linger."""
    known = np.asarray(known, bool)
    if known.all() or not known.any():
        return np.array(image, dtype=np.uint8, copy=True)
    if scene_texture(image, known) >= FLAT_SCENE:
        return mirror_fill(image, known)
    ring, reach = (_grow(~known, f) & known for f in (BACKDROP_RING, REMNANT_REACH))
    if not (known & ~reach).any():
        return fill_image(image, known)
    # The backdrop as the pixels beyond the reach say it is; not the photo's outermost rows and columns, which are
    # often a lighter or darker line (a scan's or a crop's edge, JPEG) that would make a clean ring look off.
    inner = np.zeros_like(known)
    inner[EDGE:-EDGE, EDGE:-EDGE] = True
    beyond = fill_image(image, known & ~reach & inner) if (known & ~reach & inner).any() else fill_image(image, known)
    off = np.abs(np.asarray(image, np.int16) - beyond.astype(np.int16)).max(-1) > REMNANT_LEVEL  # (H, W)
    return fill_image(image, known & ~(ring & off) & ~_remains(~known, off & reach))


def _remains(hole: np.ndarray, off: np.ndarray) -> np.ndarray:
    """(H, W) bool: the ``off`` pixels joined to the ``hole``, ``REMNANT_REACH`` x the height at most (the thighs
    below a removed person's shorts down to the photo's edge), found on a copy ``TEXTURE_HEIGHT`` px high."""
    size = _thumbnail_size(hole.shape)
    small = [np.asarray(Image.fromarray(m).resize(size, Image.NEAREST)) for m in (hole, off)]
    grown = joined(small[0], small[1], round(REMNANT_REACH * TEXTURE_HEIGHT))
    return np.asarray(Image.fromarray(grown).resize(hole.shape[::-1], Image.NEAREST)) & off


def _grow(mask: np.ndarray, fraction: float) -> np.ndarray:
    """An (H, W) bool mask grown by ``fraction`` x H px, worked out on a copy ``TEXTURE_HEIGHT`` px high (cheap on a
    large photo) and scaled back."""
    small = np.asarray(Image.fromarray(mask).resize(_thumbnail_size(mask.shape), Image.NEAREST))
    grown = dilate(small, max(1, round(fraction * TEXTURE_HEIGHT)))
    return np.asarray(Image.fromarray(grown).resize(mask.shape[::-1], Image.NEAREST)) | mask


def mirror_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the unknown pixels of an (H, W, 3) uint8 photo by mirroring the scene in from the ends of each row's hole
    (``mirror_rows``), and what no row reaches by push-pull (``fill_image``). Known pixels come back exactly."""
    out, done = mirror_rows(image, known)
    return out if done.all() else fill_image(out, done)


def mirror_rows(image: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unknown pixels of an (H, W, 3) uint8 photo filled with the photo mirrored in from the left and right ends
    of each row's hole: a pixel ``d`` to the right of the last known pixel ``x0`` on its left takes the pixel ``d``
    to the left of ``x0`` (and likewise from the right), the two sides cross-faded over the middle ``MIRROR_FADE``
    of the hole. A side whose mirror image is itself unknown or off the photo is not used. Returns the image (known
    pixels exact, pixels with neither side unchanged) and the (H, W) bool mask of the pixels it now knows."""
    out = np.array(image, dtype=np.uint8, copy=True)
    known = np.asarray(known, bool)
    done = known.copy()
    rows = np.flatnonzero(~known.all(1))
    if rows.size == 0 or not known.any():
        return out, done
    k = known[rows]  # (R, W): only the rows with a hole
    h, w = k.shape
    x = np.broadcast_to(np.arange(w, dtype=np.int32), (h, w))
    left = np.maximum.accumulate(np.where(k, x, -1), axis=1)  # (R, W) the nearest known pixel at or left of x
    right = np.minimum.accumulate(np.where(k, x, w)[:, ::-1], axis=1)[:, ::-1]  # ... at or right of x
    r = np.arange(h)[:, None]
    src_l, src_r = 2 * left - x, 2 * right - x  # the mirror images of x in the hole's two ends
    use_l = (left >= 0) & (src_l >= 0)
    use_r = (right < w) & (src_r < w)
    use_l &= k[r, src_l.clip(0, w - 1)]
    use_r &= k[r, src_r.clip(0, w - 1)]
    t = (x - left) / np.maximum(right - left, 1).astype(np.float32)  # 0 at the hole's left end, 1 at its right
    fade = np.clip((t - 0.5) / MIRROR_FADE + 0.5, 0, 1)  # (R, W) the right side's share
    both = use_l & use_r
    wr = np.where(both, fade, use_r).astype(np.float32)
    hole = ~k & (use_l | use_r)
    pix = np.asarray(image)[rows]  # (R, W, 3)
    mixed = pix[r, src_l.clip(0, w - 1)] * (1 - wr)[..., None] + pix[r, src_r.clip(0, w - 1)] * wr[..., None]
    block = out[rows]
    block[hole] = (mixed[hole] + 0.5).astype(np.uint8)
    out[rows] = block
    done[rows] |= hole
    return out, done
