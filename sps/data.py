"""Data layer: the shared data root, image loading, person datasets and a folder checker.

A *person folder* holds ``images/*.jpg``, ``keypoints.csv`` (``name: [y ...]: [x ...]``, see sps.pose), optionally
``parsing/<stem>.png`` (one label id per pixel) and ``pairs.csv`` (``from,to``). Every item is placed on a fixed
model canvas (H, W) by ``sps.pose.fit_canvas``: resized keeping its aspect ratio, then centre-padded.

Canvas padding: images are padded with **white** (255; VITON and DeepFashion backgrounds are white-ish, so the
seam is invisible), parsing maps with background (0), and keypoints are moved with ``keypoints_to_canvas``.

Parsing label sets: ``"lip"`` (LIP-20, VITON) is merged to the paper's 10 labels with ``sps.parsing.merge_lip``;
``"sps"`` maps already hold the 10 labels. ``"auto"`` picks ``"lip"`` when the folder or its parent is named
like ``viton`` or ``lip`` (as words: ``viton/train``, ``lip_val``), and ``"sps"`` otherwise.

CLI: ``python -m sps.data check ROOT [--full]`` validates every person folder under ROOT.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import ConcatDataset, Dataset

from . import parsing as P
from . import pose as K
from .errors import DataError, ImageReadError, KeypointError, ParsingError, SPSError

log = logging.getLogger(__name__)

ENV_VAR = "SPS_DATA"
IMAGE_DIR, PARSING_DIR, KEYPOINTS_FILE, PAIRS_FILE = "images", "parsing", "keypoints.csv", "pairs.csv"
IMAGE_PAD = 255  # white
PARSING_PAD = 0  # background
LABEL_SETS = ("auto", "lip", "sps")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_LIP_NAME = re.compile(r"(^|[^a-z])(viton|lip)([^a-z]|$)")  # "viton", "lip_val", not "flip"


# ----------------------------------------------------------------------------------------------
# Data root and images
# ----------------------------------------------------------------------------------------------

def data_root(check: bool = True) -> Path:
    """The shared data folder: ``$SPS_DATA`` if set, else ``<repo>/../shared/data``.

    Raises DataError naming the path and the environment variable when it does not exist.
    """
    env = os.environ.get(ENV_VAR)
    path = Path(env).expanduser() if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    path = path.resolve()
    if check and not path.is_dir():
        how = f"${ENV_VAR}={env}" if env else f"the default (set ${ENV_VAR} to change it)"
        raise DataError(f"data folder not found: {path} (from {how})")
    return path


def load_image(image: str | Path | bytes | Image.Image | np.ndarray | torch.Tensor, exif: bool = True) -> np.ndarray:
    """Any image (path, encoded bytes, PIL, array) -> (H, W, 3) uint8 RGB array.

    Arrays may be (H, W) grey, (H, W, 3/4), uint8 or float in [0, 1]. EXIF orientation is applied to files
    and PIL images when ``exif``. Raises ImageReadError for missing or undecodable files and bad arrays.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise ImageReadError(f"image array: expected (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
        if arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
        arr = arr[..., :3]
        if arr.dtype != np.uint8:
            if not np.isfinite(arr).all():
                raise ImageReadError("image array contains NaN or infinity")
            arr = arr.astype(np.float32)
            if arr.max(initial=0) <= 1.0:
                arr = arr * 255.0
            arr = np.clip(arr.round(), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(arr)
    if isinstance(image, Image.Image):
        pil = ImageOps.exif_transpose(image) if exif else image
        return np.asarray(pil.convert("RGB"))
    where = "image bytes" if isinstance(image, (bytes, bytearray)) else str(image)
    try:
        src = io.BytesIO(image) if isinstance(image, (bytes, bytearray)) else image
        with Image.open(src) as pil:
            pil = ImageOps.exif_transpose(pil) if exif else pil
            return np.asarray(pil.convert("RGB"))
    except FileNotFoundError:
        raise ImageReadError(f"{where}: image file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{where}: cannot read image ({exc.__class__.__name__}: {exc})") from None


def _open_rgb(path: Path) -> Image.Image:
    """Fast dataset path: decode a file to an RGB PIL image (no EXIF handling)."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise ImageReadError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{path}: cannot read image ({exc.__class__.__name__}: {exc})") from None


def _read_label_png(path: Path) -> Image.Image:
    """Open a parsing PNG as an 8-bit label image (palette index or grey value = label id)."""
    try:
        with Image.open(path) as im:
            im.load()
    except FileNotFoundError:
        raise DataError(f"{path}: parsing file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{path}: cannot read parsing map ({exc.__class__.__name__}: {exc})") from None
    if im.mode in ("P", "L"):
        return im
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ParsingError(f"{path}: labels {int(arr.min())}..{int(arr.max())} out of range")
        return Image.fromarray(arr.astype(np.uint8), "L")
    raise ParsingError(f"{path}: parsing PNG must hold one label id per pixel (mode P or L), got mode {im.mode}; "
                       f"colour-coded maps can be converted with sps.parsing.nearest_label")


def detect_label_set(folder: str | Path, label_set: str = "auto") -> str:
    """Resolve ``"auto"`` to ``"lip"`` (a path part named like viton/lip) or ``"sps"``."""
    if label_set not in LABEL_SETS:
        raise DataError(f"label_set must be one of {LABEL_SETS}, got {label_set!r}")
    if label_set != "auto":
        return label_set
    parts = [p.lower() for p in Path(folder).resolve().parts[-2:]]  # the folder and its parent (viton/train)
    return "lip" if any(_LIP_NAME.search(p) for p in parts) else "sps"


# ----------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------

class Sample(TypedDict):
    """One PersonDataset item (DataLoader batches add a leading B dimension)."""
    name: str
    image: torch.Tensor         # (3, H, W) float32 in [-1, 1]
    kps: torch.Tensor           # (18, 2) float32 canvas xy, -1 missing
    parsing: torch.Tensor       # (H, W) int64 sps labels 0..9, all -1 when has_parsing is False
    has_parsing: bool
    heatmaps: torch.Tensor      # (18, H, W) float32 (empty (0, H, W) when heatmaps are disabled)
    orig_size: torch.Tensor     # (2,) int64 (H0, W0) of the stored image
    flipped: bool


@dataclass
class DataConfig:
    """How to build training data.

    Attributes:
        root: data root (None: data_root()).
        canvas: model canvas (H, W).
        flip: random horizontal flips (probability flip_prob, deterministic per seed/epoch/index).
        datasets: folders under root (``viton`` means ``viton/<split>``) mixed by person_datasets.
        require_parsing: raise DataError when an image has no parsing map.
        label_set: parsing label set, "auto" | "lip" | "sps".
        heatmaps: compute (18, H, W) pose heatmaps in the loader (turn off to build them batched on device).
    """
    root: str | None = None
    canvas: tuple[int, int] = (128, 96)
    flip: bool = False
    flip_prob: float = 0.5
    datasets: tuple[str, ...] = ("viton",)
    split: str = "train"
    require_parsing: bool = False
    label_set: str = "auto"
    heatmaps: bool = True
    seed: int = 0

    def build(self) -> Dataset:
        """The (possibly concatenated) PersonDataset this config describes."""
        return person_datasets(self.datasets, root=self.root, split=self.split, canvas=self.canvas, flip=self.flip,
                               flip_prob=self.flip_prob, require_parsing=self.require_parsing,
                               label_set=self.label_set, heatmaps=self.heatmaps, seed=self.seed)


def heatmaps_np(kps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(18, H, W) float32 Gaussian heatmaps, numerically the same as sps.pose.heatmaps but single-threaded
    numpy (no torch thread pool inside data loaders)."""
    h, w = size
    sigma = K.heatmap_sigma(h)
    kps = np.asarray(kps, np.float32)
    gx = np.exp(-((np.arange(w, dtype=np.float32)[None] - kps[:, :1]) ** 2) / np.float32(2 * sigma**2))  # (18, W)
    gy = np.exp(-((np.arange(h, dtype=np.float32)[None] - kps[:, 1:]) ** 2) / np.float32(2 * sigma**2))  # (18, H)
    gy *= K.visible(kps)[:, None]
    return gy[:, :, None] * gx[:, None, :]  # (18, H, W)


def _flip_decision(seed: int, epoch: int, index: int, prob: float) -> bool:
    return bool(np.random.default_rng([seed, epoch, index, 1]).random() < prob)


class PersonDataset(Dataset):
    """Images of people with keypoints and optional parsing, placed on a fixed canvas.

    Args:
        folder: a person folder (images/, keypoints.csv, optional parsing/).
        canvas: (H, W) of every item.
        flip: random horizontal flips (see ``set_epoch``; ``get(i, flip=True)`` forces one).
        require_parsing: raise DataError if the folder or an image lacks a parsing map.
        label_set: "auto" | "lip" | "sps" (see module docstring).
        heatmaps: include (18, H, W) Gaussian heatmaps in items.
        parsing_dir: label PNGs named ``<stem>.png`` to use instead of ``folder/parsing`` (e.g. the parser's maps
            from ``python -m sps.predict``); with ``label_set="auto"`` they are read as sps labels.
    Images listed in keypoints.csv but missing on disk raise DataError here; images on disk that are not in
    keypoints.csv are skipped.
    """

    def __init__(self, folder: str | Path, canvas: tuple[int, int] = (128, 96), flip: bool = False,
                 require_parsing: bool = False, label_set: str = "auto", heatmaps: bool = True,
                 flip_prob: float = 0.5, seed: int = 0, parsing_dir: str | Path | None = None):
        self.folder = Path(folder)
        self.canvas = (int(canvas[0]), int(canvas[1]))
        self.flip, self.flip_prob, self.seed, self.epoch = flip, flip_prob, seed, 0
        self.with_heatmaps = heatmaps
        if not self.folder.is_dir():
            raise DataError(f"data folder not found: {self.folder}")
        img_dir, kp_file = self.folder / IMAGE_DIR, self.folder / KEYPOINTS_FILE
        if not img_dir.is_dir():
            raise DataError(f"{self.folder}: no {IMAGE_DIR}/ folder")
        if not kp_file.is_file():
            raise DataError(f"{self.folder}: no {KEYPOINTS_FILE}")
        poses = K.read_keypoints_csv(kp_file)
        on_disk = set(os.listdir(img_dir))
        missing = [n for n in poses if n not in on_disk]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DataError(f"{img_dir / missing[0]}: image listed in {kp_file} not found{more}")
        self.names: list[str] = list(poses)
        self.kps = np.stack([poses[n] for n in self.names]) if poses else np.zeros((0, 18, 2), np.float32)
        if parsing_dir is not None and not Path(parsing_dir).is_dir():
            raise DataError(f"parsing folder not found: {parsing_dir}")
        self.parsing_dir = par_dir = Path(parsing_dir) if parsing_dir is not None else self.folder / PARSING_DIR
        par_files = set(os.listdir(par_dir)) if par_dir.is_dir() else set()
        self.has_parsing = np.array([Path(n).stem + ".png" in par_files for n in self.names], bool)
        if require_parsing and not self.has_parsing.all():
            first = self.names[int(np.flatnonzero(~self.has_parsing)[0])]
            raise DataError(f"{par_dir / (Path(first).stem + '.png')}: parsing map required but not found "
                            f"({int((~self.has_parsing).sum())} of {len(self.names)} images lack one)")
        own_maps = parsing_dir is None or label_set != "auto"
        self.label_set = detect_label_set(self.folder, label_set) if own_maps else "sps"
        self._index = {n: i for i, n in enumerate(self.names)}
        self._size_cache: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return (f"PersonDataset({str(self.folder)!r}, n={len(self)}, canvas={self.canvas}, flip={self.flip}, "
                f"parsing={int(self.has_parsing.sum())}/{len(self)} {self.label_set})")

    def set_epoch(self, epoch: int) -> None:
        """Change the random flips (and targets of wrappers) deterministically per epoch."""
        self.epoch = int(epoch)

    def index_of(self, name: str) -> int:
        if name not in self._index:
            raise DataError(f"{self.folder / KEYPOINTS_FILE}: no image named {name!r}")
        return self._index[name]

    def image_path(self, i: int) -> Path:
        return self.folder / IMAGE_DIR / self.names[i]

    def parsing_path(self, i: int) -> Path:
        return self.parsing_dir / (Path(self.names[i]).stem + ".png")

    def is_flipped(self, i: int) -> bool:
        """Whether item i is flipped in the current epoch."""
        return self.flip and _flip_decision(self.seed, self.epoch, i, self.flip_prob)

    def image_size(self, i: int) -> tuple[int, int]:
        """(H, W) of the stored image (header read, cached)."""
        if i not in self._size_cache:
            try:
                with Image.open(self.image_path(i)) as im:
                    w, h = im.size
            except (OSError, UnidentifiedImageError) as exc:
                raise ImageReadError(f"{self.image_path(i)}: cannot read image ({exc})") from None
            self._size_cache[i] = (h, w)
        return self._size_cache[i]

    def pose(self, i: int, flip: bool | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
        """Keypoints of item i on the canvas (no image decode), flipped as ``get`` would."""
        flip = self.is_flipped(i) if flip is None else flip
        kps = K.keypoints_to_canvas(self.kps[i], size or self.image_size(i), self.canvas)
        return K.flip_keypoints(kps, self.canvas[1]) if flip else kps

    def _check_kps(self, i: int, size: tuple[int, int]) -> None:
        kps = self.kps[i]
        vis = K.visible(kps)
        h, w = size
        if ((kps[vis, 0] > w - 1) | (kps[vis, 1] > h - 1)).any():
            raise KeypointError(f"{self.folder / KEYPOINTS_FILE}: keypoints of {self.names[i]} lie outside "
                                f"its {h}x{w} image")

    def load_parsing(self, i: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Parsing map of item i at its stored size, as sps labels (H0, W0) int64."""
        path = self.parsing_path(i)
        lab = _read_label_png(path)
        if size is not None and lab.size != (size[1], size[0]):
            raise DataError(f"{path}: parsing size {lab.size[1]}x{lab.size[0]} differs from image "
                            f"{self.image_path(i).name} {size[0]}x{size[1]}")
        arr = np.asarray(lab)
        if self.label_set == "lip":
            return P.merge_lip(arr, where=str(path))
        return P.validate_labels(arr, where=str(path))

    def get(self, i: int, flip: bool | None = None) -> Sample:
        """Item i; ``flip`` forces (True/False) or draws (None) the horizontal flip."""
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        flip = self.is_flipped(i) if flip is None else flip
        ch, cw = self.canvas
        pil = _open_rgb(self.image_path(i))
        size = (pil.height, pil.width)
        self._size_cache[i] = size
        self._check_kps(i, size)
        _, (rh, rw), (top, left) = K.fit_canvas(size, self.canvas)
        if (rh, rw) != size:
            pil = pil.resize((rw, rh), Image.BILINEAR)  # PIL antialiases when downsampling
        img = np.full((ch, cw, 3), IMAGE_PAD, np.uint8)
        img[top:top + rh, left:left + rw] = np.asarray(pil)
        kps = K.pad_keypoints(K.resize_keypoints(self.kps[i], size, (rh, rw)), top, left)

        has_par = bool(self.has_parsing[i])
        if has_par:
            lab = _read_label_png(self.parsing_path(i))
            if lab.size != (size[1], size[0]):
                raise DataError(f"{self.parsing_path(i)}: parsing size {lab.size[1]}x{lab.size[0]} differs from "
                                f"image {self.names[i]} {size[0]}x{size[1]}")
            if (rh, rw) != size:
                lab = lab.resize((rw, rh), Image.NEAREST)
            arr = np.asarray(lab)
            where = str(self.parsing_path(i))
            arr = P.merge_lip(arr, where=where) if self.label_set == "lip" else P.validate_labels(arr, where=where)
            par = np.full((ch, cw), PARSING_PAD, np.int64)
            par[top:top + rh, left:left + rw] = arr
        else:
            par = np.full((ch, cw), -1, np.int64)

        if flip:
            img = img[:, ::-1]
            kps = K.flip_keypoints(kps, cw)
            if has_par:
                par = P.flip_parsing(par)
        # numpy only from here: torch's intra-op threads stall badly in a loader on a busy machine
        image = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 127.5) - np.float32(1))
        kps_t = torch.from_numpy(np.ascontiguousarray(kps, np.float32))
        hm = torch.from_numpy(heatmaps_np(kps, self.canvas) if self.with_heatmaps else np.zeros((0, ch, cw), np.float32))
        return {
            "name": self.names[i],
            "image": image,  # (3, H, W)
            "kps": kps_t,  # (18, 2)
            "parsing": torch.from_numpy(np.ascontiguousarray(par)),  # (H, W)
            "has_parsing": has_par,
            "heatmaps": hm,  # (18, H, W)
            "orig_size": torch.tensor(size, dtype=torch.int64),
            "flipped": bool(flip),
        }

    def __getitem__(self, i: int) -> Sample:
        return self.get(i)


def _locate(ds: Dataset, i: int) -> tuple[PersonDataset, int, range]:
    """For a PersonDataset or a ConcatDataset of them: (component, local index, global index range of it)."""
    if isinstance(ds, PersonDataset):
        return ds, i, range(len(ds))
    if isinstance(ds, ConcatDataset):
        if i < 0:
            i += len(ds)
        start = 0
        for sub, end in zip(ds.datasets, ds.cumulative_sizes):
            if i < end:
                comp, local, _ = _locate(sub, i - start)
                return comp, local, range(start, end)
            start = end
        raise IndexError(i)
    raise TypeError(f"expected a PersonDataset or ConcatDataset of them, got {type(ds).__name__}")


def _components(ds: Dataset) -> list[PersonDataset]:
    if isinstance(ds, PersonDataset):
        return [ds]
    if isinstance(ds, ConcatDataset):
        return [c for sub in ds.datasets for c in _components(sub)]
    raise TypeError(f"expected a PersonDataset or ConcatDataset of them, got {type(ds).__name__}")


class UnpairedDataset(Dataset):
    """A person dataset whose items also carry a target pose taken from another random image.

    The target is drawn deterministically from (seed, epoch, index), from the same folder when ``base`` is a
    ConcatDataset (``same_folder``), and is never the item itself. Adds "tgt_name", "tgt_kps" (18, 2) and
    "tgt_heatmaps" (18, H, W); only the target's keypoints are read (no image decode).
    """

    def __init__(self, base: Dataset, seed: int = 0, same_folder: bool = True):
        if len(base) < 2:
            raise DataError(f"UnpairedDataset needs at least 2 images, got {len(base)}")
        self.base, self.seed, self.same_folder, self.epoch = base, seed, same_folder, 0
        _components(base)  # type check

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        for comp in _components(self.base):
            comp.set_epoch(epoch)

    def target_index(self, i: int) -> int:
        """Global index of item i's target image in this epoch."""
        _, _, rng_range = _locate(self.base, i)
        if not self.same_folder or len(rng_range) < 2:
            rng_range = range(len(self.base))
        n = len(rng_range)
        j = int(np.random.default_rng([self.seed, self.epoch, i, 2]).integers(n - 1))
        j = rng_range.start + j
        return j + 1 if j >= i else j

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.base[i])
        j = self.target_index(i)
        comp, local, _ = _locate(self.base, j)
        src_comp, _, _ = _locate(self.base, i)
        kps = comp.pose(local)
        if comp.canvas != src_comp.canvas:
            raise DataError(f"canvas mismatch: {comp.folder} {comp.canvas} vs {src_comp.folder} {src_comp.canvas}")
        kps_t = torch.from_numpy(np.ascontiguousarray(kps, np.float32))
        item["tgt_name"] = comp.names[local]
        item["tgt_kps"] = kps_t
        item["tgt_heatmaps"] = torch.from_numpy(heatmaps_np(kps, comp.canvas) if comp.with_heatmaps
                                                else np.zeros((0, *comp.canvas), np.float32))
        return item


def read_pairs(path: str | Path, names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Read ``from,to`` rows; errors (wrong column count, unknown image) name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"pairs file not found: {path}")
    known = set(names) if names is not None else None
    pairs = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or (lineno == 1 and line.replace(" ", "").lower() == "from,to"):
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) != 2 or not all(cols):
            raise DataError(f"{path}:{lineno}: expected 'from,to', got {line.strip()[:80]!r}")
        if known is not None:
            for c in cols:
                if c not in known:
                    raise DataError(f"{path}:{lineno}: image {c!r} is not in {KEYPOINTS_FILE}")
        pairs.append((cols[0], cols[1]))
    return pairs


class PairedDataset(Dataset):
    """Pairs of the same person in two poses (``pairs.csv`` or an explicit list of (from, to) names).

    Items hold every PersonDataset field twice, prefixed ``src_`` and ``tgt_``. With ``flip`` both images of a
    pair are flipped together.
    """

    def __init__(self, folder: str | Path, canvas: tuple[int, int] = (128, 96), flip: bool = False,
                 pairs: Sequence[tuple[str, str]] | None = None, seed: int = 0, **kwargs):
        self.base = PersonDataset(folder, canvas, flip=False, seed=seed, **kwargs)
        self.flip, self.seed, self.epoch = flip, seed, 0
        if pairs is None:
            pairs = read_pairs(self.base.folder / PAIRS_FILE, self.base.names)
        else:
            for a, b in pairs:
                self.base.index_of(a), self.base.index_of(b)
        self.pairs = [(str(a), str(b)) for a, b in pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, i: int) -> dict[str, Any]:
        a, b = self.pairs[i]
        flip = self.flip and _flip_decision(self.seed, self.epoch, i, 0.5)
        src = self.base.get(self.base.index_of(a), flip=flip)
        tgt = self.base.get(self.base.index_of(b), flip=flip)
        return {**{f"src_{k}": v for k, v in src.items()}, **{f"tgt_{k}": v for k, v in tgt.items()}}


def person_folder(name: str | Path, root: str | Path | None = None, split: str = "train") -> Path:
    """A dataset name -> person folder: ``root/name`` if it holds keypoints.csv, else ``root/name/split``."""
    p = Path(name)
    if not p.is_absolute():
        p = Path(root).resolve() / p if root is not None else data_root() / p
    for cand in (p, p / split):
        if (cand / KEYPOINTS_FILE).is_file():
            return cand
    raise DataError(f"no person folder at {p} or {p / split} (a folder with {KEYPOINTS_FILE})")


def person_datasets(names: str | Sequence[str] = ("viton",), root: str | Path | None = None, split: str = "train",
                    canvas: tuple[int, int] = (128, 96), **kwargs) -> Dataset:
    """Mix several person folders on one canvas, e.g. ``person_datasets(["viton", "deepfashion", "market"])``.

    ``viton`` resolves to ``viton/<split>``; folders without splits (deepfashion, market) are used whole.
    Returns a PersonDataset for one name, else a ConcatDataset (UnpairedDataset accepts both).
    """
    names = [names] if isinstance(names, (str, Path)) else list(names)
    if not names:
        raise DataError("person_datasets: no dataset names given")
    parts = [PersonDataset(person_folder(n, root, split), canvas, **kwargs) for n in names]
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


# ----------------------------------------------------------------------------------------------
# Checking folders
# ----------------------------------------------------------------------------------------------

@dataclass
class FolderReport:
    folder: Path
    images: int = 0
    rows: int = 0
    parsing: int = 0
    pairs: int = 0
    unlisted: int = 0
    label_set: str = ""
    problems: list[str] | None = None


def _check(folder: Path, full: bool, label_set: str = "auto") -> FolderReport:
    rep = FolderReport(folder, problems=[])
    probs = rep.problems
    assert probs is not None
    if not folder.is_dir():
        probs.append(f"{folder}: data folder not found")
        return rep
    img_dir, kp_file, par_dir = folder / IMAGE_DIR, folder / KEYPOINTS_FILE, folder / PARSING_DIR
    on_disk = set(os.listdir(img_dir)) if img_dir.is_dir() else set()
    if not img_dir.is_dir():
        probs.append(f"{folder}: no {IMAGE_DIR}/ folder")
    rep.images = sum(1 for n in on_disk if n.lower().endswith(IMAGE_EXTS))
    poses: dict[str, np.ndarray] = {}
    if not kp_file.is_file():
        probs.append(f"{folder}: no {KEYPOINTS_FILE}")
    else:
        with kp_file.open() as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip() or (lineno == 1 and line.startswith("name:")):
                    continue
                rep.rows += 1
                try:
                    name, kps = K.parse_keypoint_line(line, where=f"{kp_file}:{lineno}")
                except KeypointError as exc:
                    probs.append(str(exc))
                    continue
                if name in poses:
                    probs.append(f"{kp_file}:{lineno}: duplicate row for {name}")
                poses[name] = kps
    rep.unlisted = sum(1 for n in on_disk if n.lower().endswith(IMAGE_EXTS) and n not in poses)
    par_files = set(os.listdir(par_dir)) if par_dir.is_dir() else set()
    rep.label_set = detect_label_set(folder, label_set)
    n_labels = len(P.LIP_LABELS) if rep.label_set == "lip" else P.NUM_LABELS
    for name, kps in poses.items():
        path = img_dir / name
        if name not in on_disk:
            probs.append(f"{path}: image listed in {kp_file} not found")
            continue
        try:
            with Image.open(path) as im:
                w, h = im.size
                if full:
                    im.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            probs.append(f"{path}: cannot read image ({exc.__class__.__name__}: {exc})")
            continue
        vis = K.visible(kps)
        if ((kps[vis, 0] > w - 1) | (kps[vis, 1] > h - 1)).any():
            probs.append(f"{kp_file}: keypoints of {name} lie outside its {h}x{w} image")
        pname = Path(name).stem + ".png"
        if pname not in par_files:
            continue
        rep.parsing += 1
        ppath = par_dir / pname
        try:
            if full:
                lab = _read_label_png(ppath)
                arr = np.asarray(lab)
                P.validate_labels(arr, n_labels, where=f"{ppath} ({rep.label_set} labels)")
                psize = lab.size
            else:
                with Image.open(ppath) as im:
                    psize = im.size
        except (SPSError, OSError, UnidentifiedImageError) as exc:
            probs.append(str(exc) if isinstance(exc, SPSError) else f"{ppath}: cannot read parsing map ({exc})")
            continue
        if psize != (w, h):
            probs.append(f"{ppath}: parsing size {psize[1]}x{psize[0]} differs from image {name} {h}x{w}")
    if par_dir.is_dir():
        orphans = sorted(par_files - {Path(n).stem + ".png" for n in poses})
        if orphans:
            log.info("%s: %d parsing maps without a keypoint row", par_dir, len(orphans))
    pairs_file = folder / PAIRS_FILE
    if pairs_file.is_file():
        for lineno, line in enumerate(pairs_file.read_text().splitlines(), start=1):
            if not line.strip() or (lineno == 1 and line.replace(" ", "").lower() == "from,to"):
                continue
            cols = [c.strip() for c in line.split(",")]
            if len(cols) != 2 or not all(cols):
                probs.append(f"{pairs_file}:{lineno}: expected 'from,to', got {line.strip()[:80]!r}")
                continue
            rep.pairs += 1
            for c in cols:
                if c not in poses:
                    probs.append(f"{pairs_file}:{lineno}: image {c!r} is not in {KEYPOINTS_FILE}")
    return rep


def check_person_folder(folder: str | Path, full: bool = False, label_set: str = "auto") -> list[str]:
    """Every problem of a person folder (empty list: fine). Does not stop at the first problem.

    Fast mode reads image/parsing headers only (sizes) and validates the CSVs; ``full`` also decodes every
    image and parsing map and checks the label range.
    """
    return list(_check(Path(folder), full, label_set).problems or [])


def find_person_folders(root: str | Path) -> list[Path]:
    """Every folder under root (root included) that holds a keypoints.csv, sorted."""
    root = Path(root)
    return sorted(Path(d) for d, _, files in os.walk(root) if KEYPOINTS_FILE in files)


def main(argv: list[str] | None = None) -> int:
    """``python -m sps.data check ROOT [--full]``: print a summary and every problem; exit 1 on any problem."""
    ap = argparse.ArgumentParser(prog="python -m sps.data", description=__doc__.split("\n")[0])
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
    if not folders:
        print(f"error: no folder with {KEYPOINTS_FILE} under {root}", file=sys.stderr)
        return 1
    reports = [_check(f, args.full, args.label_set) for f in folders]
    mode = "full" if args.full else "fast (headers + CSV; --full decodes everything)"
    print(f"checked {len(folders)} folders under {root} [{mode}]\n")
    print("| folder | images | keypoint rows | parsing | labels | pairs | unlisted | problems |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for r in reports:
        rel = r.folder.relative_to(root) if r.folder != root else Path(".")
        print(f"| {rel} | {r.images} | {r.rows} | {r.parsing} | {r.label_set if r.parsing else '-'} | {r.pairs} | "
              f"{r.unlisted} | {len(r.problems or [])} |")
    total = sum(len(r.problems or []) for r in reports)
    for r in reports:
        for p in r.problems or []:
            print(f"PROBLEM {p}")
    print(f"\n{total} problem(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
