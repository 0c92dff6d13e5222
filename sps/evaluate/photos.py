"""``python -m sps.evaluate photos --folder CCP --split test``: the pipeline on photos without pairs.

For each held-out street photo (everything estimated: parser, pose estimator), one of the shipped pose presets
(in turn) is asked, placed on the person as the command line and the demo place it (``placement="person"``). Reports:

- acceptance: the share of photos the pipeline answers (the rest are refused, with the reasons counted);
- the parser on the photo against CCP's labels: person IoU and the 4 coarse classes (background, hair, skin,
  clothes; CCP has no left/right), at the photo's resolution;
- the pose estimator on the photo against CCP's labels (``sps.data.ccp_pose.label_agreement``; CCP has no
  keypoints): joints found, the share on the worn body (not on a bag or the street), photos with both ankles
  found, ankles at a foot, photos with all six leg joints;
- pose consistency: PCK@0.1 of our pose estimator on the output against the asked pose, per preset;
- uncovered source person: the share of the source person's pixels the new person does not cover (where the
  output shows the background filled in: the smudged ghost of where they stood), mean over photos;
- a grid of sources and outputs (``grid.png``) and ``results.md``.
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .. import metrics as M
from ..data import ccp, ccp_pose, load_image, read_label_png
from ..errors import SPSError
from ..pipeline import SPSPipeline
from ..presets import POSE_GRID, load_presets
from .report import machine_note, save_grid

log = logging.getLogger(__name__)


def evaluate_photos(folder: str | Path, weights: str | Path | None = "weights", out: str | Path = "eval_photos",
                    split: str | None = "test", limit: int | None = None, grid_rows: int = 8,
                    pipeline: SPSPipeline | None = None, placement: str = "person") -> dict[str, float]:
    """Run the photo evaluation over a CCP-style folder (``images/``, optional ``labels/`` + ``labels.txt``).
    ``placement``: where the presets go (``PipelineSettings.placement``; the CLI and the demo use "person")."""
    folder, out = Path(folder), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(n for n in os.listdir(folder / ccp.IMAGES) if split is None or ccp.split_of(n) == split)
    names = names[:limit] if limit else names
    label_names = ccp.read_label_names(folder) if (folder / ccp.LABELS_FILE).is_file() else None
    table = ccp.group_table(label_names) if label_names is not None else None
    pipe = pipeline or SPSPipeline.from_pretrained(weights)
    presets = load_presets()
    coarse, person = M.ParsingIoU(4), M.ParsingIoU(2)
    pck: dict[str, list[int]] = {p.label: [0, 0] for p in presets}
    refused: Counter[str] = Counter()
    agreement: list[dict[str, int]] = []
    uncovered: list[float] = []
    grid, t0 = [], time.perf_counter()
    from tqdm.auto import tqdm

    for i, name in enumerate(tqdm(names, desc="photos", unit="photo")):
        photo = load_image(folder / ccp.IMAGES / name)
        label_png = folder / ccp.LABEL_DIR / (Path(name).stem + ".png")
        if table is not None and label_png.is_file():
            kps, parsing = pipe.analyse(photo)
            labels = np.asarray(read_label_png(label_png))
            truth = ccp.coarse(ccp.map_labels(labels, np.full((18, 2), -1.0), table))
            agreement.append(ccp_pose.label_agreement(kps, ccp_pose.LabelMasks.from_labels(labels, label_names)))
            coarse.update(ccp.coarse(parsing), truth)
            person.update(parsing > 0, truth > 0)
        preset = presets[i % len(presets)]
        try:
            res = pipe(photo, preset.kps, target_size=POSE_GRID, placement=placement)
        except SPSError as exc:
            refused[type(exc).__name__] += 1
            log.info("%s refused: %s", name, exc)
            continue
        uncovered.append(uncovered_share(res))
        pred, _ = pipe.analyse(np.asarray(res.image))
        right, total = M.pck_counts(pred, res.target_keypoints)
        pck[preset.label][0] += right
        pck[preset.label][1] += total
        if len(grid) < grid_rows:
            grid.append([("source", photo), (f"output: {preset.label}", np.asarray(res.image))])
    n = len(names)
    right, total = sum(v[0] for v in pck.values()), sum(v[1] for v in pck.values())
    summary = {"photos": n, "accepted": (n - sum(refused.values())) / max(1, n),
               "person IoU": person.per_class()[1] if person.union[1] else float("nan"),
               "coarse mIoU": coarse.miou(), "PCK@0.1 (output vs asked pose)": right / max(1, total),
               "uncovered source person": float(np.mean(uncovered)) if uncovered else float("nan")}
    for k, name in enumerate(ccp.COARSE_NAMES):
        summary[f"IoU {name}"] = float(coarse.per_class()[k])
    if agreement:
        summary.update({f"pose: {k}": v for k, v in ccp_pose.summarise_agreement(agreement).items()})
    _write(out, summary, pck, refused, grid, folder, split, weights, placement, time.perf_counter() - t0)
    return summary


def uncovered_share(res) -> float:
    """The share of the source person's pixels (parser) that the new person (the target parsing) does not cover: there
    the output shows the photo's background filled in where the person stood (``sps.inpaint``), a smudged ghost."""
    top, _, left, _ = res.grown
    source = np.asarray(res.source_parsing) > 0
    h, w = source.shape
    covered = np.asarray(res.target_parsing)[top:top + h, left:left + w] > 0
    return float((source & ~covered).sum()) / max(1, int(source.sum()))


def _write(out: Path, summary: dict, pck: dict, refused: Counter, grid: list, folder: Path, split: str | None,
           weights, placement: str, elapsed: float) -> None:
    lines = [f"# Photos without pairs: {folder} ({split or 'all'} split)", "",
             f"{summary['photos']} photos, presets placed by {placement!r}, weights: {weights or 'given pipeline'}; "
             f"{elapsed:.0f} s on "
             f"{machine_note()}.", "",
             "| metric | value |", "|---|---:|"]
    lines += [f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in summary.items()]
    lines += ["", "| preset | PCK@0.1 | joints |", "|---|---:|---:|"]
    lines += [f"| {k} | {r / t:.3f} | {t} |" if t else f"| {k} | — | 0 |" for k, (r, t) in pck.items()]
    if refused:
        lines += ["", "Refused: " + ", ".join(f"{k} x{v}" for k, v in refused.items())]
    lines += ["", "Parser metrics at the photo's resolution against CCP's labels mapped to 4 coarse classes "
              "(sps.data.ccp). Pose metrics: our estimator on the source photo against CCP's labels "
              "(sps.data.ccp_pose.label_agreement: on the worn body within 0.02 x the height, ankles within 0.04 "
              "x the height of footwear or socks). PCK@0.1: our pose estimator on the output vs the asked preset "
              "pose, within 0.1 x the longest side of the asked pose's joint box."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    save_grid([[cell for pair in grid[k:k + 2] for cell in pair] for k in range(0, len(grid), 2)], out / "grid.png")
