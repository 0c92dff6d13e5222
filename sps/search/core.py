"""The pseudo-label search of Song et al. (CVPR 2019), section 3.1.

For a source parsing map S_s with pose p_s, pick among candidate maps S_p (other images, other poses)

    S* = argmin_p  sum_{j=1..10} || B_p^j * S_p  -  f_j(B_s^j * S_s) ||^2

B^j: mask of rigid part j drawn from that image's own keypoints (``sps.parts.part_masks_torch``);
f_j: the affine transform fitted between part j's keypoints in p_s and in p
(``sps.parts.part_transforms_torch(src_kps=p_s, tgt_kps=p)`` gives candidate -> source sampling
grids, i.e. exactly the warp that moves the masked source part onto the candidate pose).

Normalisation (``SearchConfig.normalise="union"``, the default): the raw sum grows with the person's
size, so a small person would always win. We divide it by the union area, summed over parts, of the
two supports (pixels where the candidate part mask or the warped source part is non-zero). With
one-hot maps a pixel costs 0 (same label), 1 (only one side present) or 2 (both present, labels
differ), so the normalised score lies in [0, 2]: 0 = perfect agreement, ~1 = no overlap at all.
``normalise="none"`` gives the raw sum (pixels of the search canvas).

Two samplers: ``"nearest"`` (default) warps label codes with nearest-neighbour sampling, exact for
one-hot maps and ~5x cheaper; ``"bilinear"`` warps the masked one-hot maps bilinearly (soft borders),
literally the formula above.

Candidates must (1) not be the source itself, (2) not be the same person (``exclude_same_person``,
``sps.search.index.person_id``) nor an exact copy of the source (same map and pose under another name), (3) differ
in pose from the source by at least ``pose_margin``
(RMS over shared bones of the difference of unit bone directions, see ``pose_distance``), and
(4) show every part the source shows (or the parts named in ``required_parts``).

Variants (``SearchConfig.flip``, ``scales``; ``sps.search.variants``): a candidate may also be shown mirrored
(left/right labels and joints swapped) and rescaled about its centre; each variant is scored like any
candidate and the result names the one that won. A mirrored candidate has its own pose, so the pose margin
and the part check use the mirrored pose. View turns (``view="turn"``): only candidates that face the other way
(one of source and candidate a back view, ``sps.pose.facing_away``), so that G_S also learns what a turn shows and
hides; search such pairs on maps whose face is labelled hair (``sps.search.index.head_as_hair``), else a face moved
onto the back of a head costs as a mismatch. Near-duplicates (``near_duplicate_iou``): a candidate whose map,
as it is or mirrored, agrees with the source's (before any warp) on more than that fraction of their
labelled pixels is skipped. An index of several folders (``concat_indexes``) searches across them, or
within the source's folder only (``pool="same"``).

Scale: exhaustive search costs O(N) warps per source. With ``k`` set, candidates are first ranked by a
cheap descriptor distance (part-angle pose features plus per-part label fractions, one matrix
product against all N: O(N) per source with a tiny constant), and only the top k are scored.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import pose as K
from ..parsing import FLIP_LABELS, NUM_LABELS
from ..parts import NUM_PARTS, PART_NAMES, part_transforms_torch
from .index import PartMaps, SearchIndex, moved_maps, touches_border
from .variants import Variant, variant_set

log = logging.getLogger(__name__)


@dataclass
class SearchConfig:
    """Options of the search (defaults are the ones used for the released VITON pseudo labels)."""

    k: int | None = 64                  # candidates scored per source after the prefilter; None = exhaustive
    pose_margin: float = 0.1            # min RMS bone-direction difference between source and candidate
    exclude_same_person: bool = True
    required_parts: tuple[str, ...] | None = None  # None: every part visible in the source
    normalise: str = "union"            # "union" or "none"
    sampler: str = "nearest"            # "nearest" or "bilinear"
    shape_weight: float = 1.0           # weight of the label-fraction term in the prefilter distance
    pair_chunk: int = 512               # pairs warped at once (memory ~ pair_chunk * 10 * h * w * 12 bytes)
    source_chunk: int = 64              # sources whose candidate lists are built at once
    flip: bool = False                  # also score each candidate mirrored (left/right swapped)
    scales: tuple[float, ...] = (1.0,)  # and rescaled by these factors about its centre
    near_duplicate_iou: float | None = 0.9  # skip candidates whose map (or its mirror) overlaps the source's more
    pool: str = "all"                   # "all" folders of the index, or the source's "same" folder only
    view: str = "any"                   # "turn": only candidates facing the other way (see the module doc)

    @property
    def variants(self) -> tuple[Variant, ...]:
        """The candidate variants scored (identity first)."""
        return variant_set(self.flip, self.scales)

    def __post_init__(self) -> None:
        self.scales = tuple(float(s) for s in self.scales)
        variant_set(self.flip, self.scales)  # validates the scales
        if self.view not in ("any", "turn"):
            raise ValueError(f"view must be 'any' or 'turn', got {self.view!r}")
        if self.pool not in ("all", "same"):
            raise ValueError(f"pool must be 'all' or 'same', got {self.pool!r}")
        if self.normalise not in ("union", "none"):
            raise ValueError(f"normalise must be 'union' or 'none', got {self.normalise!r}")
        if self.sampler not in ("nearest", "bilinear"):
            raise ValueError(f"sampler must be 'nearest' or 'bilinear', got {self.sampler!r}")
        if self.required_parts is not None:
            bad = [p for p in self.required_parts if p not in PART_NAMES]
            if bad:
                raise ValueError(f"unknown part names {bad}; choose from {PART_NAMES}")
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be >= 1 or None, got {self.k}")


@dataclass
class SearchResult:
    """Best candidate for one source. ``candidate`` is -1 (and score nan) when no candidate qualified."""

    source: int
    candidate: int
    score: float
    margin: float          # runner-up score - best score (nan with a single candidate); exact copies of the
                           # winner (same map and pose, another name) and its other variants are no runner-up
    num_candidates: int    # how many were scored (usable candidate variants)
    flip: bool = False     # the winner is the candidate mirrored
    scale: float = 1.0     # ... and rescaled by this factor about its centre (sps.search.variants)


# ------------------------------------------------------------------------------- descriptors

def pose_distance(bones_a: torch.Tensor, vis_a: torch.Tensor, bones_b: torch.Tensor, vis_b: torch.Tensor
                  ) -> torch.Tensor:
    """RMS over commonly visible bones of |u_a - u_b| (unit bone directions): (Q, B, 2), (N, B, 2) -> (Q, N).

    0 = same pose up to translation and scale; a single limb of 11 turned by 19 degrees gives 0.1.
    Pairs without a shared bone get 2 (the maximum).
    """
    a = bones_a.flatten(1)  # (Q, 2B), zero where missing
    b = bones_b.flatten(1)
    va, vb = vis_a.float(), vis_b.float()
    common = va @ vb.T  # (Q, N)
    # sum_common |ua - ub|^2 = sum_common (1 + 1 - 2 ua.ub), and ua.ub is zero unless both visible
    d2 = (2 * common - 2 * (a @ b.T)).clamp(min=0)
    return torch.where(common > 0, (d2 / common.clamp(min=1)).sqrt(), torch.full_like(d2, 2.0))


def _pool_columns(index: SearchIndex, cfg: SearchConfig) -> list[tuple[torch.Tensor, ...]]:
    """(bones, bone_vis, shape, part_vis) of the pool as the prefilter sees it: as it is, then mirrored (``flip``).

    Candidate *columns* number the pool once per orientation: column ``f * N + position``, f = 1 for mirrored.
    """
    return [(index.bones, index.bone_vis, index.shape, index.part_vis)] + ([index.flipped()] if cfg.flip else [])


def column_distance(index: SearchIndex, sources: torch.Tensor, cfg: SearchConfig) -> torch.Tensor:
    """(Q,) source positions -> (Q, F * N) pose distance to every candidate column (see ``_pool_columns``)."""
    qb, qv = index.bones[sources], index.bone_vis[sources]
    return torch.cat([pose_distance(qb, qv, b, v) for b, v, _, _ in _pool_columns(index, cfg)], 1)


def candidate_mask(index: SearchIndex, sources: torch.Tensor, cfg: SearchConfig,
                   pose_d: torch.Tensor | None = None) -> torch.Tensor:
    """(Q,) source positions -> (Q, F * N) bool: which candidate columns qualify (F = 2 with ``flip``, else 1)."""
    n, q = len(index), len(sources)
    if pose_d is None:
        pose_d = column_distance(index, sources, cfg)
    ok = torch.ones(q, n, dtype=torch.bool)
    ok[torch.arange(q), sources] = False
    ok &= index.dup_group[sources][:, None] != index.dup_group[None, :]  # exact copies of the source
    if cfg.exclude_same_person:
        pc = index.person_codes
        ok &= pc[sources][:, None] != pc[None, :]
    if cfg.pool == "same":
        oc = index.origin_codes
        ok &= oc[sources][:, None] == oc[None, :]
    if cfg.view == "turn":  # a mirrored back view is still a back view: the same test for every column
        away = K.facing_away(index.kps_t)
        ok &= away[sources][:, None] != away[None, :]
    if cfg.required_parts is None:
        need = index.part_vis[sources].float()  # (Q, 10)
    else:
        sel = torch.zeros(NUM_PARTS)
        sel[[PART_NAMES.index(p) for p in cfg.required_parts]] = 1
        need = sel.expand(q, NUM_PARTS)
    # count of needed parts the candidate (as it is, or mirrored) lacks
    ok = torch.cat([ok & (need @ (1 - vis.float()).T < 0.5) for _, _, _, vis in _pool_columns(index, cfg)], 1)
    ok &= pose_d >= cfg.pose_margin
    assert ok.shape == (q, n * len(_pool_columns(index, cfg)))
    return ok


def prefilter_distance(index: SearchIndex, sources: torch.Tensor, cfg: SearchConfig,
                       pose_d: torch.Tensor) -> torch.Tensor:
    """(Q, F * N) descriptor distance used to rank candidate columns: pose_d^2 + shape_weight * mean part-label
    L2^2."""
    q = index.shape[sources]  # (Q, 100)
    sd = []
    for _, _, s, _ in _pool_columns(index, cfg):
        sd.append(((q * q).sum(1)[:, None] + (s * s).sum(1)[None] - 2 * q @ s.T).clamp(min=0) / NUM_PARTS)
    return pose_d**2 + cfg.shape_weight * torch.cat(sd, 1)


def candidate_lists(index: SearchIndex, sources: torch.Tensor, cfg: SearchConfig) -> list[torch.Tensor]:
    """For each source, the candidate columns to score (ascending prefilter distance, or all valid), near-duplicates
    of the source left out. Without ``flip`` a column is the candidate's position."""
    pose_d = column_distance(index, sources, cfg)
    ok = candidate_mask(index, sources, cfg, pose_d)
    if cfg.k is None:
        lists = [torch.nonzero(row)[:, 0] for row in ok]
    else:
        d = prefilter_distance(index, sources, cfg, pose_d).masked_fill(~ok, math.inf)
        val, idx = torch.topk(d, min(cfg.k, d.shape[1]), dim=1, largest=False, sorted=True)
        lists = [i[torch.isfinite(v)] for v, i in zip(val, idx)]
    if cfg.near_duplicate_iou is None:
        return lists
    lens = torch.tensor([len(x) for x in lists], dtype=torch.long)
    pos = torch.cat(lists) % len(index) if lists else torch.empty(0, dtype=torch.long)
    src = torch.repeat_interleave(sources, lens)
    dup = torch.zeros(len(pos), dtype=torch.bool)
    for a in range(0, len(pos), cfg.pair_chunk):
        sl = slice(a, a + cfg.pair_chunk)
        dup[sl] = near_duplicate_iou(index, src[sl], pos[sl]) > cfg.near_duplicate_iou
    return [lst[~d] for lst, d in zip(lists, dup.split(lens.tolist()))]


_FLIP_LUT = torch.tensor(FLIP_LABELS, dtype=torch.uint8)


def near_duplicate_iou(index: SearchIndex, src: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
    """(P,) positions -> (P,) parsing IoU of the source map with the candidate's, as it is or mirrored (the larger):
    pixels labelled alike (not background) over pixels labelled in either map, before any warp."""
    a = index.labels_t[src]  # (P, h, w)
    best = torch.zeros(len(src))
    for b in (index.labels_t[cand], _FLIP_LUT[index.labels_t[cand].long()].flip(-1)):
        inter = ((a == b) & (a > 0)).flatten(1).sum(1)
        union = ((a > 0) | (b > 0)).flatten(1).sum(1).clamp(min=1)
        best = torch.maximum(best, inter / union)
    return best


# ------------------------------------------------------------------------------------ scoring

def score_pairs(index: SearchIndex, src: torch.Tensor, cand: torch.Tensor, cfg: SearchConfig | None = None,
                return_maps: bool = False, candidates: SearchIndex | PartMaps | None = None):
    """Objective for (P,) source / candidate positions -> (P,) scores (see module doc for normalisation).

    ``candidates``: where ``cand`` points (default ``index``), e.g. the flipped / rescaled candidate variants
    of ``candidate_variants``. With ``return_maps`` also returns the warped source parts (P, 10, h, w) as label
    codes (label + 1, 0 = empty) for the nearest sampler, or soft one-hot (P, 10, L, h, w) for bilinear.
    """
    cfg = cfg or SearchConfig()
    pool = index if candidates is None else candidates
    h, w = index.size
    p = len(src)
    theta, _ = part_transforms_torch(index.kps_t[src], pool.kps_t[cand], (h, w))  # (P, 10, 2, 3) cand -> src
    if cfg.sampler == "nearest":
        a, rows = warp_codes_nearest(index, src, theta)  # (M, h*w) for the (pair, part) rows with a source part
        b_all = pool.coded[cand].reshape(p * NUM_PARTS, h * w)
        b = b_all[rows]
        ne = a != b
        both = torch.minimum(a, b) > 0
        c = ne.view(torch.uint8) + (ne & both).view(torch.uint8)  # 0 same, 1 one side only, 2 labels differ
        # rows without a source part: the warped source is empty, so cost = union = candidate part area
        area = pool.area[cand].reshape(-1).clone()  # (P*10,)
        cost_rows, union_rows = area.clone(), area
        cost_rows[rows] = c.sum(1, dtype=torch.int32)
        union_rows[rows] = (torch.maximum(a, b) > 0).sum(1, dtype=torch.int32)
        cost = cost_rows.reshape(p, NUM_PARTS).sum(1)
        union = union_rows.reshape(p, NUM_PARTS).sum(1)
        if return_maps:
            full = torch.zeros(p * NUM_PARTS, h * w, dtype=torch.uint8)
            full[rows] = a
            a = full.reshape(p, NUM_PARTS, h, w)
    else:
        oh = F.one_hot(index.labels_t[src].long(), NUM_LABELS).permute(0, 3, 1, 2).float()  # (P, L, h, w)
        x = (oh[:, None] * index.masks[src][:, :, None]).reshape(p * NUM_PARTS, NUM_LABELS, h, w)
        grid = F.affine_grid(theta.reshape(-1, 2, 3), [p * NUM_PARTS, NUM_LABELS, h, w], align_corners=False)
        warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        a = warped.reshape(p, NUM_PARTS, NUM_LABELS, h, w)
        ohc = F.one_hot(pool.labels_t[cand].long(), NUM_LABELS).permute(0, 3, 1, 2).float()
        b = ohc[:, None] * pool.masks[cand][:, :, None]  # (P, 10, L, h, w)
        cost = ((a - b) ** 2).sum((1, 2, 3, 4))
        union = torch.maximum(a.sum(2), b.sum(2)).sum((1, 2, 3))
    cost = cost.float()
    score = cost / union.float().clamp(min=1) if cfg.normalise == "union" else cost
    return (score, a) if return_maps else score


def warp_codes_nearest(index: SearchIndex, src: torch.Tensor, theta: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest-neighbour part warps of the sources' part-masked label codes.

    Same result as ``F.grid_sample(coded, F.affine_grid(theta), mode="nearest", padding_mode="zeros",
    align_corners=False)`` (tested), but computed in pixel space with a separable affine map and one
    gather, about 3x faster; only (pair, part) rows whose source part is visible are warped.

    Args:
        src: (P,) source positions; theta: (P, 10, 2, 3) candidate -> source transforms (normalised).
    Returns:
        codes (M, h*w) uint8 (label + 1 inside the warped part, 0 elsewhere) and rows (M,) indices into P*10.
    """
    h, w = index.size
    rows = index.part_vis[src].reshape(-1).nonzero()[:, 0]  # (M,)
    th = theta.reshape(-1, 2, 3)[rows].float()
    size = torch.tensor([w, h], dtype=torch.float32)
    # normalised n = (2 q + 1) / size - 1 for target pixel q; source pixel = (A n + t + 1) * size / 2 - 0.5
    lin, t0 = th[:, :, :2], th[:, :, 2]
    lin_px = lin * (2 / size)[None, None, :] * (size / 2)[None, :, None]  # (M, 2, 2)
    t_px = ((lin @ (1 / size - 1)[:, None])[..., 0] + t0 + 1) * size / 2 - 0.5  # (M, 2)
    cols = torch.arange(w, dtype=torch.float32)[None, None, :]
    rws = torch.arange(h, dtype=torch.float32)[None, :, None]
    px = lin_px[:, 0, 0, None, None] * cols + (lin_px[:, 0, 1, None, None] * rws + t_px[:, 0, None, None])
    py = lin_px[:, 1, 0, None, None] * cols + (lin_px[:, 1, 1, None, None] * rws + t_px[:, 1, None, None])
    # round half to even like grid_sample; clamp into a one-pixel zero border of the padded source
    px = px.round_().clamp_(-1, w).add_(1)
    py = py.round_().clamp_(-1, h).add_(1)
    flat = py.mul_(w + 2).add_(px).reshape(len(rows), h * w).long()  # (M, h*w); M may be 0
    padded = F.pad(index.coded[src].reshape(-1, h, w)[rows], (1, 1, 1, 1))  # (M, h+2, w+2)
    return torch.gather(padded.reshape(len(rows), (h + 2) * (w + 2)), 1, flat), rows


def candidate_variants(index: SearchIndex, cand: torch.Tensor, variant: Variant) -> tuple[PartMaps, torch.Tensor]:
    """(P,) candidate positions -> their part maps shown as ``variant`` (on the index canvas), and (P,) bool:
    usable. A rescaled candidate is usable only when the person lies wholly on the canvas before and after (no
    cut edge shrinks into view, nothing is pushed off)."""
    base = index.mirrored() if variant.flip else index
    if variant.scale == 1.0:
        return PartMaps(*(t[cand] for t in (base.labels_t, base.kps_t, base.masks, base.coded, base.area,
                                            base.part_vis))), torch.ones(len(cand), dtype=torch.bool)
    views = moved_maps(base, cand, np.zeros(len(cand), bool), np.full(len(cand), variant.scale, np.float32),
                       index.size)
    return views, ~index.border[cand] & ~touches_border(views.labels_t)


def _score_many(index: SearchIndex, src: torch.Tensor, cand: torch.Tensor, cfg: SearchConfig,
                variant: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of (P,) pairs, ``variant`` (P,) indexing ``cfg.variants`` (None: all as they are). An unusable
    variant (see ``candidate_variants``) or one without a part the source needs scores inf."""
    out = torch.full((len(src),), math.inf)
    table = cfg.variants
    variant = torch.zeros(len(src), dtype=torch.long) if variant is None else variant
    for vid in variant.unique().tolist():
        v, sel = table[vid], (variant == vid).nonzero()[:, 0]
        if v.scale != 1.0:  # a person cut by the canvas border is never rescaled: skip it before moving maps
            sel = sel[~index.border[cand[sel]]]
        for a in range(0, len(sel), cfg.pair_chunk):
            rows = sel[a:a + cfg.pair_chunk]
            s, c = src[rows], cand[rows]
            if v.is_identity:
                out[rows] = score_pairs(index, s, c, cfg)
                continue
            views, usable = candidate_variants(index, c, v)
            need = index.part_vis[s] if cfg.required_parts is None else torch.tensor(
                [n in cfg.required_parts for n in PART_NAMES]).expand(len(s), NUM_PARTS)
            sc = score_pairs(index, s, torch.arange(len(c)), cfg, candidates=views)
            out[rows] = sc.masked_fill(~usable | (need & ~views.part_vis).any(1), math.inf)
    return out


def _expand_variants(index: SearchIndex, cfg: SearchConfig, columns: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate columns (M,) -> positions and variant ids (M * scales,), each column once per scale, in order."""
    n, ns = len(index), len(cfg.variants) // (2 if cfg.flip else 1)
    pos = (columns % n).repeat_interleave(ns)
    var = ((columns // n) * ns).repeat_interleave(ns) + torch.arange(ns).repeat(len(columns))
    return pos, var


# ------------------------------------------------------------------------------------- search

def iter_search(index: SearchIndex, sources: Sequence[int] | None = None, cfg: SearchConfig | None = None
                ) -> Iterator[list[SearchResult]]:
    """Search the best candidate (and variant) for each source; yields one list of results per
    ``cfg.source_chunk`` sources, in the order given. Each source's result depends only on the source and the
    index."""
    cfg = cfg or SearchConfig()
    table = cfg.variants
    srcs = list(range(len(index))) if sources is None else [int(s) for s in sources]
    with torch.inference_mode():
        for a in range(0, len(srcs), cfg.source_chunk):
            chunk = torch.tensor(srcs[a:a + cfg.source_chunk], dtype=torch.long)
            expanded = [_expand_variants(index, cfg, cols) for cols in candidate_lists(index, chunk, cfg)]
            lens = [len(p) for p, _ in expanded]
            all_src = torch.repeat_interleave(chunk, torch.tensor(lens, dtype=torch.long))
            all_cand = torch.cat([p for p, _ in expanded]) if expanded else torch.empty(0, dtype=torch.long)
            all_var = torch.cat([v for _, v in expanded]) if expanded else torch.empty(0, dtype=torch.long)
            scores = _score_many(index, all_src, all_cand, cfg, all_var if len(table) > 1 else None)
            out, off = [], 0
            for s, (cands, var), n in zip(chunk.tolist(), expanded, lens):
                sc = scores[off:off + n]
                off += n
                if n == 0 or not bool(torch.isfinite(sc).any()):
                    out.append(SearchResult(s, -1, math.nan, math.nan, 0))
                    continue
                # stable: ties go to the earlier candidate in the list; lists are index-ordered for
                # exhaustive search and distance-ordered (then index) for the prefilter, variants identity first
                order = torch.argsort(sc, stable=True)
                best = int(order[0])
                # runner-up: the best other candidate (not a variant nor an exact copy of the winner)
                groups = index.dup_group[cands[order]]
                other = order[(groups != groups[0]) & torch.isfinite(sc[order])]
                margin = float(sc[other[0]] - sc[best]) if len(other) else math.nan
                v = table[int(var[best])]
                out.append(SearchResult(s, int(cands[best]), float(sc[best]), margin, int(torch.isfinite(sc).sum()),
                                        v.flip, v.scale))
            yield out


def search(index: SearchIndex, sources: Sequence[int] | None = None, cfg: SearchConfig | None = None
           ) -> list[SearchResult]:
    """All results of ``iter_search`` as one list."""
    return [r for chunk in iter_search(index, sources, cfg) for r in chunk]


# ------------------------------------------------------------------------------ prefilter study

def prefilter_agreement(index: SearchIndex, k: int = 64, sources: Sequence[int] | None = None,
                        cfg: SearchConfig | None = None) -> dict[str, float]:
    """Compare prefiltered search (top-k) with exhaustive search on the same index.

    Returns a dict: ``agreement`` (fraction of sources with the same chosen candidate),
    ``mean_regret`` / ``median_regret`` / ``p90_regret`` (prefiltered best score - exhaustive best score,
    >= 0), ``mean_rel_regret`` (regret / exhaustive score), ``in_topk`` (fraction of sources whose
    exhaustive winner is among the k prefiltered candidates), ``sources`` and ``mean_candidates``.
    """
    base = cfg or SearchConfig()
    ex = search(index, sources, SearchConfig(**{**base.__dict__, "k": None}))
    pf = search(index, sources, SearchConfig(**{**base.__dict__, "k": k}))
    keep = [(e, p) for e, p in zip(ex, pf) if e.candidate >= 0]
    if not keep:
        raise ValueError("no source has any valid candidate")
    agree = np.array([e.candidate == p.candidate for e, p in keep])
    regret = np.array([p.score - e.score for e, p in keep])
    rel = np.array([(p.score - e.score) / max(e.score, 1e-9) for e, p in keep])
    srcs = torch.tensor([e.source for e, _ in keep])
    lists = []
    for a in range(0, len(srcs), base.source_chunk):
        lists += candidate_lists(index, srcs[a:a + base.source_chunk], SearchConfig(**{**base.__dict__, "k": k}))
    in_topk = np.array([bool((lst % len(index) == e.candidate).any()) for lst, (e, _) in zip(lists, keep)])
    return {
        "sources": len(keep), "k": k, "mean_candidates": float(np.mean([e.num_candidates for e, _ in keep])),
        "agreement": float(agree.mean()), "in_topk": float(in_topk.mean()),
        "mean_regret": float(regret.mean()), "median_regret": float(np.median(regret)),
        "p90_regret": float(np.quantile(regret, 0.9)), "mean_rel_regret": float(rel.mean()),
        "mean_best_score": float(np.mean([e.score for e, _ in keep])),
    }
