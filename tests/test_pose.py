"""sps.pose: keypoint files, heatmaps, skeleton drawing and the canvas algebra (synthetic, exact)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sps import pose as K
from sps.errors import KeypointError


@pytest.fixture
def pose(synth) -> np.ndarray:
    """A 256x192 standing pose with the right knee and ankle missing."""
    kps = synth.pose(256, 192)
    kps[9:11] = -1
    return kps


def test_csv_round_trip(tmp_path, synth, pose):
    poses = {"a.jpg": pose, "b.jpg": synth.pose(128, 64)}
    path = tmp_path / "keypoints.csv"
    K.write_keypoints_csv(path, poses)
    assert path.read_text().splitlines()[0] == "name:keypoints_y:keypoints_x"
    back = K.read_keypoints_csv(path)
    assert list(back) == ["a.jpg", "b.jpg"]
    for name, kps in poses.items():
        np.testing.assert_array_equal(back[name], kps)
        assert back[name].dtype == np.float32 and back[name].shape == (18, 2)


def test_csv_order_is_y_then_x(tmp_path):
    path = tmp_path / "k.csv"
    ys, xs = list(range(18)), list(range(100, 118))
    path.write_text(f"name:keypoints_y:keypoints_x\nimg.jpg: {ys}: {xs}\n")
    kps = K.read_keypoints_csv(path)["img.jpg"]
    np.testing.assert_array_equal(kps[:, 0], xs)
    np.testing.assert_array_equal(kps[:, 1], ys)


def test_malformed_row_names_file_and_line(tmp_path, pose):
    path = tmp_path / "keypoints.csv"
    good = K.format_keypoint_line("a.jpg", pose)
    path.write_text(f"name:keypoints_y:keypoints_x\n{good}\nb.jpg [1, 2, 3]\n")
    with pytest.raises(KeypointError, match=rf"{path}:3"):
        K.read_keypoints_csv(path)


def test_non_numeric_value_names_file_and_line(tmp_path):
    path = tmp_path / "keypoints.csv"
    vals = ", ".join(["1"] * 17 + ["x"])
    path.write_text(f"a.jpg: [{vals}]: [{vals}]\n")
    with pytest.raises(KeypointError, match=rf"{path}:1.*non-numeric"):
        K.read_keypoints_csv(path)


def test_wrong_keypoint_count(tmp_path):
    path = tmp_path / "keypoints.csv"
    short = list(range(17))
    path.write_text(f"name:keypoints_y:keypoints_x\na.jpg: {short}: {short}\n")
    with pytest.raises(KeypointError, match=rf"{path}:2.*expected 18 values, got 17"):
        K.read_keypoints_csv(path)
    with pytest.raises(KeypointError, match="expected 18 keypoints"):
        K.validate_keypoints(np.zeros((17, 2)))
    with pytest.raises(KeypointError, match="NaN"):
        K.validate_keypoints(np.full((18, 2), np.nan))


def test_missing_keypoint_file():
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        K.read_keypoints_csv("/nonexistent/nowhere.csv")


def test_openpose_json_round_trip(tmp_path, pose):
    kps = pose
    kps[3] = (12.5, 40.25)
    path = tmp_path / "pose.json"
    K.write_openpose_json(path, kps)
    back = K.read_openpose_json(path)
    np.testing.assert_allclose(back, kps)
    assert (back[9:11] == -1).all()


def test_openpose_json_errors(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text('{"people": []}')
    with pytest.raises(KeypointError, match="no person"):
        K.read_openpose_json(path)
    path.write_text('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}')
    with pytest.raises(KeypointError, match="expected 54"):
        K.read_openpose_json(path)


@pytest.mark.parametrize("h,w", [(256, 192), (128, 96)])
def test_heatmap_peak_and_sigma(h, w):
    kps = np.full((18, 2), -1, np.float32)
    kps[0] = (w // 2, h // 3)
    maps = K.heatmaps(kps, (h, w))
    assert maps.shape == (18, h, w) and maps.dtype == np.float32
    y, x = np.unravel_index(maps[0].argmax(), maps[0].shape)
    assert (x, y) == (w // 2, h // 3) and maps[0, y, x] == pytest.approx(1.0)
    sigma = K.heatmap_sigma(h)
    assert sigma == pytest.approx(6.0 * h / 256)
    assert maps[0, h // 3, w // 2 + int(sigma)] == pytest.approx(math.exp(-0.5), rel=1e-5)  # one sigma away
    assert (maps[1:] == 0).all()  # missing joints -> zero channels


def test_heatmaps_torch_batched_matches_numpy(synth, pose):
    a, b = pose, synth.pose(256, 192)
    batch = K.heatmaps_torch(torch.from_numpy(np.stack([a, b])), (64, 48))
    assert batch.shape == (2, 18, 64, 48)
    np.testing.assert_allclose(batch[1].numpy(), K.heatmaps(b, (64, 48)), atol=1e-6)
    assert (batch[0, 9] == 0).all() and (batch[0, 10] == 0).all()


def test_render_skeleton_draws_limbs_only_for_visible_joints():
    kps = np.full((18, 2), -1, np.float32)
    kps[1], kps[2] = (50, 40), (20, 40)  # neck -> right shoulder, horizontal
    img = K.render_skeleton(kps, (128, 96))
    assert img.shape == (128, 96, 3) and img.dtype == np.uint8
    assert all(img[40, x].any() for x in range(22, 49))  # along the limb
    assert not img[100:].any() and not img[:30].any()  # nothing elsewhere
    assert not K.render_skeleton(np.full((18, 2), -1, np.float32), (32, 32)).any()
    # a limb with one missing joint is not drawn
    kps[2] = -1
    img2 = K.render_skeleton(kps, (128, 96))
    assert not img2[40, 22:40].any()


def test_render_skeleton_on_background(synth):
    bg = np.full((64, 48, 3), 10, np.uint8)
    out = K.render_skeleton(synth.pose(64, 48), None, background=bg)
    assert out.shape == bg.shape and (out != 10).any() and (bg == 10).all()


def test_flip_twice_is_identity_and_swaps_sides(pose):
    kps = pose
    f = K.flip_keypoints(kps, 192)
    np.testing.assert_allclose(K.flip_keypoints(f, 192), kps)
    # the person's right shoulder (2) becomes the mirrored left shoulder (5) and vice versa
    assert f[5, 0] == pytest.approx(191 - kps[2, 0]) and f[5, 1] == kps[2, 1]
    assert f[2, 0] == pytest.approx(191 - kps[5, 0])
    assert f[0, 0] == pytest.approx(191 - kps[0, 0])
    # missing stays missing, on the swapped side
    assert (f[12:14] == -1).all() and (f[9:11] != -1).all()
    perm = np.array(K.FLIP_PERMUTATION)
    np.testing.assert_array_equal(perm[perm], np.arange(18))
    swap = {"right": "left", "left": "right"}
    for i, j in enumerate(perm):
        side, _, rest = K.KEYPOINT_NAMES[i].partition("_")
        expected = f"{swap[side]}_{rest}" if side in swap else K.KEYPOINT_NAMES[i]
        assert K.KEYPOINT_NAMES[j] == expected


def test_resize_pad_crop():
    kps = np.full((18, 2), -1, np.float32)
    kps[0], kps[1] = (0, 0), (191, 255)
    r = K.resize_keypoints(kps, (256, 192), (128, 96))
    np.testing.assert_allclose(r[:2], [[-0.25, -0.25], [95.25, 127.25]])  # pixel centres map to pixel centres
    # (-0.25 is still a visible joint: only the input's -1 marks missing)
    p = K.pad_keypoints(kps, top=3, left=8)
    np.testing.assert_array_equal(p[:2], [[8, 3], [199, 258]])
    assert (p[2:] == -1).all()
    c = K.crop_keypoints(kps, top=10, left=10, size=(100, 100))
    assert (c[0] == -1).all() and (c[1] == -1).all()  # both outside the crop
    kps[2] = (50, 60)
    c = K.crop_keypoints(kps, top=10, left=10, size=(100, 100))
    np.testing.assert_array_equal(c[2], (40, 50))


@pytest.mark.parametrize("src,canvas,expect", [
    ((256, 176), (256, 192), (1.0, (256, 176), (0, 8))),  # DeepFashion -> paper canvas: 8 px each side
    ((256, 192), (128, 96), (0.5, (128, 96), (0, 0))),  # VITON -> cpu canvas
    ((128, 64), (128, 96), (1.0, (128, 64), (0, 16))),  # Market
    ((256, 256), (128, 96), (0.375, (96, 96), (16, 0))),  # square demo image
])
def test_fit_canvas(src, canvas, expect):
    assert K.fit_canvas(src, canvas) == expect


@pytest.mark.parametrize("src,canvas", [((256, 176), (256, 192)), ((256, 192), (128, 96)), ((128, 64), (256, 192)),
                                        ((300, 500), (128, 96))])
def test_keypoints_canvas_round_trip(src, canvas, synth):
    kps = synth.pose(*src)
    kps[4] = -1
    on = K.keypoints_to_canvas(kps, src, canvas)
    assert (on[4] == -1).all()
    vis = K.visible(on)
    assert (on[vis, 0] <= canvas[1] - 1 + 1e-4).all() and (on[vis, 1] <= canvas[0] - 1 + 1e-4).all()
    np.testing.assert_allclose(K.keypoints_from_canvas(on, src, canvas), kps, atol=1e-4)


def test_deepfashion_shift_is_exact(synth):
    kps = synth.pose(256, 176)
    on = K.keypoints_to_canvas(kps, (256, 176), (256, 192))
    np.testing.assert_allclose(on, kps + np.array([8, 0], np.float32))


def test_pose_scale_and_descriptor(synth):
    kps = synth.pose(256, 192)
    s = K.pose_scale(kps)
    assert s > 0
    assert K.pose_scale(kps * 2) == pytest.approx(2 * s, rel=1e-5)
    assert K.pose_scale(np.full((18, 2), -1, np.float32)) == 0.0
    d1, v1 = K.pose_descriptor(kps)
    d2, _ = K.pose_descriptor(kps * 3 + 17)  # translation and scale invariant
    np.testing.assert_allclose(d1, d2, atol=1e-5)
    assert v1.all()
