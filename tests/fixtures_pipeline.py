"""Pipeline fixtures: a randomly initialised tiny pipeline saved with save_pretrained (import into test files)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sps import pose as K
from sps.pipeline import SPSPipeline

PIPELINE_CARD = """---
license: apache-2.0
library_name: sps
tags: [pose-transfer, test]
---
# test pipeline
"""


def build_random_pipeline(folder: Path, preset: str = "tiny", seed: int = 0) -> Path:
    """Save a random ``preset`` pipeline (four networks + pipeline.json + a pipeline card) into ``folder``."""
    torch.manual_seed(seed)
    pipe = SPSPipeline.from_preset(preset, seed=seed)
    pipe.save_pretrained(folder)
    (folder / "README.md").write_text(PIPELINE_CARD)
    for sub in ("pose_estimator", "human_parser", "semantic_generator", "appearance_generator"):
        card = folder / sub / "README.md"
        if not card.is_file():
            card.write_text(f"---\nlicense: apache-2.0\nlibrary_name: sps\n---\n# {sub}\n")
    return folder


@pytest.fixture(scope="session")
def random_pipeline_dir(tmp_path_factory) -> Path:
    """A tiny random pipeline folder (tiny preset: 32 x 24 canvas), built once per session."""
    return build_random_pipeline(tmp_path_factory.mktemp("random_pipeline"))


@pytest.fixture(scope="session")
def random_pipeline(random_pipeline_dir: Path) -> SPSPipeline:
    return SPSPipeline.from_pretrained(random_pipeline_dir)


def person_pose(h: int, w: int) -> np.ndarray:
    """A standing pose (all 18 joints) on an (h, w) photo."""
    rel = np.array([
        (0.50, 0.12), (0.50, 0.25), (0.35, 0.26), (0.30, 0.42), (0.28, 0.56), (0.65, 0.26), (0.70, 0.42),
        (0.72, 0.56), (0.42, 0.56), (0.41, 0.74), (0.40, 0.92), (0.58, 0.56), (0.59, 0.74), (0.60, 0.92),
        (0.46, 0.10), (0.54, 0.10), (0.42, 0.11), (0.58, 0.11),
    ], np.float32)
    return np.round(rel * np.array([w - 1, h - 1], np.float32)).astype(np.float32)


def person_parsing(h: int, w: int, kps: np.ndarray, sleeves: str = "long") -> np.ndarray:
    """An sps label map drawn from the part masks: head -> face, torso -> upper clothes, legs -> pants,
    upper arms -> upper clothes (``sleeves="long"``: forearms too) or arm, forearms -> arm."""
    from sps.parts import part_masks

    m = part_masks(kps, (h, w)).astype(bool)
    par = np.zeros((h, w), np.int64)
    par[m[6] | m[7] | m[8] | m[9]] = 4
    par[m[0]] = 3
    par[m[5]] = 6  # left forearm -> left arm
    par[m[4]] = 7
    par[m[3]] = 3 if sleeves == "long" else 6
    par[m[2]] = 3 if sleeves == "long" else 7
    par[m[1]] = 1
    return par


def move_arm(kps: np.ndarray) -> np.ndarray:
    """The same pose with the right arm raised (a different target pose)."""
    out = K.validate_keypoints(kps).copy()
    step = 0.4 * np.linalg.norm(out[3] - out[2]) * np.array([-0.7, -0.7], np.float32)  # up and outwards
    out[3] = out[2] + step
    out[4] = out[3] + step
    return out
