"""What the command line reads: photos (one, or a folder of them), the target pose, the weights to load."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import pose as K
from ..errors import DataError, KeypointError, WeightsError
from ..presets import POSE_GRID, presets

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
WEIGHTS_ENV = "SPS_WEIGHTS"
LOCAL_WEIGHTS = "weights"  # looked for in the current directory


def photos(path: str | os.PathLike) -> list[Path]:
    """``[path]`` for a file, the photos directly inside a folder (sorted by name). DataError when there is none."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        if not found:
            raise DataError(f"{path}: no photo in this folder ({', '.join(PHOTO_SUFFIXES)})")
        return found
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    return [path]


def default_weights(cwd: str | os.PathLike | None = None) -> str:
    """``$SPS_WEIGHTS`` if set, else ``weights`` in the current directory if it is a folder; WeightsError
    saying how to give them otherwise."""
    if os.environ.get(WEIGHTS_ENV):
        return os.environ[WEIGHTS_ENV]
    local = Path(cwd or Path.cwd()) / LOCAL_WEIGHTS
    if local.is_dir():
        return str(local)
    raise WeightsError(f"no weights: pass --weights PATH (a pipeline folder) or --weights ORG/NAME (a Hugging Face "
                       f"Hub repo id), set ${WEIGHTS_ENV}, or run from a folder that holds '{LOCAL_WEIGHTS}/'")


def device(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu``; anything else as given."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# ----------------------------------------------------------------------------------------------
# Target poses
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetPose:
    """What ``--pose`` names: ``value`` is (18, 2) keypoints on ``size`` (H, W), or a photo path (``size`` None)
    whose pose the pipeline estimates. ``name`` goes into output file names. ``placement``: the pipeline's (see
    ``PipelineSettings.placement``); presets and photos are placed on the source person, None = the settings'."""

    name: str
    value: Any
    size: tuple[int, int] | None = None
    placement: str | None = None

    def for_pipeline(self) -> dict[str, Any]:
        """Keyword arguments of ``SPSPipeline.__call__`` after the source: ``target_pose``, ``target_size`` and
        ``placement``."""
        return {"target_pose": self.value if self.size is None else self.value.copy(), "target_size": self.size,
                "placement": self.placement}


def slug(text: str) -> str:
    """'Back view' / '03_back_view' / 'back-view' -> 'back_view'."""
    return re.sub(r"^\d+_", "", re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_"))


def preset_names() -> dict[str, Any]:
    """The shipped pose presets by slug of their label and of their file name."""
    names: dict[str, Any] = {}
    for p in presets():
        names.setdefault(slug(p.label), p)
        names.setdefault(slug(p.key), p)
    return names


def read_keypoints_json(path: str | os.PathLike) -> tuple[np.ndarray, tuple[int, int] | None]:
    """An OpenPose JSON file -> ((18, 2) keypoints, (H, W) grid they are on, or None for the source photo's).

    The grid is ``canvas_hw`` (top level, as the command line writes it, or under ``sps_preset``, as the presets
    have it); without it the keypoints are taken as pixels of the source photo."""
    kps = K.read_openpose_json(path)
    data = json.loads(Path(path).read_text())
    hw = data.get("canvas_hw") or data.get("sps_preset", {}).get("canvas_hw")
    if hw is not None and (len(hw) != 2 or min(hw) <= 0):
        raise KeypointError(f"{path}: canvas_hw must be [height, width], got {hw}")
    return kps, (tuple(int(v) for v in hw) if hw is not None else None)


def target_pose(spec: str) -> TargetPose:
    """``--pose``: a preset name, a keypoints ``.json`` file or a photo. DataError listing the presets otherwise."""
    path = Path(spec)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise DataError(f"{spec}: no such keypoints file")
        kps, size = read_keypoints_json(path)
        return TargetPose(path.stem, kps, size)
    if path.is_file():
        return TargetPose(path.stem, str(path), placement="person")
    found = preset_names().get(slug(spec))
    if found is None:
        raise DataError(f"--pose {spec!r}: not a file, and not a preset; presets: "
                        f"{', '.join(slug(p.label) for p in presets())}")
    return TargetPose(slug(found.label), np.asarray(found.kps, np.float32), POSE_GRID, "person")
