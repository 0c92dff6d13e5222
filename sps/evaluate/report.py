"""Writing an evaluation: the markdown table, CSV files and the image grid."""
from __future__ import annotations

import csv
import math
import os
import platform
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import parsing as P
from .scores import COLUMNS

FID_NOTE = ("SSIM: Gaussian 11x11 window, sigma 1.5, RGB channels averaged (as skimage's structural_similarity with "
            "gaussian_weights=True, use_sample_covariance=False, data_range=255). mask-SSIM: both images multiplied by "
            "the person mask of the parser's map of the real target. PSNR in dB, L1 on [0, 1]. PCKh: our pose estimator "
            "on the generated image vs the annotated target keypoints, within 0.5 x the head box per axis. mIoU: the "
            "predicted target parsing vs the parser's map of the real target. Δa*, Δb*: mean CIELAB a* and b* of the "
            "output minus the real target's inside the target's person mask, averaged over pairs (a systematic colour "
            "cast; 0 is best); colour err: the mean length of that (Δa*, Δb*) shift per pair. FID/KID-EffNetLite0: "
            "Frechet / kernel distance of global-average-pooled EfficientNet-Lite0 features (not Inception FID; "
            "noisy on a few dozen pairs)")


def resize(img: np.ndarray | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Any image -> (H, W, 3) uint8 of ``size`` (bicubic when it differs)."""
    pil = img if isinstance(img, Image.Image) else Image.fromarray(img)
    if (pil.height, pil.width) != tuple(size):
        pil = pil.resize((size[1], size[0]), Image.BICUBIC)
    return np.array(pil.convert("RGB"))


def _caption(img: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    bar = Image.new("RGB", (img.shape[1], height), (255, 255, 255))
    ImageDraw.Draw(bar).text((2, 1), text[: max(4, img.shape[1] // 6)], fill=(0, 0, 0))
    return np.concatenate([np.asarray(bar), img], 0)


def save_grid(rows: list[list[tuple[str, np.ndarray | None]]], path: Path) -> None:
    """Rows of captioned images (None = an empty cell, e.g. a peer without this pair) -> one PNG."""
    if not rows:
        return
    h, w = rows[0][0][1].shape[:2]
    blank = np.full((h, w, 3), 235, np.uint8)
    lines = []
    for row in rows:
        cells = [_caption(blank if img is None else resize(img, (h, w)), cap) for cap, img in row]
        lines.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], 1))
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    Image.fromarray(np.concatenate(lines, 0)).save(path)


def _fmt(v: float, col: str) -> str:
    if not math.isfinite(v):
        return "—"
    if col in ("PSNR", "FID-EffNetLite0", "Δa*", "Δb*", "colour err"):
        return f"{v:.2f}"
    return f"{v:.4f}" if col == "KID-EffNetLite0" else f"{v:.3f}"


def markdown_table(summary: dict[str, dict[str, float]]) -> str:
    head = "| method | pairs | " + " | ".join(COLUMNS) + " |"
    sep = "|---|---:|" + "---:|" * len(COLUMNS)
    rows = [f"| {name} | {int(vals.get('pairs', 0))} | " + " | ".join(_fmt(vals[c], c) for c in COLUMNS) + " |"
            for name, vals in summary.items()]
    return "\n".join([head, sep, *rows])


def label_iou_table(summary: dict[str, dict[str, float]]) -> str:
    """Per-label IoU of the target parsing against the parser's map of the real target, for the methods that
    have a target parsing ('' when none has)."""
    rows = [(name, vals["IoU per label"]) for name, vals in summary.items() if vals.get("IoU per label") is not None]
    if not rows:
        return ""
    head = "| target parsing of | " + " | ".join(P.LABELS) + " | mIoU |"
    sep = "|---|" + "---:|" * (len(P.LABELS) + 1)
    body = [f"| {name} | " + " | ".join(_fmt(float(v), "IoU") for v in ious) + f" | {_fmt(float(np.nanmean(ious)), 'IoU')} |"
            for name, ious in rows]
    return "\n".join([head, sep, *body])


def machine_note() -> str:
    """Where a run was timed: "x86_64, 2 torch threads (2 cores)"."""
    return f"{platform.machine()}, {torch.get_num_threads()} torch threads ({os.cpu_count()} cores)"


def write_outputs(out: Path, summary: dict[str, dict[str, float]], per_pair: list[dict[str, object]],
                  grid: list, skipped: list[str], header: str, fid: bool) -> None:
    """results.md (table + notes), metrics.csv, per_pair.csv and grid.png under ``out``."""
    with (out / "metrics.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "pairs", *COLUMNS])
        for name, vals in summary.items():
            w.writerow([name, int(vals.get("pairs", 0)), *(f"{vals[c]:.6g}" for c in COLUMNS)])
    keys = list(dict.fromkeys(k for row in per_pair for k in row))
    with (out / "per_pair.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(per_pair)
    save_grid(grid, out / "grid.png")
    notes = [f"{header} {machine_note()}.",
             "", markdown_table(summary), "", FID_NOTE + ("" if fid else "; not computed (--no-fid)")
             + ". All at the photo's resolution."]
    if table := label_iou_table(summary):
        notes += ["", "Per-label IoU of the target parsing (against the parser's map of the real target):", "", table]
    if skipped:
        notes += ["", "Skipped pairs:", *[f"- {s}" for s in skipped[:20]]]
    (out / "results.md").write_text("\n".join(notes) + "\n")


def read_metrics(path: str | Path) -> dict[str, dict[str, float]]:
    """A ``metrics.csv`` written by ``evaluate`` back into the dict it returned: {method: {column: value, "pairs":
    n}} in the file's order (columns of ``COLUMNS``; "nan" where a method has no value). ``markdown_table`` takes it."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r["method"]: {"pairs": int(r["pairs"]), **{c: float(r[c]) for c in COLUMNS}} for r in rows}


def read_per_pair(path: str | Path, metric: str = "SSIM") -> dict[str, dict[tuple[str, str], float]]:
    """A ``per_pair.csv`` written by ``evaluate`` -> {method: {(from, to): value of ``metric``}} ("SSIM" or "PSNR"),
    each method with only the pairs it has a value for (a published peer covers a subset)."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    suffix = f": {metric}"
    methods = [k[: -len(suffix)] for k in (rows[0] if rows else {}) if k.endswith(suffix)]
    if rows and not methods:
        raise ValueError(f"{path}: no '<method>{suffix}' column")
    return {m: {(r["from"], r["to"]): float(r[m + suffix]) for r in rows if r[m + suffix] not in ("", None)}
            for m in methods}
