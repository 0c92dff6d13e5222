"""Human parsing labels: the LIP-20 set of VITON, the paper's 10 labels, conversions, colours.

A parsing map is an (H, W) integer array of label ids; a batch of maps as model input is a
(B, 10, H, W) one-hot or soft (softmax) float tensor.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from .errors import ParsingError

NUM_LABELS = 10
LABELS: tuple[str, ...] = (
    "background", "face", "hair", "upper clothes", "pants", "skirt",
    "left arm", "right arm", "left leg", "right leg",
)
LIP_LABELS: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat", "socks",
    "pants", "jumpsuits", "scarf", "skirt", "face", "left-arm", "right-arm", "left-leg", "right-leg",
    "left-shoe", "right-shoe",
)

# LIP id -> sps id. Every choice, and why:
LIP_TO_SPS: tuple[int, ...] = (
    0,  # background -> background
    2,  # hat -> hair: it sits where hair is and is transformed with the head
    2,  # hair -> hair
    6,  # glove -> left arm: LIP's glove has no side; merge_lip fixes the side from the nearest arm
    1,  # sunglasses -> face: worn on the face and moved with it
    3,  # upper-clothes -> upper clothes
    3,  # dress -> upper clothes: the paper's set has no dress; its top is upper clothing, and the
        #   target shape (sleeves, length) is what the semantic generator learns anyway
    3,  # coat -> upper clothes
    8,  # socks -> left leg: side fixed from the nearest leg (socks are leg skin-adjacent, not shoes)
    4,  # pants -> pants
    4,  # jumpsuits -> pants: the lower half dominates the silhouette of a jumpsuit below the waist
    3,  # scarf -> upper clothes: worn over the torso
    5,  # skirt -> skirt
    1,  # face -> face
    6,  # left-arm -> left arm
    7,  # right-arm -> right arm
    8,  # left-leg -> left leg
    9,  # right-leg -> right leg
    8,  # left-shoe -> left leg: feet belong to the leg of the same side
    9,  # right-shoe -> right leg
)
_SIDELESS_LIP = {3: (6, 7), 8: (8, 9)}  # glove -> arms, socks -> legs: pick the side per pixel

# Fixed palette, one RGB colour per sps label (chosen to be distinguishable and colour-blind friendly-ish).
PALETTE: np.ndarray = np.array([
    (0, 0, 0),        # background
    (255, 200, 150),  # face
    (120, 60, 20),    # hair
    (230, 50, 50),    # upper clothes
    (40, 80, 220),    # pants
    (200, 60, 200),   # skirt
    (60, 200, 90),    # left arm
    (250, 220, 40),   # right arm
    (30, 190, 200),   # left leg
    (250, 140, 30),   # right leg
], dtype=np.uint8)

# Label permutation for a horizontal flip (left and right arms/legs swap).
FLIP_LABELS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 7, 6, 9, 8)


def validate_labels(index: np.ndarray, num_labels: int = NUM_LABELS, where: str = "parsing map") -> np.ndarray:
    """Check an (H, W) label map holds only ids in [0, num_labels); return it as int64."""
    try:
        arr = np.asarray(index)
    except (TypeError, ValueError) as exc:
        raise ParsingError(f"{where}: cannot read a label map from {type(index).__name__} ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ParsingError(f"{where}: expected an (H, W) array of label ids, got {type(index).__name__} "
                           f"of dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ParsingError(f"{where}: expected an (H, W) label map, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ParsingError(f"{where}: label map contains NaN or infinity")
        if (arr != np.round(arr)).any():
            raise ParsingError(f"{where}: label ids must be whole numbers, got fractional values "
                               f"(e.g. {float(arr[arr != np.round(arr)][0])}); pass argmax of soft maps")
    if arr.size and (arr.min() < 0 or arr.max() >= num_labels):
        bad = sorted(set(np.unique(arr[(arr < 0) | (arr >= num_labels)]).tolist()))[:5]
        raise ParsingError(f"{where}: labels {bad} out of range [0, {num_labels - 1}]")
    return arr.astype(np.int64)


def merge_lip(lip: np.ndarray, where: str = "LIP parsing map") -> np.ndarray:
    """Merge an (H, W) LIP-20 label map into the paper's 10 labels (see LIP_TO_SPS).

    Gloves and socks, which LIP labels without a side, take the side of the arm / leg whose mean
    column is closer; with only one side present they take that side, with none the default of
    LIP_TO_SPS.
    """
    lip = validate_labels(lip, len(LIP_LABELS), where)
    out = np.asarray(LIP_TO_SPS, np.int64)[lip]
    for lip_id, (left_id, right_id) in _SIDELESS_LIP.items():
        ys, xs = np.nonzero(lip == lip_id)
        if xs.size == 0:
            continue
        limb = lip != lip_id  # the limbs' own pixels, not the sideless ones already given the default side
        lx = np.nonzero((out == left_id) & limb)[1]
        rx = np.nonzero((out == right_id) & limb)[1]
        if lx.size and rx.size:
            use_left = np.abs(xs - lx.mean()) <= np.abs(xs - rx.mean())
            out[ys, xs] = np.where(use_left, left_id, right_id)
        elif rx.size:
            out[ys, xs] = right_id
        elif lx.size:
            out[ys, xs] = left_id
    return out


def resize_labels(index: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An (h, w) label map -> (H, W) int64 of ``size`` by nearest neighbour (returned as is when it fits)."""
    index = np.asarray(index)
    if index.shape == tuple(size):
        return index.astype(np.int64, copy=False)
    small = Image.fromarray(index.astype(np.uint8)).resize((size[1], size[0]), Image.NEAREST)
    return np.asarray(small).astype(np.int64)


def grow_labels(labels: np.ndarray, todo: np.ndarray, min_label: int = 0, max_steps: int | None = None) -> np.ndarray:
    """Fill the ``todo`` pixels of an (H, W) label map from their surroundings: each takes the label of the
    nearest pixel (4-connected growth, one pixel a step; neighbours tried up, down, left, right) that is not in
    ``todo`` and holds a label >= ``min_label``. Pixels never reached keep their label. Returns a copy."""
    out = np.asarray(labels, np.int64).copy()
    todo = np.asarray(todo, bool).copy()
    for _ in range(max_steps if max_steps is not None else sum(out.shape)):
        if not todo.any():
            break
        pad = np.pad(np.where(~todo & (out >= min_label), out, -1), 1, constant_values=-1)
        near = np.full_like(out, -1)
        for nb in (pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]):  # up, down, left, right
            near = np.where((near < 0) & (nb >= 0), nb, near)
        step = todo & (near >= 0)
        if not step.any():
            break
        out[step] = near[step]
        todo &= ~step
    return out


def one_hot(index: torch.Tensor | np.ndarray, num_labels: int = NUM_LABELS) -> torch.Tensor:
    """Label ids (..., H, W) -> one-hot float (..., num_labels, H, W)."""
    t = torch.as_tensor(np.asarray(index) if isinstance(index, np.ndarray) else index).long()
    if t.numel() and (t.min() < 0 or t.max() >= num_labels):
        raise ParsingError(f"labels out of range [0, {num_labels - 1}]: min {int(t.min())}, max {int(t.max())}")
    oh = torch.nn.functional.one_hot(t, num_labels)  # (..., H, W, L)
    return oh.movedim(-1, -3).float()


def to_index(maps: torch.Tensor) -> torch.Tensor:
    """One-hot / soft / logits (..., L, H, W) -> label ids (..., H, W) by argmax."""
    return maps.argmax(dim=-3)


def flip_parsing(index: np.ndarray) -> np.ndarray:
    """Mirror an (H, W) sps label map horizontally, swapping left/right arm and leg labels."""
    return np.asarray(FLIP_LABELS, np.int64)[np.asarray(index)[:, ::-1]]


def colorize(index: np.ndarray | torch.Tensor) -> np.ndarray:
    """(H, W) label ids -> (H, W, 3) uint8 RGB with PALETTE."""
    idx = validate_labels(np.asarray(index))
    return PALETTE[idx]


def overlay(image: np.ndarray, index: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the coloured parsing over an (H, W, 3) uint8 photo; background pixels stay the photo."""
    image = np.asarray(image, np.uint8)
    idx = validate_labels(np.asarray(index))
    if idx.shape != image.shape[:2]:
        raise ParsingError(f"overlay: parsing {idx.shape} and image {image.shape[:2]} differ in size")
    col = colorize(idx).astype(np.float32)
    a = np.where(idx[..., None] > 0, alpha, 0.0)
    return (image * (1 - a) + col * a).round().astype(np.uint8)


def legend(labels: tuple[int, ...] | None = None, swatch: int = 14, width: int = 150) -> np.ndarray:
    """An RGB legend image: one colour swatch and name per label (all 10 by default)."""
    labels = tuple(range(NUM_LABELS)) if labels is None else labels
    row = swatch + 6
    img = Image.new("RGB", (width, row * len(labels) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for i, lab in enumerate(labels):
        y = 3 + i * row
        draw.rectangle([4, y, 4 + swatch, y + swatch], fill=tuple(int(c) for c in PALETTE[lab]), outline=(80, 80, 80))
        draw.text((10 + swatch, y + 1), f"{lab} {LABELS[lab]}", fill=(0, 0, 0))
    return np.asarray(img)


def nearest_label(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) image painted with PALETTE colours -> (H, W) label ids of the nearest palette colour."""
    rgb = np.asarray(rgb)[..., :3].astype(np.int32)
    d = ((rgb[..., None, :] - PALETTE[None, None].astype(np.int32)) ** 2).sum(-1)  # (H, W, 10)
    return d.argmin(-1).astype(np.int64)
