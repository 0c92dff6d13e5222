"""sps.data: real items on the canvas (shapes, alignment, flips, loader, pairs) and every bad-input error."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, DataLoader

from sps import data as D
from sps import parsing as P
from sps import pose as K
from sps.data.__main__ import main
from sps.errors import DataError, ImageReadError, KeypointError, ParsingError

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"viton/train": (256, 192), "viton/test": (256, 192), "deepfashion": (256, 176), "market": (128, 64),
           "spt-demo": (256, 256)}


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    if not (folder / "keypoints.csv").is_file():
        pytest.skip(f"real data folder absent: {folder}")
    return folder


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) [-1, 1] -> (H, W, 3) uint8 (exact inverse of the loader's scaling)."""
    return ((image.permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Real data
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FOLDERS))
@pytest.mark.parametrize("canvas", [(128, 96), (256, 192)])
def test_real_items_shapes_and_ranges(data_root, name, canvas):
    ds = D.PersonDataset(_folder(data_root, name), canvas=canvas)
    h, w = canvas
    for i in (0, len(ds) - 1):
        it = ds[i]
        assert it["name"] == ds.names[i]
        assert it["image"].shape == (3, h, w) and it["image"].dtype == torch.float32
        assert -1.0 <= float(it["image"].min()) and float(it["image"].max()) <= 1.0
        assert it["kps"].shape == (18, 2) and it["kps"].dtype == torch.float32
        vis = K.visible(it["kps"])
        assert vis.sum() >= 4
        assert (it["kps"][vis, 0] >= -0.5).all() and (it["kps"][vis, 0] <= w - 0.5).all()
        assert (it["kps"][vis, 1] >= -0.5).all() and (it["kps"][vis, 1] <= h - 0.5).all()
        assert it["heatmaps"].shape == (18, h, w) and float(it["heatmaps"].max()) <= 1.0
        assert tuple(it["orig_size"].tolist()) == FOLDERS[name]
        par = it["parsing"]
        assert par.shape == (h, w) and par.dtype == torch.int64
        if name in ("deepfashion", "market"):
            assert not it["has_parsing"] and (par == -1).all()
        else:
            assert it["has_parsing"] and par.min() >= 0 and par.max() <= 9 and (par > 0).sum() > h * w // 20


def test_deepfashion_is_padded_8px_each_side_on_the_paper_canvas(data_root):
    folder = _folder(data_root, "deepfashion")
    ds = D.PersonDataset(folder, canvas=(256, 192))
    it = ds[3]
    raw = K.read_keypoints_csv(folder / "keypoints.csv")[it["name"]]
    expect = raw.copy()
    expect[K.visible(raw), 0] += 8
    np.testing.assert_array_equal(it["kps"].numpy(), expect)
    img = _to_uint8(it["image"])
    assert (img[:, :8] == 255).all() and (img[:, -8:] == 255).all()  # white padding
    np.testing.assert_array_equal(img[:, 8:184], D.load_image(folder / "images" / it["name"]))  # not resampled


def test_viton_keypoints_and_image_are_resized_together(data_root):
    folder = _folder(data_root, "viton/test")
    ds = D.PersonDataset(folder, canvas=(128, 96))
    it = ds[0]
    raw = K.read_keypoints_csv(folder / "keypoints.csv")[it["name"]]
    vis = K.visible(raw)
    np.testing.assert_allclose(it["kps"].numpy()[vis], (raw[vis] + 0.5) * 0.5 - 0.5)
    full = D.load_image(folder / "images" / it["name"]).astype(np.float32)
    half = full.reshape(128, 2, 96, 2, 3).mean(axis=(1, 3))  # a 2x box filter = bilinear antialias at 1/2
    assert np.abs(_to_uint8(it["image"]).astype(np.float32) - half).mean() < 2.0


@pytest.mark.parametrize("name,canvas", [("viton/test", (128, 96)), ("viton/test", (256, 192)),
                                         ("spt-demo", (128, 96))])
def test_parsing_is_aligned_with_the_keypoints(data_root, name, canvas):
    ds = D.PersonDataset(_folder(data_root, name), canvas=canvas)
    r = max(2, canvas[0] // 40)
    hits = total = 0
    for i in range(0, len(ds), max(1, len(ds) // 30)):
        it = ds[i]
        nose = it["kps"][0]
        if nose[0] < 0:
            continue
        x, y = (round(float(v)) for v in nose)
        window = it["parsing"][max(0, y - r):y + r + 1, max(0, x - r):x + r + 1]
        hits += bool((window == P.LABELS.index("face")).any())
        total += 1
    assert total >= 5 and hits / total >= 0.9, (hits, total)


def test_lip_and_sps_label_sets(data_root):
    assert D.detect_label_set(data_root / "viton" / "train") == "lip"
    assert D.detect_label_set(data_root / "spt-demo") == "sps"
    assert D.detect_label_set("/x/flip_tests/person") == "sps"  # "flip" is not "lip"
    assert D.detect_label_set("/x/lip_val") == "lip"
    with pytest.raises(DataError, match="label_set"):
        D.detect_label_set("/x", "coco")
    ds = D.PersonDataset(_folder(data_root, "spt-demo"), canvas=(256, 192))
    raw = np.asarray(Image.open(ds.parsing_path(0)))
    np.testing.assert_array_equal(ds.load_parsing(0), raw)  # the paper's labels pass through unchanged


@pytest.mark.parametrize("name", ["viton/test", "deepfashion"])
def test_flip_consistency(data_root, name):
    ds = D.PersonDataset(_folder(data_root, name), canvas=(128, 96))
    a, b = ds.get(5, flip=False), ds.get(5, flip=True)
    assert b["flipped"] and not a["flipped"]
    np.testing.assert_allclose(b["kps"].numpy(), K.flip_keypoints(a["kps"].numpy(), 96))
    assert torch.equal(b["image"], a["image"].flip(-1))
    if a["has_parsing"]:
        np.testing.assert_array_equal(b["parsing"].numpy(), P.flip_parsing(a["parsing"].numpy()))
    np.testing.assert_allclose(b["heatmaps"].numpy(), K.heatmaps(b["kps"].numpy(), (128, 96)), atol=1e-6)


def test_random_flips_are_deterministic_per_epoch(data_root):
    ds = D.PersonDataset(_folder(data_root, "viton/test"), canvas=(128, 96), flip=True, seed=3)
    first = [ds.is_flipped(i) for i in range(200)]
    assert 60 < sum(first) < 140
    assert first == [ds.is_flipped(i) for i in range(200)]
    ds.set_epoch(1)
    assert first != [ds.is_flipped(i) for i in range(200)]
    ds.set_epoch(0)
    i = first.index(True)
    assert ds[i]["flipped"] and torch.equal(ds[i]["kps"], ds.get(i, flip=True)["kps"])
    assert not D.PersonDataset(ds.folder, flip=False).is_flipped(i)


def test_loader_batches_items_of_several_folders(data_root):
    """The way training feeds data: PersonDatasets without heatmaps, concatenated, through a DataLoader."""
    names = ["viton/test", "deepfashion", "market"]
    parts = [D.PersonDataset(D.person_folder(n, data_root, split="test"), canvas=(128, 96), heatmaps=False)
             for n in names]
    mixed = ConcatDataset(parts)
    n_v, n_d = len(parts[0]), len(parts[1])
    assert (n_v, n_d, len(parts[2])) == (2032, 347, 455)
    batch = next(iter(DataLoader(torch.utils.data.Subset(mixed, [0, n_v + 3, n_v + n_d + 5]), batch_size=3)))
    assert batch["image"].shape == (3, 3, 128, 96) and batch["kps"].shape == (3, 18, 2)
    assert batch["heatmaps"].shape == (3, 0, 128, 96)  # built batched on the device by the trainer
    assert batch["has_parsing"].tolist() == [True, False, False]
    assert len(batch["name"]) == 3
    np.testing.assert_array_equal(batch["kps"][1].numpy(), parts[1].pose(3, flip=False))


@pytest.mark.parametrize("name,n", [("deepfashion", 185), ("market", 233)])
def test_read_pairs_of_real_folders(data_root, name, n):
    folder = _folder(data_root, name)
    ds = D.PersonDataset(folder, canvas=(128, 96))
    pairs = D.read_pairs(folder / "pairs.csv", ds.names)
    assert len(pairs) == n
    rows = (folder / "pairs.csv").read_text().splitlines()[1:]
    assert ",".join(pairs[2]) == rows[2]
    assert all(a != b for a, b in pairs)
    src, tgt = (ds[ds.index_of(x)] for x in pairs[2])
    assert src["image"].shape == tgt["image"].shape == (3, 128, 96)
    assert not torch.equal(src["kps"], tgt["kps"])


def test_index_of_and_missing_pairs_file(data_root):
    ds = D.PersonDataset(_folder(data_root, "spt-demo"), canvas=(128, 96))
    assert ds.names[ds.index_of("2_B.jpg")] == "2_B.jpg" and ds[ds.index_of("2_B.jpg")]["has_parsing"]
    with pytest.raises(DataError, match="no image named 'nope.jpg'"):
        ds.index_of("nope.jpg")
    with pytest.raises(DataError, match="pairs file not found"):
        D.read_pairs(ds.folder / "pairs.csv")


def test_real_data_checks_clean(data_root):
    for name in ("deepfashion", "spt-demo"):
        assert D.check_person_folder(_folder(data_root, name), full=True) == []
    assert {p.relative_to(data_root).as_posix() for p in D.find_person_folders(data_root)} >= set(FOLDERS)


# ----------------------------------------------------------------------------------------------
# Data root and image loading
# ----------------------------------------------------------------------------------------------

def test_data_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SPS_DATA", str(tmp_path))
    assert D.data_root() == tmp_path.resolve()
    monkeypatch.setenv("SPS_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"nowhere.*SPS_DATA"):
        D.data_root()
    monkeypatch.delenv("SPS_DATA")
    assert D.data_root(check=False) == (REPO / ".." / "shared" / "data").resolve()


def test_load_image_inputs(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 5, 3)).astype(np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    for src in (path, str(path), Image.open(path), path.read_bytes(), rgb, torch.from_numpy(rgb)):
        out = D.load_image(src)
        assert out.dtype == np.uint8 and out.shape == (6, 5, 3)
        np.testing.assert_array_equal(out, rgb)
    np.testing.assert_array_equal(D.load_image(rgb[..., 0]), np.repeat(rgb[..., :1], 3, axis=2))
    np.testing.assert_array_equal(D.load_image(rgb / 255.0), rgb)
    opaque = np.concatenate([rgb, np.full((6, 5, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(D.load_image(opaque), rgb)
    transparent = np.concatenate([rgb, np.zeros((6, 5, 1), np.uint8)], axis=2)
    assert (D.load_image(transparent) == 255).all()  # composited on white
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("L").save(buf, "PNG")
    assert D.load_image(buf.getvalue()).shape == (6, 5, 3)


def test_load_image_errors(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_text("not an image")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        D.load_image(bad)
    with pytest.raises(ImageReadError, match="missing.jpg.*not found"):
        D.load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageReadError, match="image bytes"):
        D.load_image(b"\x00\x01garbage")
    with pytest.raises(ImageReadError, match="shape"):
        D.load_image(np.zeros((2, 3, 3, 3)))
    with pytest.raises(ImageReadError, match="NaN"):
        D.load_image(np.full((2, 2, 3), np.nan))


# ----------------------------------------------------------------------------------------------
# Synthetic folders: geometry and every bad-input error
# ----------------------------------------------------------------------------------------------

def test_synthetic_folder_items(make_person_folder):
    folder = make_person_folder(n=4, size=(32, 24))
    ds = D.PersonDataset(folder, canvas=(64, 64))  # scale 2, 8 px of padding left and right
    assert len(ds) == 4 and ds.label_set == "sps"
    it = ds[1]
    raw = K.read_keypoints_csv(folder / "keypoints.csv")["img001.jpg"]
    np.testing.assert_allclose(it["kps"].numpy(), K.keypoints_to_canvas(raw, (32, 24), (64, 64)))
    np.testing.assert_allclose(it["kps"].numpy(), (raw + 0.5) * 2 - 0.5 + np.array([8, 0]))
    par = it["parsing"].numpy()
    assert (par[:, :8] == 0).all() and (par[:, -8:] == 0).all()  # background padding
    src = np.asarray(Image.open(ds.parsing_path(1)))
    np.testing.assert_array_equal(par[:, 8:56], src.repeat(2, 0).repeat(2, 1))  # nearest, never blended
    nose = it["kps"][0].round().long()
    assert par[nose[1], nose[0]] == 1


def test_parsing_dir_replaces_the_folders_own_maps(make_person_folder, tmp_path):
    """Predicted maps in another folder (as sps.predict writes them) are used instead of folder/parsing."""
    folder = make_person_folder(n=3, size=(32, 24))
    pred = tmp_path / "predicted"
    pred.mkdir()
    for name in ("img000", "img002"):  # img001 has no predicted map
        lab = np.asarray(Image.open(folder / "parsing" / f"{name}.png"))
        Image.fromarray(np.where(lab > 0, 9, 0).astype(np.uint8), "L").save(pred / f"{name}.png")
    ds = D.PersonDataset(folder, canvas=(32, 24), parsing_dir=pred)
    assert ds.parsing_dir == pred and ds.has_parsing.tolist() == [True, False, True] and ds.label_set == "sps"
    par = ds[0]["parsing"]
    assert set(par.unique().tolist()) == {0, 9}
    assert (ds[1]["parsing"] == -1).all()
    with pytest.raises(DataError, match="parsing folder not found"):
        D.PersonDataset(folder, parsing_dir=tmp_path / "nope")


def test_images_not_in_csv_are_skipped(make_person_folder):
    folder = make_person_folder(n=3)
    Image.new("RGB", (24, 32)).save(folder / "images" / "extra.jpg")
    ds = D.PersonDataset(folder)
    assert len(ds) == 3 and "extra.jpg" not in ds.names
    assert D.check_person_folder(folder) == []


def test_missing_image(make_person_folder):
    folder = make_person_folder(n=3)
    (folder / "images" / "img001.jpg").unlink()
    with pytest.raises(DataError, match=r"img001\.jpg.*not found"):
        D.PersonDataset(folder)
    assert any("img001.jpg" in p and "not found" in p for p in D.check_person_folder(folder))


def test_malformed_row(make_person_folder):
    folder = make_person_folder(n=3, pairs=False)  # (pairs.csv would also report img001 as unknown)
    csv = folder / "keypoints.csv"
    lines = csv.read_text().splitlines()
    lines[2] = lines[2].replace(": [", " [", 1)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(KeypointError, match=rf"{csv}:3"):
        D.PersonDataset(folder)
    (problem,) = D.check_person_folder(folder)
    assert f"{csv}:3" in problem


def test_wrong_keypoint_count(make_person_folder):
    folder = make_person_folder(n=3)
    csv = folder / "keypoints.csv"
    lines = csv.read_text().splitlines()
    lines[1] = "img000.jpg: [1, 2, 3]: [4, 5, 6]"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(KeypointError, match=rf"{csv}:2.*expected 18 values, got 3"):
        D.PersonDataset(folder)


def test_parsing_labels_out_of_range(make_person_folder):
    folder = make_person_folder(n=3)
    bad = folder / "parsing" / "img002.png"
    arr = np.asarray(Image.open(bad)).copy()
    arr[0, 0] = 12
    Image.fromarray(arr, "L").save(bad)
    ds = D.PersonDataset(folder)
    ds[0]
    with pytest.raises(ParsingError, match=r"img002\.png.*\[12\] out of range"):
        ds[2]
    assert D.check_person_folder(folder) == []  # the fast check reads headers only
    (problem,) = D.check_person_folder(folder, full=True)
    assert "img002.png" in problem and "12" in problem
    # the same ids are fine as LIP labels
    assert D.check_person_folder(folder, full=True, label_set="lip") == []
    assert D.PersonDataset(folder, label_set="lip")[2]["parsing"].max() <= 9


def test_colour_parsing_png_is_rejected(make_person_folder):
    folder = make_person_folder(n=2)
    path = folder / "parsing" / "img000.png"
    Image.fromarray(P.colorize(np.asarray(Image.open(path)))).save(path)
    with pytest.raises(ParsingError, match=r"img000\.png.*mode RGB.*nearest_label"):
        D.PersonDataset(folder)[0]


def test_parsing_size_mismatch(make_person_folder):
    folder = make_person_folder(n=3, size=(32, 24))
    Image.new("L", (12, 16)).save(folder / "parsing" / "img001.png")
    with pytest.raises(DataError, match=r"img001\.png.*16x12 differs from image img001\.jpg 32x24"):
        D.PersonDataset(folder)[1]
    (problem,) = D.check_person_folder(folder)
    assert "img001.png" in problem and "differs" in problem


def test_unreadable_image(make_person_folder):
    folder = make_person_folder(n=2)
    (folder / "images" / "img001.jpg").write_bytes(b"garbage")
    with pytest.raises(ImageReadError, match=r"img001\.jpg"):
        D.PersonDataset(folder)[1]
    (problem,) = D.check_person_folder(folder)
    assert "img001.jpg" in problem


def test_keypoints_outside_image(make_person_folder):
    folder = make_person_folder(n=2, size=(32, 24))
    poses = K.read_keypoints_csv(folder / "keypoints.csv")
    poses["img000.jpg"][3] = (30, 5)  # x beyond the 24 px width
    K.write_keypoints_csv(folder / "keypoints.csv", poses)
    with pytest.raises(KeypointError, match=r"img000\.jpg.*outside"):
        D.PersonDataset(folder)[0]
    assert any("outside" in p for p in D.check_person_folder(folder))


def test_require_parsing_and_missing_folder_parts(make_person_folder, tmp_path):
    folder = make_person_folder(n=2, parsing=False)
    assert not D.PersonDataset(folder)[0]["has_parsing"]
    with pytest.raises(DataError, match=r"img000\.png.*required"):
        D.PersonDataset(folder, require_parsing=True)
    with pytest.raises(DataError, match="data folder not found"):
        D.PersonDataset(tmp_path / "nowhere")
    (folder / "keypoints.csv").unlink()
    with pytest.raises(DataError, match="no keypoints.csv"):
        D.PersonDataset(folder)


def test_bad_pairs_csv(make_person_folder):
    folder = make_person_folder(n=4)
    names = D.PersonDataset(folder).names
    (folder / "pairs.csv").write_text("from,to\nimg000.jpg,img001.jpg\n\nimg002.jpg, img003.jpg\n")
    assert D.read_pairs(folder / "pairs.csv", names) == [("img000.jpg", "img001.jpg"), ("img002.jpg", "img003.jpg")]
    (folder / "pairs.csv").write_text("from,to\nimg000.jpg,img001.jpg\nimg002.jpg,ghost.jpg\n")
    assert len(D.read_pairs(folder / "pairs.csv")) == 2  # without names, members are not checked
    with pytest.raises(DataError, match=r"pairs.csv:3.*ghost\.jpg"):
        D.read_pairs(folder / "pairs.csv", names)
    (folder / "pairs.csv").write_text("from,to\nimg000.jpg;img001.jpg\n")
    with pytest.raises(DataError, match=r"pairs.csv:2.*expected 'from,to'"):
        D.read_pairs(folder / "pairs.csv", names)


def test_check_folder_reports_all_problems(make_person_folder):
    folder = make_person_folder(n=6, size=(32, 24))
    csv = folder / "keypoints.csv"
    lines = csv.read_text().splitlines()
    lines[2] = "img001.jpg: [1, 2]: [3, 4]"  # wrong count, line 3
    lines[3] = "img002.jpg"  # malformed, line 4
    csv.write_text("\n".join(lines) + "\n")
    (folder / "images" / "img003.jpg").unlink()  # missing image
    Image.new("L", (5, 5)).save(folder / "parsing" / "img004.png")  # size mismatch
    (folder / "images" / "img005.jpg").write_bytes(b"junk")  # unreadable
    (folder / "pairs.csv").write_text("from,to\nimg000.jpg,ghost.jpg\n")  # unknown pair member
    problems = D.check_person_folder(folder)
    joined = "\n".join(problems)
    assert len(problems) == 6, joined
    for needle in (f"{csv}:3", f"{csv}:4", "img003.jpg", "img004.png", "img005.jpg", "pairs.csv:2"):
        assert needle in joined


def test_cli_exit_codes(make_person_folder, capsys):
    good = make_person_folder(n=3, name="good")
    root = good.parent
    assert main(["check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "| good | 3 | 3 | 3 |" in out and "0 problem(s)" in out
    bad = make_person_folder(n=3, name="bad")
    (bad / "images" / "img000.jpg").unlink()
    assert main(["check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM" in out and "img000.jpg" in out and "1 problem(s)" in out
    assert main(["check", str(root / "nowhere")]) == 1
    # the module entry point (one subprocess: the real `python -m sps.data`)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "sps.data", "check", str(root), "--full"], check=False,
                         capture_output=True,
                         text=True, env=env, cwd=REPO, timeout=120)
    assert res.returncode == 1 and "img000.jpg" in res.stdout, res.stderr


def test_items_are_placed_with_the_canvas(make_person_folder):
    """PersonDataset.get is Canvas.fit + image/labels/keypoints: the same placement as the pipeline's."""
    from sps.canvas import Canvas

    folder = make_person_folder(n=2, size=(30, 40))
    ds = D.PersonDataset(folder, canvas=(48, 32))
    it = ds.get(1, flip=False)
    cv = Canvas.fit((30, 40), (48, 32))
    assert ds.place(1) == cv
    np.testing.assert_array_equal(_to_uint8(it["image"]), cv.image(D.load_image(ds.image_path(1))))
    np.testing.assert_array_equal(it["parsing"].numpy(), cv.labels(np.asarray(Image.open(ds.parsing_path(1)))))
    np.testing.assert_array_equal(it["kps"].numpy(), cv.keypoints(ds.kps[1]))
    np.testing.assert_array_equal(ds.pose(1, flip=False), it["kps"].numpy())


def test_data_bench_prints_its_tables(make_person_folder, capsys):
    from sps.bench import data as bench

    folder = make_person_folder(n=16, size=(32, 24))
    bench.main(["--folder", str(folder), "--batches", "2", "--batch-size", "4", "--workers", "0", "--bank", "8",
                "--repeats", "1", "--threads", "1"])
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "heatmaps off" in out
    rows = [ln.strip("|").split("|") for ln in out.splitlines() if ln.startswith("| ") and "x" in ln.split("|")[1]]
    assert [r[0].strip() for r in rows] == ["128x96", "256x192"] * 2 + ["256x192", "128x96"]
    assert all(float(c) >= 0 for r in rows for c in r[1:])
    assert all(float(r[2]) > 0 for r in rows[:2])  # samples/s of the loader


def test_load_image_16_bit_and_transparency(tmp_path):
    """A 16-bit grey PNG keeps its tones (PIL's convert would clip it to white); transparent pixels become white
    (PIL's convert would make them black); uint16 and RGBA arrays follow the same rules."""
    import io

    from sps.data import load_image

    ramp = np.linspace(0, 65535, 64 * 48).reshape(64, 48).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(ramp).save(buf, format="PNG")
    grey = load_image(buf.getvalue())
    assert grey.shape == (64, 48, 3) and grey.min() == 0 and grey.max() == 255
    assert abs(float(grey.mean()) - 127.5) < 1
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:4, :, 3] = 255  # top half opaque red, bottom half fully transparent
    path = tmp_path / "cut_out.png"
    Image.fromarray(rgba).save(path)
    for img in (load_image(path), load_image(rgba), load_image(Image.open(path))):
        assert (img[0, 0] == (200, 0, 0)).all() and (img[7, 7] == 255).all()
    assert (load_image(np.full((4, 4), 65535, np.uint16)) == 255).all()


def test_person_folder_falls_back_to_the_current_directory(make_person_folder, tmp_path, monkeypatch, data_root):
    """A relative name not under the data root is a folder here (e.g. runs/ccp made by sps.data.ccp prepare);
    a folder of splits resolves to the split asked."""
    folder = make_person_folder(n=2, name="train")
    (folder.parent / "test").mkdir()
    (folder.parent / "test" / "keypoints.csv").write_text((folder / "keypoints.csv").read_text())
    monkeypatch.chdir(folder.parent.parent)
    rel = folder.parent.name  # "data"
    assert D.person_folder(rel) == folder
    assert D.person_folder(rel, split="test") == folder.parent / "test"
    assert D.person_folder("viton") == data_root / "viton" / "train"  # the data root comes first
    with pytest.raises(DataError, match="no person folder"):
        D.person_folder("nowhere")
