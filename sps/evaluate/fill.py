"""``python -m sps.evaluate fill --folder CCP``: how well the photo's scene is filled in where a person stood.

Where the re-posed person no longer covers the source person, the output shows the photo's background filled in
(``sps.pipeline.compose.plate``). On real street photos there is no truth for that, so this evaluation makes one:
on each held-out photo, the person silhouette of the next photo (the parser's, dilated) is laid over the scene
beside the person (shifted sideways to the nearest place that leaves the person untouched, shrunk to 3/4 or 1/2
when it does not fit at full size). The photo's own person is removed as well, as the pipeline removes them, and
every fill fills both; the scores are taken inside the laid hole, where the scene is known, against the real scene:

- L1 (on [0, 1]) and SSIM over the hole's box: pixel agreement (a smooth fill is favoured: it hedges);
- texture: the mean gradient magnitude of the fill over the scene's (1 = as much detail, 0 = a flat smudge);
- feature distance: EfficientNet-Lite0 features of the hole's box (3 depths, unit length per pixel, as LPIPS
  without its learned weights), mean squared difference: how unlike the scene the fill looks.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import metrics as M
from ..data import ccp, load_image
from ..inpaint import dilate, fill_image, fill_scene, mirror_fill
from ..pipeline import SPSPipeline
from .report import machine_note, save_grid

HOLE_GROW = 0.02  # x photo height: the silhouette is dilated as the pipeline's removal mask is
CLEARANCE = 0.03  # x photo height: how far the hole must stay from this photo's own person
BOX_MARGIN = 8  # pixels around the hole's box for SSIM and the features
HOLE_SCALES = (1.0, 0.75, 0.5)  # the silhouette is shrunk to the first of these that fits beside the person

FILLS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "push-pull (previous)": fill_image,
    "mirrored scene": mirror_fill,
    "ours: mirrored, or push-pull on a plain backdrop": fill_scene,
}


def place_hole(silhouette: np.ndarray, person: np.ndarray) -> np.ndarray | None:
    """An (H, W) bool silhouette laid beside ``person`` (H, W) bool: at the largest of ``HOLE_SCALES`` that fits,
    standing where it stood (its lowest row kept), shifted sideways to the nearest place that keeps it whole on the
    photo and ``CLEARANCE`` x H from the person; None when it fits nowhere."""
    h, w = person.shape
    keep_off = dilate(person, max(1, round(CLEARANCE * h)))
    rows, cols = np.flatnonzero(silhouette.any(1)), np.flatnonzero(silhouette.any(0))
    if rows.size == 0:
        return None
    crop = silhouette[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    for scale in HOLE_SCALES:
        ch, cw = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
        if cw >= w:
            continue
        small = np.asarray(Image.fromarray(crop).resize((cw, ch), Image.NEAREST))
        top = rows[-1] + 1 - ch
        for left in sorted(range(w - cw + 1), key=lambda x: abs(x - cols[0])):
            hole = np.zeros((h, w), bool)
            hole[top:top + ch, left:left + cw] = small
            if not (hole & keep_off).any():
                return hole
    return None


class FeatureDistance:
    """LPIPS-style distance without learned weights: EfficientNet-Lite0 features at 3 depths, unit length per
    pixel, mean squared difference, summed over the depths."""

    def __init__(self) -> None:
        from ..models import PerceptualNet

        self.net = PerceptualNet(backbone="efficientnet_lite0").eval()

    @torch.inference_mode()
    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        x = torch.stack([torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1) for i in (a, b)])
        feats = self.net(x.float().div(127.5).sub(1))  # [(2, C, h, w)] per depth
        return float(sum(((f[0] / (f[0].norm(dim=0) + 1e-8) - f[1] / (f[1].norm(dim=0) + 1e-8)) ** 2)
                         .sum(0).mean() for f in feats))


def gradient_energy(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean gradient magnitude (grey levels per pixel) of an (H, W, 3) image over an (H, W) bool mask."""
    g = image.astype(np.float32).mean(-1)
    gy, gx = np.gradient(g)
    return float(np.hypot(gx, gy)[mask].mean())


def evaluate_fill(folder: str | Path, weights: str | Path | None = "weights", out: str | Path = "eval_fill",
                  split: str | None = "test", limit: int | None = None, grid_rows: int = 6) -> dict[str, dict]:
    """Run the fill evaluation over a CCP-style folder (``images/``); returns {fill: {metric: mean}}."""
    folder, out = Path(folder), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(n for n in os.listdir(folder / ccp.IMAGES) if split is None or ccp.split_of(n) == split)
    names = names[:limit] if limit else names
    pipe = SPSPipeline.from_pretrained(weights)
    distance = FeatureDistance()
    scores: dict[str, dict[str, list[float]]] = {k: {"L1": [], "SSIM": [], "texture": [], "feature distance": []}
                                                 for k in FILLS}
    photos = [load_image(folder / ccp.IMAGES / n) for n in names]
    persons = [pipe.analyse(p)[1] > 0 for p in photos]
    grid, skipped, t0 = [], 0, time.perf_counter()
    from tqdm.auto import tqdm

    for i in tqdm(range(len(photos)), desc="fills", unit="photo"):
        photo, person = np.asarray(photos[i]), persons[i]
        h, w = person.shape
        other = np.asarray(Image.fromarray(persons[(i + 1) % len(photos)]).resize((w, h), Image.NEAREST))
        hole = place_hole(dilate(other, max(1, round(HOLE_GROW * h))), person)
        if hole is None:
            skipped += 1
            continue
        rows, cols = np.flatnonzero(hole.any(1)), np.flatnonzero(hole.any(0))
        box = (slice(max(0, rows[0] - BOX_MARGIN), rows[-1] + 1 + BOX_MARGIN),
               slice(max(0, cols[0] - BOX_MARGIN), cols[-1] + 1 + BOX_MARGIN))
        truth_energy = gradient_energy(photo, hole)
        removed = hole | dilate(person, max(1, round(HOLE_GROW * h)))  # the photo's person is removed too
        cells = [("real scene", photo), ("hole (white: scored)", np.where(hole[..., None], 255,
                                                                           np.where(removed[..., None], 0, photo)))]
        for name, fill in FILLS.items():
            filled = fill(photo, ~removed)
            s = scores[name]
            s["L1"].append(float(np.abs(filled[hole].astype(np.float32) - photo[hole]).mean() / 255))
            s["SSIM"].append(M.ssim(filled[box], photo[box]))
            s["texture"].append(gradient_energy(filled, hole) / max(truth_energy, 1e-6))
            s["feature distance"].append(distance(filled[box], photo[box]))
            cells.append((name, filled))
        if len(grid) < grid_rows:
            grid.append(cells)
    summary = {k: {m: float(np.mean(v)) for m, v in s.items()} for k, s in scores.items()}
    _write(out, summary, len(names), skipped, folder, split, time.perf_counter() - t0, grid)
    return summary


def _write(out: Path, summary: dict, n: int, skipped: int, folder: Path, split: str | None, elapsed: float,
           grid: list) -> None:
    metrics = list(next(iter(summary.values())))
    lines = [f"# Background fill: {folder} ({split or 'all'} split)", "",
             f"{n - skipped} of {n} photos (skipped {skipped}: no room beside the person for the next photo's "
             f"silhouette); {elapsed:.0f} s on {machine_note()}.", "",
             "| fill | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    lines += [f"| {k} | " + " | ".join(f"{v[m]:.3f}" for m in metrics) + " |" for k, v in summary.items()]
    lines += ["", "Inside a hole shaped like the next photo's person (parser, dilated by 2% of the height; shrunk "
              "to 3/4 or 1/2 where it does not fit whole) laid beside this photo's person: L1 on [0, 1]; SSIM "
              "over the hole's box (+8 px); texture: the fill's mean gradient magnitude over the real scene's "
              "(1 = as detailed, 0 = flat); feature distance: "
              "EfficientNet-Lite0 features of the box at 3 depths, unit length per pixel, mean squared difference "
              "(lower is closer)."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    save_grid(grid, out / "grid.png")
