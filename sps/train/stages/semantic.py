"""Stage `semantic`: SemanticGenerator (G_S) on searched pseudo labels; cross-entropy + adversarial.

A pair (source, candidate) from `python -m sps.search` gives input = (source parsing, source pose, candidate pose)
and label = the candidate's parsing. The ParsingDiscriminator sees [parsing, target pose heatmaps]: real = the
candidate's one-hot map, fake = G_S's softmax.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset, Dataset

from ... import parsing as P
from ..common import (balanced, flip_batch, heatmaps, load_net, models_module, parsing_rgb, set_requires_grad,
                      skeleton_rgb, to_uint8)
from ..config import SemanticConfig
from ..loop import Stage

log = logging.getLogger(__name__)


def read_pairs(path: str | Path, min_margin: float = 0.0) -> list[tuple[str, str]]:
    """(source, candidate) names from the search CSV (sps.search.io.read_pseudo_pairs)."""
    from ...search.io import read_pseudo_pairs

    pairs = read_pseudo_pairs(path, min_margin=min_margin or None)
    return [(p.source, p.candidate) for p in pairs]


def _names(spec: str) -> list[str]:
    return [t.strip() for t in spec.split(",") if t.strip()]


def parse_parsing_dirs(spec: str) -> dict[str, str]:
    """`"deepfashion=runs/parsing/df,market=..."` -> {dataset: folder of label PNGs}."""
    out = {}
    for item in _names(spec):
        name, sep, path = item.partition("=")
        if not (sep and name.strip() and path.strip()):
            raise ValueError(f"--parsing_dirs: expected DATASET=DIR entries, got {item!r}")
        out[name.strip()] = path.strip()
    return out


class PseudoPairs(Dataset):
    """Items `src_{image,kps,parsing}` and `tgt_{image,kps,parsing}` (tgt = the searched candidate)."""

    def __init__(self, base, pairs: list[tuple[str, str]]):
        self.base, self.pairs = base, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        a, b = self.pairs[i]
        out = {}
        for pre, name in (("src_", a), ("tgt_", b)):
            it = self.base.get(self.base.index_of(name), flip=False)
            out.update({pre + "image": it["image"], pre + "kps": it["kps"], pre + "parsing": it["parsing"]})
        return out


class SemanticStage(Stage):
    name = "semantic"
    config_cls = SemanticConfig
    exported = ("G_S",)
    export_names = {"G_S": "semantic_generator"}

    def build(self) -> None:
        from ...data import PersonDataset, person_folder
        from ..common import data_root_of

        c: SemanticConfig = self.cfg
        M = models_module()
        pair_files, folders = _names(c.pairs), _names(c.dataset)
        if len(pair_files) != len(folders):
            raise ValueError(f"--pairs gives {len(pair_files)} file(s) but --dataset {len(folders)} folder(s); "
                             "give one folder per pair file")
        dirs = parse_parsing_dirs(c.parsing_dirs)
        if set(dirs) - set(folders):
            raise ValueError(f"--parsing_dirs names {sorted(set(dirs) - set(folders))}, not in --dataset {folders}")
        train_parts: list[PseudoPairs] = []
        self.val_sets: dict[str, PseudoPairs] = {}
        for path, name in zip(pair_files, folders):
            base = PersonDataset(person_folder(name, data_root_of(c)), tuple(c.canvas), heatmaps=False,
                                 parsing_dir=dirs.get(name))
            parsed = {n for n, ok in zip(base.names, base.has_parsing) if ok}  # in keypoints.csv, with a map
            pairs = [(a, b) for a, b in read_pairs(path, c.max_margin) if a in parsed and b in parsed]
            if c.max_images:
                pairs = pairs[: c.max_images]
            if not pairs:
                raise ValueError(f"{path}: no usable pairs for {base.folder} (names must be in keypoints.csv "
                                 f"and have parsing maps in {base.parsing_dir})")
            n_val = min(c.eval_images, max(1, len(pairs) // 10)) if c.eval_images and len(pairs) > 1 else 0
            train_parts.append(PseudoPairs(base, pairs[: len(pairs) - n_val]))
            self.val_sets[name] = PseudoPairs(base, pairs[len(pairs) - n_val:])
        self.pair_counts = {name: len(p) for name, p in zip(folders, train_parts)}
        # balance: each pair file gets an equal share of the steps
        self.train_set = balanced(train_parts) if c.balance or len(train_parts) == 1 else ConcatDataset(train_parts)
        if c.init_weights:
            g = load_net("SemanticGenerator", c.init_weights, c, "init_weights")
        else:
            g = M.SemanticGenerator(M.SemanticGeneratorConfig.preset(c.model_preset, canvas=tuple(c.canvas)))
        d = M.ParsingDiscriminator(M.DiscriminatorConfig.preset(c.model_preset, canvas=tuple(c.canvas)))
        self.models = {"G_S": g, "D_parsing": d}
        self.optimizers = {"G_S": self.adam(g.parameters()), "D_parsing": self.adam(d.parameters(), c.d_lr)}
        self.clip_params = {"G_S": list(g.parameters()), "D_parsing": list(d.parameters())}

    def _inputs(self, b: dict[str, Any]):
        canvas = self.cfg.canvas
        s_s = P.one_hot(b["src_parsing"]).to(self.device)  # (B, 10, H, W)
        p_s, p_t = heatmaps(b["src_kps"], canvas), heatmaps(b["tgt_kps"], canvas)  # (B, 18, H, W)
        return s_s, p_s, p_t

    def micro_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        c: SemanticConfig = self.cfg
        b = flip_batch(batch, torch.rand(batch["src_kps"].shape[0]) < 0.5, ("src_", "tgt_"))
        s_s, p_s, p_t = self._inputs(b)
        G, D, D_raw = self.models["G_S"], self.models["D_parsing"], self.raw["D_parsing"]
        logits = G(s_s, p_s, p_t, src_kps=b["src_kps"], tgt_kps=b["tgt_kps"]).float()  # (B, 10, H, W)
        soft = logits.softmax(1)
        ce = F.cross_entropy(logits, b["tgt_parsing"], ignore_index=-1)
        # generator step: D frozen and called outside DDP (no grads, no reducer involvement)
        set_requires_grad(D_raw, False)
        adv = ((D_raw(soft, p_t).float() - 1) ** 2).mean()
        self.backward(c.ce_weight * ce + c.adv_weight * adv)
        # discriminator step: one DDP forward on [real; fake] (instance norm is per sample)
        set_requires_grad(D_raw, True)
        real = P.one_hot(b["tgt_parsing"]).to(soft.dtype)
        out = D(torch.cat([real, soft.detach()]), torch.cat([p_t, p_t])).float()
        o_real, o_fake = out.chunk(2)
        d_loss = 0.5 * (((o_real - 1) ** 2).mean() + (o_fake**2).mean())
        self.backward(c.adv_weight * d_loss)
        acc = (logits.argmax(1) == b["tgt_parsing"]).float().mean()
        return {"ce": ce.detach(), "g_adv": adv.detach(), "d_parsing": d_loss.detach(), "pixel_acc": acc.detach()}

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        s_s, p_s, p_t = self._inputs(batch)
        logits = self.raw["G_S"](s_s, p_s, p_t, src_kps=batch["src_kps"], tgt_kps=batch["tgt_kps"])
        size = tuple(self.cfg.canvas)
        return [("source", to_uint8(batch["src_image"])), ("src parsing", parsing_rgb(batch["src_parsing"])),
                ("target pose", skeleton_rgb(batch["tgt_kps"], size)), ("predicted", parsing_rgb(logits.argmax(1))),
                ("pseudo label", parsing_rgb(batch["tgt_parsing"]))]

    def evaluate(self) -> dict[str, float]:
        """CE, pixel accuracy and mIoU against the pseudo labels of held-out pairs (the last 10% of each pair
        file, <= eval_images); with several pair files also `val_mIoU_<dataset>` for each."""
        sets = {k: v for k, v in self.val_sets.items() if len(v)}
        if not sets:
            return {}
        per = {name: self._scores(ds) for name, ds in sets.items()}
        inter = sum(p[0] for p in per.values())
        union = sum(p[1] for p in per.values())
        ce_sum, acc_sum, n = (sum(p[i] for p in per.values()) for i in (2, 3, 4))
        out = {"val_ce": ce_sum / n, "val_pixel_acc": acc_sum / n, "val_mIoU": _miou(inter, union),
               "val_pairs": int(n)}
        if len(per) > 1:
            out.update({f"val_mIoU_{name.replace('/', '_')}": _miou(p[0], p[1]) for name, p in per.items()})
        return out

    def _scores(self, ds: Dataset) -> tuple[torch.Tensor, torch.Tensor, float, float, int]:
        """Per-label intersection and union counts, summed CE (per image) and pixel accuracy, pair count."""
        from torch.utils.data import DataLoader

        g = self.raw["G_S"]
        inter = torch.zeros(P.NUM_LABELS)
        union = torch.zeros(P.NUM_LABELS)
        ce_sum = acc_sum = 0.0
        n = 0
        for b in DataLoader(ds, batch_size=16):
            b = {k: v.to(self.device) for k, v in b.items()}
            s_s, p_s, p_t = self._inputs(b)
            logits = g(s_s, p_s, p_t, src_kps=b["src_kps"], tgt_kps=b["tgt_kps"]).float()
            gt, pred = b["tgt_parsing"], logits.argmax(1)
            ce_sum += float(F.cross_entropy(logits, gt, reduction="sum")) / gt[0].numel()
            acc_sum += float((pred == gt).float().mean((1, 2)).sum())
            n += gt.shape[0]
            for k in range(P.NUM_LABELS):
                inter[k] += float(((gt == k) & (pred == k)).sum())
                union[k] += float(((gt == k) | (pred == k)).sum())
        return inter, union, ce_sum, acc_sum, n

    def data_description(self) -> str:
        c: SemanticConfig = self.cfg
        parts = [f"{self.pair_counts[name]} from {path} on {name}" for path, name in zip(_names(c.pairs), _names(c.dataset))]
        held = sum(len(v) for v in self.val_sets.values())
        text = f"searched pseudo pairs: {'; '.join(parts)} ({held} held out for the metrics)"
        if c.parsing_dirs:
            text += f"; parser-predicted maps: {c.parsing_dirs}"
        if c.balance and len(self.val_sets) > 1:
            text += "; pair files balanced to equal shares"
        if c.init_weights:
            text += f"; fine-tuned from {c.init_weights}"
        return text


def _miou(inter: torch.Tensor, union: torch.Tensor) -> float:
    return float((inter / union.clamp(min=1))[union > 0].mean())


STAGE = SemanticStage
