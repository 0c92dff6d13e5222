"""``python -m sps.search --data ROOT_OR_FOLDER --out pseudo_pairs.csv``: search pseudo labels.

Resumable: rows are appended after every batch of sources and finished sources are skipped on a rerun.
``--agreement N`` instead compares prefiltered with exhaustive search on the first N images and prints it.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch

from .core import SearchConfig, iter_search, prefilter_agreement
from .index import DEFAULT_CACHE, find_folders, load_index
from .io import PairWriter, PseudoPair, finished_sources, parse_size

log = logging.getLogger("sps.search")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m sps.search", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a folder with keypoints.csv + parsing/, or a root holding several")
    ap.add_argument("--out", help="output CSV (appended to; finished sources are skipped)")
    ap.add_argument("--parsing-dir", help="label PNGs to use instead of FOLDER/parsing (e.g. predicted maps)")
    ap.add_argument("--labels", default="auto", choices=("auto", "lip", "sps"), help="label set of the PNGs")
    ap.add_argument("--limit", type=int, help="search only the first N sources (sorted by name) of each folder")
    ap.add_argument("--k", type=int, default=64, help="candidates scored per source after the prefilter; 0 = exhaustive")
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


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, args.threads))
    cfg = SearchConfig(
        k=args.k or None, pose_margin=args.pose_margin, exclude_same_person=not args.allow_same_person,
        required_parts=tuple(p.strip() for p in args.required_parts.split(",")) if args.required_parts else None,
        sampler=args.sampler, source_chunk=args.batch)
    data = Path(args.data)
    folders = find_folders(data)
    if args.parsing_dir and len(folders) > 1:
        raise SystemExit("--parsing-dir needs --data to be a single folder")
    cache = args.cache_dir or None

    if args.agreement:
        idx = load_index(folders[0], args.size, args.parsing_dir, args.labels, args.workers, cache,
                         limit=args.agreement)
        t = time.time()
        res = prefilter_agreement(idx, k=args.k or 64, cfg=cfg)
        print(f"prefilter vs exhaustive on {folders[0]} (first {len(idx)} images, canvas {args.size}, "
              f"{time.time() - t:.0f} s)")
        print("| " + " | ".join(res) + " |")
        print("|" + "---|" * len(res))
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in res.values()) + " |")
        return
    if not args.out:
        raise SystemExit("--out is required (or use --agreement N)")

    from tqdm.auto import tqdm

    several = len(folders) > 1
    done = finished_sources(args.out)
    with PairWriter(args.out, with_dataset=several) as writer:
        for folder in folders:
            name = folder.relative_to(data).as_posix() if several else ""
            idx = load_index(folder, args.size, args.parsing_dir, args.labels, args.workers, cache, dataset=name)
            todo = list(range(len(idx)))[: args.limit] if args.limit else list(range(len(idx)))
            todo = [i for i in todo if (name, idx.names[i]) not in done]
            log.info("%s: %d images, %d sources to search (%d already done)", folder, len(idx), len(todo),
                     sum(1 for d, _ in done if d == name))
            bar = tqdm(total=len(todo), desc=f"search {name or folder.name}", unit="src")
            for chunk in iter_search(idx, todo, cfg):
                writer.write([PseudoPair(idx.names[r.source], idx.names[r.candidate] if r.candidate >= 0 else "",
                                         r.score, r.margin, name) for r in chunk])
                bar.update(len(chunk))
            bar.close()


if __name__ == "__main__":
    main()
