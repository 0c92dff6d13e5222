"""``python -m sps.data check [ROOT] [--full] [--label-set auto|lip|sps]``: validate every person folder under ROOT.

Prints a table (one row per folder with a keypoints.csv) and every problem; exits 1 on any problem.
ROOT defaults to the data root (``$SPS_DATA``, else ``../shared/data`` beside the repository).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import DataError
from .ccp import check_ccp_folder, is_ccp_folder
from .check import FolderReport, check_folder
from .labels import LABEL_SETS
from .paths import KEYPOINTS_FILE, data_root, find_person_folders


def _print_table(root: Path, reports: list[FolderReport], full: bool) -> None:
    mode = "full" if full else "fast (headers + CSV; --full decodes everything)"
    print(f"checked {len(reports)} folders under {root} [{mode}]\n")
    print("| folder | images | keypoint rows | parsing | labels | pairs | unlisted | problems |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for r in reports:
        rel = r.folder.relative_to(root) if r.folder != root else Path(".")
        print(f"| {rel} | {r.images} | {r.rows} | {r.parsing} | {r.label_set if r.parsing else '-'} | {r.pairs} | "
              f"{r.unlisted} | {len(r.problems)} |")


def main(argv: list[str] | None = None) -> int:
    """Run the checker CLI; returns the exit code (0: no problem, 1: problems or no data)."""
    ap = argparse.ArgumentParser(prog="python -m sps.data", description="Check the person folders of a data root.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    chk = sub.add_parser("check", help="validate every person folder (with keypoints.csv) under ROOT")
    chk.add_argument("root", nargs="?", default=None, help="data root (default: $SPS_DATA or ../shared/data)")
    chk.add_argument("--full", action="store_true", help="decode every image and parsing map (slow)")
    chk.add_argument("--label-set", default="auto", choices=LABEL_SETS)
    args = ap.parse_args(argv)
    try:
        root = Path(args.root) if args.root else data_root()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not root.is_dir():
        print(f"error: data folder not found: {root}", file=sys.stderr)
        return 1
    folders = find_person_folders(root)
    ccp_folders = sorted(p for p in (root, *root.iterdir()) if p.is_dir() and is_ccp_folder(p))
    if not folders and not ccp_folders:
        print(f"error: no folder with {KEYPOINTS_FILE} (nor a CCP folder) under {root}", file=sys.stderr)
        return 1
    reports = [check_folder(f, args.full, args.label_set) for f in folders]
    _print_table(root, reports, args.full)
    problems = [p for r in reports for p in r.problems]
    for folder in ccp_folders:  # raw CCP: no keypoints, 59 clothing classes mapped by sps.data.ccp
        photos, maps, found = check_ccp_folder(folder, args.full)
        print(f"\nCCP folder {folder}: {photos} photos, {maps} label maps, {len(found)} problems "
              f"(labels mapped to the 10 sps labels by sps.data.ccp; prepare with python -m sps.data.ccp prepare)")
        problems += found
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"\n{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
