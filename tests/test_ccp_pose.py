"""Keypoints on CCP against its labels (sps.data.ccp_pose) and pseudo labels in training: the unknown joints of a
``keypoints.pseudo`` folder are left out of the heatmap loss."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sps import losses as L
from sps import pose as K
from sps.data import PersonDataset, ccp, load_image, read_label_png
from sps.data import ccp_pose as CP
from sps.data.paths import PSEUDO_KEYPOINTS_MARKER
from sps.train.data import flip_batch

from conftest import synthetic_pose

H, W = 200, 120


def _person_masks(kps: np.ndarray, bag: bool = False) -> CP.LabelMasks:
    """A worn-body mask: discs around every joint and the bones between them; feet under the ankles."""
    yy, xx = np.mgrid[0:H, 0:W]
    body = np.zeros((H, W), bool)
    for a, b in K.LIMBS:
        for t in np.linspace(0, 1, 20):
            p = kps[a] + t * (kps[b] - kps[a])
            body |= (xx - p[0]) ** 2 + (yy - p[1]) ** 2 <= 36
    foot = np.zeros((H, W), bool)
    for j in (10, 13):
        x, y = kps[j].astype(int)
        foot[y:y + 8, x - 5:x + 6] = True
    if bag:  # a carried bag is not the body
        body[100:140, 100:120] = False
    return CP.LabelMasks(body | foot, foot)


def test_label_agreement_counts_joints_off_the_body_and_ankles_at_the_feet():
    kps = synthetic_pose(H, W)
    masks = _person_masks(kps)
    good = CP.label_agreement(kps, masks)
    assert good["body_found"] == 14 and good["body_on"] == 14 and good["feet"] == 1
    assert good["ankles_found"] == 2 and good["ankles_at_foot"] == 2 and good["legs_complete"] == 1
    bad = kps.copy()
    bad[8] = (W - 2, 5)  # a hip in the sky
    bad[13] = (5, 5)  # an ankle far from any foot
    bad[12] = K.MISSING
    row = CP.label_agreement(bad, masks)
    assert row["body_found"] == 13 and row["body_on"] == 11
    assert row["ankles_found"] == 2 and row["ankles_at_foot"] == 1 and row["legs_complete"] == 0
    rates = CP.summarise_agreement([good, row])
    assert rates["joints on body"] == pytest.approx(25 / 27)
    assert rates["both ankles found"] == 1.0 and rates["ankles at a foot"] == 0.75 and rates["all leg joints"] == 0.5


def test_ankles_are_read_off_the_footwear_on_the_right_side():
    kps = synthetic_pose(H, W)
    masks = _person_masks(kps)
    missing = kps.copy()
    missing[[10, 13]] = K.MISSING
    out = CP.ankles_from_footwear(missing, masks.foot)
    assert K.visible(out)[[10, 13]].all()
    assert abs(out[10, 0] - kps[10, 0]) <= 2 and abs(out[13, 0] - kps[13, 0]) <= 2  # facing us: right foot left
    assert kps[10, 1] - 1 <= out[10, 1] <= kps[10, 1] + 8  # on the foot (the shoe's top: a low shoe)
    back = K.flip_keypoints(missing, W)[list(K.FLIP_PERMUTATION)]  # the same pixels, sides swapped: a back view
    out_back = CP.ankles_from_footwear(back, masks.foot)
    assert abs(out_back[13, 0] - kps[10, 0]) <= 2  # their left foot is now on the image's left
    no_facing = missing.copy()
    no_facing[[2, 5, 8, 11]] = K.MISSING
    assert not K.visible(CP.ankles_from_footwear(no_facing, masks.foot))[[10, 13]].any()
    assert not K.visible(CP.ankles_from_footwear(missing, np.zeros((H, W), bool)))[[10, 13]].any()


def test_pseudo_keypoints_keep_only_joints_found_on_both_mirrors_and_on_the_body():
    kps = synthetic_pose(H, W)
    image = np.zeros((H, W, 3), np.uint8)
    image[:, : W // 2] = 255  # tells the fake estimator which way the photo is mirrored

    def estimate(im: np.ndarray) -> np.ndarray:
        out = kps.copy() if im[0, 0, 0] == 255 else K.flip_keypoints(kps, W)
        if im[0, 0, 0] != 255:
            out[K.FLIP_PERMUTATION[3]] += (30, 0)  # the right elbow disagrees between the two looks
            out[K.FLIP_PERMUTATION[7]] = K.MISSING  # the left wrist is seen on one look only
        return out

    masks = _person_masks(kps, bag=True)
    moved = kps.copy()
    moved[11] = (110, 120)  # a hip on the bag, found on both looks
    flipped_hip = K.flip_keypoints(moved, W)

    def estimate_bag(im: np.ndarray) -> np.ndarray:
        return moved.copy() if im[0, 0, 0] == 255 else flipped_hip

    out = CP.pseudo_keypoints(estimate, image, None)
    assert not K.visible(out)[[3, 7]].any() and K.visible(out).sum() == 16
    np.testing.assert_allclose(out[K.visible(out)], kps[K.visible(out)], atol=1e-4)
    on_bag = CP.pseudo_keypoints(estimate_bag, image, masks)
    assert not K.visible(on_bag)[11] and K.visible(on_bag)[8]


def test_heatmap_loss_ignores_unknown_joints_and_is_plain_mse_when_all_known():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 18, 8, 6, generator=g), torch.rand(2, 18, 8, 6, generator=g)
    assert torch.allclose(L.heatmap_mse(pred, target, torch.ones(2, 18, dtype=torch.bool)), L.heatmap_mse(pred, target))
    known = torch.ones(2, 18, dtype=torch.bool)
    known[0, 4] = known[1, 10] = False
    before = L.heatmap_mse(pred, target, known)
    pred2 = pred.clone()
    pred2[0, 4] += 5.0
    pred2[1, 10] -= 3.0
    assert torch.allclose(L.heatmap_mse(pred2, target, known), before)
    pred2[0, 5] += 1.0  # a known joint still counts
    assert L.heatmap_mse(pred2, target, known) > before


def test_a_pseudo_folder_marks_its_missing_joints_unknown_and_flips_keep_the_mask(make_person_folder):
    folder = make_person_folder(n=2, size=(40, 30))
    kps = K.read_keypoints_csv(folder / "keypoints.csv")
    first = next(iter(kps))
    kps[first][[9, 16]] = K.MISSING
    K.write_keypoints_csv(folder / "keypoints.csv", kps)
    plain = PersonDataset(folder, (40, 30), heatmaps=False)
    assert plain[0]["known"].all()  # annotations: a missing joint is absent, hence known
    (folder / PSEUDO_KEYPOINTS_MARKER).write_text("pseudo\n")
    item = PersonDataset(folder, (40, 30), heatmaps=False)[0]
    assert item["known"].tolist() == [j not in (9, 16) for j in range(18)]
    batch = {"image": item["image"][None], "kps": item["kps"][None], "known": item["known"][None],
             "parsing": item["parsing"][None]}
    flipped = flip_batch(batch, torch.tensor([True]))
    assert not flipped["known"][0, 12] and not flipped["known"][0, 17] and flipped["known"][0, 9]
    assert (K.visible(flipped["kps"][0]) == flipped["known"][0]).all()


def test_pseudo_keypoints_of_a_real_street_photo_lie_on_its_body(data_root: Path):
    root = data_root / "ccp"
    if not (root / ccp.LABELS_FILE).is_file():
        pytest.skip(f"CCP not available: {root}")
    from sps.pipeline import SPSPipeline

    pipe = SPSPipeline.from_pretrained("weights")
    names = ccp.read_label_names(root)
    rows = []
    for label in sorted((root / ccp.LABEL_DIR).glob("*.png"))[:3]:
        photo = load_image(root / ccp.IMAGES / (label.stem + ".jpg"))
        masks = CP.LabelMasks.from_labels(np.asarray(read_label_png(label)), names)
        rows.append(CP.label_agreement(CP.pseudo_keypoints(lambda im: pipe.analyse(im)[0], photo, masks), masks))
    assert sum(r["body_found"] for r in rows) >= 3
    assert all(r["body_on"] == r["body_found"] for r in rows)


def test_prepare_writes_plain_folders_and_pseudo_labelled_pose_folders(data_root: Path, random_pipeline_dir,
                                                                        tmp_path: Path):
    import shutil

    src = data_root / "ccp"
    if not (src / ccp.LABELS_FILE).is_file():
        pytest.skip(f"CCP not available: {src}")
    raw = tmp_path / "ccp"
    (raw / ccp.IMAGES).mkdir(parents=True)
    (raw / ccp.LABEL_DIR).mkdir()
    shutil.copy(src / ccp.LABELS_FILE, raw / ccp.LABELS_FILE)
    labelled = sorted((src / ccp.LABEL_DIR).glob("*.png"))
    picked = [p for p in labelled if ccp.split_of(p.stem + ".jpg") == "test"][:1]
    picked += [p for p in labelled if ccp.split_of(p.stem + ".jpg") == "train"][:2]
    for label in picked:
        shutil.copy(label, raw / ccp.LABEL_DIR / label.name)
        shutil.copy(src / ccp.IMAGES / (label.stem + ".jpg"), raw / ccp.IMAGES / (label.stem + ".jpg"))
    out = ccp.prepare(raw, tmp_path / "prepared", random_pipeline_dir)
    plain = PersonDataset(out / "train", (64, 48), heatmaps=False)
    pose = PersonDataset(out / "pose" / "train", (64, 48), heatmaps=False)
    assert len(plain) == len(pose) == 2 and len(PersonDataset(out / "pose" / "test", (64, 48))) == 1
    assert not plain.pseudo_keypoints and pose.pseudo_keypoints and pose.has_parsing.all()
    item = pose[0]
    assert (item["known"] == K.visible(item["kps"].numpy())).all().item()
    assert (item["parsing"] == plain[0]["parsing"]).all()
    again = ccp.prepare(raw, tmp_path / "again", random_pipeline_dir, pose=random_pipeline_dir / "pose_estimator")
    for split in ("train", "test"):  # the same estimator given as --pose: the same labels
        csv = Path("pose") / split / "keypoints.csv"
        assert (again / csv).read_text() == (out / csv).read_text()
