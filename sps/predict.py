"""``python -m sps.predict --folder FOLDER --out DIR [--weights W]``: parsing maps of a person folder, by our parser.

Writes ``DIR/<image stem>.png`` (mode L, one sps label id per pixel, the photo's size) for every image of
``FOLDER/keypoints.csv``, cut to the body region of the annotated keypoints. The maps stand in for ground truth
where a data set has none (DeepFashion, Market), e.g. ``python -m sps.search --parsing-dir DIR --labels sps``
(``--split train`` keeps the held-out identities out of the pseudo labels).
Existing maps are kept (the command resumes). ``--weights`` is a pipeline folder (``weights`` in a clone of the
repository) or a Hub repo id; without it ``$SPS_WEIGHTS`` names one.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from . import pose as K
from .data import IMAGE_DIR, KEYPOINTS_FILE, load_image
from .errors import DataError, SPSError
from .splits import split_of

log = logging.getLogger(__name__)


def predict_folder(folder: str | Path, out: str | Path, weights: str | Path | None = None,
                   split: str | None = None) -> tuple[int, int]:
    """Parse every image of ``folder`` (of one identity ``split`` of sps.splits, if given) into ``out``;
    returns (written, skipped as already there or unreadable). ``weights``: as ``SPSPipeline.from_pretrained``
    takes it (a pipeline folder or a Hub repo id; None: ``$SPS_WEIGHTS``)."""
    from .pipeline import SPSPipeline

    folder, out = Path(folder), Path(out)
    if not (folder / KEYPOINTS_FILE).is_file():
        raise DataError(f"{folder}: no {KEYPOINTS_FILE} (a person folder holds {IMAGE_DIR}/ and {KEYPOINTS_FILE})")
    poses = K.read_keypoints_csv(folder / KEYPOINTS_FILE)
    if split:
        poses = {n: k for n, k in poses.items() if split_of(n) == split}
    out.mkdir(parents=True, exist_ok=True)
    pipe = SPSPipeline.from_pretrained(weights)
    written = skipped = 0
    for name, kps in tqdm(sorted(poses.items()), desc=f"parsing {folder.name}", unit="img"):
        dst = out / (Path(name).stem + ".png")
        if dst.is_file():
            skipped += 1
            continue
        try:
            _, labels = pipe.analyse(load_image(folder / IMAGE_DIR / name), keypoints=kps)
        except SPSError as exc:
            log.warning("%s: skipped (%s)", name, exc)
            skipped += 1
            continue
        tmp = dst.with_suffix(".tmp")
        Image.fromarray(labels.astype(np.uint8), mode="L").save(tmp, format="PNG")
        tmp.replace(dst)  # a killed run never leaves a half-written map
        written += 1
    return written, skipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sps.predict", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", required=True, help="person folder (images/ + keypoints.csv)")
    ap.add_argument("--out", required=True, help="folder for the label PNGs")
    ap.add_argument("--weights", default="weights", help="pipeline folder or Hub repo id (default: weights)")
    ap.add_argument("--split", choices=("train", "test"), help="only the images of this identity split (sps.splits)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        written, skipped = predict_folder(args.folder, args.out, args.weights, args.split)
    except SPSError as exc:
        print(f"error: {exc}")
        return 2
    print(f"{written} maps written, {skipped} skipped, in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
