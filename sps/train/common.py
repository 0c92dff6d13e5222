"""Small tensor helpers shared by the stages: batched flips, data sets, pose banks, sample grids."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import ConcatDataset, Dataset, Subset

from .. import parsing as P
from .. import pose as K

_FLIP_PERM = torch.tensor(K.FLIP_PERMUTATION)
_FLIP_LABELS = torch.tensor(P.FLIP_LABELS, dtype=torch.long)


def data_root_of(cfg) -> Path:
    from ..data import data_root

    return Path(cfg.data_root).expanduser().resolve() if cfg.data_root else data_root()


def person_folders(cfg, names: str | Sequence[str], require_parsing: bool = False, split: str | None = "train"
                   ) -> Dataset:
    """Person folders (comma-separated names under the data root) on cfg.canvas, each cut to cfg.max_images.

    A folder without a split of its own (deepfashion, market) keeps the identities of `split` (sps.splits);
    `split=None` keeps every image (evaluation on a folder that is never trained on, e.g. spt-demo).

    Items come unflipped and without heatmaps: stages flip and draw heatmaps batched, under the step-seeded RNG.
    """
    from ..data import PersonDataset, person_folder

    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    root = data_root_of(cfg)
    parts: list[Dataset] = []
    for n in names:
        ds = PersonDataset(person_folder(n, root), tuple(cfg.canvas), flip=False, heatmaps=False)
        idx = np.arange(len(ds))
        if split and not (ds.folder.parent / "test").is_dir():  # no split of its own (deepfashion, market)
            from ..splits import split_of

            idx = idx[[split_of(name) == split for name in ds.names]]
        if require_parsing:
            idx = idx[ds.has_parsing[idx]]
        if cfg.max_images:
            idx = idx[: cfg.max_images]
        parts.append(ds if len(idx) == len(ds) else Subset(ds, idx.tolist()))
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


def balanced(parts: Sequence[Dataset]) -> Dataset:
    """Concatenate `parts`, each repeated (cycled) to the length of the longest: equal shares of an epoch."""
    longest = max(len(p) for p in parts)
    parts = [p if len(p) == longest else Subset(p, [i % len(p) for i in range(longest)]) for p in parts]
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


def all_keypoints(ds: Dataset) -> torch.Tensor:
    """(N, 18, 2) canvas keypoints of every item of a (Subset/Concat of) PersonDataset, without decoding images."""
    from ..data import PersonDataset

    if isinstance(ds, PersonDataset):
        return torch.from_numpy(np.stack([ds.pose(i, flip=False) for i in range(len(ds))]).astype(np.float32))
    if isinstance(ds, Subset):
        return all_keypoints(ds.dataset)[torch.as_tensor(ds.indices)]
    if isinstance(ds, ConcatDataset):
        return torch.cat([all_keypoints(d) for d in ds.datasets])
    raise TypeError(type(ds).__name__)


def flip_batch(batch: dict, do: torch.Tensor, prefixes: Sequence[str] = ("",)) -> dict:
    """Horizontally flip the items of a batch where `do` (B,) bool: `{prefix}image`, `kps`, `parsing` (labels
    swapped left/right), for each prefix (e.g. ("src_", "tgt_") flips both halves of a pair together)."""
    if not bool(do.any()):
        return batch
    out = dict(batch)
    for pre in prefixes:
        m = do.view(-1, 1, 1, 1)
        img = batch.get(pre + "image")  # (B, 3, H, W)
        if img is not None:
            out[pre + "image"] = torch.where(m.to(img.device), img.flip(-1), img)
        kps = batch[pre + "kps"]  # (B, 18, 2)
        w = int(batch[pre + "parsing"].shape[-1]) if img is None else img.shape[-1]
        vis = (kps >= 0).all(-1, keepdim=True)
        fk = torch.where(vis, torch.stack([w - 1 - kps[..., 0], kps[..., 1]], -1), kps)[:, _FLIP_PERM]
        out[pre + "kps"] = torch.where(do.view(-1, 1, 1).to(kps.device), fk, kps)
        if pre + "parsing" in batch:
            par = batch[pre + "parsing"]  # (B, H, W), -1 = absent
            lut = _FLIP_LABELS.to(par.device)
            fp = torch.where(par >= 0, lut[par.clamp(min=0)], par).flip(-1)
            out[pre + "parsing"] = torch.where(do.view(-1, 1, 1).to(par.device), fp, par)
    return out


def set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    module.eval()
    set_requires_grad(module, False)
    return module


# ---------------------------------------------------------------------------------------------
# Sample grids
# ---------------------------------------------------------------------------------------------

def to_uint8(img: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    return ((img.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def parsing_rgb(index: torch.Tensor) -> np.ndarray:
    """(B, H, W) labels (-1 = none, drawn grey) -> (B, H, W, 3) uint8."""
    idx = index.detach().cpu().numpy()
    out = P.PALETTE[np.clip(idx, 0, P.NUM_LABELS - 1)].copy()
    out[idx < 0] = 128
    return out


def skeleton_rgb(kps: torch.Tensor, size: tuple[int, int], background: np.ndarray | None = None) -> np.ndarray:
    """(B, 18, 2) -> (B, H, W, 3) uint8 skeleton drawings."""
    k = kps.detach().cpu().numpy()
    return np.stack([K.render_skeleton(k[i], size, background=None if background is None else background[i])
                     for i in range(len(k))])


def heatmap_rgb(hm: torch.Tensor) -> np.ndarray:
    """(B, 18, h, w) heatmaps -> (B, h, w, 3) uint8 (max over joints, grey)."""
    m = hm.detach().float().amax(1).clamp(0, 1).cpu().numpy()
    return np.repeat((m[..., None] * 255).round().astype(np.uint8), 3, axis=3)


def save_grid(path: str | Path, columns: list[tuple[str, np.ndarray]]) -> None:
    """Columns of (caption, (B, H, W, 3) uint8) -> one PNG, a row per batch item, captions on top."""
    h, w = columns[0][1].shape[1:3]
    rows = columns[0][1].shape[0]
    cap = 12
    grid = Image.new("RGB", (w * len(columns), cap + h * rows), "white")
    draw = ImageDraw.Draw(grid)
    for c, (name, imgs) in enumerate(columns):
        draw.text((c * w + 2, 0), name[: max(1, w // 6)], fill=(0, 0, 0))
        for r in range(rows):
            tile = Image.fromarray(imgs[r])
            if tile.size != (w, h):
                tile = tile.resize((w, h), Image.NEAREST)
            grid.paste(tile, (c * w, cap + r * h))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)


def models_module():
    """`sps.models` (the public network API)."""
    import importlib

    return importlib.import_module("sps.models")


def to_device(batch: dict, device) -> dict:
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


def load_net(cls_name: str, path: str, cfg, what: str) -> torch.nn.Module:
    """A network to start from: `Class.from_pretrained(path)` (strict), or a fresh `cfg.model_preset` one when
    `path` is "random" (smoke tests, benchmarks). Its canvas must be the run's canvas."""
    from ..errors import WeightsError

    M = models_module()
    cls = getattr(M, cls_name)
    if path == "random":
        net = cls(getattr(M, cls_name + "Config").preset(cfg.model_preset, canvas=tuple(cfg.canvas)))
    else:
        if not Path(path).exists():
            raise WeightsError(f"--{what} {path}: no such folder (train the earlier stage first, or pass "
                               f"RUN_DIR/export/<network> of its run)")
        net = cls.from_pretrained(path)
    if tuple(net.config.canvas) != tuple(cfg.canvas):
        raise WeightsError(f"--{what} {path}: network canvas {tuple(net.config.canvas)} differs from the run's "
                           f"--canvas {tuple(cfg.canvas)}")
    return net


def heatmaps(kps: torch.Tensor, canvas) -> torch.Tensor:
    """(B, 18, 2) -> (B, 18, H, W) Gaussian pose heatmaps (sps.pose.heatmaps_torch)."""
    return K.heatmaps_torch(kps, (int(canvas[0]), int(canvas[1])))
