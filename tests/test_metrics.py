"""Metric correctness: SSIM against hand computations, PSNR, PCKh, mIoU, FID/KID."""
import math

import numpy as np
import pytest

from sps import metrics as M


def _naive_ssim_channel(x: np.ndarray, y: np.ndarray, data_range: float = 255.0) -> float:
    """Direct windowed sums over every valid 11x11 position (independent of the conv implementation)."""
    xs = np.arange(-5, 6)
    g1 = np.exp(-0.5 * (xs / 1.5) ** 2)
    w = np.outer(g1, g1)
    w /= w.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    vals = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx = (w * px * px).sum() - mx**2
            vy = (w * py * py).sum() - my**2
            cxy = (w * px * py).sum() - mx * my
            vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def test_gaussian_window_is_11_taps():
    g = M.gaussian_window(1.5)
    assert g.numel() == 11 and abs(float(g.sum()) - 1) < 1e-12
    assert int(g.argmax()) == 5


def test_ssim_identical_is_one():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    assert M.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert M.masked_ssim(a, a, np.ones((40, 30))) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images_hand_value():
    # Constant images: variances and covariance are 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1).
    a = np.full((20, 20), 100.0)
    b = np.full((20, 20), 120.0)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 120 + c1) / (100**2 + 120**2 + c1)
    assert M.ssim(a, b) == pytest.approx(expected, rel=1e-10)


def test_ssim_matches_naive_window_sums_rgb_average():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (16, 14, 3)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 255)
    expected = np.mean([_naive_ssim_channel(a[..., c], b[..., c]) for c in range(3)])
    assert M.ssim(a, b) == pytest.approx(expected, rel=1e-9)
    assert 0 < M.ssim(a, b) < 1


def test_ssim_rejects_bad_shapes():
    with pytest.raises(ValueError):
        M.ssim(np.zeros((20, 20)), np.zeros((20, 21)))
    with pytest.raises(ValueError):
        M.ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_masked_ssim_ignores_outside_mask():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (30, 30, 3)).astype(np.float64)
    b = a.copy()
    b[:, 20:] = rng.integers(0, 256, (30, 10, 3))  # differs only outside the mask
    mask = np.zeros((30, 30), bool)
    mask[:, :20] = True
    assert M.masked_ssim(a, b, mask) == pytest.approx(1.0)
    assert M.ssim(a, b) < 0.9


def test_psnr_and_l1_formulas():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 10, np.uint8)
    assert M.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100))
    assert M.psnr(a, a) == math.inf
    assert M.l1(a, b) == pytest.approx(10 / 255)


def _pose():
    kps = np.full((18, 2), -1, np.float32)
    kps[0] = (50, 20)   # nose
    kps[1] = (50, 40)   # neck
    kps[14] = (45, 18)
    kps[15] = (55, 18)  # head box: w 10, h 22
    kps[2], kps[5] = (35, 42), (65, 42)
    kps[8], kps[11] = (42, 90), (58, 90)
    return kps


def test_pckh_synthetic():
    t = _pose()
    assert M.head_box(t) == (10.0, 22.0)
    assert M.pckh([t], [t]) == 1.0
    p = t.copy()
    p[2] += (4.9, 0)     # within 0.5 * 10 in x
    p[5] += (5.1, 0)     # outside in x
    p[8] += (0, 10.9)    # within 0.5 * 22 in y
    p[11] = -1           # missing prediction counts as wrong
    right, total = M.pckh_counts(p, t)
    assert total == 8 and right == 6
    assert M.pckh([p], [t]) == pytest.approx(6 / 8)
    no_head = np.full((18, 2), -1, np.float32)
    no_head[2] = (1, 1)
    assert M.pckh_counts(t, no_head) == (0, 0)
    assert math.isnan(M.pckh([t], [no_head]))


def test_miou_synthetic():
    t = np.zeros((4, 4), int)
    t[:2] = 3
    p = np.zeros((4, 4), int)
    p[:1] = 3
    # class 0: inter 8, union 12; class 3: inter 4, union 8 -> mean(2/3, 1/2)
    assert M.miou(p, t) == pytest.approx((8 / 12 + 4 / 8) / 2)
    assert M.miou(t, t) == 1.0
    acc = M.ParsingIoU()
    acc.update(p, t)
    acc.update(t, t)
    assert acc.per_class()[3] == pytest.approx((4 + 8) / (8 + 8))
    assert np.isnan(acc.per_class()[5])


def test_fid_kid_identical_near_zero_and_shift_detected():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(200, 16))
    assert M.fid_from_features(f, f) == pytest.approx(0.0, abs=1e-6)
    g = f + 1.0  # mean shift of 1 in each of 16 dims, same covariance -> FID = 16
    assert M.fid_from_features(f, g) == pytest.approx(16.0, rel=1e-6)
    kid_same, _ = M.kid_from_features(f, rng.normal(size=(200, 16)), subsets=10, subset_size=100)
    kid_diff, _ = M.kid_from_features(f, g, subsets=10, subset_size=100)
    assert abs(kid_same) < 0.05 < kid_diff


def test_frechet_distance_gaussians_closed_form():
    # 1-D: (m1 - m2)^2 + s1^2 + s2^2 - 2 s1 s2
    d = M.frechet_distance(np.array([0.0]), np.array([[4.0]]), np.array([1.0]), np.array([[9.0]]))
    assert d == pytest.approx(1 + 4 + 9 - 2 * 6)
