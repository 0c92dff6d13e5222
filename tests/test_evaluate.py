"""The evaluation: every method and published peer on the same held-out pairs, and the colour-shift metric."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PIL import Image

from sps import metrics as M
from sps.errors import DataError
from sps.evaluate import read_peers
from sps.evaluate.__main__ import main
from sps.evaluate.run import select_pairs



def _rows(path):
    return {r["method"]: r for r in csv.DictReader(path.open())}


def test_evaluate_cli_limit_4(random_pipeline_dir, data_root, tmp_path):
    out = tmp_path / "eval"
    pairs = data_root / "deepfashion" / "pairs.csv"
    rc = main(["--pairs", str(pairs), "--weights", str(random_pipeline_dir), "--out", str(out), "--limit", "4",
               "--ablation", f"same={random_pipeline_dir}", "--threads", "1"])
    assert rc == 0
    table = (out / "results.md").read_text()
    for name in ("copy source", "part warp (no learning)", "ours", "parser map of real target", "same",
                 "SSIM", "mask-SSIM", "PCKh", "mIoU", "Δa*", "Δb*", "colour err", "FID-EffNetLite0"):
        assert name in table
    by = _rows(out / "metrics.csv")
    assert float(by["ours"]["SSIM"]) == pytest.approx(float(by["same"]["SSIM"]))  # same weights, same numbers
    assert 0 < float(by["copy source"]["SSIM"]) < 1 and by["ours"]["pairs"] == "4"
    # the part-warped source parsing (no learning) is scored like G_S's, and both get a per-label IoU row
    assert 0 < float(by["part warp (no learning)"]["mIoU"]) < 1 and by["copy source"]["mIoU"] == "nan"
    per_label = table.split("Per-label IoU")[1]
    assert "| part warp (no learning) |" in per_label and "| ours |" in per_label and "upper clothes" in per_label
    assert len(list(csv.DictReader((out / "per_pair.csv").open()))) == 4
    grid = Image.open(out / "grid.png")
    assert grid.width > 5 * 176 and grid.height > 256


def test_peers_are_scored_on_their_own_pairs(random_pipeline_dir, data_root, tmp_path):
    """A fake 'oracle' peer that published the real targets for two held-out pairs scores SSIM 1 and no colour
    shift; ours gets a row on exactly those two pairs; a 'blue' peer shows its cast in Δb*."""
    pairs, _ = select_pairs(data_root / "deepfashion" / "pairs.csv", "test", None)
    peers = tmp_path / "peers"
    for method in ("oracle", "blue"):
        (peers / method).mkdir(parents=True)
    for a, b in pairs[:2]:
        tgt = np.asarray(Image.open(data_root / "deepfashion" / "images" / b).convert("RGB"))
        name = f"{a[:-4]}__{b[:-4]}.png"
        Image.fromarray(tgt).save(peers / "oracle" / name)
        blue = np.clip(tgt.astype(int) + (-25, -10, 40), 0, 255).astype(np.uint8)
        Image.fromarray(blue).save(peers / "blue" / name)
    out = tmp_path / "eval"
    rc = main(["--pairs", str(data_root / "deepfashion" / "pairs.csv"), "--weights", str(random_pipeline_dir),
               "--out", str(out), "--limit", "3", "--peers", str(peers), "--no-fid", "--threads", "1"])
    assert rc == 0
    by = _rows(out / "metrics.csv")
    assert by["oracle (published)"]["pairs"] == "2" and float(by["oracle (published)"]["SSIM"]) == pytest.approx(1.0)
    assert abs(float(by["oracle (published)"]["Δb*"])) < 1e-6
    assert float(by["blue (published)"]["Δb*"]) < -10  # bluer than the target
    ours_same = by["ours, on the same 2 pairs"]
    assert ours_same["pairs"] == "2" and float(ours_same["SSIM"]) != pytest.approx(float(by["ours"]["SSIM"]))


def test_read_peers_checks_names(tmp_path):
    (tmp_path / "m").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "m" / "a__b.png")
    assert read_peers(tmp_path, {"a.jpg", "b.jpg"}) == {"m": {("a.jpg", "b.jpg"): tmp_path / "m" / "a__b.png"}}
    with pytest.raises(DataError, match="no image named"):
        read_peers(tmp_path, {"a.jpg"})
    Image.new("RGB", (4, 4)).save(tmp_path / "m" / "nopair.png")
    with pytest.raises(DataError, match="FROM__TO"):
        read_peers(tmp_path)
    shutil.rmtree(tmp_path / "m")
    with pytest.raises(DataError, match="no METHOD"):
        read_peers(tmp_path)


def test_colour_shift_detects_a_cast():
    rng = np.random.default_rng(0)
    target = rng.integers(30, 220, (64, 48, 3)).astype(np.uint8)
    assert M.colour_shift(target, target) == (0.0, 0.0)
    greener = np.clip(target.astype(int) + (-20, 20, -20), 0, 255).astype(np.uint8)
    da, db = M.colour_shift(greener, target)
    assert da < -5  # a* falls when green rises
    mask = np.zeros((64, 48), bool)
    mask[:32] = True
    half = target.copy()
    half[32:] = 0  # outside the mask: ignored
    assert M.colour_shift(half, target, mask) == (0.0, 0.0)
    # reference values of CIELAB (D65): white, pure red
    np.testing.assert_allclose(M.rgb_to_lab(np.array([[255, 255, 255], [255, 0, 0]], np.uint8)),
                               [[100, 0, 0], [53.24, 80.09, 67.20]], atol=0.02)


def test_photo_evaluation_on_a_ccp_style_folder(random_pipeline_dir, data_root, tmp_path):
    """`python -m sps.evaluate photos`: acceptance, parser metrics against CCP labels, PCK per preset, a grid."""
    from sps.data import ccp

    src = data_root / "ccp"
    if not (src / ccp.LABELS_FILE).is_file():
        pytest.skip("CCP not available")
    folder = tmp_path / "ccp"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    shutil.copy(src / ccp.LABELS_FILE, folder / ccp.LABELS_FILE)
    test_names = [n for n in sorted((src / "labels").iterdir()) if ccp.split_of(n.stem + ".jpg") == "test"][:3]
    for lab in test_names:
        shutil.copy(lab, folder / "labels" / lab.name)
        shutil.copy(src / "images" / (lab.stem + ".jpg"), folder / "images" / (lab.stem + ".jpg"))
    out = tmp_path / "out"
    rc = main(["photos", "--folder", str(folder), "--weights", str(random_pipeline_dir), "--out", str(out),
               "--threads", "1"])
    text = (out / "results.md").read_text()
    assert rc == 0 and "| photos | 3 |" in text and "person IoU" in text and "Front, arms down" in text
    assert "| pose: joints on body |" in text and "| pose: both ankles found |" in text
    assert (out / "grid.png").is_file() or "Refused" in text


def test_place_hole_lays_the_silhouette_beside_the_person():
    from sps.evaluate.fill import CLEARANCE, gradient_energy, place_hole

    h, w = 128, 160
    person = np.zeros((h, w), bool)
    person[20:120, 60:90] = True
    silhouette = np.zeros((h, w), bool)
    silhouette[30:120, 65:95] = True  # where the person stands: it must move
    hole = place_hole(silhouette, person)
    margin = round(CLEARANCE * h)
    cols = np.flatnonzero(hole.any(0))
    assert hole.sum() == silhouette.sum() and np.flatnonzero(hole.any(1))[-1] == 119  # whole, standing as it stood
    assert cols[-1] < 60 - margin or cols[0] > 89 + margin  # clear of the person
    wide = np.zeros((h, w), bool)
    wide[30:120, 10:150] = True  # wider than the room beside the person at any size
    assert place_hole(wide, person) is None
    flat = np.full((h, w, 3), 90, np.uint8)
    ramp = np.repeat(np.arange(w, dtype=np.uint8)[None, :, None], h, 0).repeat(3, 2)  # 1 grey level per px
    assert gradient_energy(flat, hole) == 0 and gradient_energy(ramp, hole) == pytest.approx(1.0)


def test_fill_evaluation_scores_every_fill(random_pipeline_dir, data_root, tmp_path):
    """`python -m sps.evaluate fill`: every fill scored inside the laid holes, against the real scene."""
    from sps.data import ccp
    from sps.evaluate.fill import FILLS

    src = data_root / "ccp" / "images"
    if not src.is_dir():
        pytest.skip("CCP not available")
    folder = tmp_path / "ccp"
    (folder / "images").mkdir(parents=True)
    for name in [n for n in sorted(src.iterdir()) if ccp.split_of(n.name) == "test"][:4]:
        shutil.copy(name, folder / "images" / name.name)
    out = tmp_path / "out"
    rc = main(["fill", "--folder", str(folder), "--weights", str(random_pipeline_dir), "--out", str(out),
               "--threads", "1"])
    text = (out / "results.md").read_text()
    assert rc == 0 and "of 4 photos" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert set(FILLS) <= set(rows), rows


def test_pose_evaluation_compares_estimators_on_the_same_photos(random_pipeline_dir, data_root, tmp_path):
    """`python -m sps.evaluate pose`: a row per estimator (and with flip averaging), PCK per folder, CCP rows."""
    if not (data_root / "deepfashion").is_dir():
        pytest.skip("DeepFashion not available")
    out = tmp_path / "pose"
    rc = main(["pose", "--weights", str(random_pipeline_dir), "--estimator",
               f"again={random_pipeline_dir / 'pose_estimator'}", "--folders", "deepfashion", "--limit", "2",
               "--ccp", str(tmp_path / "no_ccp"), "--out", str(out), "--threads", "1"])
    text = (out / "results.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| metric"))
    assert rc == 0 and header.count("|") == 6 and "again + flip averaging" in header
    row = next(line for line in text.splitlines() if line.startswith("| deepfashion PCK@0.1 |"))
    values = [float(v) for v in row.strip("|").split("|")[1:]]
    assert len(values) == 4 and all(0 <= v <= 1 for v in values)
    assert values[0] == values[2]  # the same weights loaded twice score the same
    assert "| deepfashion PCK@0.1 (grey) |" in text and "| CCP" not in text  # no CCP folder: no street rows


def test_pck_counts():
    from conftest import synthetic_pose

    target = synthetic_pose(100, 80)
    assert M.pck_counts(target, target) == (18, 18)
    moved = target.copy()
    moved[:9, 0] += 30  # far beyond 0.1 x the box
    moved[9] = -1  # not found
    assert M.pck_counts(moved, target) == (8, 18)
    assert M.pck_counts(target, np.full((18, 2), -1.0)) == (0, 0)


def test_layout_evaluation_scores_each_g_s_on_the_same_pairs(random_pipeline_dir, data_root, tmp_path):
    from sps.errors import SPSError
    from sps.evaluate.layouts import evaluate_layouts

    pairs = data_root / "deepfashion" / "pairs.csv"
    g_s = random_pipeline_dir / "semantic_generator"
    out = tmp_path / "layouts"
    rc = main(["layouts", "--pairs", str(pairs), "--weights", str(random_pipeline_dir), "--out", str(out),
               "--limit", "3", "--semantic", f"same={g_s}", "--threads", "1"])
    assert rc == 0
    table = (out / "results.md").read_text()
    assert "| part warp (no learning) | 3 |" in table and "| shipped G_S | 3 |" in table and "| same | 3 |" in table
    summary = evaluate_layouts(pairs, {"same": str(g_s)}, random_pipeline_dir, tmp_path / "again", limit=3)
    assert summary["same"]["mIoU"] == summary["shipped G_S"]["mIoU"]  # the same network, the same maps
    for row in summary.values():
        assert 0 <= row["mIoU"] <= 1 and len(row["IoU per label"]) == 10
    with pytest.raises(SPSError, match="semantic_generator folder"):
        evaluate_layouts(pairs, {"missing": str(tmp_path)}, random_pipeline_dir, tmp_path / "bad", limit=1)
