"""``PersonDataset``: the images of a person folder with keypoints and optional parsing, on a fixed canvas.

Each item is placed on the model canvas (H, W) with ``sps.canvas.Canvas``: resized keeping its aspect ratio
(images bilinear, label maps nearest neighbour), then centre-padded, images with white and parsing maps with
background; keypoints take the same way. LIP maps are merged to the 10 sps labels after the resize.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TypedDict

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .. import parsing as P
from .. import pose as K
from ..canvas import LABEL_PAD, Canvas
from ..errors import DataError, KeypointError
from .images import image_size, open_rgb, read_label_png
from .labels import detect_label_set, to_sps_labels
from .paths import IMAGE_DIR, KEYPOINTS_FILE, PARSING_DIR, PSEUDO_KEYPOINTS_MARKER


class Sample(TypedDict):
    """One PersonDataset item (DataLoader batches add a leading B dimension)."""
    name: str
    image: torch.Tensor         # (3, H, W) float32 in [-1, 1]
    kps: torch.Tensor           # (18, 2) float32 canvas xy, -1 missing
    known: torch.Tensor         # (18,) bool: the joint's state (seen or absent) is annotated; False for a joint
                                # missing from pseudo labels (``pseudo_keypoints``), whose state is unknown
    parsing: torch.Tensor       # (H, W) int64 sps labels 0..9, all -1 when has_parsing is False
    has_parsing: bool
    heatmaps: torch.Tensor      # (18, H, W) float32 (empty (0, H, W) when heatmaps are disabled)
    orig_size: torch.Tensor     # (2,) int64 (H0, W0) of the stored image
    flipped: bool


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


def keypoints_outside(kps: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether a visible joint of (18, 2) xy lies beyond an (H, W) image's last pixel."""
    vis = K.visible(kps)
    h, w = size
    return bool(((kps[vis, 0] > w - 1) | (kps[vis, 1] > h - 1)).any())


def _flip_decision(seed: int, epoch: int, index: int, prob: float) -> bool:
    return bool(np.random.default_rng([seed, epoch, index, 1]).random() < prob)


class PersonDataset(Dataset):
    """Images of people with keypoints and optional parsing, placed on a fixed canvas.

    Args:
        folder: a person folder (images/, keypoints.csv, optional parsing/).
        canvas: (H, W) of every item.
        flip: random horizontal flips (see ``set_epoch``; ``get(i, flip=True)`` forces one).
        require_parsing: raise DataError if the folder or an image lacks a parsing map.
        label_set: "auto" | "lip" | "sps" (see ``sps.data.labels``).
        heatmaps: include (18, H, W) Gaussian heatmaps in items (training builds them batched instead).
        parsing_dir: label PNGs named ``<stem>.png`` to use instead of ``folder/parsing`` (e.g. the parser's maps
            from ``python -m sps.predict``); with ``label_set="auto"`` they are read as sps labels.
    Images listed in keypoints.csv but missing on disk raise DataError here; images on disk that are not in
    keypoints.csv are skipped. A folder with a ``keypoints.pseudo`` marker (``pseudo_keypoints``) holds pseudo
    labels: its missing joints are unknown rather than absent (items' ``known`` mask).
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
        self.pseudo_keypoints = (self.folder / PSEUDO_KEYPOINTS_MARKER).is_file()
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
        """Change the random flips deterministically per epoch."""
        self.epoch = int(epoch)

    def index_of(self, name: str) -> int:
        """The index of an image name; DataError when it is not in keypoints.csv."""
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
            self._size_cache[i] = image_size(self.image_path(i))
        return self._size_cache[i]

    def place(self, i: int, size: tuple[int, int] | None = None) -> Canvas:
        """Where item i sits on the canvas (its stored size read from the header unless given)."""
        return Canvas.fit(size or self.image_size(i), self.canvas)

    def pose(self, i: int, flip: bool | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
        """Keypoints of item i on the canvas (no image decode), flipped as ``get`` would."""
        flip = self.is_flipped(i) if flip is None else flip
        kps = self.place(i, size).keypoints(self.kps[i])
        return K.flip_keypoints(kps, self.canvas[1]) if flip else kps

    def _label_image(self, i: int, size: tuple[int, int] | None) -> Image.Image:
        """The parsing PNG of item i as read; DataError when its size differs from the image's (H, W) ``size``."""
        path = self.parsing_path(i)
        lab = read_label_png(path)
        if size is not None and lab.size != (size[1], size[0]):
            raise DataError(f"{path}: parsing size {lab.size[1]}x{lab.size[0]} differs from image "
                            f"{self.names[i]} {size[0]}x{size[1]}")
        return lab

    def load_parsing(self, i: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Parsing map of item i at its stored size, as sps labels (H0, W0) int64."""
        lab = self._label_image(i, size)
        return to_sps_labels(np.asarray(lab), self.label_set, str(self.parsing_path(i)))

    def get(self, i: int, flip: bool | None = None) -> Sample:
        """Item i; ``flip`` forces (True/False) or draws (None) the horizontal flip."""
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        flip = self.is_flipped(i) if flip is None else flip
        ch, cw = self.canvas
        pil = open_rgb(self.image_path(i))
        size = (pil.height, pil.width)
        self._size_cache[i] = size
        if keypoints_outside(self.kps[i], size):
            raise KeypointError(f"{self.folder / KEYPOINTS_FILE}: keypoints of {self.names[i]} lie outside "
                                f"its {size[0]}x{size[1]} image")
        cv = self.place(i, size)
        img = cv.image(pil)  # (H, W, 3) uint8, white padding
        kps = cv.keypoints(self.kps[i])  # (18, 2) canvas xy

        has_par = bool(self.has_parsing[i])
        if has_par:
            small = cv.resize_labels(self._label_image(i, size))  # nearest, then merged on the resized grid
            par = cv.pad(to_sps_labels(small, self.label_set, str(self.parsing_path(i))), LABEL_PAD, np.int64)
        else:
            par = np.full((ch, cw), -1, np.int64)

        if flip:
            img = img[:, ::-1]
            kps = K.flip_keypoints(kps, cw)
            if has_par:
                par = P.flip_parsing(par)
        # numpy only from here: torch's intra-op threads stall badly in a loader on a busy machine
        image = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 127.5) - np.float32(1))
        hm = heatmaps_np(kps, self.canvas) if self.with_heatmaps else np.zeros((0, ch, cw), np.float32)
        return {
            "name": self.names[i],
            "image": image,  # (3, H, W)
            "kps": torch.from_numpy(np.ascontiguousarray(kps, np.float32)),  # (18, 2)
            "known": torch.from_numpy(K.visible(kps) if self.pseudo_keypoints else np.ones(K.NUM_KEYPOINTS, bool)),
            "parsing": torch.from_numpy(np.ascontiguousarray(par)),  # (H, W)
            "has_parsing": has_par,
            "heatmaps": torch.from_numpy(hm),  # (18, H, W)
            "orig_size": torch.tensor(size, dtype=torch.int64),
            "flipped": bool(flip),
        }

    def __getitem__(self, i: int) -> Sample:
        return self.get(i)
