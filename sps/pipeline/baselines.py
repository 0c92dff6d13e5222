"""What a user would do without learning: the part-warped source, and the photo's background colour."""
from __future__ import annotations

import numpy as np
import torch

from ..parts import DEPTH_ORDER, part_masks_torch, part_transforms_torch, warp_parts


def background_colour(image: np.ndarray, parsing: np.ndarray | None = None, border: int = 4) -> np.ndarray:
    """Background colour of an (H, W, 3) uint8 photo: the median of its outer frame (``border`` px), restricted
    to background-labelled pixels when a parsing map is given and enough of the frame is background."""
    h, w = image.shape[:2]
    frame = np.zeros((h, w), bool)
    b = max(1, min(border, h // 4, w // 4))
    frame[:b], frame[-b:], frame[:, :b], frame[:, -b:] = True, True, True, True
    if parsing is not None and (frame & (np.asarray(parsing) == 0)).sum() >= 16:
        frame &= np.asarray(parsing) == 0
    return np.median(image[frame], axis=0).astype(np.float32)


def warp_baseline(image: torch.Tensor, src_kps: torch.Tensor, tgt_kps: torch.Tensor,
                  fill: torch.Tensor | None = None) -> torch.Tensor:
    """The no-learning baseline: source pixels moved part by part onto the target pose.

    Uses sps.parts (10 part transforms, target part masks), composited in a fixed depth order rather than
    merged by a max (a max over [-1, 1] pixels would favour bright parts); pixels covered by no part take ``fill``.

    Args:
        image: (B, 3, H, W) in [-1, 1]; src_kps, tgt_kps: (B, 18, 2) on that grid.
        fill: (B, 3) background colour in [-1, 1] (default white).
    Returns:
        (B, 3, H, W) in [-1, 1].
    """
    b, _, h, w = image.shape
    theta, valid = part_transforms_torch(src_kps, tgt_kps, (h, w))
    masks = part_masks_torch(tgt_kps, (h, w)) * valid[..., None, None].float()  # (B, 10, H, W)
    # Warp [image, ones]: the ones channel says where the source sample fell inside the photo.
    x = torch.cat([image, torch.ones_like(image[:, :1])], 1)
    warped = warp_parts(x, theta, masks)  # (B, 10, 4, H, W)
    out = torch.ones_like(image) if fill is None else fill[:, :, None, None].expand_as(image).clone()
    for j in DEPTH_ORDER:
        cover = (warped[:, j, 3:4] > 0.5)  # (B, 1, H, W)
        out = torch.where(cover, warped[:, j, :3] / warped[:, j, 3:4].clamp(min=1e-6), out)
    return out.clamp(-1, 1)
