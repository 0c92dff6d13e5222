"""Training augmentations: geometry moves image, parsing and keypoints together; colour touches the image only."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sps import pose as K
from sps.train.augment import AugmentConfig, LayoutZoom, augment, clutter, colour, zoom, zoom_pair

from conftest import synthetic_parsing, synthetic_pose

OFF = dict(zoom=0.0, clutter=0.0, colour=0.0, grayscale=0.0)


def _batch(b=4, h=64, w=48):
    kps = torch.from_numpy(np.stack([synthetic_pose(h, w) for _ in range(b)]))
    par = torch.from_numpy(np.stack([synthetic_parsing(h, w, k.numpy()) for k in kps]).astype(np.int64))
    img = torch.rand(b, 3, h, w) * 2 - 1
    img = torch.where(par[:, None] == 0, torch.ones_like(img), img)  # white studio background
    return img, par, kps


def test_everything_off_is_the_identity():
    img, par, kps = _batch()
    out = augment(img, par, kps, AugmentConfig(**OFF), torch.Generator().manual_seed(0))
    for a, b in zip(out, (img, par, kps)):
        assert torch.equal(a, b)


def test_zoom_keeps_labels_on_the_image_and_moves_keypoints():
    img, par, kps = _batch()
    g = torch.Generator().manual_seed(1)
    zi, zp, zk = zoom(img, par, kps, AugmentConfig(zoom=1.0, scale=(1.5, 1.5)), g)
    assert zi.shape == img.shape and zp.shape == par.shape and zk.shape == kps.shape
    assert zp.min() >= 0 and zp.max() < 10
    # a zoom in shows fewer joints, and every visible one sits on a pixel of its label's body region
    assert K.visible(zk).sum() < K.visible(kps).sum()
    vis = K.visible(zk)
    assert (zk[vis] >= 0).all() and (zk[vis][:, 0] <= 47).all() and (zk[vis][:, 1] <= 63).all()
    # the neck moved where the image content moved: its labelled pixel is a person pixel
    for i in range(4):
        if vis[i, 1]:
            x, y = zk[i, 1].round().long()
            assert zp[i, y, x] != 0
    # the person's pixels stay where the labels say (white background stays background)
    bg = (zp == 0)[:, None].expand_as(zi)
    assert (zi[bg] > 0.9).float().mean() > 0.9  # (bilinear image vs nearest labels differ at edges)


def test_zoom_out_pads_white_and_background():
    img, par, kps = _batch()
    zi, zp, zk = zoom(img, par, kps, AugmentConfig(zoom=1.0, scale=(0.6, 0.6)), torch.Generator().manual_seed(2))
    assert (zp[:, 0] == 0).all() and torch.allclose(zi[:, :, 0], torch.ones_like(zi[:, :, 0]))
    assert K.visible(zk).sum() == K.visible(kps).sum()


def test_clutter_changes_only_the_background():
    img, par, kps = _batch()
    out = clutter(img, par, AugmentConfig(clutter=1.0), torch.Generator().manual_seed(3))
    person = (par != 0)[:, None].expand_as(img)
    assert torch.equal(out[person], img[person])
    assert (out[~person] < 0.9).float().mean() > 0.1  # no longer plain white (tiles of people and backdrops)


def test_colour_and_grayscale():
    img, par, kps = _batch()
    g = torch.Generator().manual_seed(4)
    grey = colour(img, AugmentConfig(colour=0.0, grayscale=1.0), g)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    jit = colour(img, AugmentConfig(colour=1.0, grayscale=0.0), g)
    assert jit.min() >= -1 and jit.max() <= 1 and not torch.allclose(jit, img)


def test_same_generator_same_draws_and_validation():
    img, par, kps = _batch()
    a = augment(img, par, kps, AugmentConfig(), torch.Generator().manual_seed(5))
    b = augment(img, par, kps, AugmentConfig(), torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig(zoom=2.0)
    with pytest.raises(ValueError, match="scale"):
        AugmentConfig(scale=(1.2, 0.8))


def test_zoom_pair_cuts_the_source_to_a_half_body_and_leaves_an_unzoomed_side_alone():
    img, par, kps = _batch()
    batch = {"src_image": img, "src_parsing": par, "src_kps": kps,
             "tgt_image": img.clone(), "tgt_parsing": par.clone(), "tgt_kps": kps.clone()}
    out = zoom_pair(batch, LayoutZoom(source=1.0, source_scale=(1.8, 1.8)), torch.Generator().manual_seed(6))
    for k in ("tgt_image", "tgt_parsing", "tgt_kps"):  # the candidate is untouched
        assert torch.equal(out[k], batch[k])
    # the source is a close-up: fewer joints (the ankles go first), a larger share of person pixels
    assert K.visible(out["src_kps"]).sum() < K.visible(kps).sum()
    assert not K.visible(out["src_kps"])[:, [10, 13]].any()
    assert (out["src_parsing"] != 0).float().mean() > (par != 0).float().mean()
    both = zoom_pair(batch, LayoutZoom(source=1.0, target=1.0), torch.Generator().manual_seed(6))
    assert not torch.equal(both["tgt_parsing"], par)
    with pytest.raises(ValueError, match="zooms in only"):
        LayoutZoom(source_scale=(0.8, 1.2))
    with pytest.raises(ValueError, match="probability"):
        LayoutZoom(target=1.5)
