"""Stage `semantic`: SemanticGenerator (G_S) on searched pseudo labels; cross-entropy + adversarial; flips and
the source / candidate zooms of `zoom` (`sps.train.augment.LayoutZoom`).

A pair (source, candidate) from `python -m sps.search` gives input = (source parsing, source pose, candidate pose)
and label = the candidate's parsing; G_S runs through `SPSModel.transform`. The ParsingDiscriminator sees
[parsing, target pose heatmaps]: real = the candidate's one-hot map, fake = G_S's softmax.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ... import losses as L
from ... import parsing as P
from ...models import Person, SemanticOutput, SPSModel
from ..config import SemanticConfig
from ..augment import zoom_pair
from ..data import flip_batch, pair_file_key, pseudo_pairs
from ..grids import parsing_rgb, skeleton_rgb, to_uint8
from ..nets import new_net, no_param_grads, start_net
from ..stage import Stage, Terms


@dataclass
class PairStep:
    """What the discriminator step needs from the generator step."""

    label: Person  # the candidate: its parsing (the pseudo label, one-hot) in the target pose
    semantic: SemanticOutput  # G_S's answer


class SemanticStage(Stage):
    name = "semantic"
    config_cls = SemanticConfig
    exported = ("G_S",)
    export_names = {"G_S": "semantic_generator"}
    generator_terms = {"ce": "parsing_ce", "g_adv": "adv", "pixel_acc": None}
    discriminator_terms = {"d_parsing": "adv"}

    def build(self) -> None:
        c: SemanticConfig = self.cfg
        sets = pseudo_pairs(c.data, c.canvas)
        self.train_set, self.val_sets, self.pair_counts = sets.train, sets.held_out, sets.counts
        g_s = start_net("SemanticGenerator", c)
        self.train_net("G_S", g_s.with_correction() if c.correction else g_s)
        self.train_net("D_parsing", new_net("ParsingDiscriminator", c, "DiscriminatorConfig"), c.optim.d_lr)

    def prepared(self) -> None:
        c: SemanticConfig = self.cfg
        self.model = SPSModel(self.models["G_S"], None, c.model, canvas=c.canvas)  # DDP-wrapped G_S
        self.eval_model = SPSModel(self.raw["G_S"], None, c.model, canvas=c.canvas)

    def persons(self, model: SPSModel, b: dict[str, Any]) -> tuple[Person, Person]:
        """(source, candidate) of a pair batch as the model sees them."""
        return (model.person(b["src_image"], b["src_parsing"], b["src_kps"]),
                model.person(b["tgt_image"], b["tgt_parsing"], b["tgt_kps"]))

    def generator_losses(self, batch: dict[str, Any]) -> tuple[Terms, PairStep]:
        b = flip_batch(batch, torch.rand(batch["src_kps"].shape[0]) < self.cfg.data.flip, ("src_", "tgt_"))
        if self.cfg.zoom.source or self.cfg.zoom.target:
            g = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))  # drawn from the step-seeded RNG
            b = zoom_pair(b, self.cfg.zoom, g)
        src, label = self.persons(self.model, b)
        sem = self.model.transform(src, label.keypoints)  # logits (B, 10, H, W)
        with no_param_grads(self.raw["D_parsing"]) as D:  # called outside DDP: no grads, no reducer involvement
            adv = L.lsgan_g(D(sem.probs, sem.target.heatmaps))
        terms = {"ce": L.parsing_ce(sem.logits, b["tgt_parsing"]), "g_adv": adv,
                 "pixel_acc": (sem.logits.argmax(1) == b["tgt_parsing"]).float().mean()}
        return terms, PairStep(label, sem)

    def discriminator_losses(self, ctx: PairStep) -> Terms:
        # one DDP forward on [real; fake] (instance norm is per sample)
        sem, p_t = ctx.semantic, ctx.semantic.target.heatmaps
        out = self.models["D_parsing"](torch.cat([ctx.label.parsing.to(sem.probs.dtype), sem.probs.detach()]),
                                       torch.cat([p_t, p_t]))
        return {"d_parsing": L.lsgan_d(*out.chunk(2))}

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        src, label = self.persons(self.eval_model, batch)
        sem = self.eval_model.transform(src, label.keypoints)
        size = tuple(self.cfg.canvas)
        return [("source", to_uint8(batch["src_image"])), ("src parsing", parsing_rgb(batch["src_parsing"])),
                ("target pose", skeleton_rgb(batch["tgt_kps"], size)), ("predicted", parsing_rgb(sem.logits.argmax(1))),
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
        inter = torch.zeros(P.NUM_LABELS)
        union = torch.zeros(P.NUM_LABELS)
        ce_sum = acc_sum = 0.0
        n = 0
        for b in DataLoader(ds, batch_size=16):
            b = {k: v.to(self.device) for k, v in b.items()}
            src, label = self.persons(self.eval_model, b)
            logits = self.eval_model.transform(src, label.keypoints).logits.float()  # (B, 10, H, W)
            gt, pred = b["tgt_parsing"], logits.argmax(1)
            ce_sum += float(F.cross_entropy(logits, gt, reduction="sum")) / gt[0].numel()
            acc_sum += float((pred == gt).float().mean((1, 2)).sum())
            n += gt.shape[0]
            for k in range(P.NUM_LABELS):
                inter[k] += float(((gt == k) & (pred == k)).sum())
                union[k] += float(((gt == k) | (pred == k)).sum())
        return inter, union, ce_sum, acc_sum, n

    def data_description(self) -> str:
        d = self.cfg.data
        parts = [f"{self.pair_counts[pair_file_key(path, name, d.dataset)]} from {path} on {name}"
                 for path, name in zip(d.pairs, d.dataset)]
        held = sum(len(v) for v in self.val_sets.values())
        text = f"searched pseudo pairs: {'; '.join(parts)} ({held} held out for the metrics)"
        if d.parsing_dirs:
            text += "; parser-predicted maps: " + ", ".join(f"{k}={v}" for k, v in d.parsing_dirs.items())
        if d.balance and len(self.val_sets) > 1:
            text += "; pair files balanced to equal shares"
        if self.cfg.weights.init:
            text += f"; fine-tuned from {self.cfg.weights.init}"
        return text


def _miou(inter: torch.Tensor, union: torch.Tensor) -> float:
    return float((inter / union.clamp(min=1))[union > 0].mean())


STAGE = SemanticStage
