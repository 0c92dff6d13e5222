"""Checking person folders: every problem of a folder at once, without stopping at the first.

Fast mode reads image and parsing headers only (sizes) and validates the CSVs; ``full`` also decodes every image
and parsing map and checks the label range. ``python -m sps.data check ROOT`` runs it over a data root.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import parsing as P
from .. import pose as K
from ..errors import KeypointError, SPSError
from .datasets import keypoints_outside
from .images import read_label_png
from .labels import detect_label_set, num_labels
from .pairs import malformed, pair_rows, unknown
from .paths import IMAGE_DIR, IMAGE_EXTS, KEYPOINTS_FILE, PAIRS_FILE, PARSING_DIR

log = logging.getLogger(__name__)


@dataclass
class FolderReport:
    """Counts and problems of one person folder."""
    folder: Path
    images: int = 0
    rows: int = 0
    parsing: int = 0
    pairs: int = 0
    unlisted: int = 0
    label_set: str = ""
    problems: list[str] = field(default_factory=list)


def _read_keypoint_rows(kp_file: Path, rep: FolderReport) -> dict[str, np.ndarray]:
    """Every well-formed keypoints.csv row by name; bad and duplicate rows go to ``rep.problems``."""
    poses: dict[str, np.ndarray] = {}
    with kp_file.open() as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or (lineno == 1 and line.startswith("name:")):
                continue
            rep.rows += 1
            try:
                name, kps = K.parse_keypoint_line(line, where=f"{kp_file}:{lineno}")
            except KeypointError as exc:
                rep.problems.append(str(exc))
                continue
            if name in poses:
                rep.problems.append(f"{kp_file}:{lineno}: duplicate row for {name}")
            poses[name] = kps
    return poses


def _check_parsing(ppath: Path, name: str, size: tuple[int, int], full: bool, rep: FolderReport) -> None:
    """The parsing map of one image: readable, same size as the image, labels in range (``full``)."""
    h, w = size
    try:
        if full:
            lab = read_label_png(ppath)
            P.validate_labels(np.asarray(lab), num_labels(rep.label_set), where=f"{ppath} ({rep.label_set} labels)")
            psize = lab.size
        else:
            with Image.open(ppath) as im:
                psize = im.size
    except (SPSError, OSError, UnidentifiedImageError) as exc:
        rep.problems.append(str(exc) if isinstance(exc, SPSError) else f"{ppath}: cannot read parsing map ({exc})")
        return
    if psize != (w, h):
        rep.problems.append(f"{ppath}: parsing size {psize[1]}x{psize[0]} differs from image {name} {h}x{w}")


def _check_images(folder: Path, poses: dict[str, np.ndarray], on_disk: set[str], full: bool,
                  rep: FolderReport) -> None:
    """Each listed image: on disk, readable, keypoints inside it, and its parsing map if there is one."""
    img_dir, kp_file, par_dir = folder / IMAGE_DIR, folder / KEYPOINTS_FILE, folder / PARSING_DIR
    par_files = set(os.listdir(par_dir)) if par_dir.is_dir() else set()
    for name, kps in poses.items():
        path = img_dir / name
        if name not in on_disk:
            rep.problems.append(f"{path}: image listed in {kp_file} not found")
            continue
        try:
            with Image.open(path) as im:
                w, h = im.size
                if full:
                    im.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            rep.problems.append(f"{path}: cannot read image ({exc.__class__.__name__}: {exc})")
            continue
        if keypoints_outside(kps, (h, w)):
            rep.problems.append(f"{kp_file}: keypoints of {name} lie outside its {h}x{w} image")
        pname = Path(name).stem + ".png"
        if pname in par_files:
            rep.parsing += 1
            _check_parsing(par_dir / pname, name, (h, w), full, rep)
    orphans = par_files - {Path(n).stem + ".png" for n in poses}
    if orphans:
        log.info("%s: %d parsing maps without a keypoint row", par_dir, len(orphans))


def _check_pairs(pairs_file: Path, poses: dict[str, np.ndarray], rep: FolderReport) -> None:
    """Every pairs.csv row well formed, both of its images listed in keypoints.csv."""
    for lineno, pair, line in pair_rows(pairs_file):
        if pair is None:
            rep.problems.append(malformed(pairs_file, lineno, line))
            continue
        rep.pairs += 1
        rep.problems.extend(unknown(pairs_file, lineno, c) for c in pair if c not in poses)


def check_folder(folder: str | Path, full: bool = False, label_set: str = "auto") -> FolderReport:
    """Counts and every problem of one person folder (see the module docstring for ``full``)."""
    folder = Path(folder)
    rep = FolderReport(folder)
    if not folder.is_dir():
        rep.problems.append(f"{folder}: data folder not found")
        return rep
    img_dir, kp_file = folder / IMAGE_DIR, folder / KEYPOINTS_FILE
    on_disk = set(os.listdir(img_dir)) if img_dir.is_dir() else set()
    if not img_dir.is_dir():
        rep.problems.append(f"{folder}: no {IMAGE_DIR}/ folder")
    rep.images = sum(1 for n in on_disk if n.lower().endswith(IMAGE_EXTS))
    poses: dict[str, np.ndarray] = {}
    if kp_file.is_file():
        poses = _read_keypoint_rows(kp_file, rep)
    else:
        rep.problems.append(f"{folder}: no {KEYPOINTS_FILE}")
    rep.unlisted = sum(1 for n in on_disk if n.lower().endswith(IMAGE_EXTS) and n not in poses)
    rep.label_set = detect_label_set(folder, label_set)
    _check_images(folder, poses, on_disk, full, rep)
    if (folder / PAIRS_FILE).is_file():
        _check_pairs(folder / PAIRS_FILE, poses, rep)
    return rep


def check_person_folder(folder: str | Path, full: bool = False, label_set: str = "auto") -> list[str]:
    """Every problem of a person folder (empty list: fine). Does not stop at the first problem."""
    return list(check_folder(folder, full, label_set).problems)
