"""The pipeline's geometry and filling, piece by piece: push-pull fill, inferred joints, target placement, the
output frame and the person's window, holes inside the body."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sps import pose as K
from sps.errors import TooFewKeypointsError
from sps.inpaint import (FLAT_SCENE, fill_image, fill_scene, joined, mirror_fill, mirror_rows, push_pull,
                         scene_texture)
from sps.pipeline import compose
from sps.pipeline import poses as PO
from sps.pipeline.compose import body_core, fill_holes, fill_probs, limb_cores, person_mask, removed_on_frame
from sps.pipeline.window import Frame, Window

from conftest import synthetic_pose
from fixtures_pipeline import person_parsing, person_pose


# ------------------------------------------------------------------------------------------------
# push-pull fill
# ------------------------------------------------------------------------------------------------

def test_push_pull_keeps_known_pixels_and_fills_the_rest_smoothly():
    rng = np.random.default_rng(0)
    img = torch.from_numpy(rng.uniform(0, 255, (3, 40, 60)).astype(np.float32))
    known = torch.ones(40, 60)
    known[10:30, 20:45] = 0
    out = push_pull(img, known)
    torch.testing.assert_close(out[:, known.bool()], img[:, known.bool()])
    assert out.min() >= 0 and out.max() <= 255  # a blend of known colours
    # a constant surround fills a constant hole; a left-dark / right-bright surround fills a ramp
    const = push_pull(torch.full((3, 40, 60), 77.0), known)
    torch.testing.assert_close(const, torch.full_like(const, 77.0))
    ramp = torch.zeros(1, 40, 60)
    ramp[..., 30:] = 200
    row = push_pull(ramp, known)[0, 20, 20:45]
    assert row[0] < 100 < row[-1] and (row[1:] - row[:-1] >= -1e-3).all()
    # nothing known: returned as is; odd sizes and a 1-pixel image work
    torch.testing.assert_close(push_pull(img, torch.zeros(40, 60)), img)
    assert push_pull(torch.ones(3, 1, 1), torch.ones(1, 1)).shape == (3, 1, 1)
    assert push_pull(img[:, :37, :51], known[:37, :51]).shape == (3, 37, 51)


def test_fill_image_matches_push_pull_on_photos():
    """The lean uint8 version: known pixels exact, the fill within a few grey levels of the float pyramid."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (301, 203, 3), dtype=np.uint8)
    known = np.ones((301, 203), bool)
    known[50:250, 40:160] = False
    known[:20] = False  # a strip along the edge, as a grown photo has
    out = fill_image(img, known)
    assert out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out[known], img[known])
    ref = push_pull(torch.from_numpy(img).permute(2, 0, 1).float(), torch.from_numpy(known))
    ref = ref.round().clamp(0, 255).permute(1, 2, 0).numpy()
    assert np.abs(out.astype(float) - ref).max() <= 4
    np.testing.assert_array_equal(fill_image(np.full_like(img, 90), known), np.full_like(img, 90))


def test_mirror_rows_continues_the_scene_across_a_hole():
    rng = np.random.default_rng(2)
    h, w = 60, 90
    known = np.ones((h, w), bool)
    known[10:50, 30:55] = False  # a person-shaped hole: 25 wide, 30 px of scene left of it, 35 right
    # rows of one colour each (stairs, kerbs): continued exactly; push-pull would blur them into each other
    stripes = np.repeat(rng.integers(0, 256, (h, 1, 3), dtype=np.uint8), w, axis=1)
    out, done = mirror_rows(stripes, known)
    np.testing.assert_array_equal(out, stripes)
    assert done.all()
    np.testing.assert_array_equal(mirror_fill(stripes, known), stripes)
    # a texture: known pixels exact; near each end of the hole, the scene mirrored in its end
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out, _ = mirror_rows(img, known)
    np.testing.assert_array_equal(out[known], img[known])
    np.testing.assert_array_equal(out[10:50, 30:33], img[10:50, [28, 27, 26]])  # mirrored about x = 29
    np.testing.assert_array_equal(out[10:50, 52:55], img[10:50, [58, 57, 56]])  # mirrored about x = 55
    middle = out[10:50, 42].astype(float)  # the two sides cross-faded: within the range of the two
    lo = np.minimum(img[10:50, 16], img[10:50, 68]).astype(float)
    hi = np.maximum(img[10:50, 16], img[10:50, 68]).astype(float)
    assert ((middle >= lo - 1) & (middle <= hi + 1)).all()
    # a hole wider than the scene beside it on one side: that side is not used, the other one is
    wide = np.ones((h, w), bool)
    wide[:, 5:40] = False
    out, done = mirror_rows(img, wide)
    np.testing.assert_array_equal(out[:, 39], img[:, 41])
    np.testing.assert_array_equal(out[:, 20], img[:, 60])  # its left mirror image (x = -12) is off the photo
    np.testing.assert_array_equal(out[:, 5], img[:, 3])
    # rows with no scene on either side are left to push-pull
    band = np.ones((h, w), bool)
    band[20:25] = False
    out, done = mirror_rows(img, band)
    assert not done[20:25].any() and done[band].all()
    np.testing.assert_array_equal(mirror_fill(img, band), fill_image(img, band))
    # nothing known: push-pull's answer (the image as is); nothing unknown: the image itself
    np.testing.assert_array_equal(mirror_fill(img, np.zeros((h, w), bool)), img)
    np.testing.assert_array_equal(mirror_fill(img, np.ones((h, w), bool)), img)


# ------------------------------------------------------------------------------------------------
# Inferred joints and placement
# ------------------------------------------------------------------------------------------------

def _missing(kps: np.ndarray, *joints: int) -> np.ndarray:
    out = kps.copy()
    out[list(joints)] = -1
    return out


def test_infer_upper_body_rules():
    kps = person_pose(256, 192)
    out, inferred = PO.infer_upper_body(_missing(kps, 1))  # neck: the shoulders' midpoint
    assert inferred == (1,)
    np.testing.assert_allclose(out[1], (kps[2] + kps[5]) / 2)
    out, inferred = PO.infer_upper_body(_missing(kps, 5))  # a lone shoulder mirrored through the neck
    assert inferred == (5,)
    np.testing.assert_allclose(out[5], 2 * kps[1] - kps[2])
    out, inferred = PO.infer_upper_body(kps)
    assert inferred == () and np.array_equal(out, kps)


@pytest.mark.parametrize("missing", [(1, 2), (1, 2, 5), (2, 5)])
def test_infer_upper_body_from_the_head_and_body(missing):
    """Neck and shoulders from the template fitted to the other joints: near the truth (within 15% of the
    shoulder width) for a frontal pose, on the right sides for a pose seen from the back."""
    kps = person_pose(256, 192)
    width = np.linalg.norm(kps[5] - kps[2])
    out, inferred = PO.infer_upper_body(_missing(kps, *missing))
    assert inferred == missing
    assert np.abs(out[list(missing)] - kps[list(missing)]).max() < 0.15 * width
    back = K.flip_keypoints(kps, 192)[list(K.FLIP_PERMUTATION)]  # same picture, left and right joints swapped
    out, _ = PO.infer_upper_body(_missing(back, *missing))
    assert out[2, 0] > out[5, 0]  # seen from the back: the right shoulder on the image's right


def test_infer_upper_body_needs_an_upper_body():
    kps = person_pose(256, 192)
    legs = np.full_like(kps, -1)
    legs[8:14] = kps[8:14]
    out, inferred = PO.infer_upper_body(legs)
    assert inferred == () and not K.visible(out)[[1, 2, 5]].any()
    nose_only = _missing(kps, *[j for j in range(18) if j != 0])
    assert PO.infer_upper_body(nose_only)[1] == ()
    # one joint plus the face label's centroid is enough
    neck_only = _missing(kps, *[j for j in range(18) if j != 1])
    out, inferred = PO.infer_upper_body(neck_only, face_centre=(kps[0] + kps[14] + kps[15]) / 3)
    assert inferred == (2, 5) and out[2, 0] < kps[1, 0] < out[5, 0]


def test_place_on_person_and_pose_box():
    src = person_pose(100, 80) + (200, 50)
    tgt = person_pose(256, 192)
    placed = PO.place_on_person(tgt, src)
    np.testing.assert_allclose(placed[1], src[1], atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(placed[10] - placed[1]), np.linalg.norm(src[10] - src[1]), rtol=0.02)
    up = tgt.copy()
    up[:, 1] -= 60  # half the pose above the grid: loose poses keep negative coordinates
    x0, y0, x1, y1 = PO.pose_box(PO.loose(tgt) - (0, 60))
    assert y0 < up[14:, 1].min() < 0 and x0 < tgt[:, 0].min() and x1 > tgt[:, 0].max() and y1 > up[:, 1].max()
    with pytest.raises(TooFewKeypointsError):
        PO.pose_box(np.full((18, 2), np.nan))


def test_complete_legs_takes_the_persons_own_legs():
    src = person_pose(100, 80) + (200, 50)
    waist_up = person_pose(256, 192)
    waist_up[9:11] = waist_up[12:14] = -1  # a preset without knees and ankles
    placed = PO.place_on_person(waist_up, src)
    out = PO.complete_legs(placed, src)
    for hip, knee, ankle in PO.LEG_CHAINS:  # each missing joint: the target's parent + the source's bone
        np.testing.assert_allclose(out[knee] - out[hip], src[knee] - src[hip], atol=1e-6)
        np.testing.assert_allclose(out[ankle] - out[knee], src[ankle] - src[knee], atol=1e-6)
    keep = [j for j in range(18) if j not in (9, 10, 12, 13)]
    np.testing.assert_array_equal(out[keep], placed[keep])  # the joints it has are kept
    assert np.isnan(PO.loose(waist_up)[9]).all()  # the input is not changed
    # joints the source lacks too stay missing; a full pose comes back unchanged
    no_legs = src.copy()
    no_legs[8:14] = -1
    assert np.isnan(PO.complete_legs(placed, no_legs)[[9, 10, 12, 13]]).all()
    full = PO.place_on_person(person_pose(256, 192), src)
    np.testing.assert_array_equal(PO.complete_legs(full, src), full)


def test_keep_framing_drops_the_unseen_joints_the_pose_puts_outside_the_photo():
    full = PO.loose(person_pose(256, 192))
    thighs = person_pose(256, 192)
    thighs[[9, 10, 12, 13]] = -1  # the photo ends above the knees
    low = full.copy()
    low[[9, 10, 12, 13], 1] += 300  # the placed pose's knees and ankles below the 256-high photo
    out = PO.keep_framing(low, thighs, (256, 192))
    assert np.isnan(out[[9, 10, 12, 13]]).all() and np.array_equal(out[:9], low[:9])
    assert np.isnan(PO.loose(thighs)[9]).all()  # the inputs are not changed
    np.testing.assert_array_equal(PO.keep_framing(full, thighs, (256, 192)), full)  # inside the photo: kept
    shown = person_pose(256, 192)  # the photo shows the knees: kept where the pose puts them (the photo grows)
    np.testing.assert_array_equal(PO.keep_framing(low, shown, (256, 192)), low)
    up = full.copy()
    up[[4, 7]] -= (0, 400)  # raised hands above the photo; the photo shows none; the neck and shoulders stay
    up[[1, 2, 5]] -= (0, 300)
    portrait = thighs.copy()
    portrait[[4, 7, 8, 11]] = -1
    out = PO.keep_framing(up, portrait, (256, 192))
    assert np.isnan(out[[4, 7]]).all() and np.array_equal(out[[1, 2, 5]], up[[1, 2, 5]])


def test_missing_parts_and_room():
    target = PO.loose(person_pose(256, 192))
    observed = np.zeros(18, bool)
    observed[[0, 1, 2, 5]] = True
    assert PO.missing_parts(target, observed, room=1.2) == ("right_knee", "right_ankle", "left_knee", "left_ankle")
    assert PO.missing_parts(target, observed, room=3.0) == ()  # the photo reaches the thighs
    assert PO.missing_parts(target, observed, room=1.2, lower_body=0.3) == ()  # the parser sees trousers
    labels = np.zeros((10, 10), np.int64)
    labels[:5], labels[5:7] = 3, 4
    assert PO.lower_body_share(labels) == pytest.approx(2 / 7) and PO.lower_body_share(None) == 0.0
    observed[8] = True
    assert PO.missing_parts(target, observed, room=1.2) == ()  # a hip is seen
    waist_up = target.copy()
    waist_up[list(PO.LEG_JOINTS)] = np.nan
    assert PO.missing_parts(waist_up, observed & False, room=0.5) == ()


# ------------------------------------------------------------------------------------------------
# Frame and window
# ------------------------------------------------------------------------------------------------

def test_frame_grows_only_where_joints_leave_the_photo():
    pose = PO.loose(person_pose(100, 80))
    assert Frame.holding((100, 80), pose) == Frame((100, 80))
    low = pose + (0, 30)  # the feet 20 px below the photo
    frame = Frame.holding((100, 80), low)
    top, bottom, left, right = frame.pad
    assert top == left == right == 0 and bottom >= low[:, 1].max() - 99
    assert frame.size == (100 + bottom, 80) and frame.grown
    high = pose - (0, 40)  # the head above the photo: the frame grows at the top, every joint visible on it
    frame_up = Frame.holding((100, 80), high)
    assert frame_up.pad[0] >= 40 - pose[:, 1].min() and frame_up.pad[1:] == (0, 0, 0)
    kps = frame_up.keypoints(high)
    assert K.visible(kps).all()
    np.testing.assert_allclose(kps, high + (0, frame_up.pad[0]), atol=1e-4)
    arr = np.arange(100 * 80).reshape(100, 80)
    placed = frame.place(arr, -1)
    assert placed.shape == frame.size and (placed[:100] == arr).all() and (placed[100:] == -1).all()
    np.testing.assert_allclose(frame.photo_keypoints(PO.strict(pose))[1], PO.strict(pose)[1])


def test_window_has_the_canvas_shape_and_round_trips():
    win = Window.around(np.array([10.0, -20.0, 70.0, 150.0]), (128, 96))
    assert abs(win.height / win.width - 128 / 96) < 0.02
    assert win.top <= -20 and win.top + win.height >= 150 and win.left <= 10 and win.left + win.width >= 70
    frame = np.arange(120 * 90 * 3, dtype=np.int64).reshape(120, 90, 3) % 251
    crop = win.crop(frame, -1)
    assert crop.shape == (win.height, win.width, 3) and (crop[0] == -1).all()  # above the frame: fill
    (fr, fc), (wr, wc) = win.overlap(frame.shape[:2])
    np.testing.assert_array_equal(crop[wr, wc], frame[fr, fc])
    kps = person_pose(120, 90)
    back = win.keypoints_back(win.keypoints(kps))
    np.testing.assert_allclose(back, kps, atol=1e-3)
    canvas_labels = win.labels(person_parsing(120, 90, kps))
    assert canvas_labels.shape == (128, 96)
    assert win.labels_back(canvas_labels, (120, 90)).shape == (120, 90)


def test_joined_follows_the_allowed_pixels_that_touch_the_seed():
    seed = np.zeros((20, 20), bool)
    seed[2:5, 2:5] = True
    allowed = np.zeros((20, 20), bool)
    allowed[4:16, 4] = True  # a strip down from the seed
    allowed[15, 5:12] = True  # turning right at its end
    allowed[2:6, 15:18] = True  # a stray blob apart from the seed
    out = joined(seed, allowed, steps=40)
    assert out[seed].all() and out[15, 11] and out[10, 4]
    assert not out[2:6, 15:18].any() and not out[10, 5]
    short = joined(seed, allowed, steps=3)  # three pixels down the strip
    assert short[7, 4] and not short[8, 4]


def test_person_mask_takes_the_trousers_below_a_close_ups_last_joint(monkeypatch):
    """A close-up ends at the hips: the parser's trousers below them lie beyond the body the joints draw but join it,
    so they go with the person; a stray person label apart from the body stays."""
    h, w = 128, 96
    kps = person_pose(h, w)
    kps[[9, 10, 12, 13]] = -1  # no knees or ankles: the photo shows the legs, the pose does not
    labels = person_parsing(h, w, person_pose(h, w))
    labels[5:12, 2:8] = 3  # a stray label in the corner
    mask = person_mask(labels, kps).numpy() > 0
    legs = labels == 4
    legs[:int(0.75 * h)] = False  # 0.2 x the height below the hips: past the body they draw, within JOINED_REACH
    legs[int(0.8 * h):] = False
    assert legs.any() and mask[legs].all()
    monkeypatch.setattr(compose, "JOINED_REACH", 0)  # the labels near the drawn body alone miss them
    assert not (person_mask(labels, kps).numpy() > 0)[legs].all()
    assert not mask[5:12, 2:8].any()


def test_removed_on_frame_carries_the_person_on_past_the_window():
    """A window that ends above the photo's bottom: the removed columns go on down, ``CARRY_ON`` x the window's
    height at most; a frame the window covers is the window's mask as is."""
    canvas = torch.zeros(128, 96)
    canvas[40:, 40:56] = 1  # a person (legs) running out of the window's bottom
    win = Window.around(np.array([10.0, 20.0, 80.0, 120.0]), (128, 96))  # x0, y0, x1, y1
    frame = (win.top + win.height + 30, max(100, win.left + win.width + 5))
    out = removed_on_frame(win, canvas, frame)
    (fr, fc), _ = win.overlap(frame)
    cols = np.flatnonzero(out[fr.stop - 1])
    assert cols.size > 0
    reach = round(0.1 * win.height)
    assert out[fr.stop + reach - 1, cols].all() and not out[fr.stop + reach:].any()
    assert not out[fr.stop:, :cols[0]].any() and not out[fr.stop:, cols[-1] + 1:].any()
    inside = removed_on_frame(win, canvas, (win.top + win.height, win.left + win.width))
    assert inside.sum() == out[:win.top + win.height, :win.left + win.width].sum()


# ------------------------------------------------------------------------------------------------
# Holes inside the body
# ------------------------------------------------------------------------------------------------

def test_fill_scene_mirrors_a_textured_scene_and_smooths_a_plain_backdrop():
    rng = np.random.default_rng(3)
    h, w = 128, 96
    known = np.ones((h, w), bool)
    known[20:110, 35:60] = False
    backdrop = np.clip(200 + rng.normal(0, 1, (h, w, 3)), 0, 255).astype(np.uint8)  # studio grey, sensor noise
    street = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)  # pavement-like texture
    assert scene_texture(backdrop, known) < FLAT_SCENE < scene_texture(street, known)
    np.testing.assert_array_equal(fill_scene(street, known), mirror_fill(street, known))
    # the measure looks at the scene, not at the hole's outline: a dark person-shaped rim does not count ...
    rimmed = backdrop.copy()
    rimmed[18:112, 33:62] = 20
    assert scene_texture(rimmed, known) < FLAT_SCENE
    # ... and on a plain backdrop the ring around the hole is filled again: the rim is gone, the rest kept exactly
    out = fill_scene(rimmed, known)
    assert np.abs(out[18:112, 33:62].astype(float) - 200).max() < 6
    far = np.ones((h, w), bool)
    far[10:120, 27:68] = False  # the hole grown by 1/32 of the height (4 px) and a margin
    np.testing.assert_array_equal(out[far], rimmed[far])


def test_remains_that_join_the_hole_on_a_plain_backdrop_are_filled_too():
    """The thighs below a removed person's shorts, past the ring around the hole down to the photo's edge, go; a
    dark mark on the backdrop apart from the hole stays."""
    rng = np.random.default_rng(4)
    h, w = 128, 96
    image = np.clip(200 + rng.normal(0, 1, (h, w, 3)), 0, 255).astype(np.uint8)
    known = np.ones((h, w), bool)
    known[20:117, 35:60] = False
    image[117:, 40:55] = 150  # remains below the hole, 11 px (3/32 of the height reached) to the photo's edge
    image[5:12, 5:12] = 30  # a mark elsewhere
    out = fill_scene(image, known)
    assert np.abs(out[117:, 40:55].astype(float) - 200).max() < 8
    np.testing.assert_array_equal(out[5:12, 5:12], image[5:12, 5:12])
    assert scene_texture(image, known) < FLAT_SCENE


def test_holes_inside_the_body_are_filled():
    """The parser's unlabelled neck (LIP has no neck label) becomes face (skin); a hole in the torso takes the
    label around it; the background outside the body and an empty map stay background."""
    h, w = 128, 96
    kps = person_pose(h, w)
    labels = person_parsing(h, w, kps)
    neck, torso = body_core(kps, (h, w))
    assert neck[int(kps[1, 1]) - 2, int(kps[1, 0])] and torso[int(kps[8, 1]) - 10, w // 2]
    holed = labels.copy()
    holed[neck] = 0
    holed[55:65, 40:56] = 0  # a hole in the chest
    out = fill_holes(holed, kps)
    assert (out[neck & (labels > 0)] == 1).all()
    chest = np.zeros((h, w), bool)
    chest[55:65, 40:56] = True
    assert (out[chest & torso] == 3).all() and (chest & torso).sum() > 0.8 * chest.sum()
    assert (out[~(neck | torso)] == holed[~(neck | torso)]).all()
    assert (fill_holes(np.zeros((h, w), np.int64), kps) == 0).all()
    probs = torch.nn.functional.one_hot(torch.from_numpy(holed), 10).permute(2, 0, 1)[None].float()
    filled = fill_probs(probs, kps)
    np.testing.assert_array_equal(filled.argmax(1)[0].numpy(), out)
    torch.testing.assert_close(filled.sum(1), probs.sum(1))  # still a distribution


def test_a_limb_g_s_left_short_is_filled_along_its_bone():
    """The shins of a layout that stops at the knees: the background on the shin bones takes the leg's label (grown
    from the knee), the background beside them stays, and a limb whose joints are missing gets nothing."""
    h, w = 128, 96
    kps = person_pose(h, w)
    labels = person_parsing(h, w, kps)
    knees = int(kps[9, 1])
    stump = labels.copy()
    stump[knees + 2:] = 0
    out = fill_holes(stump, kps)
    cores = limb_cores(kps, (h, w))
    for ankle in (10, 13):
        x, y = kps[ankle].astype(int)
        assert cores[y - 3, x] and out[y - 3, x] == 4  # the pants go on down the shin
    neck, torso = body_core(kps, (h, w))
    rest = ~(cores | neck | torso)
    assert (out[rest] == stump[rest]).all()
    no_legs = kps.copy()
    no_legs[[10, 13]] = -1
    assert not limb_cores(no_legs, (h, w))[int(kps[10, 1]) - 3].any()


def test_a_back_view_gets_hair_where_g_s_drew_a_face():
    from sps.pipeline.compose import back_of_head
    from sps.pose import facing_away

    front = synthetic_pose(64, 48)  # the person's right shoulder (2) on the image's left
    back = front.copy()
    back[:, 0] = np.where(back[:, 0] >= 0, 47 - back[:, 0], -1)  # mirrored: seen from behind
    side = front.copy()
    side[5, 0] = side[2, 0] + 1  # shoulders one pixel apart
    assert not facing_away(front) and facing_away(back) and not facing_away(side)
    probs = torch.softmax(torch.randn(1, 10, 64, 48), 1)
    assert back_of_head(probs, front) is probs
    moved = back_of_head(probs, back)
    assert float(moved[:, 1].abs().max()) == 0
    torch.testing.assert_close(moved[:, 2], probs[:, 1] + probs[:, 2])
    torch.testing.assert_close(moved.sum(1), probs.sum(1))


def test_the_back_of_the_head_takes_the_hair_colour():
    from PIL import Image as PILImage

    from sps.pipeline.compose import FACE_LABEL, HAIR_LABEL, back_of_head, back_of_head_map, hair_colour, \
        paint_back_of_head

    front = synthetic_pose(64, 48)
    back = front.copy()
    back[:, 0] = np.where(back[:, 0] >= 0, 47 - back[:, 0], -1)
    logits = torch.zeros(1, 10, 64, 48)
    logits[:, 0] = 1
    logits[:, HAIR_LABEL, 4:20, 14:34] = 5  # a head of hair with a face in it
    logits[:, FACE_LABEL, 8:18, 18:30] = 9
    probs = back_of_head(torch.softmax(logits, 1), back)
    head = back_of_head_map(logits, probs.argmax(1)[0].numpy(), back)
    assert (head[8:18, 18:30] == FACE_LABEL).all() and (head[4:8, 14:34] == HAIR_LABEL).all()
    assert head[30:].max() == 0
    assert back_of_head_map(logits, logits.argmax(1)[0].numpy(), front) is None  # a front view: nothing turned
    assert back_of_head_map(None, probs.argmax(1)[0].numpy(), back) is None  # a given parsing (an edit)
    # the source's hair is brown; G_A painted the turned face green
    source = np.full((40, 40, 3), 230, np.uint8)
    labels = np.zeros((40, 40), np.int64)
    source[:10], labels[:10] = (90, 60, 30), HAIR_LABEL
    brown = hair_colour(source, labels)
    assert hair_colour(source, np.zeros_like(labels)) is None
    image = np.full((64, 48, 3), 240, np.uint8)
    image[4:20, 14:34] = (90, 60, 30)
    image[8:18, 18:30] = (80, 160, 60)
    out = paint_back_of_head(image, head, brown, soften=1)
    ycc = np.asarray(PILImage.fromarray(out).convert("YCbCr"), np.float32)
    assert np.abs(ycc[10:16, 20:28, 1:] - brown[1:]).max() < 20  # the face area now has the hair's colour
    assert np.abs(ycc[10:16, 20:28, 1:] - brown[1:]).max() < np.abs(
        np.asarray(PILImage.fromarray(image).convert("YCbCr"), np.float32)[10:16, 20:28, 1:] - brown[1:]).max()
    np.testing.assert_array_equal(out[25:], image[25:])  # away from the head: untouched
    assert paint_back_of_head(image, head, None) is image
