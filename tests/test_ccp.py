"""CCP: its 59 labels mapped to the paper's 10 with keypoints, the held-out split, the coarse classes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sps.data import ccp
from sps.errors import DataError

from conftest import synthetic_pose


@pytest.fixture(scope="module")
def names(data_root: Path) -> tuple[str, ...]:
    folder = data_root / "ccp"
    if not (folder / ccp.LABELS_FILE).is_file():
        pytest.skip(f"CCP not available: {folder}")
    return ccp.read_label_names(folder)


def test_every_ccp_label_has_a_deliberate_mapping(names):
    assert len(names) == 59 and names[0] == "null" and names[41] == "skin"
    table = ccp.group_table(names)
    by = dict(zip(names, table))
    assert by["hair"] == by["hat"] == ccp.HAIR and by["sunglasses"] == ccp.FACE
    assert by["dress"] == by["coat"] == by["t-shirt"] == ccp.UPPER and by["skirt"] == ccp.SKIRT
    assert by["jeans"] == by["shorts"] == ccp.PANTS and by["bag"] == by["purse"] == ccp.BACKGROUND
    assert by["shoes"] == by["tights"] == ccp.LEG_WEAR and by["gloves"] == ccp.ARM_WEAR
    assert by["necklace"] == by["belt"] == ccp.COVERED
    with pytest.raises(DataError, match="without a mapping"):
        ccp.group_table(names + ("jetpack",))


def _names_ids(names):
    return {n: i for i, n in enumerate(names)}


def test_skin_and_sided_items_follow_the_keypoints(names):
    table, ids = ccp.group_table(names), _names_ids(names)
    h, w = 160, 120
    kps = synthetic_pose(h, w)  # facing us: the person's right side is on the image's left
    lab = np.full((h, w), ids["null"], np.int64)
    nose, r_wrist, l_ankle, r_ankle = kps[0].astype(int), kps[4].astype(int), kps[13].astype(int), kps[10].astype(int)
    lab[nose[1] - 2:nose[1] + 3, nose[0] - 2:nose[0] + 3] = ids["skin"]
    lab[r_wrist[1] - 2:r_wrist[1] + 3, r_wrist[0] - 2:r_wrist[0] + 3] = ids["skin"]
    lab[l_ankle[1] - 2:l_ankle[1] + 1, l_ankle[0] - 2:l_ankle[0] + 3] = ids["shoes"]
    lab[r_ankle[1] - 2:r_ankle[1] + 1, r_ankle[0] - 2:r_ankle[0] + 3] = ids["shoes"]
    out = ccp.map_labels(lab, kps, table)
    assert out[nose[1], nose[0]] == ccp.FACE
    assert out[r_wrist[1], r_wrist[0]] == ccp.R_ARM
    assert out[l_ankle[1] - 1, l_ankle[0]] == ccp.L_LEG and out[r_ankle[1] - 1, r_ankle[0]] == ccp.R_LEG
    assert out.dtype == np.int64 and out.min() >= 0 and out.max() <= 9


def test_covered_items_take_the_surrounding_label(names):
    table, ids = ccp.group_table(names), _names_ids(names)
    lab = np.full((40, 30), ids["t-shirt"], np.int64)
    lab[:, :5] = ids["null"]
    lab[18:22, 10:20] = ids["necklace"]
    out = ccp.map_labels(lab, synthetic_pose(40, 30), table)
    assert (out[18:22, 10:20] == ccp.UPPER).all() and (out[:, :5] == ccp.BACKGROUND).all()
    with pytest.raises(DataError, match="out of range"):
        ccp.map_labels(np.full((4, 4), 99), synthetic_pose(4, 4), table)


def test_real_label_map_and_coarse_classes(data_root, names):
    table = ccp.group_table(names)
    lab = np.asarray(Image.open(data_root / "ccp" / "labels" / "0001.png"))
    out = ccp.map_labels(lab, synthetic_pose(*lab.shape), table)
    # the coarse classes do not depend on the keypoints, and agree with CCP's own person mask
    assert ((ccp.coarse(out) == 0) == (table[lab] == ccp.BACKGROUND)).all()
    assert set(np.unique(ccp.coarse(out))) <= {0, 1, 2, 3} and (ccp.coarse(out) == 3).mean() > 0.05


def test_split_is_by_photo_and_stable():
    names = [f"{i:04d}.jpg" for i in range(1, 1001)]
    test = [n for n in names if ccp.split_of(n) == "test"]
    assert 0.15 < len(test) / len(names) < 0.25
    assert ccp.split_of("0001.jpg") == ccp.split_of("0001.png")  # by photo id, not extension


def test_check_finds_a_broken_ccp_folder(tmp_path, names):
    folder = tmp_path / "ccp"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "labels.txt").write_text("\n".join(f"{i} {n}" for i, n in enumerate(names)) + "\n")
    Image.new("RGB", (24, 32)).save(folder / "images" / "0001.jpg")
    Image.fromarray(np.full((32, 24), 41, np.uint8)).save(folder / "labels" / "0001.png")
    assert ccp.is_ccp_folder(folder) and ccp.check_ccp_folder(folder, full=True) == (1, 1, [])
    Image.fromarray(np.full((30, 24), 41, np.uint8)).save(folder / "labels" / "0001.png")
    Image.fromarray(np.full((32, 24), 70, np.uint8)).save(folder / "labels" / "0002.png")
    _, _, problems = ccp.check_ccp_folder(folder, full=True)
    assert any("differs from its photo" in p for p in problems) and any("no photo 0002" in p for p in problems)
    (folder / "labels.txt").write_text("0 null\n1 jetpack\n")
    assert "without a mapping" in ccp.check_ccp_folder(folder)[2][0]
