"""``python -m sps.evaluate pose``: pose estimators compared on the same held-out photos, in one run.

Every estimator is used the way the pipeline uses it (``SPSPipeline.analyse``: the photo on the model canvas,
keypoints back on its grid), in colour and on a grey copy of each photo, with and without test-time flip averaging
(``PipelineSettings.pose_flip``):

- annotated folders (DeepFashion and Market test identities, VITON test): PCK@0.1 against the annotation;
- CCP street photos (held-out split, labelled ones): agreement with CCP's clothing labels
  (``sps.data.ccp_pose.label_agreement``: joints on the worn body, both ankles found, ankles at a foot, all leg
  joints), and flip consistency: the share of joints found on the photo and on its mirror image at the same place
  (within ``ccp_pose.AGREE`` of the height) among the joints found on the photo.

Writes ``results.md`` under ``--out``.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from .. import metrics as M
from .. import pose as K
from ..data import ccp, ccp_pose, data_root, load_image, read_label_png
from ..data.paths import IMAGE_DIR, KEYPOINTS_FILE, person_folder
from ..models import PoseEstimator
from ..pipeline import SPSPipeline
from ..pipeline.painted import LUMA
from ..splits import split_of
from .report import machine_note

log = logging.getLogger(__name__)

ANNOTATED = ("deepfashion", "market", "viton/test")


def grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> the same photo in grey (ITU-R 601 luma), still 3 channels."""
    luma = image.astype(np.float32) @ np.array(LUMA, np.float32)
    return np.repeat(np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def annotated_photos(folder: str, root: Path, limit: int) -> list[tuple[Path, np.ndarray]]:
    """(photo path, annotated (18, 2) keypoints) of a held-out annotated folder: the test identities of a folder
    without a split of its own (sps.splits), every photo of a test folder; the first ``limit`` (0 = all)."""
    path = person_folder(folder, root, "test")
    poses = K.read_keypoints_csv(path / KEYPOINTS_FILE)
    own_split = path.name == "test"
    items = [(path / IMAGE_DIR / n, k) for n, k in poses.items() if own_split or split_of(n) == "test"]
    return items[:limit] if limit else items


def ccp_photos(folder: Path) -> list[tuple[Path, ccp_pose.LabelMasks]]:
    """Every labelled held-out CCP photo with its label masks."""
    names = ccp.read_label_names(folder)
    out = []
    for label in sorted((folder / ccp.LABEL_DIR).glob("*.png")):
        photo = folder / ccp.IMAGES / (label.stem + ".jpg")
        if ccp.split_of(photo.name) == "test" and photo.is_file():
            out.append((photo, ccp_pose.LabelMasks.from_labels(np.asarray(read_label_png(label)), names)))
    return out


def flip_consistency(pipe: SPSPipeline, image: np.ndarray, first: np.ndarray) -> tuple[int, int]:
    """(joints found on both the photo and its mirror at the same place, joints found on the photo); ``first``: the
    photo's estimate."""
    a, _, same = ccp_pose.mirror_agreement(lambda im: pipe.analyse(im)[0], image, first)
    return int(same.sum()), K.num_visible(a)


def score_estimator(pipe: SPSPipeline, folders: dict[str, list[tuple[Path, np.ndarray]]],
                    street: list[tuple[Path, ccp_pose.LabelMasks]]) -> dict[str, float]:
    """Every metric of the module docstring for the pipeline's current estimator and settings."""
    from tqdm.auto import tqdm

    out: dict[str, float] = {}
    for name, items in folders.items():
        for colour in (True, False):
            right = total = 0
            for path, kps in tqdm(items, desc=name, unit="photo", leave=False):
                image = load_image(path)
                r, t = M.pck_counts(pipe.analyse(image if colour else grey(image))[0], kps)
                right, total = right + r, total + t
            out[f"{name} PCK@0.1{'' if colour else ' (grey)'}"] = right / max(1, total)
    if street:
        for colour in (True, False):
            rows, same, found = [], 0, 0
            for path, masks in tqdm(street, desc="ccp", unit="photo", leave=False):
                image = load_image(path) if colour else grey(load_image(path))
                kps = pipe.analyse(image)[0]
                rows.append(ccp_pose.label_agreement(kps, masks))
                if colour and not pipe.settings.pose_flip:  # flip averaging is symmetric by construction
                    s, f = flip_consistency(pipe, image, kps)
                    same, found = same + s, found + f
            tag = "" if colour else " (grey)"
            out.update({f"CCP {k}{tag}": v for k, v in ccp_pose.summarise_agreement(rows).items()})
            if colour:
                out["CCP flip consistency"] = same / found if found else float("nan")
    return out


def evaluate_pose(estimators: dict[str, str], weights: str | Path = "weights", out: str | Path = "eval_pose",
                  folders: Iterable[str] = ANNOTATED, ccp_folder: str | Path | None = None, limit: int = 0,
                  flip: bool = True) -> dict[str, dict[str, float]]:
    """Score each ``{name: pose_estimator folder}`` (``""``: the one in ``weights``), with and without flip
    averaging when ``flip``, on the first ``limit`` photos of each annotated folder (0 = all) and every labelled
    held-out CCP photo; ``{row name: {metric: value}}``, also written to ``out/results.md``."""
    root = data_root()
    ccp_folder = Path(ccp_folder) if ccp_folder else root / "ccp"
    shipped = SPSPipeline.from_pretrained(weights)
    annotated = {f: annotated_photos(f, root, limit) for f in folders}
    street = ccp_photos(ccp_folder) if (ccp_folder / ccp.LABELS_FILE).is_file() else []
    rows: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    for name, folder in estimators.items():
        pipe = shipped.replaced(pose_estimator=PoseEstimator.from_pretrained(folder)) if folder else shipped
        for with_flip in ((False, True) if flip else (False,)):
            pipe.settings = dataclasses.replace(pipe.settings, pose_flip=with_flip)
            label = f"{name}{' + flip averaging' if with_flip else ''}"
            log.info("scoring %s", label)
            with torch.no_grad():
                rows[label] = score_estimator(pipe, annotated, street)
    _write(Path(out), rows, annotated, street, time.perf_counter() - t0)
    return rows


def _write(out: Path, rows: dict[str, dict[str, float]], annotated: dict, street: list, elapsed: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    metrics = list(next(iter(rows.values())))
    sizes = ", ".join(f"{k} {len(v)}" for k, v in annotated.items())
    lines = ["# Pose estimators on held-out photos", "",
             f"Photos: {sizes}, CCP {len(street)} (labelled, held out); {elapsed:.0f} s on {machine_note()}.", "",
             "| metric | " + " | ".join(rows) + " |", "|---|" + "---:|" * len(rows)]
    lines += [f"| {m} | " + " | ".join("—" if np.isnan(r[m]) else f"{r[m]:.3f}" for r in rows.values()) + " |"
              for m in metrics]
    lines += ["", "PCK@0.1: within 0.1 x the longest side of the annotated joints' box, through the pipeline's "
              "reading of the photo (`SPSPipeline.analyse`). CCP rows: against CCP's clothing labels "
              "(`sps.data.ccp_pose.label_agreement`); flip consistency: joints found at the same place on the photo "
              "and its mirror image (within 0.03 x the height), of those found on the photo (— with flip averaging, "
              "symmetric by construction). (grey): the same photos in grey."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
