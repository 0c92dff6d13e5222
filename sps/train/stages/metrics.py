"""Evaluation helpers for the model cards: PCK for the pose estimator, per-label IoU for the parser."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ... import parsing as P
from ...metrics import ParsingIoU


def _loader(ds: Dataset, limit: int, batch: int = 16) -> DataLoader:
    if limit and len(ds) > limit:
        ds = Subset(ds, list(range(limit)))
    return DataLoader(ds, batch_size=batch, shuffle=False)


@torch.no_grad()
def pck(predict: Callable[[torch.Tensor], torch.Tensor], ds: Dataset, limit: int, device, alpha: float = 0.1
        ) -> dict[str, float]:
    """PCK@alpha: a visible joint is correct within alpha * (longest side of the box around the visible joints).

    Also the detection recall of visible joints and the rate of joints predicted where none is annotated.
    """
    hit = n = found = spurious = absent = 0
    for b in _loader(ds, limit):
        kps = b["kps"].to(device)  # (B, 18, 2)
        pred = predict(b["image"].to(device))  # (B, 18, 2), -1 missing
        vis = (kps >= 0).all(-1)
        pv = (pred >= 0).all(-1)
        lo = torch.where(vis[..., None], kps, torch.full_like(kps, 1e9)).amin(1)
        hi = torch.where(vis[..., None], kps, torch.full_like(kps, -1e9)).amax(1)
        ref = (hi - lo).amax(-1).clamp(min=1.0)  # (B,)
        dist = (pred - kps).norm(dim=-1)
        ok = vis & pv & (dist <= alpha * ref[:, None])
        hit += int(ok.sum())
        n += int(vis.sum())
        found += int((vis & pv).sum())
        spurious += int((~vis & pv).sum())
        absent += int((~vis).sum())
    return {f"pck@{alpha}": hit / max(1, n), "recall": found / max(1, n),
            "false_positive_rate": spurious / max(1, absent), "joints": n}


@torch.no_grad()
def iou_per_label(predict: Callable[[torch.Tensor], torch.Tensor], ds: Dataset, limit: int, device,
                  prefix: str) -> dict[str, float]:
    """Dataset-level IoU of each label (intersection and union summed over images) and their mean (mIoU), the
    4 coarse classes' mIoU (background, hair, skin, clothes) and the person IoU (any label vs background)."""
    from ...data.ccp import COARSE_NAMES, COARSE_OF_SPS

    inter = np.zeros(P.NUM_LABELS)
    union = np.zeros(P.NUM_LABELS)
    coarse, person = ParsingIoU(len(COARSE_NAMES)), ParsingIoU(2)
    for b in _loader(ds, limit):
        gt = b["parsing"].to(device)  # (B, H, W)
        pred = predict(b["image"].to(device))  # (B, H, W)
        valid = gt >= 0
        for c in range(P.NUM_LABELS):
            g, p = (gt == c) & valid, (pred == c) & valid
            inter[c] += float((g & p).sum())
            union[c] += float((g | p).sum())
        g_np, p_np = gt.clamp(min=0).cpu().numpy(), pred.cpu().numpy()
        coarse.update(COARSE_OF_SPS[p_np], COARSE_OF_SPS[g_np])
        person.update(p_np > 0, g_np > 0)
    out = {f"{prefix}/coarse_mIoU": coarse.miou(), f"{prefix}/person_IoU": float(person.per_class()[1])}
    ious = []
    for c in range(P.NUM_LABELS):
        if union[c] > 0:
            out[f"{prefix}/iou_{P.LABELS[c].replace(' ', '_')}"] = inter[c] / union[c]
            ious.append(inter[c] / union[c])
    out[f"{prefix}/mIoU"] = float(np.mean(ious)) if ious else 0.0
    return out
