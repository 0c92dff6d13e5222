"""Sample grids of a run: batches of images, label maps, skeletons and heatmaps as uint8 tiles, one PNG."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import parsing as P
from .. import pose as K
from ..canvas import to_uint8  # noqa: F401 (re-exported for the stages)


def parsing_rgb(index: torch.Tensor) -> np.ndarray:
    """(B, H, W) labels (-1 = none, drawn grey) -> (B, H, W, 3) uint8."""
    idx = index.detach().cpu().numpy()
    out = P.PALETTE[np.clip(idx, 0, P.NUM_LABELS - 1)].copy()
    out[idx < 0] = 128
    return out


def skeleton_rgb(kps: torch.Tensor, size: tuple[int, int], background: np.ndarray | None = None) -> np.ndarray:
    """(B, 18, 2) -> (B, H, W, 3) uint8 skeleton drawings."""
    k = kps.detach().cpu().numpy()
    return np.stack([K.render_skeleton(k[i], size, background=None if background is None else background[i])
                     for i in range(len(k))])


def heatmap_rgb(hm: torch.Tensor) -> np.ndarray:
    """(B, 18, h, w) heatmaps -> (B, h, w, 3) uint8 (max over joints, grey)."""
    m = hm.detach().float().amax(1).clamp(0, 1).cpu().numpy()
    return np.repeat((m[..., None] * 255).round().astype(np.uint8), 3, axis=3)


def save_grid(path: str | Path, columns: list[tuple[str, np.ndarray]]) -> None:
    """Columns of (caption, (B, H, W, 3) uint8) -> one PNG, a row per batch item, captions on top."""
    h, w = columns[0][1].shape[1:3]
    rows = columns[0][1].shape[0]
    cap = 12
    grid = Image.new("RGB", (w * len(columns), cap + h * rows), "white")
    draw = ImageDraw.Draw(grid)
    for c, (name, imgs) in enumerate(columns):
        draw.text((c * w + 2, 0), name[: max(1, w // 6)], fill=(0, 0, 0))
        for r in range(rows):
            tile = Image.fromarray(imgs[r])
            if tile.size != (w, h):
                tile = tile.resize((w, h), Image.NEAREST)
            grid.paste(tile, (c * w, cap + r * h))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
