"""Dense warp fields for the flow-composited appearance generator.

The prior warp is the part-wise affine warp of ``sps.parts``: every target pixel takes the transform of one body
part (``part_selection``: the front-most part whose mask covers it, else the nearest one), which gives a sampling
grid into the source (``selected_grid``). G_A adds a learned residual flow to that grid and predicts a blend mask;
``composite`` samples the source through the grid and blends it with the generated image. The grid is in
normalised source coordinates (``align_corners=False``), so the same field can sample the source photo at any
resolution (``sps.pipeline.sharpen`` does that at the photo's own size).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..parts import DEPTH_ORDER, NUM_PARTS

GROW_STEPS = 24  # how many 3x3 dilations reach the pixels no part mask covers (then the torso takes the rest)


def part_selection(masks: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, 10, H, W) target part masks and (B, 10) valid parts -> (B, 10, H, W) one-hot choice of the part whose
    transform each pixel follows: the front-most covering part in ``DEPTH_ORDER``; a pixel no mask covers takes the
    nearest covered part (grown by 3x3 dilations), and the torso beyond ``GROW_STEPS``."""
    masks = (masks > 0.5) & valid[..., None, None]
    idx = torch.full(masks.shape[:1] + masks.shape[2:], -1, dtype=torch.long, device=masks.device)  # (B, H, W)
    for j in DEPTH_ORDER:  # later parts are drawn over earlier ones
        idx = torch.where(masks[:, j], torch.full_like(idx, j), idx)
    choice = F.one_hot(idx.clamp(min=0), NUM_PARTS).permute(0, 3, 1, 2).float() * (idx >= 0)[:, None]
    for _ in range(GROW_STEPS):
        empty = choice.sum(1, keepdim=True) == 0  # (B, 1, H, W)
        if not bool(empty.any()):
            break
        grown = F.max_pool2d(choice, 3, 1, 1)
        grown = F.one_hot(grown.argmax(1), NUM_PARTS).permute(0, 3, 1, 2).float() * (grown.amax(1, keepdim=True) > 0)
        choice = torch.where(empty, grown, choice)
    torso = torch.zeros_like(choice)
    torso[:, 0] = 1
    return torch.where(choice.sum(1, keepdim=True) == 0, torso, choice)


def target_coordinates(size: tuple[int, int], device: torch.device | str = "cpu",
                       box: tuple[float, float, float, float] | None = None) -> torch.Tensor:
    """(H, W, 3) homogeneous normalised coordinates (x, y, 1) of the pixel centres of an (H, W) grid
    (``align_corners=False``). ``box`` = (x0, y0, x1, y1) in normalised canvas coordinates: the grid covers that
    box instead of the whole canvas (a photo window at its own resolution)."""
    h, w = size
    x0, y0, x1, y1 = box if box is not None else (-1.0, -1.0, 1.0, 1.0)
    xs = x0 + (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * (x1 - x0) / w
    ys = y0 + (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * (y1 - y0) / h
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy, torch.ones_like(xx)], -1)


def selected_grid(theta: torch.Tensor, choice: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 10, 2, 3) target->source transforms and the part of each pixel, as a (B, 10, H, W) one-hot (or soft)
    choice or a (B, H, W) part index -> (B, H, W, 2) sampling grid in normalised source coordinates: each pixel
    moved by the transform of its part. ``coords``: (H, W, 3) from ``target_coordinates`` (default: the canvas)."""
    index = choice.dim() == 3
    b, h, w = choice.shape[0], choice.shape[-2], choice.shape[-1]
    if coords is None:
        coords = target_coordinates((h, w), choice.device)
    grid = torch.zeros(b, h, w, 2, dtype=theta.dtype, device=theta.device)
    for j in range(theta.shape[1]):  # one part at a time: (B, H, W, 2) memory, not (B, 10, H, W, 2)
        moved = torch.einsum("hwc,bdc->bhwd", coords.to(theta.dtype), theta[:, j])  # (B, H, W, 2)
        weight = (choice == j) if index else choice[:, j]
        grid = grid + weight[..., None].to(theta.dtype) * moved
    return grid


def sample(source: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) source sampled at a (B, H, W, 2) normalised grid -> (B, C, H, W); zeros outside."""
    return F.grid_sample(source, grid.to(source.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def composite(generated: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) generated and warped images, (B, 1, H, W) blend mask in [0, 1] -> the blended image."""
    return mask * warped + (1 - mask) * generated
