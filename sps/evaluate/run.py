"""The evaluation loop: every method on the same held-out pairs, in one run."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from .. import metrics as M
from .. import parsing as P
from .. import pose as K
from ..canvas import to_tensor, to_uint8
from ..errors import SPSError
from ..models import SemanticGenerator
from ..pipeline import COMPONENTS, PIPELINE_FILE, PipelineSettings, SPSPipeline, background_colour, warp_baseline
from .peers import peer_label, read_peers
from .report import resize, write_outputs
from .scores import MethodScores, Pair, PairScore

log = logging.getLogger(__name__)

COPY, WARP, OURS, OURS_GT = "copy source", "part warp (no learning)", "ours", "ours + parser map of real target"


def load_ablation(folder: str | Path, base: SPSPipeline) -> SPSPipeline:
    """A pipeline whose networks come from ``folder``'s sub-folders where present, else from ``base``; its
    settings from ``folder/pipeline.json`` when the folder has one, else ``base``'s."""
    from .. import models

    folder = Path(folder)
    if not folder.is_dir():
        raise SPSError(f"ablation folder not found: {folder}")
    nets = {sub: getattr(models, cls_name).from_pretrained(str(folder / sub)) for sub, cls_name in COMPONENTS.items()
            if (folder / sub / "config.json").is_file()}
    found = list(nets)
    if not found:
        raise SPSError(f"{folder}: no network sub-folder ({', '.join(COMPONENTS)})")
    log.info("ablation %s: %s from the folder, the rest from the main pipeline", folder, ", ".join(found))
    has_settings = (folder / PIPELINE_FILE).is_file()
    return base.replaced(PipelineSettings.load(folder) if has_settings else None, **nets)


def _part_warp(src: np.ndarray, src_kps: np.ndarray, tgt_kps: np.ndarray, src_parsing: np.ndarray,
               size: tuple[int, int]) -> np.ndarray:
    """The no-learning baseline at the target photo's resolution, with the annotated keypoints."""
    photo = resize(src, size)
    s_kps = K.resize_keypoints(src_kps, src.shape[:2], size)
    fill = torch.from_numpy(background_colour(photo, P.resize_labels(src_parsing, size)) / 127.5 - 1)
    warped = warp_baseline(to_tensor(photo), torch.from_numpy(s_kps)[None],
                           torch.from_numpy(K.validate_keypoints(tgt_kps))[None], fill[None].float())
    return to_uint8(warped[0])


def part_warp_parsing(src_parsing: np.ndarray, src_kps: np.ndarray, tgt_kps: np.ndarray,
                      size: tuple[int, int]) -> np.ndarray:
    """The no-learning target parsing: the source's (H0, W0) label map moved part by part onto the target pose
    (G_S's own prior, ``SemanticGenerator.warp_prior``), at the target's ``size``; background where no part lands."""
    labels = torch.from_numpy(P.resize_labels(src_parsing, size).astype(np.int64))[None]
    s_kps = torch.from_numpy(K.resize_keypoints(src_kps, src_parsing.shape[:2], size))[None].float()
    t_kps = torch.from_numpy(K.validate_keypoints(tgt_kps))[None].float()
    warped = SemanticGenerator.warp_prior(P.one_hot(labels).float(), s_kps, t_kps)[0]  # (10, H, W)
    return torch.where(warped.sum(0) > 0.5, warped.argmax(0), torch.zeros_like(labels[0])).numpy()


class _Scorer:
    """Scores a generated image against the real target with every metric (the pipeline's pose estimator for
    PCKh, pooled EfficientNet-Lite0 features for FID/KID)."""

    def __init__(self, pipe: SPSPipeline, fid: bool) -> None:
        self.pipe, self.feat_net = pipe, (M.PooledFeatures() if fid else None)

    def __call__(self, img: np.ndarray, tgt: np.ndarray, person: np.ndarray, tgt_kps: np.ndarray,
                 parsing: tuple[np.ndarray, np.ndarray] | None) -> PairScore:
        pred_kps, _ = self.pipe.analyse(img)
        return PairScore(M.ssim(img, tgt), M.masked_ssim(img, tgt, person), M.psnr(img, tgt), M.l1(img, tgt),
                         M.pckh_counts(pred_kps, tgt_kps), M.colour_shift(img, tgt, person), parsing,
                         self.feats(img))

    def feats(self, img: np.ndarray) -> np.ndarray | None:
        return None if self.feat_net is None else self.feat_net([img])


def select_pairs(pairs_csv: str | Path, split: str | None, limit: int | None,
                 only: Iterable[Pair] | None = None) -> tuple[list[Pair], dict[str, np.ndarray]]:
    """The pairs of ``pairs_csv`` whose two images belong to ``split`` (sps.splits), in the file's order, and every
    keypoint. ``only``: keep just these (from, to) pairs (each must be one of the split's pairs); ``limit``: then
    the first N."""
    from ..data import read_pairs
    from ..splits import split_of

    pairs_csv = Path(pairs_csv)
    kps_all = K.read_keypoints_csv(pairs_csv.parent / "keypoints.csv")
    pairs = read_pairs(pairs_csv, names=kps_all.keys())
    if split:
        pairs = [(a, b) for a, b in pairs if split_of(a) == split and split_of(b) == split]
    if only is not None:
        wanted = {tuple(p) for p in only}
        if unknown := wanted - set(pairs):
            raise SPSError(f"{len(unknown)} pair(s) not among the {split or 'all'} pairs of {pairs_csv}, e.g. "
                           f"{min(unknown)}")
        pairs = [p for p in pairs if p in wanted]
    return pairs[:limit] if limit else pairs, kps_all


def evaluate(pairs_csv: str | Path, weights: str | Path | None = None, out: str | Path = "eval_out",
             limit: int | None = None, ablations: dict[str, str] | None = None, fid: bool = True,
             grid_rows: int = 6, pipeline: SPSPipeline | None = None, split: str | None = "test",
             peers: str | Path | None = None, only: Iterable[Pair] | None = None,
             progress: bool = True) -> dict[str, dict[str, float]]:
    """Run the evaluation; returns {method: {metric: value}} and writes the files under ``out``.

    ``split``: keep the pairs whose two images belong to this identity split of ``sps.splits`` ("test": the
    identities training never sees; None: every pair). ``peers``: a folder of published outputs
    (``METHOD/FROM__TO.png``): each method gets a row on its pairs (those among the evaluated ones) and ours a
    row on exactly the same pairs. ``only``: evaluate just these (from, to) pairs of the split (a fixed subset for a
    quick run; ``select_pairs`` lists the split's pairs). ``progress``: a tqdm bar over the pairs (a notebook's tqdm
    ignores ``TQDM_DISABLE``; pass False there).
    """
    from ..data import load_image

    pairs_csv = Path(pairs_csv)
    folder = pairs_csv.parent
    pairs, kps_all = select_pairs(pairs_csv, split, limit, only)
    peer_files = read_peers(peers, set(kps_all)) if peers else {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = pipeline or SPSPipeline.from_pretrained(weights)
    extra = {name: load_ablation(d, pipe) for name, d in (ablations or {}).items()}
    score = _Scorer(pipe, fid)
    peer_rows = {m: f"{peer_label(m)} (published)" for m in peer_files}
    scores = {m: MethodScores() for m in (COPY, WARP, OURS, OURS_GT, *extra, *peer_rows.values())}
    real_feats: dict[Pair, np.ndarray] = {}
    per_pair: list[dict[str, object]] = []
    grid: list[tuple[int, list]] = []
    skipped: list[str] = []
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    for key in tqdm(pairs, desc="evaluate", unit="pair", disable=not progress):
        src_name, tgt_name = key
        src, tgt = load_image(folder / "images" / src_name), load_image(folder / "images" / tgt_name)
        size = tgt.shape[:2]
        src_kps, tgt_kps = kps_all[src_name], kps_all[tgt_name]
        try:
            res = pipe(src, tgt_kps, source_keypoints=src_kps, target_size=size)
        except SPSError as exc:
            skipped.append(f"{src_name} -> {tgt_name}: {exc}")
            continue
        _, tgt_parsing = pipe.analyse(tgt)  # the parser's map of the real target
        person = tgt_parsing != 0
        gens: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {
            COPY: (resize(src, size), None),
            WARP: (_part_warp(src, src_kps, tgt_kps, res.source_parsing, size),
                   part_warp_parsing(res.source_parsing, src_kps, tgt_kps, size)),
            OURS: (resize(res.image, size), P.resize_labels(res.target_parsing, size)),
            OURS_GT: (resize(pipe.edit(src, tgt_parsing, tgt_kps, source_keypoints=src_kps,
                                       target_size=size).image, size), None),
        }
        for name, p in extra.items():
            try:
                r = p(src, tgt_kps, source_keypoints=src_kps, target_size=size)
                gens[name] = (resize(r.image, size), P.resize_labels(r.target_parsing, size))
            except SPSError as exc:
                log.warning("%s failed on %s -> %s: %s", name, src_name, tgt_name, exc)
        for method, row_name in peer_rows.items():
            path = peer_files[method].get(key)
            gens[row_name] = (resize(load_image(path), size) if path is not None else None, None)
        if (f := score.feats(tgt)) is not None:
            real_feats[key] = f
        row: dict[str, object] = {"from": src_name, "to": tgt_name}
        for name, (img, parsing) in gens.items():
            if img is None:
                continue
            sc = score(img, tgt, person, tgt_kps, None if parsing is None else (parsing, tgt_parsing))
            scores[name].pairs[key] = sc
            row[f"{name}: SSIM"], row[f"{name}: PSNR"] = round(sc.ssim, 4), round(sc.psnr, 3)
        per_pair.append(row)
        n_peers = sum(g[0] is not None for n, g in gens.items() if n in peer_rows.values())
        grid.append((n_peers, [("source", src), ("target (GT)", tgt)] + [(n, g[0]) for n, g in gens.items()]))
    elapsed = time.perf_counter() - t0
    if not per_pair:
        raise SPSError(f"no pair of {pairs_csv} could be evaluated: {skipped[:3]}")

    summary = {name: sc.summary(real_feats or None) for name, sc in scores.items() if sc.pairs
               and name not in peer_rows.values()}
    for method, row_name in peer_rows.items():
        if scores[row_name].pairs:
            same = set(scores[row_name].pairs)
            summary[row_name] = scores[row_name].summary(real_feats or None)
            ours_row = f"ours, on the same {len(same)} pairs"
            if ours_row in summary:  # another peer has as many pairs: name this one's
                ours_row += f" as {peer_label(method)}"
            summary[ours_row] = scores[OURS].summary(real_feats or None, same)
    rows = [r for _, r in sorted(grid, key=lambda g: -g[0])[:grid_rows]]  # pairs with peer outputs first
    header = (f"# Evaluation: {pairs_csv}\n\n{len(per_pair)} of {len(pairs)} pairs ({split or 'all'} identities of "
              f"sps.splits) evaluated ({len(skipped)} skipped), weights: {weights or 'given pipeline'}"
              + (f", peers: {peers}" if peers else "") + f"; {elapsed:.0f} s on")
    write_outputs(out, summary, per_pair, rows, skipped, header, fid)
    return summary
