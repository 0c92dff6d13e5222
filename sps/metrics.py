"""Image-generation metrics, implemented here (no scikit-image / scipy / pytorch-fid).

- ``ssim``: the pose-transfer field's SSIM (as scikit-image's ``structural_similarity(a, b, gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)``): an 11 x 11 Gaussian window
  (sigma 1.5, truncated at 3.5 sigma), K1 = 0.01, K2 = 0.03, computed **per RGB channel and averaged**, the SSIM map
  cropped by the window radius (5 px) at the borders before averaging.
- ``masked_ssim``: SSIM of both images multiplied by a person mask (the "mask-SSIM" of PG2).
- ``psnr`` (data range 255), ``l1`` (mean absolute difference on [0, 1]).
- ``pckh``: the PATN / PG2 convention: a joint is right when it is within 0.5 x the head box (width, height) of
  the target pose, per axis; the head box spans the target's visible nose, neck, eyes and ears (>= 2 needed,
  else the image is skipped); the denominator is the target's visible joints.
- ``colour_shift``: the mean CIELAB a* and b* (D65, sRGB) of the generated image minus the target's, inside a
  person mask: a systematic colour cast shows as a mean shift over many pairs (e.g. greens turning blue: +a*, -b*).
- ``ParsingIoU``: per-class intersection and union summed over the data set, mIoU over the classes present.
- ``fid_from_features`` / ``kid_from_features``: Frechet distance and kernel inception distance (unbiased MMD^2,
  cubic polynomial kernel) of any feature sets; ``PooledFeatures`` pools EfficientNet-Lite0 maps
  (``sps.models.PerceptualNet``) into vectors. Call the result "FID-EffNetLite0": it is **not** Inception FID and
  not comparable with published FID numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .pose import visible

HEAD_JOINTS = (0, 1, 14, 15, 16, 17)


# ----------------------------------------------------------------------------------------------
# SSIM / PSNR / L1
# ----------------------------------------------------------------------------------------------

def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    """1-D normalised Gaussian of radius int(truncate * sigma + 0.5) (11 taps at sigma 1.5), float64."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _as_float(img: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(H, W) or (H, W, C) array -> (C, H, W) float64 tensor, values as given."""
    t = torch.as_tensor(np.array(img, dtype=np.float64))  # a copy: inputs may be read-only
    if t.ndim == 2:
        t = t[..., None]
    if t.ndim != 3:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {tuple(t.shape)}")
    return t.permute(2, 0, 1)


def ssim_map(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, data_range: float = 255.0,
             sigma: float = 1.5) -> torch.Tensor:
    """Per-channel SSIM map (C, H - 2r, W - 2r) of two (H, W[, C]) images (valid filtering = skimage's crop)."""
    x, y = _as_float(a), _as_float(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    g = gaussian_window(sigma)
    r = (g.numel() - 1) // 2
    if min(x.shape[-2:]) <= 2 * r:
        raise ValueError(f"images of {tuple(x.shape[-2:])} are too small for an {2 * r + 1}-px SSIM window")
    c = x.shape[0]
    kh = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)  # horizontal pass, depthwise
    kv = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # (C, H, W) -> (C, H - 2r, W - 2r)
        return F.conv2d(F.conv2d(t[None], kh, groups=c), kv, groups=c)[0]

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, data_range: float = 255.0) -> float:
    """Mean SSIM of two uint8-range images, channel-averaged for RGB (see the module docstring)."""
    return float(ssim_map(a, b, data_range).mean())


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float = 255.0) -> float:
    """SSIM of ``a * mask`` and ``b * mask`` (mask (H, W) bool/0-1): PG2's mask-SSIM."""
    m = np.asarray(mask, np.float64)
    m = m[..., None] if np.asarray(a).ndim == 3 else m
    return ssim(np.asarray(a, np.float64) * m, np.asarray(b, np.float64) * m, data_range)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """10 log10(range^2 / MSE) in dB; inf for identical images."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def l1(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean absolute difference, scaled to [0, 1]."""
    return float(np.mean(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) / data_range


# ----------------------------------------------------------------------------------------------
# PCKh
# ----------------------------------------------------------------------------------------------

def head_box(kps: np.ndarray) -> tuple[float, float] | None:
    """(width, height) of the box around the visible head joints (nose, neck, eyes, ears); None if < 2."""
    kps = np.asarray(kps, np.float32)
    pts = kps[list(HEAD_JOINTS)]
    pts = pts[visible(pts)]
    if len(pts) < 2:
        return None
    w, h = pts.max(0) - pts.min(0)
    return float(w), float(h)


def pckh_counts(pred: np.ndarray, target: np.ndarray, alpha: float = 0.5) -> tuple[int, int]:
    """(correct, total) joints of one image; (0, 0) when the target has no head box."""
    box = head_box(target)
    if box is None:
        return 0, 0
    pred, target = np.asarray(pred, np.float32), np.asarray(target, np.float32)
    tv, pv = visible(target), visible(pred)
    d = np.abs(pred - target)
    right = tv & pv & (d[:, 0] < alpha * box[0]) & (d[:, 1] < alpha * box[1])
    return int(right.sum()), int(tv.sum())


def pck_counts(pred: np.ndarray, target: np.ndarray, alpha: float = 0.1) -> tuple[int, int]:
    """(right, total): target joints found within ``alpha`` x the longest side of the target's joint box."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    vis = visible(target)
    if vis.sum() < 2:
        return 0, 0
    box = target[vis].max(0) - target[vis].min(0)
    ref = max(float(box.max()), 1.0)
    found = visible(pred) & vis
    dist = np.linalg.norm(pred - target, axis=1)
    return int((found & (dist <= alpha * ref)).sum()), int(vis.sum())


def pckh(preds: list[np.ndarray], targets: list[np.ndarray], alpha: float = 0.5) -> float:
    """PCKh over a data set: correct joints / visible target joints (NaN if none)."""
    right = total = 0
    for p, t in zip(preds, targets):
        r, n = pckh_counts(p, t, alpha)
        right, total = right + r, total + n
    return right / total if total else math.nan


# ----------------------------------------------------------------------------------------------
# Parsing mIoU
# ----------------------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------------------

_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(img: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB -> (..., 3) float64 CIELAB (D65): L* in [0, 100], a*, b* roughly [-128, 127]."""
    c = np.asarray(img, np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _SRGB_TO_XYZ.T / _D65_WHITE
    eps = (6 / 29) ** 3
    f = np.where(xyz > eps, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def colour_shift(generated: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """(delta a*, delta b*): mean a* and b* of ``generated`` minus those of ``target`` over ``mask`` (H, W) bool
    (every pixel when None or empty). Positive delta a* = redder / less green, negative delta b* = bluer."""
    if mask is None or not np.asarray(mask).any():
        mask = np.ones(np.asarray(target).shape[:2], bool)
    ga, ta = rgb_to_lab(generated)[mask], rgb_to_lab(target)[mask]
    return float(ga[:, 1].mean() - ta[:, 1].mean()), float(ga[:, 2].mean() - ta[:, 2].mean())


# ----------------------------------------------------------------------------------------------

@dataclass
class ParsingIoU:
    """Accumulates per-class intersections and unions over a data set."""

    num_labels: int = 10
    inter: np.ndarray = field(default=None)  # type: ignore[assignment]
    union: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.inter = np.zeros(self.num_labels, np.int64)
        self.union = np.zeros(self.num_labels, np.int64)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        pred, target = np.asarray(pred), np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(f"parsing maps differ in shape: {pred.shape} vs {target.shape}")
        for c in range(self.num_labels):
            p, t = pred == c, target == c
            self.inter[c] += int((p & t).sum())
            self.union[c] += int((p | t).sum())

    def per_class(self) -> np.ndarray:
        """IoU per class, NaN for classes never present."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.union > 0, self.inter / np.maximum(self.union, 1), np.nan)

    def miou(self) -> float:
        pc = self.per_class()
        return float(np.nanmean(pc)) if np.isfinite(pc).any() else math.nan


def miou(pred: np.ndarray, target: np.ndarray, num_labels: int = 10) -> float:
    """mIoU of one pair of label maps over the classes present in either."""
    acc = ParsingIoU(num_labels)
    acc.update(pred, target)
    return acc.miou()


# ----------------------------------------------------------------------------------------------
# FID / KID on arbitrary features
# ----------------------------------------------------------------------------------------------

def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of an (N, D) feature set, float64."""
    f = np.asarray(feats, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need an (N >= 2, D) feature array, got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2), via symmetric eigen-decompositions."""
    s1 = _sqrtm_psd(cov1)
    mid = s1 @ cov2 @ s1
    tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((mid + mid.T) / 2), 0, None)).sum())
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt)
    return max(d, 0.0)


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Frechet distance between two (N, D) feature sets."""
    return frechet_distance(*feature_stats(real), *feature_stats(fake))


def kid_from_features(real: np.ndarray, fake: np.ndarray, subsets: int = 50, subset_size: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """Kernel distance (unbiased MMD^2, kernel (x.y / D + 1)^3), mean and std over random subsets."""
    x, y = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    d = x.shape[1]
    m = min(len(x), len(y), subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx = (a @ a.T / d + 1) ** 3
        kyy = (b @ b.T / d + 1) ** 3
        kxy = (a @ b.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
        vals.append(mmd)
    return float(np.mean(vals)), float(np.std(vals))


class PooledFeatures:
    """Global-average-pooled features of the deepest map of ``sps.models.PerceptualNet`` (EfficientNet-Lite0)."""

    name = "FID-EffNetLite0"

    def __init__(self, net: torch.nn.Module | None = None, device: str | torch.device = "cpu"):
        if net is None:
            from .models import PerceptualNet

            net = PerceptualNet(backbone="efficientnet_lite0")
        self.net = net.eval().to(device)
        self.device = device

    @torch.inference_mode()
    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        """(H, W, 3) uint8 images (same size within a call) -> (N, D) float32 features."""
        x = torch.stack([torch.from_numpy(np.array(i, copy=True)).permute(2, 0, 1) for i in images])
        x = x.float().div(127.5).sub(1).to(self.device)  # (N, 3, H, W) in [-1, 1]
        feats = self.net(x)[-1]  # (N, C, h, w)
        return feats.mean((-2, -1)).float().cpu().numpy()
