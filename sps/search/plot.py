"""Inspection figures of search results: source, chosen candidate (as it won: flipped, rescaled), warped source parts
over the candidate."""
from __future__ import annotations

import numpy as np
import torch

from ..parsing import colorize
from ..parts import NUM_PARTS, PART_NAMES
from ..pose import render_skeleton
from .core import SearchConfig, SearchResult, candidate_variants, score_pairs
from .index import PartMaps, SearchIndex
from .variants import Variant


def warped_source(index: SearchIndex, src: int, cand: int, candidates: SearchIndex | PartMaps | None = None
                  ) -> tuple[float, np.ndarray]:
    """Score and (10, h, w) label codes (label + 1, 0 = empty) of the source's parts warped onto candidate
    ``cand`` of ``candidates`` (default ``index``; e.g. a flipped / rescaled candidate), nearest sampler."""
    with torch.inference_mode():
        s, codes = score_pairs(index, torch.tensor([src]), torch.tensor([cand]), SearchConfig(), return_maps=True,
                               candidates=candidates)
    return float(s[0]), codes[0].numpy()


def merged_labels(codes: np.ndarray) -> np.ndarray:
    """(10, h, w) part codes -> (h, w) labels, a maximum over parts (as the deformable skips merge them)."""
    merged = codes.max(0)
    return np.where(merged > 0, merged - 1, 0)


def with_pose(labels: np.ndarray, kps: np.ndarray, zoom: int = 1) -> np.ndarray:
    """(h, w) labels -> (h * zoom, w * zoom, 3) coloured map (nearest upscaling) with the skeleton drawn over it
    (thin bones when zoomed, so the map stays visible)."""
    rgb = colorize(labels).repeat(zoom, 0).repeat(zoom, 1)
    kps = np.where(kps >= 0, (kps + 0.5) * zoom - 0.5, kps)
    return render_skeleton(kps, rgb.shape[:2], background=rgb, thickness=None if zoom == 1 else 0.8)


def plot_search_result(index: SearchIndex, result: SearchResult | int, candidate: int | str | None = None,
                       cfg: SearchConfig | None = None, parts: bool = True):
    """Matplotlib figure: source map + pose, chosen candidate map + pose, warped source merged over the
    candidate pose, per-pixel disagreement, and (``parts``) one panel per visible part.

    Args:
        result: a SearchResult, or a source position (then ``candidate`` must be given, position or name).
        cfg: kept for compatibility; the figure always warps with the nearest sampler.
    """
    import matplotlib.pyplot as plt

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
    variant = Variant(result.flip, result.scale) if isinstance(result, SearchResult) else Variant()
    view, _ = candidate_variants(index, torch.tensor([cand]), variant)  # the candidate as it won
    s, codes = warped_source(index, src, 0, view)  # (10, h, w) label + 1 of each warped source part
    score = s if score is None else score
    tgt, cand_labels, cand_kps = view.coded[0].numpy(), view.labels_t[0].numpy(), view.kps_t[0].numpy()
    disagree = ((codes > 0) != (tgt > 0)) | ((codes > 0) & (tgt > 0) & (codes != tgt))
    shown = "" if variant.is_identity else f" ({'flipped, ' if variant.flip else ''}x{variant.scale:g})"
    panels = [
        (f"source {index.names[src]}", with_pose(index.labels[src], index.kps[src])),
        (f"candidate {index.names[cand]}{shown}", with_pose(cand_labels, cand_kps)),
        ("warped source parts", with_pose(merged_labels(codes), cand_kps)),
        (f"disagreement (score {score:.3f})", (disagree.any(0)[..., None] * np.array([255, 60, 60])).astype(np.uint8)),
    ]
    if parts:
        for j in range(NUM_PARTS):
            if index.part_vis[src, j] or view.part_vis[0, j]:
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
    if parts:
        fig.suptitle("part panels: warped source (bright) over candidate part (dim)", fontsize=7)
    fig.tight_layout()
    return fig
