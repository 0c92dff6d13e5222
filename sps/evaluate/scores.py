"""Per-pair scores of one method and their summary over any subset of pairs."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import metrics as M

COLUMNS = ("SSIM", "mask-SSIM", "PSNR", "L1", "PCKh", "mIoU", "Δa*", "Δb*", "colour err", "FID-EffNetLite0",
           "KID-EffNetLite0")
Pair = tuple[str, str]


@dataclass
class PairScore:
    """Every metric of one generated image against its real target."""

    ssim: float
    mask_ssim: float
    psnr: float
    l1: float
    pck: tuple[int, int]  # (right, total) joints
    shift: tuple[float, float]  # (delta a*, delta b*) inside the person mask
    parsing: tuple[np.ndarray, np.ndarray] | None = None  # (used target parsing, parser map of the real target)
    feats: np.ndarray | None = None  # (1, D) pooled features for FID / KID


@dataclass
class MethodScores:
    """The per-pair scores of one method (rows of the table are summaries over subsets of pairs)."""

    pairs: dict[Pair, PairScore] = field(default_factory=dict)

    def summary(self, real_feats: dict[Pair, np.ndarray] | None, only: set[Pair] | None = None) -> dict[str, float]:
        """Means over the pairs (all, or those in ``only``); FID/KID against the real targets of the same pairs."""
        keys = [k for k in self.pairs if only is None or k in only]
        s = [self.pairs[k] for k in keys]
        right, total = sum(p.pck[0] for p in s), sum(p.pck[1] for p in s)
        da, db = np.array([p.shift[0] for p in s]), np.array([p.shift[1] for p in s])
        iou = M.ParsingIoU()
        for p in s:
            if p.parsing is not None:
                iou.update(*p.parsing)
        out = {
            "SSIM": float(np.mean([p.ssim for p in s])), "mask-SSIM": float(np.mean([p.mask_ssim for p in s])),
            "PSNR": float(np.mean([p.psnr for p in s if math.isfinite(p.psnr)] or [math.inf])),
            "L1": float(np.mean([p.l1 for p in s])),
            "PCKh": right / total if total else math.nan,
            "mIoU": iou.miou() if any(p.parsing is not None for p in s) else math.nan,
            "IoU per label": iou.per_class() if any(p.parsing is not None for p in s) else None,
            "Δa*": float(da.mean()), "Δb*": float(db.mean()), "colour err": float(np.hypot(da, db).mean()),
            "FID-EffNetLite0": math.nan, "KID-EffNetLite0": math.nan, "pairs": len(s),
        }
        fake = [self.pairs[k].feats for k in keys if self.pairs[k].feats is not None]
        if real_feats and len(fake) >= 2:
            real = np.concatenate([real_feats[k] for k in keys if k in real_feats])
            out["FID-EffNetLite0"] = M.fid_from_features(real, np.concatenate(fake))
            out["KID-EffNetLite0"] = M.kid_from_features(real, np.concatenate(fake), subsets=20)[0]
        return out
