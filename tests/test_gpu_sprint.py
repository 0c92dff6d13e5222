"""The GPU sprint, prepared: scripts/pack_sprint_data.py packs person folders the loaders read as the originals
(keypoints, parsing and images placed on the canvas alike), within a size budget; scripts/gpu_sprint.sh trains the
composite G_A from the shipped weights on such a pack (here on CPU, 2 steps) and leaves its export and logs in OUT."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from sps.data import PersonDataset
from sps.splits import split_of
from sps.train.data import person_folders

REPO = Path(__file__).resolve().parents[1]
SPRINT = REPO / "scripts" / "gpu_sprint.sh"
CANVAS = (128, 96)
OUT_FILES = {"appearance_generator/model.safetensors", "appearance_generator/config.json",
             "appearance_generator/README.md", "log.csv", "metrics.json", "config.yaml", "samples_final.png",
             "sprint.log"}


def _load_packer():
    spec = importlib.util.spec_from_file_location("pack_sprint_data", REPO / "scripts" / "pack_sprint_data.py")
    mod = sys.modules["pack_sprint_data"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    spec.loader.exec_module(mod)
    return mod


packer = _load_packer()


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def tiny_pack(data_root, tmp_path_factory) -> Path:
    """3 DeepFashion (train identities) and 3 VITON train images, at the shipped canvas (CCP left out: it needs a
    prepared folder)."""
    out = tmp_path_factory.mktemp("sprint") / "pack"
    packer.pack(out, packer.default_sources(data_root, None), budget_mib=30, max_size=CANVAS, max_per_dataset=3)
    return out


def test_pack_is_person_folders_with_the_perceptual_package(tiny_pack):
    assert (tiny_pack / "datasets.txt").read_text().split() == ["deepfashion", "viton/train"]
    summary = json.loads((tiny_pack / "PACK.json").read_text())
    assert {k: v["images"] for k, v in summary["datasets"].items()} == {"deepfashion": 3, "viton/train": 3}
    assert (tiny_pack / "site" / packer.PERCEPTUAL_PACKAGE / "__init__.py").is_file()
    assert any(p.suffix == ".pth" for p in (tiny_pack / "site").rglob("*"))
    df = PersonDataset(tiny_pack / "deepfashion")
    assert len(df) == 3 and all(split_of(n) == "train" for n in df.names)
    # the test/ marker keeps every VITON image (no identity split), and the pack resolves under --data.root
    data = SimpleNamespace(root=str(tiny_pack), max_images=0)
    assert len(person_folders(data, CANVAS, ["viton/train", "deepfashion"])) == 6


def test_packed_items_match_the_originals_on_the_canvas(tiny_pack, viton_train):
    packed = PersonDataset(tiny_pack / "viton" / "train", CANVAS)
    orig = PersonDataset(viton_train, CANVAS)
    assert packed.label_set == orig.label_set == "lip"
    for j, name in enumerate(packed.names):
        i = orig.index_of(name)
        assert packed.image_size(j) == CANVAS and orig.image_size(i) == (256, 192)
        a, b = packed.get(j, flip=False), orig.get(i, flip=False)
        vis = (b["kps"] >= 0).all(-1)
        assert torch.equal(vis, (a["kps"] >= 0).all(-1))
        assert (a["kps"][vis] - b["kps"][vis]).abs().max() <= 0.5 + 1e-4  # integer CSV rounding only
        assert torch.equal(a["parsing"], b["parsing"])
        assert (a["image"] - b["image"]).abs().mean() < 0.03  # JPEG at quality 90


def test_pack_stops_at_its_budget(data_root, tmp_path):
    site = packer.folder_bytes(Path(packer.importlib.util.find_spec(packer.PERCEPTUAL_PACKAGE).origin).parent)
    budget = (site + packer.RESERVE + 40_000) / packer.MIB
    summary = packer.pack(tmp_path / "pack", packer.default_sources(data_root, None), budget, max_size=CANVAS)
    assert summary["budget_reached"]
    assert 0 < sum(d["images"] for d in summary["datasets"].values()) < 40
    assert packer.folder_bytes(tmp_path / "pack") <= budget * packer.MIB
    with pytest.raises(SystemExit, match="below the perceptual package"):
        packer.pack(tmp_path / "pack", packer.default_sources(data_root, None), 1.0)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(SystemExit, match="not a sprint pack"):
        packer.pack(tmp_path / "other", [], 30)


def _sprint(out: Path, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "SPRINT_STEPS": "2", "SPRINT_BATCH": "2",
           "SPRINT_THREADS": "1", "SPRINT_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(["bash", str(SPRINT)], check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.shipped_weights
def test_sprint_on_cpu_exports_a_composite_generator(tiny_pack, tmp_path):
    from sps.models import AppearanceGenerator

    out = tmp_path / "out"
    r = _sprint(out, SPRINT_DATA=str(tiny_pack), SPRINT_RUN=str(tmp_path / "run"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert _files(out) == OUT_FILES  # 8 files: all a device call brings back
    g = AppearanceGenerator.from_pretrained(out / "appearance_generator")
    assert g.config.composite is True
    assert {t.dtype for t in load_file(out / "appearance_generator" / "model.safetensors").values()} == {torch.float16}
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[-1].split(",")[0] == "2"
    log = (out / "sprint.log").read_text()
    assert str(tiny_pack / "site") in log  # the perceptual weights come from the pack, as on the device
    cfg = (out / "config.yaml").read_text()
    assert "composite: true" in cfg and "appearance: weights/appearance_generator" in cfg


def test_sprint_without_a_pack_fails_and_says_so(tmp_path):
    out = tmp_path / "out"
    r = _sprint(out, SPRINT_DATA=str(tmp_path / "missing"))
    assert r.returncode != 0
    assert "no data pack" in (out / "sprint.log").read_text()
    assert not (out / "appearance_generator" / "model.safetensors").exists()
