"""Inspection figure of one search result: source, chosen candidate, warped source parts over the candidate."""
from __future__ import annotations

import numpy as np
import torch

from ..parsing import colorize
from ..parts import NUM_PARTS, PART_NAMES
from ..pose import render_skeleton
from .core import SearchConfig, SearchResult, score_pairs
from .index import SearchIndex


def plot_search_result(index: SearchIndex, result: SearchResult | int, candidate: int | str | None = None,
                       cfg: SearchConfig | None = None, parts: bool = True):
    """Matplotlib figure: source map + pose, chosen candidate map + pose, warped source merged over the
    candidate pose, per-pixel disagreement, and (``parts``) one panel per visible part.

    Args:
        result: a SearchResult, or a source position (then ``candidate`` must be given, position or name).
    """
    import matplotlib.pyplot as plt

    cfg = cfg or SearchConfig()
    if isinstance(result, SearchResult):
        src, cand, score = result.source, result.candidate, result.score
    else:
        src = int(result)
        if candidate is None:
            raise ValueError("give candidate when result is a source position")
        cand = index.position(candidate) if isinstance(candidate, str) else int(candidate)
        score = None
    if cand < 0:
        raise ValueError(f"source {index.names[src]} has no candidate")
    nearest = SearchConfig(**{**cfg.__dict__, "sampler": "nearest"})
    with torch.inference_mode():
        s, codes = score_pairs(index, torch.tensor([src]), torch.tensor([cand]), nearest, return_maps=True)
    score = float(s[0]) if score is None else score
    codes = codes[0].numpy()  # (10, h, w) label + 1 of each warped source part
    tgt = index.coded[cand].numpy()
    merged = codes.max(0)  # a max over parts, as the deformable skips merge them
    warped_idx = np.where(merged > 0, merged - 1, 0)
    disagree = ((codes > 0) != (tgt > 0)) | ((codes > 0) & (tgt > 0) & (codes != tgt))
    size = index.size

    def with_pose(lab: np.ndarray, i: int) -> np.ndarray:
        return render_skeleton(index.kps[i], size, background=colorize(lab))

    panels = [
        (f"source {index.names[src]}", with_pose(index.labels[src], src)),
        (f"candidate {index.names[cand]}", with_pose(index.labels[cand], cand)),
        ("warped source parts", with_pose(warped_idx, cand)),
        (f"disagreement (score {score:.3f})", (disagree.any(0)[..., None] * np.array([255, 60, 60])).astype(np.uint8)),
    ]
    if parts:
        for j in range(NUM_PARTS):
            if index.part_vis[src, j] or index.part_vis[cand, j]:
                img = colorize(np.where(tgt[j] > 0, tgt[j] - 1, 0)) // 2
                img[codes[j] > 0] = colorize(np.where(codes[j] > 0, codes[j] - 1, 0))[codes[j] > 0]
                panels.append((PART_NAMES[j], img))
    cols = min(len(panels), 7)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img) in zip(axes.flat, panels):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=6)
    fig.suptitle("part panels: warped source (bright) over candidate part (dim)", fontsize=7)
    fig.tight_layout()
    return fig
