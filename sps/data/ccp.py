"""Clothing Co-Parsing (CCP): full-body street photos whose 59 clothing labels we map to the paper's 10.

CCP labels garments, hair and skin, but splits neither face from arms and legs nor left from right. The split comes
from the keypoints (estimated by our pose estimator, since CCP has none): every skin pixel goes to the nearest
bone (head, the four arm bones, the four leg bones), and worn items without a side (gloves, shoes, socks,
tights) take the side of the nearest limb. The choices, class by class:

- **background**: null, and what is carried rather than worn (bag, purse, wallet): G_S must not learn to move
  a handbag with the body.
- **hair**: hair, hat (a hat sits where hair is and moves with the head, as LIP's hat does in ``merge_lip``).
- **face**: glasses, sunglasses (worn on the face).
- **upper clothes**: every top and one-piece garment (dress, romper, swimwear, bodysuit, suit, ...), and scarf
  and tie (worn over the torso). The paper's set has no dress, as with LIP.
- **pants**: jeans, pants, leggings, shorts, panties. **skirt**: skirt.
- **arms / legs by side**: skin (or face, by the nearest bone), gloves (arms), footwear, socks, stockings and
  tights (legs: feet belong to the leg of their side).
- **covered**: small items lying on top of a region (accessories, belt, bracelet, earrings, necklace, ring,
  watch) take the label of the nearest region around them.

The held-out split is by photo id (a CRC32 hash, 20% test), fixed across machines. ``prepare`` builds two ordinary
person folders, ``train/`` and ``test/`` (``images/`` linked to the CCP photos, ``keypoints.csv`` estimated,
``parsing/`` mapped), and ``pose/{train,test}`` with pseudo labels for the pose estimator (``sps.data.ccp_pose``),
under a run folder, never inside the repository: ``python -m sps.data.ccp prepare --out runs/ccp``.
"""
from __future__ import annotations

import argparse
import logging
import os
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .. import parsing as P
from .. import pose as K
from ..errors import DataError
from ..parts import segment_distance

log = logging.getLogger(__name__)

LABELS_FILE, IMAGES, LABEL_DIR = "labels.txt", "images", "labels"
TEST_FRACTION = 0.2
BACKGROUND, FACE, HAIR, UPPER, PANTS, SKIRT, L_ARM, R_ARM, L_LEG, R_LEG = range(10)
SKIN, ARM_WEAR, LEG_WEAR, COVERED = -2, -3, -4, -5  # resolved per pixel by ``map_labels``
GROUPS: dict[int, tuple[str, ...]] = {
    BACKGROUND: ("null", "bag", "purse", "wallet"),
    HAIR: ("hair", "hat"),
    FACE: ("glasses", "sunglasses"),
    UPPER: ("blazer", "blouse", "bodysuit", "bra", "cape", "cardigan", "coat", "dress", "hoodie", "intimate",
            "jacket", "jumper", "romper", "scarf", "shirt", "suit", "sweater", "sweatshirt", "swimwear", "t-shirt",
            "tie", "top", "vest"),
    PANTS: ("jeans", "leggings", "panties", "pants", "shorts"),
    SKIRT: ("skirt",),
    SKIN: ("skin",),
    ARM_WEAR: ("gloves",),
    LEG_WEAR: ("boots", "clogs", "flats", "heels", "loafers", "pumps", "sandals", "shoes", "sneakers", "socks",
               "stockings", "tights", "wedges"),
    COVERED: ("accessories", "belt", "bracelet", "earrings", "necklace", "ring", "watch"),
}
# Bones (joint pairs, COCO-18) and the label their nearest pixels take.
HEAD_BONES = ((1, 0), (0, 14), (0, 15), (14, 16), (15, 17))
ARM_BONES = {R_ARM: ((2, 3), (3, 4)), L_ARM: ((5, 6), (6, 7))}
LEG_BONES = {R_LEG: ((8, 9), (9, 10)), L_LEG: ((11, 12), (12, 13))}
# The 4 coarse classes CCP can be scored on (it has no left/right): background, hair, skin (face, arms, legs,
# with hands and feet), clothes (upper clothes, pants, skirt).
COARSE_NAMES = ("background", "hair", "skin", "clothes")
COARSE_OF_SPS = np.array([0, 2, 1, 3, 3, 3, 2, 2, 2, 2], np.int64)


def read_label_names(folder: str | Path) -> tuple[str, ...]:
    """The 59 class names of ``folder/labels.txt`` (lines ``ID NAME``), in id order."""
    path = Path(folder) / LABELS_FILE
    if not path.is_file():
        raise DataError(f"{path}: CCP label list not found")
    names = {}
    for line in path.read_text().splitlines():
        if line.strip():
            i, _, name = line.strip().partition(" ")
            names[int(i)] = name.strip()
    if sorted(names) != list(range(len(names))):
        raise DataError(f"{path}: label ids must run 0..N-1")
    return tuple(names[i] for i in range(len(names)))


def group_table(names: tuple[str, ...]) -> np.ndarray:
    """(len(names),) int64: the sps label (or a SKIN / ARM_WEAR / LEG_WEAR / COVERED marker) of each CCP id."""
    by_name = {n: g for g, members in GROUPS.items() for n in members}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise DataError(f"CCP labels without a mapping: {unknown}")
    return np.array([by_name[n] for n in names], np.int64)


def split_of(name: str) -> str:
    """'train' or 'test' for a CCP photo name (20% test, by a hash of the photo id)."""
    return "test" if zlib.crc32(Path(name).stem.encode()) % 1000 < TEST_FRACTION * 1000 else "train"


def coarse(sps_labels: np.ndarray) -> np.ndarray:
    """sps labels (H, W) -> the 4 coarse classes (background, hair, skin, clothes)."""
    return COARSE_OF_SPS[np.asarray(sps_labels, np.int64)]


def _nearest_bone_label(shape: tuple[int, int], kps: np.ndarray, bones: dict[int, tuple[tuple[int, int], ...]]
                        ) -> np.ndarray | None:
    """(H, W) label of the nearest visible bone among ``bones`` ({label: joint pairs}); None when none is visible."""
    vis = K.visible(kps)
    best, label = None, None
    for lab, pairs in bones.items():
        for a, b in pairs:
            if vis[a] and vis[b]:
                d = segment_distance(shape, kps[a], kps[b])
                if best is None:
                    best, label = d, np.full(shape, lab, np.int64)
                else:
                    closer = d < best
                    best, label = np.where(closer, d, best), np.where(closer, lab, label)
    return label


def _side_by_position(shape: tuple[int, int], kps: np.ndarray, right: int, left: int) -> np.ndarray:
    """Fallback side without limb joints: image-left of the body centre is the person's right (facing us)."""
    vis = K.visible(kps)
    cx = float(kps[vis, 0].mean()) if vis.any() else shape[1] / 2
    return np.where(np.arange(shape[1])[None, :] < cx, right, left).repeat(shape[0], 0)


def map_labels(ccp: np.ndarray, kps: np.ndarray, table: np.ndarray) -> np.ndarray:
    """CCP label ids (H, W) + keypoints (18, 2) on the same grid -> sps labels (H, W) int64 (0..9)."""
    ccp = np.asarray(ccp, np.int64)
    if ccp.min() < 0 or ccp.max() >= len(table):
        raise DataError(f"CCP labels out of range [0, {len(table) - 1}]: {int(ccp.min())}..{int(ccp.max())}")
    kps = np.asarray(kps, np.float32)
    out = table[ccp]
    shape = ccp.shape
    arms = _nearest_bone_label(shape, kps, ARM_BONES)
    legs = _nearest_bone_label(shape, kps, LEG_BONES)
    if arms is None:
        arms = _side_by_position(shape, kps, R_ARM, L_ARM)
    if legs is None:
        legs = _side_by_position(shape, kps, R_LEG, L_LEG)
    out = np.where(out == ARM_WEAR, arms, out)
    out = np.where(out == LEG_WEAR, legs, out)
    if (out == SKIN).any():
        skin = _nearest_bone_label(shape, kps, {FACE: HEAD_BONES, **ARM_BONES, **LEG_BONES})
        out = np.where(out == SKIN, FACE if skin is None else skin, out)
    out = P.grow_labels(out, out == COVERED, min_label=0, max_steps=64)  # covered items: the region around
    out[out == COVERED] = BACKGROUND
    return out


def is_ccp_folder(folder: str | Path) -> bool:
    """A raw CCP folder: ``labels.txt``, ``images/`` and ``labels/`` (no keypoints.csv)."""
    folder = Path(folder)
    return (folder / LABELS_FILE).is_file() and (folder / IMAGES).is_dir() and (folder / LABEL_DIR).is_dir()


def check_ccp_folder(folder: str | Path, full: bool = False) -> tuple[int, int, list[str]]:
    """(photos, label maps, problems) of a raw CCP folder: every class mapped, every label map beside a photo of
    the same size; with ``full`` every label map decoded and its ids checked against the class list."""
    folder = Path(folder)
    problems: list[str] = []
    try:
        table = group_table(read_label_names(folder))
    except DataError as exc:
        return 0, 0, [str(exc)]
    photos = {Path(n).stem: n for n in os.listdir(folder / IMAGES)}
    maps = sorted(os.listdir(folder / LABEL_DIR))
    for name in maps:
        path = folder / LABEL_DIR / name
        if Path(name).stem not in photos:
            problems.append(f"{path}: no photo {Path(name).stem}.* in {folder / IMAGES}")
            continue
        with Image.open(path) as lab, Image.open(folder / IMAGES / photos[Path(name).stem]) as img:
            if lab.size != img.size:
                problems.append(f"{path}: size {lab.size} differs from its photo {img.size}")
            elif full and int(np.asarray(lab).max()) >= len(table):
                problems.append(f"{path}: label id {int(np.asarray(lab).max())} >= {len(table)} classes")
    return len(photos), len(maps), problems


def prepare(ccp_root: str | Path, out: str | Path, weights: str | Path, pose: str | Path | None = None) -> Path:
    """Build person folders from CCP under ``out``, each split ``train`` and ``test`` (the held-out photos):

    - ``out/{train,test}``: ``images`` (a link to the photos), ``keypoints.csv`` (our pose estimator's plain
      estimate) and ``parsing/*.png`` (labels mapped with ``map_labels``) for the labelled photos: what the
      parser, the search and the generators train on;
    - ``out/pose/{train,test}``: the same photos and maps with pseudo labels for the pose estimator
      (``ccp_pose.pseudo_keypoints``) and the ``keypoints.pseudo`` marker (a missing joint is unknown).

    ``sps.data.person_folder(out, split=...)`` (or ``out/pose``) finds either split. ``pose``: a pose_estimator
    folder that replaces the pipeline's (a second round of pseudo labels from a newly trained estimator)."""
    from tqdm.auto import tqdm

    from ..pipeline import SPSPipeline
    from .ccp_pose import LabelMasks, pseudo_keypoints
    from .images import load_image, read_label_png
    from .paths import PSEUDO_KEYPOINTS_MARKER

    ccp_root, out = Path(ccp_root), Path(out)
    names = read_label_names(ccp_root)
    table = group_table(names)
    if not (ccp_root / IMAGES).is_dir():
        raise DataError(f"{ccp_root}: no {IMAGES}/ folder")
    pipe = SPSPipeline.from_pretrained(weights)
    if pose is not None:
        from ..models import PoseEstimator

        pipe = pipe.replaced(pose_estimator=PoseEstimator.from_pretrained(pose))
    poses: dict[str, dict[str, np.ndarray]] = {"train": {}, "test": {}}
    pseudo: dict[str, dict[str, np.ndarray]] = {"train": {}, "test": {}}
    for name in tqdm(sorted(os.listdir(ccp_root / IMAGES)), desc="ccp", unit="photo"):
        split = split_of(name)
        (out / split / "parsing").mkdir(parents=True, exist_ok=True)
        photo = load_image(ccp_root / IMAGES / name)
        kps, _ = pipe.analyse(photo)
        poses[split][name] = np.round(kps)
        label_png = ccp_root / LABEL_DIR / (Path(name).stem + ".png")
        labels = np.asarray(read_label_png(label_png)) if label_png.is_file() else None
        masks = LabelMasks.from_labels(labels, names) if labels is not None else None
        pseudo[split][name] = np.round(pseudo_keypoints(lambda im: pipe.analyse(im)[0], photo, masks, first=kps))
        if labels is not None:
            mapped = map_labels(labels, poses[split][name], table)
            Image.fromarray(mapped.astype(np.uint8)).save(out / split / "parsing" / label_png.name)
    for split in ("train", "test"):
        folder, pose_folder = out / split, out / "pose" / split
        pose_folder.mkdir(parents=True, exist_ok=True)
        for link, target in ((folder / IMAGES, (ccp_root / IMAGES).resolve()),
                             (pose_folder / IMAGES, (ccp_root / IMAGES).resolve()),
                             (pose_folder / "parsing", (folder / "parsing").resolve())):
            if not link.exists():
                os.symlink(target, link, target_is_directory=True)
        K.write_keypoints_csv(folder / "keypoints.csv", poses[split])
        K.write_keypoints_csv(pose_folder / "keypoints.csv", pseudo[split])
        (pose_folder / PSEUDO_KEYPOINTS_MARKER).write_text(
            "keypoints.csv holds pseudo labels (sps.data.ccp_pose.pseudo_keypoints): a missing joint is unknown.\n")
        log.info("CCP %s: %d photos, %d parsing maps, %.1f pseudo-labelled joints per photo", split,
                 len(poses[split]), len(list((folder / "parsing").glob("*.png"))),
                 np.mean([K.num_visible(k) for k in pseudo[split].values()]) if pseudo[split] else 0.0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sps.data.ccp", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="build a person folder (keypoints + mapped parsing) from CCP")
    p.add_argument("--ccp", default=None, help="the CCP folder (default: DATA_ROOT/ccp)")
    p.add_argument("--out", default="runs/ccp", help="output person folder (default runs/ccp)")
    p.add_argument("--weights", default="weights", help="pipeline folder whose pose estimator is used")
    p.add_argument("--pose", default=None, help="a pose_estimator folder used instead of the pipeline's")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from .paths import data_root

    folder = prepare(args.ccp or data_root() / "ccp", args.out, args.weights, args.pose)
    print(f"written: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
