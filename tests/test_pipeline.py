"""SPSPipeline behaviour with random tiny weights, edit helpers, error cases, and the shipped
weights (when present)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sps import SPSPipeline
from sps import edits as E
from sps import metrics as M
from sps import pose as K
from sps.errors import ImageReadError, KeypointError, NoPersonError, ParsingError, TooFewKeypointsError, WeightsError
from sps.canvas import Canvas
from sps.pipeline import PipelineResult
from sps.pipeline.compose import fill_holes

from fixtures_pipeline import move_arm, person_parsing, person_pose

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _real(data_root: Path, folder: str, index: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    from sps.data import load_image

    kps = K.read_keypoints_csv(data_root / folder / "keypoints.csv")
    names = [n for n, k in kps.items() if K.visible(k)[[1, 2, 5]].all()]
    name = names[index]
    return load_image(data_root / folder / "images" / name), kps[name], name


# ------------------------------------------------------------------------------------------------
# Results, shapes, aspect ratio
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("folder, size", [("deepfashion", (256, 176)), ("market", (128, 64))])
def test_result_fields_and_aspect_on_real_photos(random_pipeline, data_root, folder, size):
    img, kps, _ = _real(data_root, folder)
    assert img.shape[:2] == size
    res = random_pipeline(img, move_arm(kps), source_keypoints=kps)
    assert isinstance(res, PipelineResult)
    h, w = size
    for pil in (res.image, res.source_image, res.target_pose_image, res.warped):
        assert pil.size == (w, h) and pil.mode == "RGB"
    assert res.source_parsing.shape == res.target_parsing.shape == size
    assert res.source_parsing.dtype == np.int64 and res.target_parsing.max() < 10
    assert res.source_keypoints.shape == res.target_keypoints.shape == (18, 2)
    # given keypoints survive the canvas round trip (sub-pixel)
    vis = K.visible(kps)
    np.testing.assert_allclose(res.source_keypoints[vis], kps[vis], atol=1e-3)
    panels = res.as_panels()
    assert [c for c, _ in panels][0] == "source" and panels[-1][0] == "output"
    assert all(isinstance(p, Image.Image) and p.size == (w, h) for _, p in panels)
    assert {"pre", "parse", "pose", "G_S", "G_A", "post", "total"} <= set(res.timings)


def test_accepts_path_pil_and_array(random_pipeline, tmp_path):
    img = _photo(96, 64)
    path = tmp_path / "p.png"
    Image.fromarray(img).save(path)
    kps = person_pose(96, 64)
    par = person_parsing(96, 64, kps)
    outs = [np.asarray(random_pipeline(x, move_arm(kps), source_keypoints=kps, source_parsing=par).image)
            for x in (img, Image.fromarray(img), str(path), path)]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_seeded_determinism_and_device(random_pipeline):
    img = _photo(128, 64, seed=1)
    kps = person_pose(128, 64)
    a = random_pipeline.to("cpu")(img, move_arm(kps), source_keypoints=kps, seed=3)
    b = random_pipeline(img, move_arm(kps), source_keypoints=kps, seed=3)
    np.testing.assert_array_equal(np.asarray(a.image), np.asarray(b.image))
    np.testing.assert_array_equal(a.target_parsing, b.target_parsing)
    assert random_pipeline.device.type == "cpu"
    assert not torch.is_inference_mode_enabled()


def test_target_pose_as_photo_matches_keypoints(random_pipeline, monkeypatch):
    h, w = 128, 96
    src, other = _photo(h, w, 2), _photo(h, w, 3)
    kps = person_pose(h, w)
    tgt = move_arm(kps)
    tgt_canvas = K.keypoints_to_canvas(tgt, (h, w), random_pipeline.canvas)
    calls = []

    def fake_estimate(person):
        calls.append(person.size)
        return tgt_canvas.copy()

    monkeypatch.setattr(random_pipeline, "estimate_keypoints", fake_estimate)
    by_photo = random_pipeline(src, other, source_keypoints=kps, source_parsing=person_parsing(h, w, kps))
    assert calls == [(h, w)]  # the target photo went through the pose estimator
    by_kps = random_pipeline(src, tgt, source_keypoints=kps, source_parsing=person_parsing(h, w, kps))
    np.testing.assert_allclose(by_photo.target_keypoints, by_kps.target_keypoints, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(by_photo.image), np.asarray(by_kps.image))


def test_target_size_keypoints(random_pipeline):
    h, w = 128, 96
    img = _photo(h, w, 4)
    kps = person_pose(h, w)
    tgt = move_arm(kps)
    a = random_pipeline(img, tgt, source_keypoints=kps)
    b = random_pipeline(img, K.resize_keypoints(tgt, (h, w), (2 * h, 2 * w)), source_keypoints=kps, target_size=(2 * h, 2 * w))
    np.testing.assert_allclose(a.target_keypoints, b.target_keypoints, atol=1e-3)


def test_from_pretrained_matches_saved_pipeline(random_pipeline_dir, tmp_path):
    pipe = SPSPipeline.from_pretrained(random_pipeline_dir)
    again = SPSPipeline.from_pretrained(pipe.save_pretrained(tmp_path / "copy"))
    img, kps = _photo(64, 48, 5), person_pose(64, 48)
    np.testing.assert_array_equal(np.asarray(pipe(img, move_arm(kps), source_keypoints=kps).image),
                                  np.asarray(again(img, move_arm(kps), source_keypoints=kps).image))


# ------------------------------------------------------------------------------------------------
# Texture transfer and edits
# ------------------------------------------------------------------------------------------------

def test_transfer_texture_uses_person_parsing_and_pose(random_pipeline):
    person, clothes = _photo(128, 64, 6), _photo(96, 96, 7)
    pk, ck = person_pose(128, 64), person_pose(96, 96)
    ppar = person_parsing(128, 64, pk)
    res = random_pipeline.transfer_texture(person, clothes, person_keypoints=pk, person_parsing=ppar,
                                           clothes_keypoints=ck, clothes_parsing=person_parsing(96, 96, ck, "short"))
    assert res.image.size == (64, 128) and res.task == "texture transfer"
    # G_A got exactly the person's parsing as its target (one-hot on the canvas of the person's window), the
    # background inside the body filled
    win = res.canvas["window"]
    np.testing.assert_array_equal(res.canvas["target_probs"].argmax(1)[0].numpy(),
                                  fill_holes(win.labels(ppar), res.canvas["target_keypoints"]))
    np.testing.assert_allclose(res.target_keypoints[K.visible(pk)], pk[K.visible(pk)], atol=1e-3)
    assert res.source_image.size == (96, 96)  # the clothes photo is the source


def _changed(before, after):
    diff = before != after
    return set(np.unique(before[diff]).tolist()), set(np.unique(after[diff]).tolist()), int(diff.sum())


def test_shorter_sleeves_reaches_arms_hanging_over_the_torso():
    """Arms hanging beside the body lie partly inside the torso's mask; their sleeves still become arm,
    while the torso near the body's midline stays upper clothes."""
    from sps.parts import part_masks

    h, w = 128, 96
    kps = person_pose(h, w)
    kps[[3, 4, 6, 7]] = np.array([(0.36, 0.42), (0.38, 0.56), (0.64, 0.42), (0.62, 0.56)], np.float32) * [w - 1, h - 1]
    m = part_masks(kps, (h, w)).astype(bool)
    par = np.zeros((h, w), np.int64)
    par[m[6] | m[7] | m[8] | m[9]] = 4
    par[m[0] | m[2] | m[3] | m[4] | m[5]] = 3  # long sleeves
    par[m[1]] = 1
    out = E.shorter_sleeves(par, kps)
    forearms = m[4] | m[5]
    assert ((out == 3) & forearms).sum() < 0.05 * forearms.sum()  # the sleeves are gone on the forearms
    mid_x = int(round(0.5 * (w - 1)))
    assert (out[m[0][:, mid_x], mid_x] == 3).all()  # the torso's centre column stays upper clothes
    src, dst, _ = _changed(par, out)
    assert src == {3} and dst == {6, 7}


def test_edit_helpers_change_only_expected_labels():
    h, w = 128, 96
    kps = person_pose(h, w)
    long_ = person_parsing(h, w, kps, "long")
    short = person_parsing(h, w, kps, "short")

    src, dst, n = _changed(long_, E.shorter_sleeves(long_, kps))
    assert n > 20 and src == {3} and dst <= {6, 7}
    src, dst, n = _changed(short, E.longer_sleeves(short, kps))
    assert n > 20 and src <= {6, 7} and dst == {3}
    src, dst, n = _changed(short, E.longer_sleeves(short, kps, to="elbow"))
    assert n > 10 and dst == {3}
    assert (E.longer_sleeves(short, kps, to="elbow") == 3).sum() < (E.longer_sleeves(short, kps) == 3).sum()

    shorts = E.trousers_to_shorts(long_, kps)
    src, dst, n = _changed(long_, shorts)
    assert n > 20 and src == {4} and dst <= {8, 9}
    assert (shorts == 4).sum() > 0  # the thighs stay pants
    knee_y = kps[[9, 12], 1].max()
    assert not (shorts[int(knee_y) + 3:] == 4).any()

    skirt = E.trousers_to_skirt(long_, kps)
    src, dst, n = _changed(long_, skirt)
    assert src <= {0, 4, 8, 9} and dst <= {5, 8, 9} and (skirt == 5).sum() > 20
    assert not (skirt == 4).any()
    # widened: between the legs at mid-thigh is skirt
    y = int((kps[8, 1] + kps[9, 1]) / 2)
    assert skirt[y, int((kps[8, 0] + kps[11, 0]) / 2)] == 5


def test_edit_helpers_need_keypoints():
    kps = person_pose(64, 48)
    par = person_parsing(64, 48, kps)
    no_knees = kps.copy()
    no_knees[[9, 12]] = -1
    with pytest.raises(TooFewKeypointsError, match="knee"):
        E.trousers_to_shorts(par, no_knees)


def test_pipe_edit_regenerates_with_edited_map(random_pipeline):
    h, w = 128, 96
    img, kps = _photo(h, w, 8), person_pose(h, w)
    par = person_parsing(h, w, kps)
    edited = E.trousers_to_skirt(par, kps)
    res = random_pipeline.edit(img, edited, source_keypoints=kps, source_parsing=par)
    assert res.task == "edit" and res.image.size == (w, h)
    np.testing.assert_array_equal(res.canvas["target_probs"].argmax(1)[0].numpy(),
                                  fill_holes(res.canvas["window"].labels(edited), res.canvas["target_keypoints"]))
    canvas_map = Canvas.fit((h, w), random_pipeline.canvas).labels(edited)  # a map on the model canvas still works
    again = random_pipeline.edit(img, canvas_map, source_keypoints=kps, source_parsing=par)
    assert (again.target_parsing == res.target_parsing).mean() > 0.9
    np.testing.assert_allclose(res.target_keypoints[K.visible(kps)], kps[K.visible(kps)], atol=1e-3)
    with pytest.raises(ParsingError):
        random_pipeline.edit(img, edited[:10], source_keypoints=kps, source_parsing=par)


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------

def test_unreadable_images(random_pipeline, tmp_path):
    kps = person_pose(64, 48)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    for x in (tmp_path / "missing.jpg", bad, b"\x00\x01garbage", np.zeros((5, 5, 7), np.uint8)):
        with pytest.raises(ImageReadError):
            random_pipeline(x, kps, source_keypoints=kps)


def test_keypoint_shape_errors(random_pipeline):
    img, kps = _photo(64, 48), person_pose(64, 48)
    with pytest.raises(KeypointError, match="18"):
        random_pipeline(img, kps[:17], source_keypoints=kps)
    with pytest.raises(KeypointError):
        random_pipeline(img, kps, source_keypoints=np.zeros((18, 3)))
    with pytest.raises(KeypointError):
        random_pipeline(img, np.full((18, 2), np.nan), source_keypoints=kps)


def test_too_few_keypoints_names_the_joints(random_pipeline):
    """A missing neck or shoulder is inferred from the other joints; a pose with no upper body at all is refused,
    naming the joints."""
    img, kps = _photo(64, 48), person_pose(64, 48)
    legs = np.full_like(kps, -1)
    legs[8:14] = kps[8:14]
    with pytest.raises(TooFewKeypointsError, match="target pose.*neck, right_shoulder, left_shoulder"):
        random_pipeline(img, legs, source_keypoints=kps)
    with pytest.raises(TooFewKeypointsError, match="source image keypoints.*missing: neck, right_shoulder"):
        random_pipeline(img, kps, source_keypoints=legs)
    tgt = kps.copy()
    tgt[[1, 5]] = -1
    res = random_pipeline(img, tgt, source_keypoints=kps)
    assert any("target pose's neck, left_shoulder was inferred" in n for n in res.notes)


def test_no_person(random_pipeline, monkeypatch):
    blank = np.full((64, 48, 3), 255, np.uint8)
    monkeypatch.setattr(random_pipeline, "parse", lambda person: np.zeros(random_pipeline.canvas, np.int64))
    monkeypatch.setattr(random_pipeline, "estimate_keypoints", lambda person: np.full((18, 2), -1, np.float32))
    with pytest.raises(NoPersonError, match="no person"):
        random_pipeline(blank, person_pose(64, 48))
    # given keypoints and parsing are trusted: no detection check, the call goes through
    kps = person_pose(64, 48)
    random_pipeline(blank, kps, source_keypoints=kps, source_parsing=person_parsing(64, 48, kps))


def test_missing_weights_subfolder(random_pipeline_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(random_pipeline_dir, broken)
    shutil.rmtree(broken / "semantic_generator")
    with pytest.raises(WeightsError, match="semantic_generator"):
        SPSPipeline.from_pretrained(broken)
    with pytest.raises(WeightsError):
        SPSPipeline.from_pretrained(tmp_path / "nowhere" / "x" / "y")


def test_ablation_folder_settings(random_pipeline, random_pipeline_dir, tmp_path):
    """An ablation folder's networks replace the base's; its pipeline.json, when present, replaces the settings."""
    import dataclasses
    import shutil

    from sps.errors import SPSError
    from sps.evaluate import load_ablation
    from sps.models import SPSModelConfig
    from sps.pipeline import PipelineSettings

    folder = tmp_path / "abl"
    shutil.copytree(random_pipeline_dir / "semantic_generator", folder / "semantic_generator")
    plain = load_ablation(folder, random_pipeline)
    assert plain.settings == random_pipeline.settings and plain.appearance_generator is random_pipeline.appearance_generator
    assert plain.semantic_generator is not random_pipeline.semantic_generator
    dataclasses.replace(random_pipeline.settings, model=SPSModelConfig(target_parsing="hard"), background="generated").save(folder)
    own = load_ablation(folder, random_pipeline)
    assert own.settings == PipelineSettings.load(folder) and own.settings.model.target_parsing == "hard"
    with pytest.raises(SPSError, match="no network sub-folder"):
        load_ablation(tmp_path, random_pipeline)


# ------------------------------------------------------------------------------------------------
# Shipped weights
# ------------------------------------------------------------------------------------------------

SHIPPED = REPO / "weights"
_has_weights = all((SHIPPED / s / "model.safetensors").is_file()
                   for s in ("pose_estimator", "human_parser", "semantic_generator", "appearance_generator"))


@pytest.mark.shipped_weights
@pytest.mark.skipif(not _has_weights, reason="no trained weights in weights/ (the lead ships them)")
def test_shipped_weights_on_a_deepfashion_pair(data_root):
    pipe = SPSPipeline.from_pretrained(SHIPPED)
    img, kps, _ = _real(data_root, "deepfashion", 0)
    other, okps, _ = _real(data_root, "deepfashion", 1)
    res = pipe(img, other)  # everything estimated: parser, pose estimator on both photos
    assert K.num_visible(res.source_keypoints) >= 8
    assert (res.source_parsing != 0).mean() > 0.1
    assert np.asarray(res.image).std() > 10
    res2 = pipe(img, okps, target_size=other.shape[:2])
    assert res2.image.size == (img.shape[1], img.shape[0])


def test_flip_averaged_pose_is_mirror_symmetric(data_root):
    """With ``pose_flip`` the estimate of a mirrored photo is the mirrored estimate (to rounding), and it still
    finds the annotated joints of a real photo."""
    import dataclasses

    pipe = SPSPipeline.from_pretrained(SHIPPED)
    img, kps, _ = _real(data_root, "deepfashion", 0)
    w = img.shape[1] - img.shape[1] % 2  # an even width: the canvas padding of the photo and its mirror agree
    img = np.ascontiguousarray(img[:, :w])
    pipe.settings = dataclasses.replace(pipe.settings, pose_flip=True)
    est = pipe.analyse(img)[0]
    mirrored = K.flip_keypoints(pipe.analyse(np.ascontiguousarray(img[:, ::-1]))[0], w)
    vis = K.visible(est)
    assert (K.visible(mirrored) == vis).all() and vis.sum() >= 10
    np.testing.assert_allclose(mirrored[vis], est[vis], atol=0.75)
    right, total = M.pck_counts(est, K.crop_keypoints(kps, 0, 0, img.shape[:2]))
    assert right >= 0.8 * total


# ------------------------------------------------------------------------------------------------
# Pipeline settings: background fill and the person region of an estimated parsing
# ------------------------------------------------------------------------------------------------

def test_background_source_plain_and_generated(random_pipeline):
    h, w = 128, 96
    kps = person_pose(h, w)
    img = np.full((h, w, 3), (40, 90, 200), np.uint8)  # a plain blue backdrop
    par = person_parsing(h, w, kps)
    img[par != 0] = _photo(h, w, 3)[par != 0]
    empty = np.zeros((h, w), np.int64)  # target layout: background everywhere
    res = random_pipeline.edit(img, empty, source_keypoints=kps, source_parsing=par)
    assert np.abs(np.asarray(res.image).astype(int) - (40, 90, 200)).max() <= 1
    random_pipeline.settings.background = "generated"
    try:
        res = random_pipeline.edit(img, empty, source_keypoints=kps, source_parsing=par)
        assert np.abs(np.asarray(res.image).astype(int) - (40, 90, 200)).max() > 20  # G_A's own pixels
        random_pipeline.settings.background = "plain"
        busy = img.copy()
        busy[:h // 3] = (200, 30, 30)  # a red band on top of the backdrop: the plain fill is its median colour
        res = random_pipeline.edit(busy, empty, source_keypoints=kps, source_parsing=par)
        assert np.abs(np.asarray(res.image).astype(int) - (40, 90, 200)).max() <= 1
        random_pipeline.settings.background = "source"
        res = random_pipeline.edit(busy, empty, source_keypoints=kps, source_parsing=par)
        # the scene kept (but for what stands out from the backdrop right around the person: sps.inpaint.fill_scene)
        corners = np.asarray(res.image)[:4, np.r_[0:8, w - 8:w]].astype(int)
        assert np.abs(corners - (200, 30, 30)).max() <= 1
    finally:
        random_pipeline.settings.background = "source"


def test_estimated_parsing_is_cut_to_the_body(random_pipeline):
    h, w = random_pipeline.canvas
    kps = person_pose(h, w)
    labels = np.full((h, w), 3, np.int64)  # "upper clothes" everywhere, as a parser fooled by a backdrop may say
    near = random_pipeline._near_body(labels, kps)
    assert near[int(kps[1, 1]), int(kps[1, 0])] == 3  # the neck keeps its label
    assert near[0, 0] == 0 and near[-1, -1] == 0  # far corners become background
    assert set(np.unique(near)) == {0, 3}


def test_target_parsing_is_cut_to_the_target_body(random_pipeline):
    """target_margin > 0: G_S's labels far from the target pose's body become background (probability 1)."""
    h, w = 128, 96
    img, kps = _photo(h, w, 9), person_pose(h, w)
    par = person_parsing(h, w, kps)
    target = kps.copy()
    target[8:14] = -1  # no legs: the lower half of the canvas is far from the target body
    free = random_pipeline(img, target, source_keypoints=kps, source_parsing=par)
    random_pipeline.settings.model.target_margin = 0.05
    try:
        cut = random_pipeline(img, target, source_keypoints=kps, source_parsing=par)
    finally:
        random_pipeline.settings.model.target_margin = 0.0
    probs = cut.canvas["target_probs"][0]  # (10, H, W)
    ch = probs.shape[1]
    assert (probs[0, -ch // 6:] == 1).all()  # bottom rows: background only
    assert (free.canvas["target_probs"][0, 0, -ch // 6:] < 1).any()  # the random G_S put something there
    neck = np.round(K.keypoints_to_canvas(kps, (h, w), random_pipeline.canvas)[1]).astype(int)
    torch.testing.assert_close(probs[:, neck[1], neck[0]], free.canvas["target_probs"][0, :, neck[1], neck[0]])


def test_settings_are_validated(tmp_path):
    from sps.pipeline import PipelineSettings

    with pytest.raises(ValueError, match="background"):
        PipelineSettings(background="blue")
    with pytest.raises(ValueError, match="target_margin"):
        PipelineSettings(model={"target_margin": -0.1})
    with pytest.raises(ValueError, match="person_margin"):
        PipelineSettings(person_margin=1.5)
    # files written before the `model` section: its keys at the top level still count
    (tmp_path / "pipeline.json").write_text('{"target_parsing": "hard", "person_margin": 0.2, "unknown": 1}')
    s = PipelineSettings.load(tmp_path)
    assert s.model.target_parsing == "hard" and s.person_margin == 0.2 and s.background == "source"
    s.save(tmp_path)  # nested now, and it reads back equal
    assert PipelineSettings.load(tmp_path) == s
    assert '"model"' in (tmp_path / "pipeline.json").read_text()


# ------------------------------------------------------------------------------------------------
# Bad input: a specific error, never an AttributeError, ZeroDivisionError or a silent blank
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, words", [
    (lambda p, img, k: p(None, k, source_keypoints=k), ImageReadError, "got NoneType"),
    (lambda p, img, k: p({"a": 1}, k, source_keypoints=k), ImageReadError, "got dict"),
    (lambda p, img, k: p(img, None, source_keypoints=k), KeypointError, "got NoneType"),
    (lambda p, img, k: p(img, {"pose": 1}, source_keypoints=k), KeypointError, "got dict"),
    (lambda p, img, k: p(img, k, source_keypoints=k, target_size=(0, 0)), KeypointError, "positive"),
    (lambda p, img, k: p(img, np.full((18, 2), 1e9), source_keypoints=k), KeypointError, "far outside"),
    (lambda p, img, k: p(img, k, source_keypoints={"k": 1}), KeypointError, "got dict"),
    (lambda p, img, k: p(img, k, source_keypoints=k, source_parsing=np.full((64, 48), 1.5)), ParsingError,
     "whole numbers"),
    (lambda p, img, k: p(img, k, source_keypoints=k, source_parsing=np.full((64, 48), np.nan)), ParsingError,
     "NaN"),
    (lambda p, img, k: p.edit(img, {"map": 1}, source_keypoints=k), ParsingError, "label ids"),
])
def test_bad_inputs_raise_specific_errors(random_pipeline, call, error, words):
    img, kps = _photo(64, 48, 11), person_pose(64, 48)
    with pytest.raises(error, match=words):
        call(random_pipeline, img, kps)
    res = random_pipeline(img, kps, source_keypoints=kps, source_parsing=person_parsing(64, 48, kps))
    assert res.image.size == (48, 64)  # the pipeline is unharmed


def test_replaced_swaps_one_network_and_shares_the_rest(random_pipeline):
    from sps.models import SemanticGenerator, SemanticGeneratorConfig

    g_s = SemanticGenerator(SemanticGeneratorConfig.preset("tiny", canvas=random_pipeline.canvas))
    other = random_pipeline.replaced(semantic_generator=g_s)
    assert other.semantic_generator is g_s and random_pipeline.semantic_generator is not g_s
    assert other.appearance_generator is random_pipeline.appearance_generator
    assert other.pose_estimator is random_pipeline.pose_estimator and other.settings == random_pipeline.settings
    with pytest.raises(TypeError, match="unknown networks"):
        random_pipeline.replaced(generator=g_s)
