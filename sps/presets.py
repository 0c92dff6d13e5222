"""The shipped target-pose presets (``sps/assets/poses/*.json``: OpenPose JSON on the 256 x 192 pose grid).

Used by the demo, the command line and the photo evaluation; read on first use and cached, never at import.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import pose as K
from .errors import DataError

ASSETS = Path(__file__).resolve().parent / "assets"  # package data
POSES_DIR = ASSETS / "poses"
POSE_GRID: tuple[int, int] = (256, 192)  # (H, W) grid of the preset files (and of the demo's pose table)


@dataclass(frozen=True)
class Preset:
    """A named target pose: ``kps`` (18, 2) xy on the 256 x 192 pose grid."""

    key: str
    label: str
    kps: np.ndarray


def load_presets(folder: str | Path = POSES_DIR) -> list[Preset]:
    """The pose presets of a folder (OpenPose JSON on the pose grid, label in ``sps_preset``), sorted by file."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        kps = K.read_openpose_json(path)
        meta = json.loads(path.read_text()).get("sps_preset", {})
        out.append(Preset(path.stem, meta.get("label", path.stem.replace("_", " ")), kps))
    return out


@lru_cache(maxsize=1)
def presets() -> tuple[Preset, ...]:
    """The shipped presets, read once."""
    found = tuple(load_presets())
    if not found:
        raise DataError(f"no pose presets in {POSES_DIR} (the package data is missing)")
    return found
