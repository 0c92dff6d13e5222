"""Where the data lives: the data root, the layout of a person folder, and finding person folders."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError

ENV_VAR = "SPS_DATA"
IMAGE_DIR, PARSING_DIR, KEYPOINTS_FILE, PAIRS_FILE = "images", "parsing", "keypoints.csv", "pairs.csv"
# A folder holding this file has pseudo-labelled keypoints: a missing joint there is unknown, not absent.
PSEUDO_KEYPOINTS_MARKER = "keypoints.pseudo"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def data_root(check: bool = True) -> Path:
    """The shared data folder: ``$SPS_DATA`` if set, else ``<repo>/../shared/data``.

    Raises DataError naming the path and the environment variable when it does not exist (unless ``check`` is off).
    """
    env = os.environ.get(ENV_VAR)
    path = Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    path = path.resolve()
    if check and not path.is_dir():
        how = f"${ENV_VAR}={env}" if env else f"the default (set ${ENV_VAR} to change it)"
        raise DataError(f"data folder not found: {path} (from {how})")
    return path


def person_folder(name: str | Path, root: str | Path | None = None, split: str = "train") -> Path:
    """A dataset name -> person folder: ``root/name`` if it holds keypoints.csv, else ``root/name/split``.

    A relative ``name`` is looked up under ``root`` (default: ``data_root()``) and then, when nothing is there,
    in the current directory (a folder made here, e.g. ``runs/ccp`` by ``python -m sps.data.ccp prepare``).
    """
    p = Path(name)
    if p.is_absolute():
        bases = [p]
    else:
        under = Path(root).resolve() / p if root is not None else data_root() / p
        bases = [under, Path.cwd() / p]
    for base in bases:
        for cand in (base, base / split):
            if (cand / KEYPOINTS_FILE).is_file():
                return cand
    raise DataError(f"no person folder at {bases[0]} or {bases[0] / split} (a folder with {KEYPOINTS_FILE})")


def find_person_folders(root: str | Path) -> list[Path]:
    """Every folder under root (root included) that holds a keypoints.csv, sorted."""
    return sorted(Path(d) for d, _, files in os.walk(Path(root)) if KEYPOINTS_FILE in files)
