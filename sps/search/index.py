"""Low-resolution search index: every image's parsing map, pose, part masks and descriptors in memory.

One pass over a data folder (``images/``-style folder with ``keypoints.csv`` and ``parsing/*.png``)
loads each parsing map, merges it to the 10 sps labels, resizes it with nearest neighbour onto the
low-resolution search canvas (``sps.canvas.Canvas``: aspect kept, centre-padded with background)
and maps the keypoints onto the same canvas. The result can be cached on disk as ``.npz``
(default ``~/.cache/sps/search``, outside the repository) so reruns start in seconds.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from ..canvas import LABEL_PAD, Canvas
from ..data import find_person_folders, read_label_png
from ..errors import DataError
from ..parsing import FLIP_LABELS, LABELS, NUM_LABELS, merge_lip
from ..parts import MIRROR_PART, NUM_PARTS, PART_KEYPOINTS, part_masks_torch
from ..pose import read_keypoints_csv
from ..splits import identity
from .variants import flip_keypoints_batch, variant_grid

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path(os.environ.get("SPS_CACHE", Path.home() / ".cache" / "sps")) / "search"
CACHE_VERSION = 1

# Bones of the pose descriptor (COCO-18 pairs): the 8 limbs, the shoulder line, neck -> nose.
# Neck -> mid-hip is added separately (it needs the mean of two hips).
_BONES: tuple[tuple[int, int], ...] = tuple(PART_KEYPOINTS[p][:2] for p in range(2, 10)) + ((2, 5), (1, 0))
NUM_BONES = len(_BONES) + 1


def person_id(name: str) -> str:
    """Identity key used to exclude the same person: DeepFashion ``...idXXXXXXXX_...`` -> ``idXXXXXXXX``;
    Market ``0001_c3s1_000551_03.jpg`` -> ``0001`` (``sps.splits.identity``); VITON ``000003_0.jpg`` -> ``000003``;
    otherwise the name without extension."""
    m = re.search(r"(id\d{8})", name)
    if m:
        return m.group(1)
    stem = Path(name).stem
    if identity(name) != stem:  # a pattern sps.splits knows (Market)
        return identity(name)
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def _load_raw(args: tuple[str, tuple[int, int]]) -> tuple[np.ndarray, tuple[int, int]]:
    """Worker: one label PNG -> (h, w) uint8 raw label ids on the search canvas (nearest, background padding),
    and the map's own (H0, W0)."""
    path, canvas = args
    lab = read_label_png(Path(path))
    cv = Canvas.fit((lab.height, lab.width), canvas)
    return cv.pad(cv.resize_labels(lab), LABEL_PAD, np.uint8), cv.photo


@dataclass
class PartMaps:
    """Per-image part tensors the scoring reads, for N images on an (h, w) canvas (the index's own, or the
    flipped / rescaled candidate variants built during a search).

    ``labels_t`` (N, h, w) uint8, ``kps_t`` (N, 18, 2), ``masks`` (N, 10, h, w) bool part masks, ``coded``
    (N, 10, h, w) uint8 = label + 1 inside each part mask (else 0), ``area`` (N, 10) int32 mask areas,
    ``part_vis`` (N, 10) bool, ``shape`` (N, 10 * 10) per-part label fractions (prefilter; None for variants).
    """

    labels_t: torch.Tensor
    kps_t: torch.Tensor
    masks: torch.Tensor
    coded: torch.Tensor
    area: torch.Tensor
    part_vis: torch.Tensor
    shape: torch.Tensor | None = None

    @classmethod
    def build(cls, labels_t: torch.Tensor, kps_t: torch.Tensor, size: tuple[int, int], chunk: int = 512) -> PartMaps:
        """Part masks drawn from each pose, and the label codes / fractions inside them."""
        n, (h, w) = len(labels_t), size
        masks = torch.zeros(n, NUM_PARTS, h, w, dtype=torch.bool)
        shape = torch.zeros(n, NUM_PARTS * NUM_LABELS)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            m = part_masks_torch(kps_t[a:b], (h, w)) > 0.5  # (B, 10, h, w)
            masks[a:b] = m
            oh = torch.nn.functional.one_hot(labels_t[a:b].long(), NUM_LABELS).float()  # (B, h, w, L)
            cnt = torch.einsum("bphw,bhwl->bpl", m.float(), oh)  # (B, 10, L)
            shape[a:b] = (cnt / cnt.sum(-1, keepdim=True).clamp(min=1)).reshape(b - a, -1)
        coded = (labels_t[:, None] + 1) * masks  # (N, 10, h, w) uint8
        area = masks.flatten(2).sum(-1, dtype=torch.int32)  # (N, 10)
        return cls(labels_t, kps_t, masks, coded, area, masks.flatten(2).any(-1), shape)


def touches_border(labels: torch.Tensor) -> torch.Tensor:
    """(P, h, w) labels -> (P,) bool: some person pixel lies on the canvas border (the person is cut there)."""
    fg = labels > 0
    return fg[:, 0].any(1) | fg[:, -1].any(1) | fg[:, :, 0].any(1) | fg[:, :, -1].any(1)


_MIRROR = torch.tensor(MIRROR_PART)


def moved_maps(maps: PartMaps | SearchIndex, pos: torch.Tensor, flip: np.ndarray, scale: np.ndarray,
               size: tuple[int, int]) -> PartMaps:
    """The part maps of (P,) positions of ``maps`` flipped and rescaled (``sps.search.variants``): labels and part
    masks moved by the same sampling grid (mirrored parts swap sides), keypoints moved with them."""
    g = variant_grid(maps.kps_t[pos].numpy(), flip, scale, size)
    labels = torch.from_numpy(g.labels(maps.labels_t[pos].numpy()))  # (P, h, w)
    m = torch.from_numpy(g.resample(maps.masks[pos].permute(0, 2, 3, 1).numpy(), False)).permute(0, 3, 1, 2)
    m = torch.where(torch.from_numpy(np.asarray(flip, bool))[:, None, None, None], m[:, _MIRROR], m).contiguous()
    coded = (labels[:, None] + 1) * m  # (P, 10, h, w)
    return PartMaps(labels, torch.from_numpy(g.kps), m, coded, m.flatten(2).sum(-1, dtype=torch.int32),
                    m.flatten(2).any(-1))


@dataclass
class SearchIndex:
    """Everything the search needs, for N images on one (h, w) canvas.

    Attributes:
        names: N image names (as in keypoints.csv).
        labels: (N, h, w) uint8 sps label ids.
        kps: (N, 18, 2) float32 canvas xy, -1 missing.
        dataset: name of the folder (written to the CSV when several folders are searched).
        persons: N identity keys (default ``person_id`` of each name).
        origins: N folder names, one per image (default ``dataset``); an index of several folders
            (``concat_indexes``) keeps them apart.
    Derived on construction (``PartMaps``): ``masks``, ``part_vis``, ``coded``, ``area``, ``shape`` (a
    pose-independent clothing-shape descriptor), and ``bones`` (N, NUM_BONES, 2) unit bone directions with
    ``bone_vis`` (N, NUM_BONES).
    """

    names: list[str]
    labels: np.ndarray
    kps: np.ndarray
    dataset: str = ""
    persons: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.labels.shape[0] != n or self.kps.shape != (n, 18, 2):
            raise DataError(f"index sizes disagree: {n} names, labels {self.labels.shape}, kps {self.kps.shape}")
        if not self.persons:
            self.persons = [person_id(x) for x in self.names]
        if not self.origins:
            self.origins = [self.dataset] * n
        self.size = tuple(self.labels.shape[1:])
        self.labels_t = torch.from_numpy(np.ascontiguousarray(self.labels))
        self.kps_t = torch.from_numpy(np.ascontiguousarray(self.kps, dtype=np.float32))
        self._derive()

    def __len__(self) -> int:
        return len(self.names)

    def _derive(self) -> None:
        n = len(self)
        maps = PartMaps.build(self.labels_t, self.kps_t, self.size)
        self.masks, self.shape, self.part_vis, self.coded, self.area = (maps.masks, maps.shape, maps.part_vis,
                                                                        maps.coded, maps.area)
        self.bones, self.bone_vis = bone_directions(self.kps_t)
        # Exact duplicates (same label map and pose under another name, e.g. VITON has some): one group
        # each. A duplicate of the source is the source itself, and a duplicate of the winner is no runner-up.
        groups: dict[bytes, int] = {}
        keys = [hashlib.sha1(self.labels[i].tobytes() + self.kps[i].tobytes()).digest() for i in range(n)]
        self.dup_group = torch.tensor([groups.setdefault(k, len(groups)) for k in keys], dtype=torch.long)

    def flipped(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prefilter descriptors of every image mirrored (cached): bones (N, NUM_BONES, 2), bone_vis, shape
        (N, 100) and part_vis (N, 10), with left and right parts and labels swapped."""
        if not hasattr(self, "_flipped"):
            kps = torch.from_numpy(flip_keypoints_batch(self.kps, self.size[1], np.ones(len(self), bool)))
            bones, bone_vis = bone_directions(kps)
            lut = torch.tensor(FLIP_LABELS)
            shape = self.shape.reshape(len(self), NUM_PARTS, NUM_LABELS)[:, _MIRROR][:, :, lut].reshape(len(self), -1)
            self._flipped = (bones, bone_vis, shape, self.part_vis[:, _MIRROR])
        return self._flipped

    def mirrored(self, chunk: int = 1024) -> PartMaps:
        """Part maps of every image mirrored, left and right swapped (cached; as much memory as the index's own)."""
        if not hasattr(self, "_mirrored"):
            spans = [torch.arange(a, min(a + chunk, len(self))) for a in range(0, len(self), chunk)]
            parts = [moved_maps(self, pos, np.ones(len(pos), bool), np.ones(len(pos), np.float32), self.size)
                     for pos in spans]
            self._mirrored = PartMaps(*(torch.cat(ts) for ts in zip(*(
                (p.labels_t, p.kps_t, p.masks, p.coded, p.area, p.part_vis) for p in parts))))
        return self._mirrored

    @property
    def border(self) -> torch.Tensor:
        """(N,) bool: the person touches the canvas border (cut by the photo's edge), cached."""
        if not hasattr(self, "_border"):
            self._border = touches_border(self.labels_t)
        return self._border

    @property
    def person_codes(self) -> torch.Tensor:
        """(N,) int64 person id codes (equal code = same person)."""
        if not hasattr(self, "_pcodes"):
            uniq = {p: i for i, p in enumerate(sorted(set(self.persons)))}
            self._pcodes = torch.tensor([uniq[p] for p in self.persons], dtype=torch.long)
        return self._pcodes

    @property
    def origin_codes(self) -> torch.Tensor:
        """(N,) int64 folder codes (equal code = same folder)."""
        if not hasattr(self, "_ocodes"):
            uniq = {o: i for i, o in enumerate(dict.fromkeys(self.origins))}
            self._ocodes = torch.tensor([uniq[o] for o in self.origins], dtype=torch.long)
        return self._ocodes

    def subset(self, idx: list[int] | np.ndarray) -> SearchIndex:
        idx = np.asarray(idx)
        return SearchIndex([self.names[i] for i in idx], self.labels[idx], self.kps[idx], self.dataset,
                           [self.persons[i] for i in idx], [self.origins[i] for i in idx])

    def positions_of(self, origin: str) -> list[int]:
        """Positions of the images that come from folder ``origin``."""
        return [i for i, o in enumerate(self.origins) if o == origin]

    def position(self, name: str) -> int:
        if not hasattr(self, "_pos"):
            self._pos = {x: i for i, x in enumerate(self.names)}
        if name not in self._pos:
            raise DataError(f"{name!r} is not in the search index of {self.dataset or 'this folder'}")
        return self._pos[name]


def concat_indexes(indexes: list[SearchIndex]) -> SearchIndex:
    """One index over several folders (a cross-folder pool): identities are kept apart per folder
    (``origin/person``), names keep their folder in ``origins``."""
    if len(indexes) == 1:
        return indexes[0]
    if len({ix.size for ix in indexes}) != 1:
        raise DataError(f"indexes on different canvases: {[ix.size for ix in indexes]}")
    return SearchIndex([n for ix in indexes for n in ix.names], np.concatenate([ix.labels for ix in indexes]),
                       np.concatenate([ix.kps for ix in indexes]), "+".join(ix.dataset for ix in indexes),
                       [f"{o}/{p}" for ix in indexes for o, p in zip(ix.origins, ix.persons)],
                       [o for ix in indexes for o in ix.origins])


def head_as_hair(index: SearchIndex) -> SearchIndex:
    """The index with every face pixel labelled hair, a head as a back view shows it: the view-turn search scores a
    face moved onto the back of a head as no mismatch (``SearchConfig.view``)."""
    labels = index.labels.copy()
    labels[labels == LABELS.index("face")] = LABELS.index("hair")
    return SearchIndex(index.names, labels, index.kps, index.dataset, index.persons, index.origins)


def bone_directions(kps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 18, 2) -> unit bone vectors (N, NUM_BONES, 2) (zero where missing) and visibility (N, NUM_BONES).

    Translation and scale invariant: a part-angle pose descriptor. Bones: 8 limbs, shoulder line,
    neck -> nose, neck -> mid-hip (or the one visible hip).
    """
    vis = (kps >= 0).all(-1)  # (N, 18)
    idx = torch.tensor(_BONES)
    a, b = kps[:, idx[:, 0]], kps[:, idx[:, 1]]
    ok = vis[:, idx[:, 0]] & vis[:, idx[:, 1]]
    hv = vis[:, [8, 11]].float()  # (N, 2)
    hip = (kps[:, [8, 11]] * hv[..., None]).sum(1) / hv.sum(1, keepdim=True).clamp(min=1)
    a = torch.cat([a, kps[:, 1:2]], 1)
    b = torch.cat([b, hip[:, None]], 1)
    ok = torch.cat([ok, (vis[:, 1] & (hv.sum(1) > 0))[:, None]], 1)
    d = b - a
    norm = d.norm(dim=-1, keepdim=True)
    ok = ok & (norm[..., 0] > 1e-6)
    u = torch.where(ok[..., None], d / norm.clamp(min=1e-6), torch.zeros_like(d))
    return u, ok


# ----------------------------------------------------------------------------------------- loading

def find_folders(path: str | Path) -> list[Path]:
    """A folder with keypoints.csv, or every such folder (with a parsing/ subfolder) under ``path``."""
    path = Path(path)
    if (path / "keypoints.csv").is_file():
        return [path]
    found = [f for f in find_person_folders(path) if (f / "parsing").is_dir()]
    if not found:
        raise DataError(f"{path}: no keypoints.csv here, and no folder below it has keypoints.csv and parsing/")
    return found


def _cache_key(folder: Path, parsing_dir: Path, canvas: tuple[int, int], labels: str, files: list[Path]) -> str:
    kp = folder / "keypoints.csv"
    st = kp.stat()
    h = hashlib.sha1()
    h.update(f"{CACHE_VERSION}|{folder.resolve()}|{parsing_dir.resolve()}|{canvas}|{labels}|{st.st_size}|"
             f"{st.st_mtime_ns}|{len(files)}|{parsing_dir.stat().st_mtime_ns}".encode())
    for f in files[:: max(1, len(files) // 64)]:
        h.update(f.name.encode())
    return h.hexdigest()[:16]


def load_index(
    folder: str | Path,
    size: tuple[int, int] = (64, 48),
    parsing_dir: str | Path | None = None,
    labels: str = "auto",
    workers: int = 2,
    cache_dir: str | Path | None = DEFAULT_CACHE,
    dataset: str = "",
    progress: bool = True,
    limit: int | None = None,
    keep: Callable[[str], bool] | None = None,
) -> SearchIndex:
    """Build (or load from the on-disk cache) the search index of one folder.

    Args:
        folder: folder with ``keypoints.csv`` (and ``parsing/`` unless ``parsing_dir`` is given).
        size: (h, w) search canvas.
        parsing_dir: folder of label PNGs named like the images (``<stem>.png``); default ``folder/parsing``.
            Use it for maps predicted by the human parser.
        labels: ``"lip"`` (LIP-20 ids, merged), ``"sps"`` (already the 10 sps labels) or ``"auto"``
            (LIP when any map holds an id >= 10).
        workers: processes for decoding PNGs (0 or 1 = in this process).
        cache_dir: where ``.npz`` caches live; None disables the cache.
        limit: only the first ``limit`` images (sorted by name); for tests and quick looks.
        keep: only the images whose name passes it (e.g. the train identities, ``sps.splits.split_of``).
    Images without a keypoint row or without a parsing map are skipped (logged).
    """
    folder = Path(folder)
    parsing_dir = Path(parsing_dir) if parsing_dir is not None else folder / "parsing"
    if not parsing_dir.is_dir():
        raise DataError(f"{parsing_dir}: no parsing folder (give --parsing-dir for predicted maps)")
    poses = read_keypoints_csv(folder / "keypoints.csv")
    names, files = [], []
    for name in sorted(poses):
        if keep is not None and not keep(name):
            continue
        f = parsing_dir / (Path(name).stem + ".png")
        if f.is_file():
            names.append(name)
            files.append(f)
    kept = len(poses) if keep is None else sum(1 for n in poses if keep(n))
    if len(names) < kept:
        log.warning("%s: %d of %d images have no parsing map in %s; skipped",
                    folder, kept - len(names), kept, parsing_dir)
    if limit is not None:
        names, files = names[:limit], files[:limit]
    if not names:
        raise DataError(f"{folder}: no image has both keypoints and a parsing map in {parsing_dir}")

    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{_cache_key(folder, parsing_dir, size, labels, files)}.npz"
        if cache.is_file():
            try:
                z = np.load(cache, allow_pickle=False)
                if list(z["names"]) == names:
                    log.info("search index from cache %s", cache)
                    return SearchIndex(names, z["labels"], z["kps"], dataset)
            except (OSError, ValueError, KeyError) as e:  # a broken cache is rebuilt
                log.warning("ignoring unreadable cache %s (%s)", cache, e)

    jobs = [(str(f), tuple(size)) for f in files]
    it: object
    if workers and workers > 1:
        pool = get_context("spawn" if os.name == "nt" else "fork").Pool(workers)
        it = pool.imap(_load_raw, jobs, chunksize=64)
    else:
        pool = None
        it = map(_load_raw, jobs)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, total=len(jobs), desc=f"load {dataset or folder.name}", unit="map")
    raw, src_sizes = [], []
    try:
        for m, s in it:
            raw.append(m)
            src_sizes.append(s)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    raw_a = np.stack(raw)
    if labels == "auto":
        labels_used = "lip" if raw_a.max() >= NUM_LABELS else "sps"
        log.info("%s: parsing labels detected as %s", parsing_dir, labels_used)
    else:
        labels_used = labels
    if labels_used == "lip":
        lab = np.stack([merge_lip(m, where=str(f)) for m, f in zip(raw_a, files)]).astype(np.uint8)
    elif labels_used == "sps":
        if raw_a.max() >= NUM_LABELS:
            bad = files[int(np.argmax(raw_a.reshape(len(raw_a), -1).max(1)))]
            raise DataError(f"{bad}: label id >= {NUM_LABELS} in an sps-label parsing map")
        lab = raw_a
    else:
        raise ValueError(f"labels must be 'auto', 'lip' or 'sps', got {labels!r}")
    kps = np.stack([Canvas.fit(s, size).keypoints(poses[n]) for n, s in zip(names, src_sizes)]).astype(np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, names=np.array(names), labels=lab, kps=kps)
        tmp.replace(cache)
    return SearchIndex(names, lab, kps, dataset)
