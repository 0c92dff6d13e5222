"""``python -m sps.evaluate --pairs PAIRS.csv [--weights weights] [--peers DIR] ...`` (paired photos),
``python -m sps.evaluate photos --folder CCP [--split test]`` (photos without pairs),
``python -m sps.evaluate fill --folder CCP`` (the background filled in where a person stood) and
``python -m sps.evaluate pose [--estimator NAME=DIR ...]`` (pose estimators on held-out photos) and
``python -m sps.evaluate layouts --pairs PAIRS.csv [--semantic NAME=DIR ...]`` (G_S's target layouts alone)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from ..errors import SPSError
from .report import markdown_table
from .run import evaluate


def _parse_ablation(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    name, d = text.split("=", 1)
    return name.strip(), d.strip()


def _parser(prog: str, description: str, out: str, split_help: str) -> argparse.ArgumentParser:
    """The options both evaluations share: weights, output folder, split, limit, threads."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--weights", default="weights", help="pipeline folder or Hub repo id (default: weights)")
    ap.add_argument("--out", default=out, help="output folder")
    ap.add_argument("--split", default="test", choices=("test", "train", "all"), help=split_help)
    ap.add_argument("--limit", type=int, default=None, help="first N only")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    return ap


def _run(args: argparse.Namespace, level: int, fn, *fn_args, **fn_kwargs):
    """Set threads and logging, run ``fn``; (result, None) or (None, exit code 2) after printing the error."""
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return fn(*fn_args, **fn_kwargs), None
    except SPSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None, 2


def photos_main(argv: list[str]) -> int:
    from .photos import evaluate_photos

    ap = _parser("python -m sps.evaluate photos", "The pipeline on photos without pairs (a CCP-style folder).",
                 "eval_photos", "CCP photo split")
    ap.add_argument("--folder", required=True, help="folder with images/ (and CCP labels/ + labels.txt)")
    ap.add_argument("--placement", default="person", choices=("person", "frame"),
                    help="where the presets go: on the person (as the CLI and the demo place them; default) or "
                         "where their grid puts them on the photo")
    args = ap.parse_args(argv)
    summary, rc = _run(args, logging.WARNING, evaluate_photos, args.folder, args.weights, args.out,
                       None if args.split == "all" else args.split, args.limit, placement=args.placement)
    if rc:
        return rc
    print((Path(args.out) / "results.md").read_text())
    return 0 if summary["photos"] else 2


def pose_main(argv: list[str]) -> int:
    from .pose import ANNOTATED, evaluate_pose

    ap = _parser("python -m sps.evaluate pose", "Pose estimators on held-out annotated and street photos.",
                 "eval_pose", "(held-out photos only)")
    ap.add_argument("--estimator", action="append", type=_parse_ablation, default=[], metavar="NAME=DIR",
                    help="a pose_estimator folder to compare with the one in --weights; repeatable")
    ap.add_argument("--folders", nargs="*", default=list(ANNOTATED), help="annotated person folders")
    ap.add_argument("--ccp", default=None, help="CCP folder (default: DATA_ROOT/ccp)")
    ap.add_argument("--no-flip", action="store_true", help="skip the rows with test-time flip averaging")
    args = ap.parse_args(argv)
    estimators = {"shipped": "", **dict(args.estimator)}
    rows, rc = _run(args, logging.INFO, evaluate_pose, estimators, args.weights, args.out, args.folders, args.ccp,
                    args.limit or 0, not args.no_flip)
    if rc:
        return rc
    print((Path(args.out) / "results.md").read_text())
    return 0


def layouts_main(argv: list[str]) -> int:
    from .layouts import evaluate_layouts

    ap = _parser("python -m sps.evaluate layouts", "G_S's target layouts alone (no images rendered) on paired photos.",
                 "eval_layouts", "identity split of the pairs (default test: identities never trained on)")
    ap.add_argument("--pairs", required=True, help="pairs.csv of a person folder (images/, keypoints.csv beside it)")
    ap.add_argument("--semantic", action="append", type=_parse_ablation, default=[], metavar="NAME=DIR",
                    help="an exported semantic_generator folder to compare with the one in --weights; repeatable")
    args = ap.parse_args(argv)
    summary, rc = _run(args, logging.WARNING, evaluate_layouts, args.pairs, dict(args.semantic), args.weights,
                       args.out, None if args.split == "all" else args.split, args.limit)
    if rc:
        return rc
    print((Path(args.out) / "results.md").read_text())
    return 0


def fill_main(argv: list[str]) -> int:
    from .fill import evaluate_fill

    ap = _parser("python -m sps.evaluate fill", "The background filled in where a person stood, on street photos "
                 "with a made hole whose truth is known.", "eval_fill", "CCP photo split")
    ap.add_argument("--folder", required=True, help="folder with images/ (CCP)")
    args = ap.parse_args(argv)
    summary, rc = _run(args, logging.WARNING, evaluate_fill, args.folder, args.weights, args.out,
                       None if args.split == "all" else args.split, args.limit)
    if rc:
        return rc
    print((Path(args.out) / "results.md").read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["layouts"]:
        return layouts_main(argv[1:])
    if argv[:1] == ["photos"]:
        return photos_main(argv[1:])
    if argv[:1] == ["pose"]:
        return pose_main(argv[1:])
    if argv[:1] == ["fill"]:
        return fill_main(argv[1:])
    ap = _parser("python -m sps.evaluate", "Evaluate pose transfer on pairs.csv.", "eval_out",
                 "identity split of the pairs (default test: identities never trained on)")
    ap.add_argument("--pairs", required=True, help="pairs.csv of a person folder (images/, keypoints.csv beside it)")
    ap.add_argument("--ablation", action="append", type=_parse_ablation, default=[], metavar="NAME=DIR",
                    help="extra pipeline folder (sub-folders present replace ours); repeatable")
    ap.add_argument("--peers", default=None, metavar="DIR",
                    help="published outputs METHOD/FROM__TO.png (e.g. ../shared/data/deepfashion/peers): a row per "
                         "method on its pairs, and ours on exactly the same pairs")
    ap.add_argument("--no-fid", action="store_true", help="skip FID/KID (no EfficientNet-Lite0 features)")
    ap.add_argument("--grid-rows", type=int, default=6)
    args = ap.parse_args(argv)
    summary, rc = _run(args, logging.INFO, evaluate, args.pairs, args.weights, args.out, args.limit,
                       dict(args.ablation), not args.no_fid, args.grid_rows,
                       split=None if args.split == "all" else args.split, peers=args.peers)
    if rc:
        return rc
    print(markdown_table(summary))
    print(f"\nwritten: {Path(args.out) / 'results.md'}, metrics.csv, per_pair.csv, grid.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
