"""Rigid body parts: part-wise affine transforms between two poses, part masks, and part-wise warping.

The 10 parts follow the paper: torso, head, right/left upper arm, right/left forearm,
right/left thigh, right/left shin ("right" = the person's right).

Transforms are returned in the convention of ``torch.nn.functional.affine_grid``: a (2, 3) matrix
``theta`` maps a *target* location, in normalised coordinates (align_corners=False), to the
*source* location to sample from. So ``grid_sample(source, affine_grid(theta, ...))`` moves a
source part onto the target pose, and the target part mask says where the result is valid.

Missing keypoints are handled explicitly, never with NaN:
  * a limb missing in the source but present in the target is fitted to the mirrored limb of the
    source (its left forearm stands in for its right forearm, say);
  * a part with no usable correspondence gets ``OUTSIDE_THETA``, a transform that samples only
    outside the image (zeros with ``padding_mode="zeros"``), and ``valid = False``.

Everything is batched torch; the numpy helpers ``part_transforms`` / ``part_masks`` wrap one pair.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

NUM_PARTS = 10
PART_NAMES: tuple[str, ...] = (
    "torso", "head",
    "right_upper_arm", "left_upper_arm",
    "right_forearm", "left_forearm",
    "right_thigh", "left_thigh",
    "right_shin", "left_shin",
)
# Keypoints that define each part (COCO-18 indices), padded with -1.
PART_KEYPOINTS: tuple[tuple[int, ...], ...] = (
    (2, 5, 11, 8, -1, -1),      # torso: shoulders and hips (a quadrilateral)
    (0, 1, 14, 15, 16, 17),     # head: nose, neck, eyes, ears
    (2, 3, -1, -1, -1, -1),     # right upper arm: shoulder -> elbow
    (5, 6, -1, -1, -1, -1),     # left upper arm
    (3, 4, -1, -1, -1, -1),     # right forearm: elbow -> wrist
    (6, 7, -1, -1, -1, -1),     # left forearm
    (8, 9, -1, -1, -1, -1),     # right thigh: hip -> knee
    (11, 12, -1, -1, -1, -1),   # left thigh
    (9, 10, -1, -1, -1, -1),    # right shin: knee -> ankle
    (12, 13, -1, -1, -1, -1),   # left shin
)
MIRROR_PART: tuple[int, ...] = (0, 1, 3, 2, 5, 4, 7, 6, 9, 8)
# Front-to-back drawing order where parts overlap: later parts are drawn over earlier ones (limbs in front of the
# torso, forearms in front of upper arms).
DEPTH_ORDER: tuple[int, ...] = (0, 1, 6, 7, 8, 9, 2, 3, 4, 5)
LIMB_PARTS = tuple(range(2, 10))

# Samples at x, y + 4 in normalised coordinates: entirely outside [-1, 1], so grid_sample gives zeros.
OUTSIDE_THETA = torch.tensor([[1.0, 0.0, 4.0], [0.0, 1.0, 4.0]])


def usable_parts(theta: torch.Tensor) -> torch.Tensor:
    """(B, 10, 2, 3) transforms from ``part_transforms_torch`` -> (B, 10) bool: the parts that got a transform
    (its ``valid``), i.e. those not carrying ``OUTSIDE_THETA``."""
    return (theta != OUTSIDE_THETA.to(theta)).flatten(-2).any(-1)

# Part mask shape parameters, as fractions of the person's scale (see _person_scale).
LIMB_RADIUS = 0.22
TORSO_MARGIN = 0.12
HEAD_RADIUS = 0.85
# How far below the shoulders a torso reaches when no hip is visible, in shoulder widths.
TORSO_DEFAULT_LENGTH = 1.5
# Masks of taller canvases are rasterised on coarser cells (see part_masks_torch).
MASK_MAX_ROWS = 128

_PART_INDEX = torch.tensor(PART_KEYPOINTS)  # (10, 6)


def _gather_part_points(kps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 18, 2) -> points (B, 10, 6, 2) and validity (B, 10, 6) for each part's keypoints."""
    idx = _PART_INDEX.to(kps.device)
    pts = kps[:, idx.clamp(min=0)]  # (B, 10, 6, 2)
    ok = (pts >= 0).all(-1) & (idx >= 0)[None]
    return pts, ok


def _to_normalised(p: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Pixel (x, y) -> normalised coordinates of affine_grid with align_corners=False."""
    h, w = size
    scale = torch.tensor([2.0 / w, 2.0 / h], dtype=p.dtype, device=p.device)
    return (p + 0.5) * scale - 1.0


def _fit(tgt: torch.Tensor, src: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted fit of an affine map tgt -> src for each (batch, part).

    Uses a full affine fit where >= 3 well-spread correspondences exist, a similarity
    (rotation + uniform scale + translation) with 2, and a pure translation with 1.

    Args:
        tgt, src: (N, K, 2) corresponding points; w: (N, K) weights in {0, 1}.
    Returns:
        theta (N, 2, 3) and ok (N,) (at least one correspondence).
    """
    n = w.sum(-1)  # (N,)
    wn = w / n.clamp(min=1)[:, None]
    mt = (wn[..., None] * tgt).sum(1)  # (N, 2) weighted centroids
    ms = (wn[..., None] * src).sum(1)
    ct = (tgt - mt[:, None]) * w[..., None]  # centred, zero where unused
    cs = (src - ms[:, None]) * w[..., None]

    # Similarity in complex form: s = a * t + b with a = sum(conj(t) s) / sum(|t|^2).
    tt = (ct**2).sum((1, 2))  # (N,)
    re = (ct[..., 0] * cs[..., 0] + ct[..., 1] * cs[..., 1]).sum(1)
    im = (ct[..., 0] * cs[..., 1] - ct[..., 1] * cs[..., 0]).sum(1)
    denom = tt.clamp(min=1e-12)
    a_re = torch.where(tt > 1e-12, re / denom, torch.ones_like(re))
    a_im = torch.where(tt > 1e-12, im / denom, torch.zeros_like(im))
    lin_sim = torch.stack([torch.stack([a_re, -a_im], -1), torch.stack([a_im, a_re], -1)], -2)  # (N, 2, 2)

    # Full affine: lin = (cs^T ct)(ct^T ct)^-1, used only when the target points are well spread.
    cov_t = ct.transpose(1, 2) @ ct  # (N, 2, 2)
    cross = cs.transpose(1, 2) @ ct  # (N, 2, 2)
    eig = torch.linalg.eigvalsh(cov_t)  # ascending
    spread_ok = (n >= 3) & (eig[:, 0] > 0.04 * eig[:, 1].clamp(min=1e-12)) & (eig[:, 1] > 1e-10)
    safe_cov = torch.where(spread_ok[:, None, None], cov_t, torch.eye(2, dtype=cov_t.dtype, device=cov_t.device))
    lin_aff = cross @ torch.linalg.inv(safe_cov)

    lin = torch.where(spread_ok[:, None, None], lin_aff, lin_sim)
    # A degenerate source (all points equal) or exploding scale falls back to a translation.
    det = torch.linalg.det(lin)
    sane = torch.isfinite(lin).all(-1).all(-1) & (det.abs() > 1e-3) & (det.abs() < 1e3)
    lin = torch.where(sane[:, None, None], lin, torch.eye(2, dtype=lin.dtype, device=lin.device))
    trans = ms - (lin @ mt[..., None])[..., 0]
    theta = torch.cat([lin, trans[..., None]], dim=-1)
    return theta, n >= 1


def part_transforms_torch(
    src_kps: torch.Tensor, tgt_kps: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Part-wise affine transforms from target to source, for affine_grid.

    Args:
        src_kps, tgt_kps: (B, 18, 2) xy pixel coordinates on an (H, W) = ``size`` canvas, -1 missing.
    Returns:
        theta: (B, 10, 2, 3) float32, normalised coordinates, target -> source.
        valid: (B, 10) bool; invalid parts carry OUTSIDE_THETA.
    """
    b = src_kps.shape[0]
    src_kps, tgt_kps = src_kps.float(), tgt_kps.float()
    sp, sok = _gather_part_points(src_kps)
    tp, tok = _gather_part_points(tgt_kps)
    sp, tp = _to_normalised(sp, size), _to_normalised(tp, size)

    mirror = torch.tensor(MIRROR_PART, device=src_kps.device)
    # Direct correspondences and mirrored ones (target part j <- source part mirror(j)).
    tgt_pts = torch.cat([tp, tp], 0)  # (2B, 10, 6, 2)
    src_pts = torch.cat([sp, sp[:, mirror]], 0)
    w = torch.cat([tok & sok, tok & sok[:, mirror]], 0).float()
    theta, _ = _fit(tgt_pts.reshape(-1, 6, 2), src_pts.reshape(-1, 6, 2), w.reshape(-1, 6))
    theta = theta.reshape(2, b, NUM_PARTS, 2, 3)
    count = w.sum(-1).reshape(2, b, NUM_PARTS)

    # A limb needs both of its joints; torso and head need one correspondence (2+ for rotation/scale).
    need = torch.tensor([1, 1] + [2] * 8, device=src_kps.device)
    direct_ok = count[0] >= need
    mirror_ok = (count[1] >= need) & torch.isin(torch.arange(NUM_PARTS, device=src_kps.device),
                                                torch.tensor(LIMB_PARTS, device=src_kps.device))
    outside = OUTSIDE_THETA.to(theta.dtype).to(src_kps.device).expand(b, NUM_PARTS, 2, 3)
    out = torch.where(direct_ok[..., None, None], theta[0],
                      torch.where(mirror_ok[..., None, None], theta[1], outside))
    return out.contiguous(), direct_ok | mirror_ok


def _person_scale(kps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B,) person size in pixels: max of shoulder width, 0.6 x torso length, 1.3 x head-neck; else 0.15 H."""
    def dist(a: int, b: int, k: float) -> torch.Tensor:
        ok = (kps[:, a] >= 0).all(-1) & (kps[:, b] >= 0).all(-1)
        return torch.where(ok, k * (kps[:, a] - kps[:, b]).norm(dim=-1), torch.zeros_like(kps[:, 0, 0]))

    s = torch.stack([dist(2, 5, 1.0), dist(1, 8, 0.6), dist(1, 11, 0.6), dist(0, 1, 1.3)], -1).amax(-1)
    h = size[0]
    return torch.where(s > 0, s, torch.full_like(s, 0.15 * h)).clamp(min=0.04 * h, max=0.6 * h)


def person_scale(kps: np.ndarray, size: tuple[int, int]) -> float:
    """The person size in pixels (``_person_scale``) of one (18, 2) pose on an (H, W) image."""
    return float(_person_scale(torch.from_numpy(np.asarray(kps, np.float32))[None], size)[0])


def _segment_distance2(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared distance from points p (P, 2) to segments a-b (N, 2) -> (N, P)."""
    d = b - a  # (N, 2)
    apx = p[None, :, 0] - a[:, 0:1]  # (N, P)
    apy = p[None, :, 1] - a[:, 1:2]
    t = ((apx * d[:, 0:1] + apy * d[:, 1:2]) / (d * d).sum(-1, keepdim=True).clamp(min=1e-6)).clamp_(0, 1)
    return (apx - t * d[:, 0:1]).square_() + (apy - t * d[:, 1:2]).square_()


@functools.lru_cache(maxsize=16)
def _pixel_grid(size: tuple[int, int], stride: int, device: str) -> torch.Tensor:
    """(h*w, 2) centres (x, y), in full-canvas pixels, of the stride x stride cells covering an (H, W) canvas."""
    h, w = -(-size[0] // stride), -(-size[1] // stride)
    offset = (stride - 1) / 2
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) * stride + offset,
                            torch.arange(w, dtype=torch.float32) * stride + offset, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], -1).to(device)


def _torso_corners(kps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 4, 2) torso quad (r-shoulder, l-shoulder, l-hip, r-hip) with synthesised missing corners, ok (B,)."""
    rs, ls, lh, rh = kps[:, 2], kps[:, 5], kps[:, 11], kps[:, 8]
    v = lambda p: (p >= 0).all(-1, keepdim=True)  # noqa: E731
    # Missing hip: mirror the other hip across the body axis, or drop straight below the shoulders.
    shoulder_w = (ls - rs).norm(dim=-1, keepdim=True)
    down = torch.stack([torch.zeros_like(shoulder_w[:, 0]), TORSO_DEFAULT_LENGTH * shoulder_w[:, 0]], -1)
    rh = torch.where(v(rh), rh, torch.where(v(lh), lh + (rs - ls), rs + down))
    lh = torch.where(v(lh), lh, torch.where(v(kps[:, 8]), kps[:, 8] + (ls - rs), ls + down))
    ok = (v(rs) & v(ls))[:, 0]
    return torch.stack([rs, ls, lh, rh], 1), ok


def part_masks_torch(kps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Binary masks of the 10 parts drawn from a pose.

    Limbs are capsules around their bone, the torso is the shoulder-hip quadrilateral with a margin,
    the head a disc around the face keypoints. Sizes scale with the person (see _person_scale).
    Canvases taller than MASK_MAX_ROWS are rasterised on cells of 2x2 (or more) pixels and
    upsampled: the masks are coarse shapes anyway, and this keeps one pair at 256x192 near 1 ms.

    Args:
        kps: (B, 18, 2) xy pixel coordinates, -1 missing.
        size: (H, W).
    Returns:
        (B, 10, H, W) float32 in {0, 1}; all-zero for parts whose keypoints are missing.
    """
    kps = kps.float()
    b = kps.shape[0]
    h, w = size
    dev = kps.device
    stride = max(1, -(-h // MASK_MAX_ROWS))
    grid = _pixel_grid((h, w), stride, str(dev))  # (P, 2), P = ceil(H/stride) * ceil(W/stride)
    scale = _person_scale(kps, size)  # (B,)
    masks = torch.zeros(b, NUM_PARTS, grid.shape[0], device=dev)

    # Limbs: capsules.
    limb_idx = torch.tensor([PART_KEYPOINTS[p][:2] for p in LIMB_PARTS], device=dev)  # (8, 2)
    a, c = kps[:, limb_idx[:, 0]], kps[:, limb_idx[:, 1]]  # (B, 8, 2)
    ok = (a >= 0).all(-1) & (c >= 0).all(-1)
    dist2 = _segment_distance2(grid, a.reshape(-1, 2), c.reshape(-1, 2)).reshape(b, 8, -1)
    masks[:, 2:] = ((dist2 <= ((LIMB_RADIUS * scale) ** 2)[:, None, None]) & ok[..., None]).float()

    # Torso: inside the quad, or within a margin of its edges.
    quad, tok = _torso_corners(kps)  # (B, 4, 2)
    nxt = quad.roll(-1, dims=1)
    edge = nxt - quad  # (B, 4, 2)
    relx = grid[None, None, :, 0] - quad[:, :, None, 0]  # (B, 4, P)
    rely = grid[None, None, :, 1] - quad[:, :, None, 1]
    cross = edge[:, :, None, 0] * rely - edge[:, :, None, 1] * relx  # (B, 4, P)
    inside = (cross >= 0).all(1) | (cross <= 0).all(1)
    edist2 = _segment_distance2(grid, quad.reshape(-1, 2), nxt.reshape(-1, 2)).reshape(b, 4, -1).amin(1)
    masks[:, 0] = ((inside | (edist2 <= ((TORSO_MARGIN * scale) ** 2)[:, None])) & tok[:, None]).float()

    # Head: disc around the mean of visible face points (nose, eyes, ears), else around the neck top.
    face = kps[:, [0, 14, 15, 16, 17]]
    fv = (face >= 0).all(-1).float()  # (B, 5)
    centre = (face * fv[..., None]).sum(1) / fv.sum(1, keepdim=True).clamp(min=1)
    has_face = fv.sum(1) > 0
    centre = torch.where(has_face[:, None], centre, kps[:, 1] - torch.stack([torch.zeros_like(scale), 0.5 * scale], -1))
    head_ok = has_face | (kps[:, 1] >= 0).all(-1)
    hd2 = (grid[None, :, 0] - centre[:, None, 0]).square() + (grid[None, :, 1] - centre[:, None, 1]).square()  # (B, P)
    masks[:, 1] = ((hd2 <= ((HEAD_RADIUS * 0.5 * scale) ** 2)[:, None]) & head_ok[:, None]).float()
    masks = masks.reshape(b, NUM_PARTS, -(-h // stride), -(-w // stride))
    if stride > 1:
        masks = masks.repeat_interleave(stride, -2).repeat_interleave(stride, -1)[..., :h, :w]
    return masks.contiguous()


def warp_parts(x: torch.Tensor, theta: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
    """Warp a source map by each part's transform, optionally masked by the target part masks.

    Args:
        x: (B, C, H, W) source features / image / parsing.
        theta: (B, 10, 2, 3) target -> source transforms (normalised).
        masks: optional (B, 10, h, w) target part masks, resized to (H, W) if needed.
    Returns:
        (B, 10, C, H, W) warped copies.
    """
    b, c, h, w = x.shape
    k = theta.shape[1]
    grid = F.affine_grid(theta.reshape(b * k, 2, 3).to(x.dtype), [b * k, c, h, w], align_corners=False)
    xr = x[:, None].expand(b, k, c, h, w).reshape(b * k, c, h, w)
    out = F.grid_sample(xr, grid, mode="bilinear", padding_mode="zeros", align_corners=False).reshape(b, k, c, h, w)
    if masks is not None:
        if masks.shape[-2:] != (h, w):
            masks = F.interpolate(masks.to(x.dtype), size=(h, w), mode="nearest")
        out = out * masks[:, :, None].to(x.dtype)
    return out


def merge_parts(warped: torch.Tensor, reduce: str = "max") -> torch.Tensor:
    """(B, 10, C, H, W) -> (B, C, H, W) by a max (the paper's deformable skip) or a sum over parts."""
    if reduce == "max":
        return warped.amax(1)
    if reduce == "sum":
        return warped.sum(1)
    raise ValueError(f"reduce must be 'max' or 'sum', got {reduce!r}")


def part_transforms(src_kps: np.ndarray, tgt_kps: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One pair: (18, 2) poses -> theta (10, 2, 3) and valid (10,) as numpy arrays."""
    theta, valid = part_transforms_torch(torch.as_tensor(src_kps, dtype=torch.float32)[None],
                                         torch.as_tensor(tgt_kps, dtype=torch.float32)[None], size)
    return theta[0].numpy(), valid[0].numpy()


def part_masks(kps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One pose: (18, 2) -> (10, H, W) float32 binary masks."""
    return part_masks_torch(torch.as_tensor(kps, dtype=torch.float32)[None], size)[0].numpy()


def warp_image_by_parts(
    src: torch.Tensor, src_kps: torch.Tensor, tgt_kps: torch.Tensor, reduce: str = "max"
) -> torch.Tensor:
    """Move a source map (image, parsing, features) onto the target pose part by part.

    Args:
        src: (B, C, H, W); src_kps, tgt_kps: (B, 18, 2) on the same (H, W) canvas.
    Returns:
        (B, C, H, W): each target part region filled from the matching source part; zero elsewhere.
    """
    size = tuple(src.shape[-2:])
    theta, _ = part_transforms_torch(src_kps, tgt_kps, size)
    masks = part_masks_torch(tgt_kps, size)
    return merge_parts(warp_parts(src, theta, masks), reduce)


def segment_distance(shape: tuple[int, int], p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(H, W) distance of each pixel of an image of ``shape`` to the segment p -> q (xy)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.asarray(q, np.float32) - np.asarray(p, np.float32)
    t = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / max(float(d @ d), 1e-6), 0.0, 1.0)
    return np.hypot(xx - p[0] - t * d[0], yy - p[1] - t * d[1])
