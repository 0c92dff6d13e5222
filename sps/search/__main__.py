"""``python -m sps.search --data FOLDER [FOLDER ...] --out pseudo_pairs.csv``: search pseudo labels.

``--data`` takes person folders, roots holding several, or data set names (``viton/train``, ``deepfashion``,
``market``, ``runs/ccp/train``: looked up under the data root, then here). Folders without a split of their own
(DeepFashion, Market) keep the ``--split`` identities (sps.splits). With several folders the candidates of a
source come from all of them (``--pool same``: its own folder only); ``--flip`` and ``--scales`` also score every
candidate mirrored and rescaled. ``--out-dir DIR`` writes one ``DIR/<folder>_<split>.csv`` per source folder.

Resumable: rows are appended after every batch of sources and finished sources are skipped on a rerun.
``--agreement N`` instead compares prefiltered with exhaustive search on the first N images and prints it.
``python -m sps.search report --help``: the score distribution and examples of pair files (sps.search.report).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

from ..data import data_root, person_folder
from ..splits import split_of
from .core import SearchConfig, iter_search, prefilter_agreement
from .index import DEFAULT_CACHE, SearchIndex, concat_indexes, find_folders, head_as_hair, load_index
from .io import PairWriter, PseudoPair, finished_sources, parse_size

log = logging.getLogger("sps.search")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m sps.search", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, nargs="+", help="person folders, roots holding several, or data set "
                    "names (under the data root, else here)")
    ap.add_argument("--out", help="output CSV (appended to; finished sources are skipped)")
    ap.add_argument("--out-dir", help="one CSV per source folder, DIR/<folder>_<split>.csv (instead of --out)")
    ap.add_argument("--parsing-dir", help="label PNGs to use instead of FOLDER/parsing (a single folder)")
    ap.add_argument("--parsing-dirs", nargs="*", default=[], metavar="NAME=DIR",
                    help="label PNGs per folder name, e.g. deepfashion=runs/parsing/df (predicted maps)")
    ap.add_argument("--labels", default="auto", choices=("auto", "lip", "sps"), help="label set of the PNGs")
    ap.add_argument("--split", default="train", choices=("train", "test", "all"),
                    help="identities kept in folders without a split of their own (default train)")
    ap.add_argument("--sources", nargs="*", metavar="NAME", help="search only these folders' images (default all; "
                    "the others still serve as candidates)")
    ap.add_argument("--pool", default="all", choices=("all", "same"),
                    help="candidates from every folder, or from the source's own folder only")
    ap.add_argument("--view", default="any", choices=("any", "turn"),
                    help="turn: only candidates facing the other way (one of the two a back view), scored with "
                         "face and hair as one label")
    ap.add_argument("--flip", action="store_true", help="also score every candidate mirrored (left/right swapped)")
    ap.add_argument("--scales", type=_floats, default=(1.0,), help="also score candidates rescaled by these "
                    "factors about their centre, e.g. 0.85,1,1.15 (only people wholly on the canvas)")
    ap.add_argument("--near-duplicate-iou", type=float, default=0.9, help="skip candidates whose map (or its "
                    "mirror) overlaps the source's by more than this parsing IoU (1 keeps them)")
    ap.add_argument("--limit", nargs="+", default=[], metavar="N|NAME=N",
                    help="search only the first N sources (sorted by name) of each folder, or of folder NAME")
    ap.add_argument("--k", type=int, default=64,
                    help="candidates scored per source after the prefilter; 0 = exhaustive")
    ap.add_argument("--size", type=parse_size, default=(64, 48), help="search canvas HxW (default 64x48)")
    ap.add_argument("--pose-margin", type=float, default=0.1, help="min pose difference (RMS bone direction)")
    ap.add_argument("--allow-same-person", action="store_true", help="do not exclude images of the same person")
    ap.add_argument("--required-parts", help="comma-separated part names every candidate must show "
                    "(default: those visible in the source)")
    ap.add_argument("--sampler", default="nearest", choices=("nearest", "bilinear"))
    ap.add_argument("--workers", type=int, default=2, help="processes decoding parsing maps")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for scoring")
    ap.add_argument("--batch", type=int, default=64, help="sources per batch (rows are written per batch)")
    ap.add_argument("--cache-dir", default=str(DEFAULT_CACHE), help="index cache folder ('' disables)")
    ap.add_argument("--agreement", type=int, metavar="N",
                    help="print prefilter vs exhaustive agreement on the first N images and exit")
    return ap


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _pairs_arg(items: list[str], what: str) -> dict[str, str]:
    """NAME=VALUE items -> dict; SystemExit on a malformed item."""
    bad = [x for x in items if "=" not in x]
    if bad:
        raise SystemExit(f"{what}: expected NAME=VALUE, got {bad[0]!r}")
    return dict(x.split("=", 1) for x in items)


def display_name(folder: Path) -> str:
    """A folder's name in CSVs: relative to the data root when inside it, else to the working directory, else
    absolute (what ``sps.data.person_folder`` and the trainer's ``--data.dataset`` take back)."""
    folder = folder.resolve()
    for base in (data_root(check=False), Path.cwd().resolve()):
        if folder.is_relative_to(base):
            return folder.relative_to(base).as_posix()
    return folder.as_posix()


def resolve_folders(items: list[str], split: str) -> list[tuple[str, Path]]:
    """--data items -> (name, person folder); a root with several folders names them relative to the root."""
    out: list[tuple[str, Path]] = []
    for item in items:
        path = Path(item)
        if not path.is_dir():
            folder = person_folder(item, split="train" if split == "all" else split)
            out.append((display_name(folder), folder))
            continue
        found = find_folders(path)
        out += [(f.relative_to(path).as_posix() if len(found) > 1 else display_name(f), f) for f in found]
    names = [n for n, _ in out]
    if len(set(names)) < len(names):
        raise SystemExit(f"--data names a folder twice: {names}")
    return out


def out_file(out_dir: str | Path, folder: Path, split: str) -> Path:
    """``OUT_DIR/<folder>_<split>.csv``: viton/train -> viton_train.csv, deepfashion -> deepfashion_train.csv."""
    stem = f"{folder.parent.name}_{folder.name}" if folder.name in ("train", "test") else f"{folder.name}_{split}"
    return Path(out_dir) / f"{stem}.csv"


def build_pool(args: argparse.Namespace, folders: list[tuple[str, Path]], limit: int | None = None) -> SearchIndex:
    """The search index over every folder (train identities of folders without a split of their own)."""
    dirs = _pairs_arg(args.parsing_dirs, "--parsing-dirs")
    unknown = set(dirs) - {n for n, _ in folders}
    if unknown:
        raise SystemExit(f"--parsing-dirs names {sorted(unknown)}, not among --data {[n for n, _ in folders]}")
    if args.parsing_dir:
        if len(folders) > 1:
            raise SystemExit("--parsing-dir needs --data to be a single folder (else --parsing-dirs NAME=DIR)")
        dirs[folders[0][0]] = args.parsing_dir
    parts = []
    for name, folder in folders:
        own_split = (folder.parent / "test").is_dir() or folder.name in ("train", "test")
        keep = None if own_split or args.split == "all" else (lambda n: split_of(n) == args.split)
        parts.append(load_index(folder, args.size, dirs.get(name), args.labels, args.workers,
                                args.cache_dir or None, dataset=name, limit=limit, keep=keep))
        log.info("%s: %d images in the pool", name, len(parts[-1]))
    return concat_indexes(parts)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:
        from .report import main as report_main

        return report_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, args.threads))
    cfg = SearchConfig(
        k=args.k or None, pose_margin=args.pose_margin, exclude_same_person=not args.allow_same_person,
        required_parts=tuple(p.strip() for p in args.required_parts.split(",")) if args.required_parts else None,
        sampler=args.sampler, source_chunk=args.batch, flip=args.flip, scales=args.scales, pool=args.pool,
        view=args.view,
        near_duplicate_iou=args.near_duplicate_iou if args.near_duplicate_iou < 1 else None)
    folders = resolve_folders(args.data, args.split)

    if args.agreement:
        idx = build_pool(args, folders[:1], limit=args.agreement)
        t = time.time()
        res = prefilter_agreement(idx, k=args.k or 64, cfg=cfg)
        print(f"prefilter vs exhaustive on {folders[0][1]} (first {len(idx)} images, canvas {args.size}, "
              f"{time.time() - t:.0f} s)")
        print("| " + " | ".join(res) + " |")
        print("|" + "---|" * len(res))
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in res.values()) + " |")
        return
    if bool(args.out) == bool(args.out_dir):
        raise SystemExit("give one of --out or --out-dir (or use --agreement N)")
    run_search(args, cfg, folders)


def run_search(args: argparse.Namespace, cfg: SearchConfig, folders: list[tuple[str, Path]]) -> None:
    """Search every source folder against the pool and append the rows (resumable)."""
    from tqdm.auto import tqdm

    names = [n for n, _ in folders]
    sources = args.sources or names
    if set(sources) - set(names):
        raise SystemExit(f"--sources names {sorted(set(sources) - set(names))}, not among --data {names}")
    limits = {n: int(v) for n, v in _pairs_arg([x for x in args.limit if "=" in x], "--limit").items()}
    every = [int(x) for x in args.limit if "=" not in x]
    pool = build_pool(args, folders)
    if cfg.view == "turn":
        pool = head_as_hair(pool)
    variant_cols = cfg.flip or cfg.scales != (1.0,) or len(folders) > 1
    for name, folder in folders:
        if name not in sources:
            continue
        several = args.out and len(folders) > 1
        path = out_file(args.out_dir, folder, args.split) if args.out_dir else Path(args.out)
        tag = name if several else ""
        done = finished_sources(path)
        todo = pool.positions_of(name)
        lim = limits.get(name, every[0] if every else None)
        todo = [i for i in todo[:lim] if (tag, pool.names[i]) not in done]
        log.info("%s: %d sources to search against %d candidates -> %s", name, len(todo), len(pool), path)
        t = time.time()
        with PairWriter(path, with_dataset=bool(several), with_variant=bool(args.out_dir or variant_cols)) as writer:
            bar = tqdm(total=len(todo), desc=f"search {name}", unit="src")
            for chunk in iter_search(pool, todo, cfg):
                writer.write([_pair(pool, r, name, tag) for r in chunk])
                bar.update(len(chunk))
            bar.close()
        log.info("%s: %d sources in %.0f s", name, len(todo), time.time() - t)


def _pair(pool: SearchIndex, r, source_folder: str, tag: str) -> PseudoPair:
    if r.candidate < 0:
        return PseudoPair(pool.names[r.source], "", r.score, r.margin, tag)
    origin = pool.origins[r.candidate]
    return PseudoPair(pool.names[r.source], pool.names[r.candidate], r.score, r.margin, tag, r.flip, r.scale,
                      "" if origin == source_folder else origin)


if __name__ == "__main__":
    main()
