"""The demo's view of the pose presets (``sps.presets``) and its example photos: the shipped ones
(``sps/assets/examples``) and a few of the data folder when it is present.

Both are read on first use and cached, never at import.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .. import pose as K
from ..presets import ASSETS, POSES_DIR, Preset, load_presets, presets  # noqa: F401 (re-exported)
from .conversions import AppInputError

log = logging.getLogger(__name__)

EXAMPLES_DIR = ASSETS / "examples"  # public-domain photos that travel with the package
EXAMPLE_FOLDERS = ("deepfashion/images", "viton/test/images", "spt-demo/images")  # under the data root
NUM_DATA_EXAMPLES = 6  # + the shipped ones: one row of 8 thumbnails
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def preset(label: str) -> Preset:
    """The shipped preset of that label; AppInputError naming the choices otherwise."""
    by_label = {p.label: p for p in presets()}
    if label not in by_label:
        raise AppInputError(f"Unknown pose preset {label!r}; choose one of: {', '.join(by_label)}.")
    return by_label[label]


def full_body_preset() -> Preset:
    """The first preset with all 18 joints visible (every parsing edit applies to it), else the first one."""
    return next((p for p in presets() if K.num_visible(p.kps) == K.NUM_KEYPOINTS), presets()[0])


def shipped_examples(folder: str | Path = EXAMPLES_DIR) -> list[str]:
    """The example photos shipped with the package (public domain, see ``SOURCES.md`` there), sorted by name."""
    return sorted(str(p) for p in Path(folder).glob("*") if p.suffix.lower() in PHOTO_SUFFIXES)


def data_examples(limit: int = NUM_DATA_EXAMPLES, root: str | Path | None = None) -> list[str]:
    """Paths of up to ``limit`` photos evenly spread over the first of EXAMPLE_FOLDERS found under ``root``
    (default: ``sps.data.data_root()``); none when the data folder is absent (e.g. on a Space)."""
    if root is None:
        from ..data import data_root

        root = data_root(check=False)
    for sub in EXAMPLE_FOLDERS:
        folder = Path(root) / sub
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
            if files:
                step = max(1, len(files) // limit)
                return [str(p) for p in files[::step][:limit]]
    log.info("no example photos under %s", root)
    return []


def example_photos(limit: int = NUM_DATA_EXAMPLES, root: str | Path | None = None) -> list[str]:
    """The demo's example photos: up to ``limit`` of the data folder when it is there, then the shipped ones
    (always there, wherever the demo runs)."""
    return data_examples(limit, root) + shipped_examples()
