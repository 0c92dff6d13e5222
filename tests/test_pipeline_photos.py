"""The pipeline on photos of real people: missing joints inferred, refusals that name what is missing, the person's
window pasted back into the photo (background kept, the photo grown to hold the target pose), large photos
downscaled. Random tiny networks where the behaviour does not depend on them; the shipped weights on a few real
photos where it does."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sps import SPSPipeline
from sps import pose as K
from sps.errors import NoPersonError, TooFewKeypointsError
from sps.parts import part_masks
from sps.pipeline.compose import CARRY_ON
from sps.errors import MissingPartsError

from fixtures_pipeline import move_arm, person_parsing, person_pose

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent
WEIGHTS = REPO / "weights"


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _portrait() -> tuple[np.ndarray, np.ndarray]:
    """A 96 x 96 head-and-shoulders portrait: head, shoulders, elbows; the photo ends above the waist."""
    kps = np.full((18, 2), -1, np.float32)
    kps[[0, 1, 2, 5, 3, 6, 14, 15, 16, 17]] = [(48, 30), (48, 50), (28, 52), (68, 52), (22, 85), (74, 85),
                                               (43, 26), (53, 26), (38, 28), (58, 28)]
    return _photo(96, 96, 1), kps


def _waist_up(kps: np.ndarray) -> np.ndarray:
    out = kps.copy()
    out[[9, 10, 12, 13]] = -1
    return out


@pytest.fixture
def margin(random_pipeline):
    """The random G_S's labels far from the target body become background (as the shipped settings do)."""
    random_pipeline.settings.model.target_margin = 0.1
    yield random_pipeline
    random_pipeline.settings.model.target_margin = 0.0


# ------------------------------------------------------------------------------------------------
# Missing joints are inferred; refusals name what is missing
# ------------------------------------------------------------------------------------------------

def test_missing_neck_and_shoulder_are_inferred_and_marked(random_pipeline):
    img, kps = _photo(128, 96), person_pose(128, 96)
    given = kps.copy()
    given[[1, 5]] = -1
    res = random_pipeline(img, move_arm(kps), source_keypoints=given, source_parsing=person_parsing(128, 96, kps))
    assert res.inferred_joints == ("neck", "left_shoulder")
    assert any("neck, left_shoulder was not found and was inferred" in n for n in res.notes)
    # the lone right shoulder mirrored through an inferred neck: near where they were
    np.testing.assert_allclose(res.source_keypoints[[1, 5]], kps[[1, 5]], atol=0.1 * 128)
    full = random_pipeline(img, move_arm(kps), source_keypoints=kps)
    assert full.inferred_joints == ()


def test_estimated_pose_without_neck_is_completed(random_pipeline, monkeypatch):
    """The pose estimator misses the neck and a shoulder on both passes: they are inferred, not refused."""
    img = _photo(128, 96, 2)

    def no_neck(photo):
        k = K.keypoints_to_canvas(person_pose(*photo.size), photo.size, random_pipeline.canvas)
        k[[1, 2]] = -1
        return k

    monkeypatch.setattr(random_pipeline, "estimate_keypoints", no_neck)
    res = random_pipeline(img, person_pose(128, 96))
    assert set(res.inferred_joints) == {"neck", "right_shoulder"}
    assert K.visible(res.source_keypoints)[[1, 2, 5]].all()


def test_no_person_is_refused(random_pipeline, monkeypatch):
    monkeypatch.setattr(random_pipeline, "parse", lambda photo: np.zeros(random_pipeline.canvas, np.int64))
    monkeypatch.setattr(random_pipeline, "estimate_keypoints", lambda photo: np.full((18, 2), -1, np.float32))
    with pytest.raises(NoPersonError, match="no person found: .*finds 0 joints"):
        random_pipeline(_photo(64, 48), person_pose(64, 48))


def test_legs_asked_of_a_portrait_are_refused_naming_them(random_pipeline):
    img, kps = _portrait()
    full = person_pose(256, 192)
    with pytest.raises(MissingPartsError, match="right_knee, right_ankle, left_knee, left_ankle.*waist up") as info:
        random_pipeline(img, full, source_keypoints=kps, target_size=(256, 192), placement="frame")
    assert isinstance(info.value, TooFewKeypointsError)
    # placed on the person, the legs fall below the portrait and are left out (poses.keep_framing): the portrait is
    # re-posed within its own framing, not grown for hips and legs it does not show
    for pose in (full, _waist_up(full)):
        res = random_pipeline(img, pose, source_keypoints=kps, target_size=(256, 192), placement="person")
        assert res.grown == (0, 0, 0, 0) and res.image.size == (96, 96)
        assert not K.visible(res.target_keypoints)[[8, 9, 10, 11, 12, 13]].any()
        assert K.visible(res.target_keypoints)[[1, 2, 5]].all()


# ------------------------------------------------------------------------------------------------
# Paste-back: the photo's background is kept; the photo grows to hold the target pose
# ------------------------------------------------------------------------------------------------

def _near(kps_list: list[np.ndarray], size: tuple[int, int], radius: int) -> np.ndarray:
    """(H, W) bool: within ``radius`` pixels of the body parts the poses draw."""
    body = np.zeros(size, np.float32)
    for kps in kps_list:
        body = np.maximum(body, part_masks(kps, size).max(0))
    t = torch.from_numpy(body)[None, None]
    return torch.nn.functional.max_pool2d(t, 2 * radius + 1, 1, radius)[0, 0].numpy() > 0


def test_paste_back_keeps_the_background_far_from_the_person(margin):
    pipe = margin
    h, w = 96, 192
    img = _photo(h, w, 3)
    kps = person_pose(h, 64)  # a person in the left third of a landscape photo
    par = np.zeros((h, w), np.int64)
    par[:, :64] = person_parsing(h, 64, kps)
    tgt = move_arm(kps)
    res = pipe(img, tgt, source_keypoints=kps, source_parsing=par)
    out = np.asarray(res.image)
    assert out.shape == img.shape and res.grown == (0, 0, 0, 0)
    top, left, wh, ww = res.window
    outside = np.ones((h, w), bool)
    outside[max(0, top):top + wh, max(0, left):left + ww] = False
    assert outside.sum() > 0.4 * h * w
    np.testing.assert_array_equal(out[outside], img[outside])  # untouched outside the window
    far = ~_near([kps, tgt], (h, w), radius=int(0.2 * wh))
    assert (far & ~outside).any()
    np.testing.assert_array_equal(out[far], img[far])  # and inside it, far from both bodies
    assert (out != img).any(axis=-1)[_near([tgt], (h, w), 0)].mean() > 0.5  # the person was repainted


def test_photo_grows_to_hold_a_full_body_pose(margin):
    """A full-body pose asked of a landscape photo (the photo fitted into the pose's 256 x 192 grid): the head and
    the feet fall outside it, so the output grows at the top and the bottom, the added strips filled from the
    photo's colours (not white); the photo's own pixels far from both people stay as they were."""
    pipe = margin
    h, w = 96, 192
    img = _photo(h, w, 4)
    kps = person_pose(h, 64)  # the person on the left
    res = pipe(img, person_pose(256, 192), source_keypoints=kps, target_size=(256, 192))
    top, bottom, left, right = res.grown
    assert top > 0 and bottom > 0 and left == right == 0
    assert res.image.size == (w, h + top + bottom)
    assert any("grown" in n for n in res.notes)
    assert K.visible(res.target_keypoints).all()  # the whole target pose is in the output
    assert res.target_keypoints[:, 1].min() >= 0 and res.target_keypoints[:, 1].max() <= h + top + bottom - 1
    assert res.source_parsing.shape == (h, w) and res.target_parsing.shape == (h + top + bottom, w)
    out = np.asarray(res.image).astype(float)
    for strip in (out[:top // 2], out[-(bottom // 2):]):
        assert abs(strip.mean() - img.mean()) < 30 and strip.mean() < 200
    size, radius = (h + top + bottom, w), int(0.12 * res.window[2])
    far = ~(_near([K.pad_keypoints(kps, top, 0)], size, radius) | _near([res.target_keypoints], size, radius))
    far = far[top:top + h]
    assert far.sum() > 500
    np.testing.assert_array_equal(out[top:top + h][far], img[far])


def test_person_placement_keeps_the_person_in_place(random_pipeline):
    """placement="person": a pose on another grid is scaled and moved onto the source person (necks together)."""
    h, w = 160, 240
    kps = person_pose(80, 60) + (150, 40)  # a small person right of centre
    res = random_pipeline(_photo(h, w, 5), person_pose(256, 192), source_keypoints=kps, target_size=(256, 192),
                          placement="person")
    tk = res.target_keypoints
    np.testing.assert_allclose(tk[1], kps[1], atol=1.0)
    assert abs(np.linalg.norm(tk[2] - tk[5]) - np.linalg.norm(kps[2] - kps[5])) < 2.0
    with pytest.raises(ValueError, match="placement"):
        random_pipeline(_photo(h, w), person_pose(h, w), source_keypoints=kps, placement="somewhere")
    # a waist-up pose stands on the person's own legs: knees and ankles where the person's are, relative to the hips
    waist_up = person_pose(256, 192)
    waist_up[9:11] = waist_up[12:14] = -1
    res = random_pipeline(_photo(h, w, 5), waist_up, source_keypoints=kps, target_size=(256, 192),
                          placement="person")
    tk = res.target_keypoints
    assert K.visible(tk)[[9, 10, 12, 13]].all()
    np.testing.assert_allclose(tk[10] - tk[8], kps[10] - kps[8], atol=1.0)
    np.testing.assert_allclose(tk[13] - tk[11], kps[13] - kps[11], atol=1.0)


def test_edit_and_texture_transfer_paste_back(margin):
    pipe = margin
    h, w = 96, 160
    img, kps = _photo(h, w, 6), person_pose(h, 64)
    par = np.zeros((h, w), np.int64)
    par[:, :64] = person_parsing(h, 64, kps)
    res = pipe.edit(img, np.where(par == 3, 4, par), source_keypoints=kps, source_parsing=par)
    far = ~_near([kps], (h, w), radius=int(0.2 * res.window[2]))
    np.testing.assert_array_equal(np.asarray(res.image)[far], img[far])
    clothes = _photo(96, 96, 7)
    ck = person_pose(96, 96)
    tex = pipe.transfer_texture(img, clothes, person_keypoints=kps, person_parsing=par, clothes_keypoints=ck,
                                clothes_parsing=person_parsing(96, 96, ck))
    assert tex.image.size == (w, h)
    np.testing.assert_array_equal(np.asarray(tex.image)[far], img[far])


# ------------------------------------------------------------------------------------------------
# Large photos
# ------------------------------------------------------------------------------------------------

def test_large_photo_is_downscaled(random_pipeline, tmp_path):
    s = random_pipeline.settings
    s.max_side = 128
    try:
        img, kps = _photo(300, 200, 8), person_pose(300, 200)
        path = tmp_path / "big.jpg"
        Image.fromarray(img).save(path, quality=90)
        for source in (img, path):
            res = random_pipeline(source, move_arm(kps), source_keypoints=kps)
            assert res.image.size == (85, 128) and res.source_image.size == (85, 128)
            assert res.downscale == pytest.approx(128 / 300, rel=0.01)
            assert any("was 200 x 300 px; it was downscaled to 85 x 128" in n for n in res.notes)
            np.testing.assert_allclose(res.source_keypoints[1], K.resize_keypoints(kps, (300, 200), (128, 85))[1],
                                       atol=1e-3)
    finally:
        s.max_side = 2048


PEAK = """
import sys
import numpy as np
from sps import SPSPipeline
pipe = SPSPipeline.from_pretrained(sys.argv[1])
kps = np.load(sys.argv[3])
res = pipe(sys.argv[2], kps + [[20, -30]], source_keypoints=kps)
assert res.image.size == (2048, 1365), res.image.size
# VmHWM: the peak of this process's own memory since exec (ru_maxrss would also count the forking parent's pages)
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) // 1024)
"""


def test_peak_memory_of_a_6000_x_4000_photo(random_pipeline_dir, tmp_path):
    """Peak memory (VmHWM of a fresh process: import, load, read, run) stays under 1 GiB. Not timed."""
    img = np.zeros((4000, 6000, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, 6000, dtype=np.uint8)
    path = tmp_path / "huge.jpg"
    Image.fromarray(img).save(path, quality=85)
    del img
    np.save(tmp_path / "kps.npy", person_pose(4000, 6000))
    out = subprocess.run([sys.executable, "-c", PEAK, str(random_pipeline_dir), str(path), str(tmp_path / "kps.npy")],
                         check=False,
                         capture_output=True, text=True, cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    peak_mb = int(out.stdout.split()[-1])
    assert peak_mb < 1024, f"peak RSS {peak_mb} MB"


# ------------------------------------------------------------------------------------------------
# Shipped weights on real photos (held-out CCP street photos)
# ------------------------------------------------------------------------------------------------

def _ccp_test_photos(data_root: Path, n: int) -> list[Path]:
    from sps.data import ccp

    folder = data_root / "ccp" / "images"
    if not folder.is_dir():
        pytest.skip(f"no CCP photos in {folder}")
    return [folder / name for name in sorted(p.name for p in folder.iterdir()) if ccp.split_of(name) == "test"][:n]


@pytest.mark.shipped_weights
@pytest.mark.skipif(not (WEIGHTS / "appearance_generator" / "model.safetensors").is_file(), reason="no shipped weights")
def test_shipped_weights_on_street_photos(data_root):
    from sps.presets import load_presets
    from sps.data import load_image

    pipe = SPSPipeline.from_pretrained(WEIGHTS)
    front = load_presets()[1].kps  # "Front, relaxed", full body, on the 256 x 192 pose grid
    for path in _ccp_test_photos(data_root, 4):
        img = load_image(path)
        for photo in (img, np.repeat(img.mean(-1, keepdims=True), 3, -1).astype(np.uint8)):  # and a grey copy
            res = pipe(photo, front, target_size=(256, 192))
            assert res.image.size == (img.shape[1], img.shape[0]) and res.grown == (0, 0, 0, 0)
            top, left, wh, ww = res.window
            reach = round(CARRY_ON * wh)  # how far the removed person may run on past the window
            outside = np.ones(img.shape[:2], bool)
            outside[max(0, top - reach):top + wh + reach, max(0, left - reach):left + ww + reach] = False
            np.testing.assert_array_equal(np.asarray(res.image)[outside], photo[outside])
            neck = np.round(res.canvas["target_keypoints"][1]).astype(int)
            assert res.canvas["target_probs"][0, 0, neck[1], neck[0]] < 0.5  # no background hole at the neck
    plain = np.full((256, 192, 3), 200, np.uint8)
    with pytest.raises(NoPersonError, match="no person found"):
        pipe(plain, front, target_size=(256, 192))
