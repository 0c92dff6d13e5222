"""Training data, built one way: person folders on the run's canvas (`open_folder`, `person_folders`), the
searched pseudo pairs of the semantic stage (`pseudo_pairs`), target-pose banks and batched flips.

Items come unflipped and without heatmaps: stages flip batched under the step-seeded RNG (`flip_batch`) and the
model (`sps.models.SPSModel.person`) draws heatmaps and one-hot maps.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from .. import parsing as P
from .. import pose as K
from ..errors import DataError

log = logging.getLogger(__name__)

_FLIP_PERM = torch.tensor(K.FLIP_PERMUTATION)
_FLIP_LABELS = torch.tensor(P.FLIP_LABELS, dtype=torch.long)


def data_root_of(data) -> Path:
    """The data root of a `DataOptions` section (`root`, else `sps.data.data_root()`)."""
    from ..data import data_root

    return Path(data.root).expanduser().resolve() if data.root else data_root()


def open_folder(data, canvas: Sequence[int], name: str, parsing_dir: str | None = None, split: str = "train"):
    """The person folder `name` (under the data root, else the current directory; `name/split` when `name` is a
    folder of splits) as a `PersonDataset` on `canvas` (unflipped, no heatmaps); `parsing_dir` replaces its label
    maps (e.g. the parser's predictions)."""
    from ..data import PersonDataset, person_folder

    return PersonDataset(person_folder(name, data_root_of(data), split), (int(canvas[0]), int(canvas[1])),
                         flip=False, heatmaps=False, parsing_dir=parsing_dir)


def person_folders(data, canvas: Sequence[int], names: Sequence[str], require_parsing: bool = False,
                   split: str | None = "train", balance: bool = False) -> Dataset:
    """Person folders `names` on `canvas`, each cut to `data.max_images`; with `balance`, each repeated to the
    length of the longest (equal shares of an epoch).

    A folder without a split of its own (deepfashion, market) keeps the identities of `split` (sps.splits);
    `split=None` keeps every image (evaluation on a folder that is never trained on, e.g. spt-demo).
    """
    if not names:
        raise ValueError("no person folders given")
    parts: list[Dataset] = []
    for n in names:
        ds = open_folder(data, canvas, n, split=split or "train")
        idx = np.arange(len(ds))
        if split and not (ds.folder.parent / "test").is_dir():  # no split of its own (deepfashion, market)
            from ..splits import split_of

            idx = idx[[split_of(name) == split for name in ds.names]]
        if require_parsing:
            idx = idx[ds.has_parsing[idx]]
        if data.max_images:
            idx = idx[: data.max_images]
        parts.append(ds if len(idx) == len(ds) else Subset(ds, idx.tolist()))
    if balance:
        return balanced(parts)
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
    """Horizontally flip the items of a batch where `do` (B,) bool: `{prefix}image`, `kps` (and `known`),
    `parsing` (labels swapped left/right), for each prefix (e.g. ("src_", "tgt_") flips both halves of a pair
    together)."""
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
        if pre + "known" in batch:  # (B, 18) bool, permuted with the joints
            known = batch[pre + "known"]
            out[pre + "known"] = torch.where(do.view(-1, 1).to(known.device), known[:, _FLIP_PERM], known)
        if pre + "parsing" in batch:
            par = batch[pre + "parsing"]  # (B, H, W), -1 = absent
            lut = _FLIP_LABELS.to(par.device)
            fp = torch.where(par >= 0, lut[par.clamp(min=0)], par).flip(-1)
            out[pre + "parsing"] = torch.where(do.view(-1, 1, 1).to(par.device), fp, par)
    return out


def first_items(ds: Dataset, n: int) -> dict[str, Any]:
    """The first `n` items of `ds` collated into one batch (sample grids)."""
    from torch.utils.data import default_collate

    return default_collate([ds[i] for i in range(min(n, len(ds)))])


# ---------------------------------------------------------------------------------------------
# Pseudo pairs (semantic stage)
# ---------------------------------------------------------------------------------------------

class PseudoPairs(Dataset):
    """Items `src_{image,kps,parsing}` and `tgt_{image,kps,parsing}` (tgt = the searched candidate, shown as it won
    the search: mirrored, then rescaled about its centre; `sps.search.variants`).

    `pairs`: `sps.search.io.PseudoPair`s, or plain (source, candidate) names (the candidate as it is). `folders`:
    person folders by name, for candidates whose `candidate_dataset` names another folder than `base`."""

    def __init__(self, base, pairs: Sequence[Any], folders: dict[str, Any] | None = None):
        from ..search.io import PseudoPair

        self.base, self.folders = base, dict(folders or {})
        self.pairs = [p if isinstance(p, PseudoPair) else PseudoPair(p[0], p[1], float("nan"), float("nan"))
                      for p in pairs]
        missing = sorted({p.candidate_dataset for p in self.pairs if p.candidate_dataset} - set(self.folders))
        if missing:
            raise ValueError(f"pseudo pairs name candidate folders {missing} that were not opened")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        from ..search.variants import apply_variant

        p = self.pairs[i]
        cand_ds = self.folders[p.candidate_dataset] if p.candidate_dataset else self.base
        out = {}
        for pre, ds, name, flip in (("src_", self.base, p.source, False), ("tgt_", cand_ds, p.candidate, p.flip)):
            it = ds.get(ds.index_of(name), flip=flip)
            out.update({pre + "image": it["image"], pre + "kps": it["kps"], pre + "parsing": it["parsing"]})
        if p.scale != 1.0:  # numpy, as in the loader's items
            img = out["tgt_image"].numpy().transpose(1, 2, 0)[None]  # (1, H, W, 3) in [-1, 1]
            kps, par, img = apply_variant(out["tgt_kps"].numpy()[None], np.zeros(1, bool), np.array([p.scale]),
                                          img.shape[1:3], labels=out["tgt_parsing"].numpy()[None], image=img,
                                          image_fill=1.0)  # white padding
            out.update({"tgt_image": torch.from_numpy(np.ascontiguousarray(img[0].transpose(2, 0, 1))),
                        "tgt_kps": torch.from_numpy(kps[0]), "tgt_parsing": torch.from_numpy(par[0])})
        return out


def read_pairs(path: str | Path, min_margin: float = 0.0, max_score: float = 0.0) -> list[Any]:
    """The `sps.search.io.PseudoPair`s of a search CSV, with how each candidate won (flip, scale, its folder):
    `PseudoPairs` applies them. 0 = no margin / score filter."""
    from ..search.io import read_pseudo_pairs

    return read_pseudo_pairs(path, min_margin=min_margin or None, max_score=max_score or None, variants=True)


@dataclass
class PairSets:
    """The semantic stage's data: the training set, held-out pairs and training pair counts per pair file (keyed by
    ``pair_file_key``)."""

    train: Dataset
    held_out: dict[str, PseudoPairs]
    counts: dict[str, int]


def pair_file_key(path: str | Path, name: str, names: Sequence[str]) -> str:
    """A pair file's key in ``PairSets``: its folder ``name``, or ``name/<file stem>`` when several files share it."""
    return name if list(names).count(name) == 1 else f"{name}/{Path(path).stem}"


def pseudo_pairs(data, canvas: Sequence[int]) -> PairSets:
    """The pair files of a `PairData` section over their folders: pairs whose two images have parsing maps, cut
    to `max_images`, the last 10% (<= `eval_images`) of each file held out; files balanced if `balance`."""
    if len(data.pairs) != len(data.dataset):
        raise ValueError(f"--data.pairs gives {len(data.pairs)} file(s) but --data.dataset {len(data.dataset)} "
                         "folder(s); give one folder per pair file")
    files = {path: read_pairs(path, data.min_margin, data.max_score) for path in data.pairs}
    cand_folders = {p.candidate_dataset for ps in files.values() for p in ps} - {""}
    unknown = set(data.parsing_dirs) - set(data.dataset) - cand_folders
    if unknown:
        raise ValueError(f"--data.parsing_dirs names {sorted(unknown)}, not in --data.dataset {list(data.dataset)} "
                         "nor a candidate folder of the pair files")
    opened: dict[str, Any] = {}

    def folder(name: str):
        if name not in opened:
            ds = open_folder(data, canvas, name, data.parsing_dirs.get(name))
            opened[name] = ds, {n for n, ok in zip(ds.names, ds.has_parsing) if ok}  # in keypoints.csv, with a map
        return opened[name]

    missing: set[str] = set()
    for name in sorted(cand_folders - set(data.dataset)):  # another file's folder: optional (e.g. CCP, prepared)
        try:
            folder(name)
        except DataError as exc:
            missing.add(name)
            log.warning("candidate folder %s is not available (%s): its pairs are skipped", name, exc)

    train_parts: list[PseudoPairs] = []
    held_out: dict[str, PseudoPairs] = {}
    for path, name in zip(data.pairs, data.dataset):
        base, parsed = folder(name)
        pairs = [p for p in files[path] if p.source in parsed and p.candidate_dataset not in missing
                 and p.candidate in folder(p.candidate_dataset or name)[1]]
        if data.max_images:
            pairs = pairs[: data.max_images]
        if not pairs:
            raise ValueError(f"{path}: no usable pairs for {base.folder} (names must be in keypoints.csv "
                             f"and have parsing maps in {base.parsing_dir})")
        others = {d: folder(d)[0] for d in {p.candidate_dataset for p in pairs} - {""}}
        n_val = min(data.eval_images, max(1, len(pairs) // 10)) if data.eval_images and len(pairs) > 1 else 0
        train_parts.append(PseudoPairs(base, pairs[: len(pairs) - n_val], others))
        held_out[pair_file_key(path, name, data.dataset)] = PseudoPairs(base, pairs[len(pairs) - n_val:], others)
    counts = {pair_file_key(path, name, data.dataset): len(p)
              for path, name, p in zip(data.pairs, data.dataset, train_parts)}
    train = balanced(train_parts) if data.balance or len(train_parts) == 1 else ConcatDataset(train_parts)
    return PairSets(train, held_out, counts)
