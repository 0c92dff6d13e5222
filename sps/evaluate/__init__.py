"""Evaluate pose transfer on paired data (same person, two poses) against baselines, ablations and published peers.

    python -m sps.evaluate --pairs ROOT/deepfashion/pairs.csv [--weights weights] [--out eval_out] [--limit N]
                           [--peers ROOT/deepfashion/peers] [--ablation NAME=DIR ...] [--no-fid]

For each pair (source -> target) of held-out identities the target's annotated keypoints are the target pose
and the source's annotated keypoints are given to the pipeline; parsing maps come from our parser. Methods in
one run, on the same pairs:

- ``copy source``: the source photo itself (what a generator that ignores the pose scores);
- ``part warp (no learning)``: source pixels moved by the 10 part transforms, background filled with the
  source's background colour (``sps.pipeline.warp_baseline``, at the photo's resolution);
- ``ours``: the full pipeline (G_S predicts the target parsing, G_A renders it);
- ``ours + parser map of real target``: G_A given the parser's map of the true target instead of G_S's
  prediction (the "two-stage with ground-truth maps" row; same weights);
- one row per ``--ablation NAME=DIR``: a pipeline folder whose present sub-folders replace ours;
- with ``--peers``: one row per published method on the pairs it has outputs for, each followed by ours on
  exactly those pairs.

Metrics at the photo's own resolution (model outputs upsampled to it): SSIM, mask-SSIM, PSNR, L1, PCKh (our pose
estimator on the output), parsing mIoU, the colour shift in CIELAB inside the person mask (Δa*, Δb*, colour err)
and FID / KID on EfficientNet-Lite0 features (not Inception FID). See ``sps.metrics``. Writes ``results.md``,
``metrics.csv``, ``per_pair.csv`` and ``grid.png`` under ``--out``; ``read_metrics`` and ``read_per_pair`` read the
two CSV files back.
"""
from .peers import read_peers
from .report import markdown_table, read_metrics, read_per_pair, save_grid
from .run import COPY, OURS, OURS_GT, WARP, evaluate, load_ablation, select_pairs
from .scores import COLUMNS, MethodScores, PairScore

__all__ = ["COLUMNS", "COPY", "OURS", "OURS_GT", "WARP", "MethodScores", "PairScore", "evaluate", "load_ablation",
           "markdown_table", "read_metrics", "read_peers", "read_per_pair", "save_grid", "select_pairs"]
