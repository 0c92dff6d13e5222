"""Evaluate pose transfer on paired data (same person, two poses) against baselines and ablations.

    python -m sps.evaluate --pairs ROOT/deepfashion/pairs.csv [--weights weights] [--out eval_out] [--limit N]
                           [--ablation NAME=DIR ...] [--no-fid]

For each pair (source -> target) the target's annotated keypoints are the target pose and the source's
annotated keypoints are given to the pipeline; parsing maps come from our parser. Methods in one run:

- ``copy source``: the source photo itself (what a generator that ignores the pose scores);
- ``part warp (no learning)``: source pixels moved by the 10 part transforms, background filled with the
  source's background colour (``sps.pipeline.warp_baseline``, at the photo's resolution);
- ``ours``: the full pipeline (G_S predicts the target parsing, G_A renders it);
- ``ours + parser map of real target``: G_A given the parser's map of the true target instead of G_S's
  prediction (the "two-stage with ground-truth maps" row; same weights);
- one row per ``--ablation NAME=DIR``: a pipeline folder whose present sub-folders replace ours (e.g. a
  no-parsing G_A, two-stage G_S + G_A trained apart).

Metrics at the photo's own resolution (model outputs upsampled to it): SSIM (Gaussian 11x11, sigma 1.5, RGB
channels averaged), mask-SSIM (person mask from the parser's map of the real target), PSNR, L1, PCKh (our
pose estimator on the generated image vs the target keypoints, 0.5 x head box), parsing mIoU (the target
parsing used vs the parser's map of the real target), FID / KID on EfficientNet-Lite0 pooled features
("FID-EffNetLite0": not Inception FID, not comparable with published FIDs). See ``sps.metrics``.

Writes ``results.md`` (table), ``metrics.csv``, ``per_pair.csv`` and ``grid.png`` under ``--out``.
"""
from __future__ import annotations

import argparse
import csv
import logging
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import metrics as M
from . import pose as K
from .errors import SPSError
from .pipeline import COMPONENTS, PIPELINE_FILE, PipelineSettings, SPSPipeline, background_colour, warp_baseline

log = logging.getLogger(__name__)

COPY, WARP, OURS, OURS_GT = "copy source", "part warp (no learning)", "ours", "ours + parser map of real target"
COLUMNS = ("SSIM", "mask-SSIM", "PSNR", "L1", "PCKh", "mIoU", "FID-EffNetLite0", "KID-EffNetLite0")


@dataclass
class MethodScores:
    """Per-method accumulators."""

    ssim: list[float] = field(default_factory=list)
    mask_ssim: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    l1: list[float] = field(default_factory=list)
    pck_right: int = 0
    pck_total: int = 0
    iou: M.ParsingIoU | None = None
    feats: list[np.ndarray] = field(default_factory=list)

    def summary(self, real_feats: np.ndarray | None) -> dict[str, float]:
        out = {
            "SSIM": float(np.mean(self.ssim)), "mask-SSIM": float(np.mean(self.mask_ssim)),
            "PSNR": float(np.mean([p for p in self.psnr if math.isfinite(p)] or [math.inf])),
            "L1": float(np.mean(self.l1)),
            "PCKh": self.pck_right / self.pck_total if self.pck_total else math.nan,
            "mIoU": self.iou.miou() if self.iou is not None else math.nan,
            "FID-EffNetLite0": math.nan, "KID-EffNetLite0": math.nan,
        }
        if real_feats is not None and self.feats and len(self.feats) >= 2:
            fake = np.concatenate(self.feats)
            out["FID-EffNetLite0"] = M.fid_from_features(real_feats, fake)
            out["KID-EffNetLite0"] = M.kid_from_features(real_feats, fake, subsets=20)[0]
        return out


def load_ablation(folder: str | Path, base: SPSPipeline) -> SPSPipeline:
    """A pipeline whose networks come from ``folder``'s sub-folders where present, else from ``base``; its
    settings from ``folder/pipeline.json`` when the folder has one, else ``base``'s."""
    from . import models

    folder = Path(folder)
    if not folder.is_dir():
        raise SPSError(f"ablation folder not found: {folder}")
    nets = {}
    found = []
    for sub, cls_name in COMPONENTS.items():
        if (folder / sub / "config.json").is_file():
            nets[sub] = getattr(models, cls_name).from_pretrained(str(folder / sub))
            found.append(sub)
        else:
            nets[sub] = getattr(base, sub)
    if not found:
        raise SPSError(f"{folder}: no network sub-folder ({', '.join(COMPONENTS)})")
    log.info("ablation %s: %s from the folder, the rest from the main pipeline", folder, ", ".join(found))
    has_settings = (folder / PIPELINE_FILE).is_file()
    return SPSPipeline(**nets, settings=PipelineSettings.load(folder) if has_settings else base.settings)


def _resize(img: np.ndarray | Image.Image, size: tuple[int, int]) -> np.ndarray:
    pil = img if isinstance(img, Image.Image) else Image.fromarray(img)
    if (pil.height, pil.width) != tuple(size):
        pil = pil.resize((size[1], size[0]), Image.BICUBIC)
    return np.array(pil.convert("RGB"))


def _labels_resize(index: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if index.shape == tuple(size):
        return index
    return np.asarray(Image.fromarray(index.astype(np.uint8)).resize((size[1], size[0]), Image.NEAREST)).astype(np.int64)


def _caption(img: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    bar = Image.new("RGB", (img.shape[1], height), (255, 255, 255))
    ImageDraw.Draw(bar).text((2, 1), text[: max(4, img.shape[1] // 6)], fill=(0, 0, 0))
    return np.concatenate([np.asarray(bar), img], 0)


def save_grid(rows: list[list[tuple[str, np.ndarray]]], path: Path) -> None:
    """Rows of captioned, equally sized images -> one PNG."""
    if not rows:
        return
    h, w = rows[0][0][1].shape[:2]
    lines = []
    for row in rows:
        cells = [_caption(_resize(img, (h, w)), cap) for cap, img in row]
        lines.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], 1))
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    Image.fromarray(np.concatenate(lines, 0)).save(path)


def _fmt(v: float, col: str) -> str:
    if not math.isfinite(v):
        return "—"
    return f"{v:.2f}" if col in ("PSNR", "FID-EffNetLite0") else f"{v:.4f}" if col == "KID-EffNetLite0" else f"{v:.3f}"


def markdown_table(summary: dict[str, dict[str, float]]) -> str:
    head = "| method | " + " | ".join(COLUMNS) + " |"
    sep = "|---|" + "---:|" * len(COLUMNS)
    rows = [f"| {name} | " + " | ".join(_fmt(vals[c], c) for c in COLUMNS) + " |" for name, vals in summary.items()]
    return "\n".join([head, sep, *rows])


def evaluate(pairs_csv: str | Path, weights: str | Path | None = None, out: str | Path = "eval_out",
             limit: int | None = None, ablations: dict[str, str] | None = None, fid: bool = True,
             grid_rows: int = 6, pipeline: SPSPipeline | None = None, split: str | None = "test"
             ) -> dict[str, dict[str, float]]:
    """Run the evaluation; returns {method: {metric: value}} and writes the files under ``out``.

    ``split``: keep the pairs whose two images belong to this identity split of ``sps.splits`` ("test": the
    identities training never sees; None: every pair).
    """
    from .data import load_image, read_pairs

    pairs_csv = Path(pairs_csv)
    folder = pairs_csv.parent
    kps_all = K.read_keypoints_csv(folder / "keypoints.csv")
    pairs = read_pairs(pairs_csv, names=kps_all.keys())
    if split:
        from .splits import split_of

        pairs = [(a, b) for a, b in pairs if split_of(a) == split and split_of(b) == split]
    if limit:
        pairs = pairs[:limit]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = pipeline or SPSPipeline.from_pretrained(weights)
    extra = {name: load_ablation(d, pipe) for name, d in (ablations or {}).items()}
    feat_net = M.PooledFeatures() if fid else None

    methods = [COPY, WARP, OURS, OURS_GT, *extra]
    scores = {m: MethodScores() for m in methods}
    for m in (OURS, *extra):
        scores[m].iou = M.ParsingIoU()
    real_feats: list[np.ndarray] = []
    per_pair: list[dict[str, object]] = []
    grid: list[list[tuple[str, np.ndarray]]] = []
    skipped: list[str] = []
    t0 = time.perf_counter()
    try:
        from tqdm import tqdm
        it = tqdm(pairs, desc="evaluate", unit="pair")
    except ImportError:  # pragma: no cover
        it = pairs
    for src_name, tgt_name in it:
        src = load_image(folder / "images" / src_name)
        tgt = load_image(folder / "images" / tgt_name)
        size = tgt.shape[:2]
        src_kps, tgt_kps = kps_all[src_name], kps_all[tgt_name]
        try:
            res = pipe(src, tgt_kps, source_keypoints=src_kps, target_size=size)
        except SPSError as exc:
            skipped.append(f"{src_name} -> {tgt_name}: {exc}")
            continue
        _, tgt_parsing = pipe.analyse(tgt)  # the parser's map of the real target
        person = tgt_parsing != 0
        # Baseline: part warp at the photo's resolution with the annotated keypoints.
        src_t = torch.from_numpy(_resize(src, size)).permute(2, 0, 1)[None].float() / 127.5 - 1
        s_kps = K.resize_keypoints(src_kps, src.shape[:2], size)
        fill = torch.from_numpy(background_colour(_resize(src, size), _labels_resize(res.source_parsing, size)) / 127.5 - 1)
        warped = warp_baseline(src_t, torch.from_numpy(s_kps)[None], torch.from_numpy(K.validate_keypoints(tgt_kps))[None],
                               fill[None].float())
        gens: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
            COPY: (_resize(src, size), None),
            WARP: (((warped[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy(), None),
            OURS: (_resize(res.image, size), _labels_resize(res.target_parsing, size)),
        }
        gt_map = pipe.edit(src, tgt_parsing, tgt_kps, source_keypoints=src_kps, target_size=size)
        gens[OURS_GT] = (_resize(gt_map.image, size), None)
        for name, p in extra.items():
            try:
                r = p(src, tgt_kps, source_keypoints=src_kps, target_size=size)
                gens[name] = (_resize(r.image, size), _labels_resize(r.target_parsing, size))
            except SPSError as exc:
                log.warning("%s failed on %s -> %s: %s", name, src_name, tgt_name, exc)
        if feat_net is not None:
            real_feats.append(feat_net([tgt]))
        row: dict[str, object] = {"from": src_name, "to": tgt_name}
        for name, (img, parsing) in gens.items():
            sc = scores[name]
            sc.ssim.append(M.ssim(img, tgt))
            sc.mask_ssim.append(M.masked_ssim(img, tgt, person))
            sc.psnr.append(M.psnr(img, tgt))
            sc.l1.append(M.l1(img, tgt))
            pred_kps, _ = pipe.analyse(img)
            r_, n_ = M.pckh_counts(pred_kps, tgt_kps)
            sc.pck_right, sc.pck_total = sc.pck_right + r_, sc.pck_total + n_
            if parsing is not None and sc.iou is not None:
                sc.iou.update(parsing, tgt_parsing)
            if feat_net is not None:
                sc.feats.append(feat_net([img]))
            row[f"{name}: SSIM"] = round(sc.ssim[-1], 4)
            row[f"{name}: PSNR"] = round(sc.psnr[-1], 3)
        per_pair.append(row)
        if len(grid) < grid_rows:
            grid.append([("source", src), ("target (GT)", tgt)] + [(n, g[0]) for n, g in gens.items()])
    elapsed = time.perf_counter() - t0
    if not per_pair:
        raise SPSError(f"no pair of {pairs_csv} could be evaluated: {skipped[:3]}")

    rf = np.concatenate(real_feats) if real_feats else None
    summary = {name: scores[name].summary(rf) for name in methods if scores[name].ssim}
    _write_outputs(out, summary, per_pair, grid, skipped, pairs_csv, weights, len(pairs), elapsed, fid, split)
    return summary


def _write_outputs(out: Path, summary: dict[str, dict[str, float]], per_pair: list[dict[str, object]],
                   grid: list, skipped: list[str], pairs_csv: Path, weights, n_pairs: int, elapsed: float,
                   fid: bool, split: str | None = None) -> None:
    with (out / "metrics.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", *COLUMNS])
        for name, vals in summary.items():
            w.writerow([name, *(f"{vals[c]:.6g}" for c in COLUMNS)])
    keys = list(dict.fromkeys(k for row in per_pair for k in row))
    with (out / "per_pair.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(per_pair)
    save_grid(grid, out / "grid.png")
    notes = [
        f"# Evaluation: {pairs_csv}",
        "",
        f"{len(per_pair)} of {n_pairs} pairs ({split or 'all'} identities of sps.splits) evaluated "
        f"({len(skipped)} skipped), weights: {weights or 'default'}; "
        f"{elapsed:.0f} s on {platform.machine()} with {torch.get_num_threads()} torch threads "
        f"({os.cpu_count()} cores).",
        "",
        markdown_table(summary),
        "",
        "SSIM: Gaussian 11x11 window, sigma 1.5, RGB channels averaged (as skimage's structural_similarity with "
        "gaussian_weights=True, use_sample_covariance=False, data_range=255). mask-SSIM: both images multiplied by "
        "the person mask of the parser's map of the real target. PSNR in dB, L1 on [0, 1]. PCKh: our pose estimator "
        "on the generated image vs the annotated target keypoints, within 0.5 x the head box per axis. mIoU: the "
        "predicted target parsing vs the parser's map of the real target. FID/KID-EffNetLite0: Frechet / kernel "
        "distance of global-average-pooled EfficientNet-Lite0 features (not Inception FID)"
        + ("" if fid else "; not computed (--no-fid)") + ". All at the photo's resolution.",
    ]
    if skipped:
        notes += ["", "Skipped pairs:", *[f"- {s}" for s in skipped[:20]]]
    (out / "results.md").write_text("\n".join(notes) + "\n")


def _parse_ablation(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    name, d = text.split("=", 1)
    return name.strip(), d.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sps.evaluate", description="Evaluate pose transfer on pairs.csv.")
    ap.add_argument("--pairs", required=True, help="pairs.csv of a person folder (images/, keypoints.csv beside it)")
    ap.add_argument("--weights", default="weights", help="pipeline folder or Hub repo id (default: weights)")
    ap.add_argument("--out", default="eval_out", help="output folder")
    ap.add_argument("--limit", type=int, default=None, help="first N pairs only")
    ap.add_argument("--ablation", action="append", type=_parse_ablation, default=[], metavar="NAME=DIR",
                    help="extra pipeline folder (sub-folders present replace ours); repeatable")
    ap.add_argument("--no-fid", action="store_true", help="skip FID/KID (no EfficientNet-Lite0 features)")
    ap.add_argument("--grid-rows", type=int, default=6)
    ap.add_argument("--split", default="test", choices=("test", "train", "all"),
                    help="identity split of the pairs (default test: identities never trained on)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = evaluate(args.pairs, args.weights, args.out, args.limit, dict(args.ablation), not args.no_fid,
                           args.grid_rows, split=None if args.split == "all" else args.split)
    except SPSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown_table(summary))
    print(f"\nwritten: {Path(args.out) / 'results.md'}, metrics.csv, per_pair.csv, grid.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
