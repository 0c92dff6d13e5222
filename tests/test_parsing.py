"""sps.parsing: LIP -> 10-label merge, one-hot, flips, colours; merged real VITON maps."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sps import parsing as P
from sps.errors import ParsingError

LIP = {name: i for i, name in enumerate(P.LIP_LABELS)}
SPS = {name: i for i, name in enumerate(P.LABELS)}

# LIP labels with a fixed sps label (the sideless glove and socks are tested apart).
EXPECTED = {
    "background": "background", "hat": "hair", "hair": "hair", "sunglasses": "face",
    "upper-clothes": "upper clothes", "dress": "upper clothes", "coat": "upper clothes", "pants": "pants",
    "jumpsuits": "pants", "scarf": "upper clothes", "skirt": "skirt", "face": "face",
    "left-arm": "left arm", "right-arm": "right arm", "left-leg": "left leg", "right-leg": "right leg",
    "left-shoe": "left leg", "right-shoe": "right leg",
}


def test_label_tables():
    assert P.NUM_LABELS == len(P.LABELS) == 10 and len(P.LIP_LABELS) == 20 and len(P.LIP_TO_SPS) == 20
    assert P.PALETTE.shape == (10, 3) and P.PALETTE.dtype == np.uint8
    assert len({tuple(c) for c in P.PALETTE}) == 10  # distinct colours


@pytest.mark.parametrize("lip_name,sps_name", sorted(EXPECTED.items()))
def test_every_lip_label_maps_as_documented(lip_name, sps_name):
    lip = np.zeros((4, 6), np.uint8)
    lip[1:3, 2:4] = LIP[lip_name]
    out = P.merge_lip(lip)
    assert out.dtype == np.int64 and out.shape == lip.shape
    assert (out[1:3, 2:4] == SPS[sps_name]).all() and (out[0] == 0).all()


@pytest.mark.parametrize("lip_name,left,right", [("glove", "left arm", "right arm"), ("socks", "left leg", "right leg")])
def test_sideless_labels_take_the_nearer_side(lip_name, left, right):
    limb = "arm" if lip_name == "glove" else "leg"
    lip = np.zeros((10, 40), np.uint8)
    lip[:, 30:34] = LIP[f"left-{limb}"]  # a frontal person's left side is on the image's right
    lip[:, 4:8] = LIP[f"right-{limb}"]
    lip[8:, 34:36] = LIP[lip_name]  # next to the left limb
    lip[8:, 2:4] = LIP[lip_name]  # next to the right limb
    out = P.merge_lip(lip)
    assert (out[8:, 34:36] == SPS[left]).all()
    assert (out[8:, 2:4] == SPS[right]).all()
    # only one side present -> that side, wherever the pixels are
    only_right = np.where(lip == LIP[f"left-{limb}"], 0, lip)
    out = P.merge_lip(only_right)
    assert (out[8:, 34:36] == SPS[right]).all()
    # no side present -> the documented default (left), never an out-of-range id
    alone = np.zeros((5, 5), np.uint8)
    alone[2, 2] = LIP[lip_name]
    assert P.merge_lip(alone)[2, 2] == SPS[left]


def test_out_of_range_labels_raise():
    with pytest.raises(ParsingError, match=r"labels \[20\] out of range \[0, 19\]"):
        P.merge_lip(np.full((3, 3), 20, np.uint8))
    with pytest.raises(ParsingError, match="my.png"):
        P.merge_lip(np.array([[0, -1]]), where="my.png")
    with pytest.raises(ParsingError, match=r"out of range \[0, 9\]"):
        P.validate_labels(np.array([[0, 10]]))
    with pytest.raises(ParsingError):
        P.colorize(np.array([[12]]))
    with pytest.raises(ParsingError, match="out of range"):
        P.one_hot(np.array([[0, 10]]))
    with pytest.raises(ParsingError, match=r"\(H, W\)"):
        P.validate_labels(np.zeros((2, 2, 3), np.int64))


def test_one_hot_to_index_round_trip():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 10, (2, 16, 12))
    oh = P.one_hot(idx)
    assert oh.shape == (2, 10, 16, 12) and oh.dtype == torch.float32
    assert torch.equal(oh.sum(1), torch.ones(2, 16, 12))
    assert torch.equal(P.to_index(oh), torch.from_numpy(idx))
    single = P.one_hot(torch.from_numpy(idx[0]))
    assert single.shape == (10, 16, 12)
    assert torch.equal(P.to_index(single), torch.from_numpy(idx[0]))
    # soft maps and logits decode by argmax
    assert torch.equal(P.to_index(torch.log_softmax(oh * 5, dim=1)), torch.from_numpy(idx))


def test_flip_parsing_swaps_sides_and_is_an_involution():
    idx = np.zeros((4, 6), np.int64)
    idx[:, 0] = SPS["left arm"]
    idx[:, 1] = SPS["right leg"]
    idx[:, 2] = SPS["face"]
    f = P.flip_parsing(idx)
    assert (f[:, 5] == SPS["right arm"]).all()
    assert (f[:, 4] == SPS["left leg"]).all()
    assert (f[:, 3] == SPS["face"]).all()
    full = np.random.default_rng(1).integers(0, 10, (8, 7))
    np.testing.assert_array_equal(P.flip_parsing(P.flip_parsing(full)), full)
    for a, b in ((6, 7), (8, 9)):
        assert P.FLIP_LABELS[a] == b and P.FLIP_LABELS[b] == a


def test_colorize_and_nearest_label():
    idx = np.arange(10).reshape(2, 5)
    rgb = P.colorize(idx)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 5, 3)
    for lab in range(10):
        assert tuple(rgb.reshape(-1, 3)[lab]) == tuple(P.PALETTE[lab])
    np.testing.assert_array_equal(P.nearest_label(rgb), idx)
    noisy = np.clip(rgb.astype(int) + np.random.default_rng(2).integers(-6, 7, rgb.shape), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(P.nearest_label(noisy), idx)  # survives mild JPEG-like noise
    rgba = np.concatenate([rgb, np.full((2, 5, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(P.nearest_label(rgba), idx)


def test_legend_has_ten_rows():
    img = P.legend()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    swatch, row = 14, 20
    assert img.shape[0] == row * 10 + 4
    for lab in range(10):
        y = 3 + lab * row + swatch // 2
        assert tuple(img[y, 4 + swatch // 2]) == tuple(P.PALETTE[lab])
    assert P.legend((1, 3)).shape[0] == row * 2 + 4


def test_overlay_keeps_background():
    photo = np.random.default_rng(3).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    idx = np.zeros((8, 8), np.int64)
    idx[2:5, 2:5] = SPS["upper clothes"]
    out = P.overlay(photo, idx, alpha=0.5)
    bg = idx == 0
    np.testing.assert_array_equal(out[bg], photo[bg])
    expect = np.round(photo[2:5, 2:5] * 0.5 + P.PALETTE[3] * 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out[2:5, 2:5], expect)
    with pytest.raises(ParsingError, match="differ in size"):
        P.overlay(photo, np.zeros((4, 4), np.int64))


def test_real_viton_parsing_merges_to_ten_labels(viton_train):
    files = sorted((viton_train / "parsing").glob("*.png"))[::300][:40]
    assert len(files) >= 30
    counts = np.zeros(10)
    for f in files:
        with Image.open(f) as im:
            lip = np.asarray(im)  # palette index = LIP id
        assert lip.ndim == 2 and lip.max() < 20
        out = P.merge_lip(lip, where=str(f))
        assert out.min() >= 0 and out.max() <= 9
        counts += np.bincount(out.ravel(), minlength=10) > 0
    frac = counts / len(files)
    for name in ("background", "face", "hair", "upper clothes"):
        assert frac[SPS[name]] > 0.8, (name, frac)
    assert frac[SPS["left arm"]] > 0.5 and frac[SPS["right arm"]] > 0.5


def test_grow_labels_fills_from_the_nearest_allowed_label():
    labels = np.array([[3, 3, 0, 0],
                       [3, 9, 9, 0],
                       [0, 0, 0, 0]])
    todo = labels == 9
    out = P.grow_labels(labels, todo, min_label=1)
    assert out.tolist() == [[3, 3, 0, 0], [3, 3, 3, 0], [0, 0, 0, 0]]  # grown from the 3s, never from background
    assert P.grow_labels(labels, todo, min_label=0)[1, 2] == 0  # background allowed: the nearer one wins
    lone = np.full((3, 3), 5)
    assert (P.grow_labels(lone, lone == 5) == 5).all()  # nothing to grow from: unchanged
