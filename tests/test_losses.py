"""Loss terms: values on known inputs, the semantic-aware style loss's region logic."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sps.losses import (
    LossWeights,
    content_loss,
    heatmap_mse,
    hinge_d,
    hinge_g,
    l1_loss,
    lsgan_d,
    lsgan_g,
    masked_lsgan_d,
    masked_lsgan_g,
    parsing_ce,
    pose_consistency,
    region_grams,
    style_loss,
    tv_loss,
)

torch.set_num_threads(1)


def test_adversarial_losses():
    ones, zeros = torch.ones(2, 1, 4, 3), torch.zeros(2, 1, 4, 3)
    assert lsgan_d(ones, zeros) == 0 and lsgan_g(ones) == 0
    assert lsgan_d(zeros, ones) == pytest.approx(1.0) and lsgan_g(zeros) == pytest.approx(1.0)
    assert lsgan_g([ones, zeros]) == pytest.approx(0.5)  # lists average (multi-scale)
    assert hinge_d(ones, -ones) == 0 and hinge_g(ones) == pytest.approx(-1.0)
    for v in (lsgan_d(ones, zeros), hinge_d(ones, zeros), lsgan_g(ones), hinge_g(ones)):
        assert v.dim() == 0


def test_adversarial_losses_are_float32_for_half_scores():
    half = torch.zeros(2, 1, 4, 3, dtype=torch.bfloat16)
    for v in (lsgan_g(half), lsgan_d(half, half), masked_lsgan_g(half, torch.ones(2, dtype=torch.bool))):
        assert v.dtype == torch.float32


def test_masked_lsgan_counts_only_valid_samples():
    ones, zeros = torch.ones(3, 1, 2, 2), torch.zeros(3, 1, 2, 2)
    fake = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2), torch.zeros(1, 2, 2)])  # D says real for #1 only
    ok = torch.tensor([False, True, False])
    assert masked_lsgan_g(fake, ok) == 0  # only sample 1 counts, and D calls it real
    torch.testing.assert_close(masked_lsgan_g(fake, torch.ones(3, dtype=torch.bool)), lsgan_g(fake))
    torch.testing.assert_close(masked_lsgan_d(ones, zeros, ok, ok), lsgan_d(ones, zeros))
    assert masked_lsgan_d(zeros, ones, ok, ok) == pytest.approx(1.0)
    x = torch.rand(3, 1, 2, 2, requires_grad=True)
    none = masked_lsgan_g(x, torch.zeros(3, dtype=torch.bool))  # no face found anywhere: 0 with a graph
    assert none == 0
    none.backward()
    assert x.grad is not None


def test_parsing_ce_index_and_soft_agree():
    torch.manual_seed(0)
    logits = torch.randn(2, 10, 8, 6, requires_grad=True)
    idx = torch.randint(0, 10, (2, 8, 6))
    a = parsing_ce(logits, idx)
    b = parsing_ce(logits, F.one_hot(idx, 10).permute(0, 3, 1, 2).float())
    torch.testing.assert_close(a, b)
    idx[0] = -1  # unlabelled pixels are ignored
    c = parsing_ce(logits, idx)
    torch.testing.assert_close(c, F.cross_entropy(logits[1:], idx[1:]))
    assert parsing_ce(logits, torch.full_like(idx, -1)) == 0
    c.backward()
    assert logits.grad is not None


def test_pose_content_tv():
    x = torch.rand(2, 18, 8, 6)
    assert pose_consistency(x, x) == 0 and pose_consistency(x, x + 0.5) == pytest.approx(0.25)
    feats = [torch.randn(2, 4, 8, 6), torch.randn(2, 8, 4, 3)]
    assert content_loss(feats, feats) == 0
    shifted = [f + 1 for f in feats]
    assert content_loss(feats, shifted) == pytest.approx(1.0) and content_loss(feats, shifted, "sum") == pytest.approx(2.0)
    assert tv_loss(torch.ones(1, 3, 5, 5)) == 0 and tv_loss(torch.rand(1, 3, 5, 5)) > 0
    assert heatmap_mse(x, x + 0.5) == pytest.approx(0.25)
    assert l1_loss(torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), -0.5)) == pytest.approx(0.5)


def _two_region_parsing(h: int = 16, w: int = 12, upper_label: int = 3, lower_label: int = 4) -> torch.Tensor:
    p = torch.zeros(1, h, w, dtype=torch.long)
    p[:, 2:8, 2:10] = upper_label
    p[:, 8:15, 2:10] = lower_label
    return p


def test_region_gram_normalised_by_area():
    f = torch.ones(1, 2, 4, 4)
    m = torch.zeros(1, 1, 4, 4)
    m[..., :2, :] = 1
    g, area = region_grams(f, m)
    assert area.item() == 8
    torch.testing.assert_close(g[0, 0], torch.full((2, 2), 0.5))  # mean of f f^T / C


def test_style_loss_regions():
    torch.manual_seed(0)
    par = _two_region_parsing()
    feats = [torch.randn(1, 6, 16, 12), torch.randn(1, 8, 8, 6)]
    assert style_loss(feats, par, feats, par) == 0

    # texture change (a stronger, different pattern) inside the pants (label 4) only
    changed = []
    for f in feats:
        g = f.clone()
        m = F.interpolate((par == 4).float()[:, None], size=f.shape[-2:], mode="nearest").bool().expand_as(f)
        g[m] = g[m] * 3 + 1
        changed.append(g)
    loss = style_loss(feats, par, changed, par)
    assert loss > 0.1

    # the same change counts only when the region exists in both maps: relabel pants as skirt in B
    par_b = _two_region_parsing(lower_label=5)
    only_upper = style_loss(feats, par, changed, par_b)
    upper_same = style_loss(feats, par, feats, par_b)
    torch.testing.assert_close(only_upper, upper_same)  # pants/skirt not compared
    assert only_upper < 0.05 * loss

    # face (label 1) is excluded
    face = par.clone()
    face[par == 4] = 1
    assert style_loss(feats, face, changed, face) < 0.05 * loss

    # soft (probability) parsing gives the same result as the index map
    soft = F.one_hot(par, 10).permute(0, 3, 1, 2).float()
    torch.testing.assert_close(style_loss(feats, soft, changed, soft), loss)


def test_style_loss_no_common_region_keeps_graph():
    feats = [torch.randn(1, 4, 8, 6, requires_grad=True)]
    a = _two_region_parsing(8, 6, 3, 4)
    b = torch.zeros_like(a)
    loss = style_loss(feats, a, feats, b)
    assert loss == 0
    loss.backward()
    assert feats[0].grad is not None


def test_loss_weights_paper_values():
    w = LossWeights()
    assert (w.adv, w.face, w.pose, w.content, w.style) == (1.0, 1.0, 700.0, 0.03, 1.0)
    assert LossWeights.paper().to_dict()["pose"] == 700.0
    assert LossWeights.paper().cycle_l1 == 0  # not in the paper
    assert (w.parsing_ce, w.semantic_cycle, w.heatmap) == (1.0, 1.0, 1000.0)
    assert "EfficientNet" in LossWeights.__doc__
