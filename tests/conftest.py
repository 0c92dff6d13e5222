"""Shared fixtures: the real data root (skipped with a reason when absent) and a tiny synthetic person folder."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sps import pose as K
from sps.errors import DataError

torch.set_num_threads(1)

# the tiny random pipeline fixtures (random_pipeline_dir, random_pipeline), shared by every test module
pytest_plugins = ("fixtures_pipeline",)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared data folder (sps.data.data_root()); tests needing it skip when it is absent."""
    from sps.data import data_root as _root

    try:
        return _root()
    except DataError as exc:
        pytest.skip(f"real data not available: {exc}")


@pytest.fixture(scope="session")
def viton_train(data_root: Path) -> Path:
    folder = data_root / "viton" / "train"
    if not (folder / "keypoints.csv").is_file():
        pytest.skip(f"real data not available: {folder}")
    return folder


def synthetic_pose(h: int, w: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A plausible standing pose on an (h, w) image: (18, 2) xy, all joints visible, inside the image."""
    rel = np.array([
        (0.50, 0.12), (0.50, 0.25), (0.35, 0.26), (0.30, 0.42), (0.28, 0.56), (0.65, 0.26), (0.70, 0.42),
        (0.72, 0.56), (0.42, 0.56), (0.41, 0.74), (0.40, 0.92), (0.58, 0.56), (0.59, 0.74), (0.60, 0.92),
        (0.46, 0.10), (0.54, 0.10), (0.42, 0.11), (0.58, 0.11),
    ], np.float32)
    kps = rel * np.array([w - 1, h - 1], np.float32)
    if rng is not None:
        kps += rng.uniform(-1, 1, kps.shape).astype(np.float32)
    return np.clip(np.round(kps), 0, [w - 1, h - 1]).astype(np.float32)


def synthetic_parsing(h: int, w: int, kps: np.ndarray) -> np.ndarray:
    """A crude sps label map: face disc at the nose, upper clothes box, pants box (labels 0..9)."""
    par = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    nose = kps[0]
    par[(xx - nose[0]) ** 2 + (yy - nose[1]) ** 2 <= (0.08 * h) ** 2] = 1
    par[int(kps[1, 1]):int(kps[8, 1]), int(kps[2, 0]):int(kps[5, 0]) + 1] = 3
    par[int(kps[8, 1]):int(kps[10, 1]), int(kps[8, 0]):int(kps[11, 0]) + 1] = 4
    par[int(kps[3, 1]):int(kps[4, 1]), max(0, int(kps[3, 0]) - 2):int(kps[3, 0]) + 2] = 7  # right arm
    par[int(kps[6, 1]):int(kps[7, 1]), int(kps[6, 0]) - 2:int(kps[6, 0]) + 2] = 6  # left arm
    return par


@pytest.fixture
def make_person_folder(tmp_path: Path) -> Callable[..., Path]:
    """Builder of a tiny person folder: ``make_person_folder(n=4, size=(32, 24), parsing=True, pairs=True)``.

    Images are random-noise JPEGs with a distinct colour per image; keypoints come from synthetic_pose;
    parsing maps (sps labels, mode L) from synthetic_parsing. The folder is tmp_path/"data"/name.
    """
    counter = {"n": 0}

    def build(n: int = 4, size: tuple[int, int] = (32, 24), parsing: bool = True, pairs: bool = True,
              name: str | None = None) -> Path:
        counter["n"] += 1
        folder = tmp_path / "data" / (name or f"person{counter['n']}")
        (folder / "images").mkdir(parents=True)
        if parsing:
            (folder / "parsing").mkdir()
        rng = np.random.default_rng(counter["n"])
        h, w = size
        poses = {}
        for i in range(n):
            fname = f"img{i:03d}.jpg"
            img = np.clip(rng.normal(128, 40, (h, w, 3)) + 20 * i, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / "images" / fname, quality=95)
            kps = synthetic_pose(h, w, rng)
            poses[fname] = kps
            if parsing:
                Image.fromarray(synthetic_parsing(h, w, kps), "L").save(folder / "parsing" / f"img{i:03d}.png")
        K.write_keypoints_csv(folder / "keypoints.csv", poses)
        if pairs and n >= 2:
            names = list(poses)
            rows = ["from,to"] + [f"{names[i]},{names[i + 1]}" for i in range(0, n - 1, 2)]
            (folder / "pairs.csv").write_text("\n".join(rows) + "\n")
        return folder

    return build


class _Synth:
    """Namespace handed out by the ``synth`` fixture (tests import nothing from conftest)."""
    pose = staticmethod(synthetic_pose)
    parsing = staticmethod(synthetic_parsing)


@pytest.fixture(scope="session")
def synth() -> type[_Synth]:
    """``synth.pose(h, w)`` -> (18, 2) plausible pose; ``synth.parsing(h, w, kps)`` -> sps label map."""
    return _Synth
