"""``python -m sps.search report``: what a search found, per source folder (docs/design.md 1.1).

Takes the search's own ``--data`` / ``--parsing-dirs`` / ``--split`` and the ``--out-dir`` it wrote to
(``--pairs-dir``), and writes a markdown report: the match-score distribution per source folder, the folders the
winners came from, how often a flipped or rescaled candidate won; and a PNG of examples per folder (source
parsing, the winning candidate as it won, the source warped part by part onto it).
"""
from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from .core import candidate_variants
from .index import DEFAULT_CACHE, SearchIndex
from .io import PseudoPair, parse_size, read_pseudo_pairs
from .plot import merged_labels, warped_source, with_pose
from .variants import Variant

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
ZOOM = 3  # example panels are drawn at 3x the search canvas


def score_table(pairs: dict[str, list[PseudoPair]]) -> str:
    """Markdown: per source folder, sources, found, score mean and quantiles, median runner-up margin."""
    head = ["source folder", "sources", "with a candidate", "mean"] + [f"p{int(q * 100)}" for q in QUANTILES]
    rows = ["| " + " | ".join(head + ["median margin"]) + " |", "|---" + "|---:" * len(head) + "|"]
    for name, ps in pairs.items():
        found = [p for p in ps if p.candidate]
        sc = np.array([p.score for p in found])
        mg = np.array([p.margin for p in found if not math.isnan(p.margin)])
        qs = [f"{np.quantile(sc, q):.3f}" for q in QUANTILES] if len(sc) else ["-"] * len(QUANTILES)
        rows.append(f"| {name} | {len(ps)} | {len(found)} | {sc.mean() if len(sc) else math.nan:.3f} | "
                    + " | ".join(qs) + f" | {np.median(mg) if len(mg) else math.nan:.4f} |")
    return "\n".join(rows)


def origin_table(pairs: dict[str, list[PseudoPair]]) -> str:
    """Markdown: per source folder, the share of winners from each folder."""
    folders = list(pairs)
    rows = ["| source folder \\ winner from | " + " | ".join(folders) + " |", "|---" + "|---:" * len(folders) + "|"]
    for name, ps in pairs.items():
        cnt = Counter(p.candidate_dataset or name for p in ps if p.candidate)
        total = max(1, sum(cnt.values()))
        rows.append(f"| {name} | " + " | ".join(f"{100 * cnt[f] / total:.1f}% ({cnt[f]})" for f in folders) + " |")
    return "\n".join(rows)


def variant_table(pairs: dict[str, list[PseudoPair]]) -> str:
    """Markdown: per source folder, how often the winner was flipped, and the share of each scale."""
    scales = sorted({p.scale for ps in pairs.values() for p in ps if p.candidate})
    rows = ["| source folder | flipped | " + " | ".join(f"scale {s:g}" for s in scales) + " |",
            "|---|---:" + "|---:" * len(scales) + "|"]
    for name, ps in pairs.items():
        found = [p for p in ps if p.candidate]
        n = max(1, len(found))
        flips = sum(p.flip for p in found)
        cnt = Counter(p.scale for p in found)
        rows.append(f"| {name} | {100 * flips / n:.1f}% ({flips}) | "
                    + " | ".join(f"{100 * cnt[s] / n:.1f}% ({cnt[s]})" for s in scales) + " |")
    return "\n".join(rows)


def examples(pool: SearchIndex, name: str, pairs: list[PseudoPair], n: int = 3) -> list[tuple[str, np.ndarray]]:
    """Panels (title, RGB) of ``n`` pairs of folder ``name`` at spread score quantiles: source, the candidate as
    it won (flipped / rescaled), the source warped onto it."""
    found = sorted((p for p in pairs if p.candidate), key=lambda p: p.score)
    picks = [found[min(len(found) - 1, int(q * len(found)))] for q in np.linspace(0.1, 0.9, n)] if found else []
    where = {(o, x): i for i, (o, x) in enumerate(zip(pool.origins, pool.names))}
    panels = []
    for p in picks:
        src, cand = where[(name, p.source)], where[(p.candidate_dataset or name, p.candidate)]
        view, _ = candidate_variants(pool, torch.tensor([cand]), Variant(p.flip, p.scale))
        _, codes = warped_source(pool, src, 0, view)
        kps = view.kps_t[0].numpy()
        shown = ("flipped " if p.flip else "") + (f"x{p.scale:g} " if p.scale != 1 else "")
        panels += [(f"{name} source", with_pose(pool.labels[src], pool.kps[src], ZOOM)),
                   (f"{shown}{pool.origins[cand]}", with_pose(view.labels_t[0].numpy(), kps, ZOOM)),
                   (f"warped, score {p.score:.2f}", with_pose(merged_labels(codes), kps, ZOOM))]
    return panels


def figure(pool: SearchIndex, pairs: dict[str, list[PseudoPair]], path: Path, n: int = 3) -> None:
    """One row per source folder, ``n`` examples of 3 panels each; saved as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [examples(pool, name, ps, n) for name, ps in pairs.items()]
    cols = 3 * n
    fig, axes = plt.subplots(len(rows), cols, figsize=(0.95 * cols, 1.45 * len(rows)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, panels in enumerate(rows):
        for c, (title, img) in enumerate(panels):
            axes[r, c].imshow(img, interpolation="nearest")
            axes[r, c].set_title(title, fontsize=5)
    fig.tight_layout(pad=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m sps.search report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, nargs="+", help="the folders the search ran on (as given to it)")
    ap.add_argument("--parsing-dirs", nargs="*", default=[], metavar="NAME=DIR")
    ap.add_argument("--labels", default="auto", choices=("auto", "lip", "sps"))
    ap.add_argument("--split", default="train", choices=("train", "test", "all"))
    ap.add_argument("--pairs-dir", required=True, help="the search's --out-dir")
    ap.add_argument("--out", required=True, help="markdown report to write")
    ap.add_argument("--figure", help="PNG of examples to write (linked from the report)")
    ap.add_argument("--examples", type=int, default=3, help="examples per folder in the figure")
    ap.add_argument("--notes", help="a markdown file appended as the section 'How these files were made'")
    ap.add_argument("--size", type=parse_size, default=(64, 48))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    return ap


def main(argv: list[str] | None = None) -> None:
    from .__main__ import build_pool, out_file, resolve_folders

    args = build_parser().parse_args(argv)
    args.parsing_dir = None
    folders = resolve_folders(args.data, args.split)
    pairs = {}
    for name, folder in folders:
        path = out_file(args.pairs_dir, folder, args.split)
        if path.is_file():
            pairs[name] = read_pseudo_pairs(path, skip_empty=False, variants=True)
    if not pairs:
        raise SystemExit(f"no pair file of {[n for n, _ in folders]} in {args.pairs_dir}")
    intro = (f"Pair files in `{args.pairs_dir}` over {', '.join(f'`{n}`' for n in pairs)}. Scores lie in [0, 2]: "
             "0 = the source, moved part by part, explains the candidate's map exactly (docs/design.md 1.1). The "
             "margin is the runner-up's score minus the winner's.")
    variants = ("A flip mirrors the candidate (left and right labels and joints swapped); a rescale is tried only "
                "for people wholly on the canvas, before and after (a person cut by the photo's edge, like almost every "
                "VITON half body, is never rescaled).")
    parts = ["# Pseudo-label search report", "", intro, "",
             "## Match scores per source folder", "", score_table(pairs), "",
             "## Where the winners came from", "", origin_table(pairs), "",
             "## Flipped and rescaled winners", "", variants, "", variant_table(pairs), ""]
    if args.figure:
        figure(build_pool(args, folders), pairs, Path(args.figure), args.examples)
        rel = Path(os.path.relpath(Path(args.figure).resolve(), Path(args.out).resolve().parent)).as_posix()
        caption = ("Per source folder, pairs spread from the 10th to the 90th score percentile: the source's "
                   "parsing, the winning candidate as it won (its folder; flipped / rescaled), and the source "
                   "warped part by part onto the candidate's pose.")
        parts += ["## Examples", "", caption, "", f"![examples]({rel})", ""]
    if args.notes:
        parts += ["## How these files were made", "", Path(args.notes).read_text().strip(), ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(parts))
    print(f"wrote {args.out}" + (f" and {args.figure}" if args.figure else ""))
