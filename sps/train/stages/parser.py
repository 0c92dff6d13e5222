"""Stage `parser`: HumanParser on parsing maps (VITON's LIP merged to the 10 labels; CCP street photos mapped by
`sps.data.ccp`); cross-entropy, flips and the augmentations of `sps.train.augment` (zoom, clutter, colour, grey).

Metrics: IoU per label and mIoU on each eval folder (VITON test, CCP test) and on the 6 `spt-demo` images (the
paper's own labels); also person IoU and the 4 coarse classes (background, hair, skin, clothes) that CCP can be
scored on without left/right.
"""
from __future__ import annotations

from typing import Any

import torch

from ... import losses as L
from ..augment import augment
from ..config import ParserConfig
from ..data import flip_batch, person_folders
from ..grids import parsing_rgb, to_uint8
from ..nets import start_net
from ..stage import Stage, Terms
from .metrics import iou_per_label


class ParserStage(Stage):
    name = "parser"
    config_cls = ParserConfig
    exported = ("parser",)
    export_names = {"parser": "human_parser"}
    generator_terms = {"ce": "parsing_ce"}

    def build(self) -> None:
        c: ParserConfig = self.cfg
        self.train_net("parser", start_net("HumanParser", c))
        self.train_set = person_folders(c.data, c.canvas, c.data.datasets, require_parsing=True,
                                        balance=c.data.balance)

    def generator_losses(self, batch: dict[str, Any]) -> tuple[Terms, None]:
        b = flip_batch(batch, torch.rand(batch["image"].shape[0]) < self.cfg.data.flip)
        g = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))  # drawn from the step-seeded RNG
        image, parsing, _ = augment(b["image"], b["parsing"], b["kps"], self.cfg.augment, g)
        logits = self.models["parser"](image)  # (B, 10, H, W)
        return {"ce": L.parsing_ce(logits, parsing)}, None

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        pred = self.raw["parser"](batch["image"]).argmax(1)
        return [("image", to_uint8(batch["image"])), ("label", parsing_rgb(batch["parsing"])),
                ("predicted", parsing_rgb(pred))]

    def evaluate(self) -> dict[str, float]:
        c: ParserConfig = self.cfg
        net = self.raw["parser"]
        out: dict[str, float] = {}
        predict = lambda x: net(x).argmax(1)  # noqa: E731
        folders = [(f, c.data.eval_images, "test") for f in c.data.eval_folder] + [("spt-demo", 0, None)]
        for folder, limit, split in folders:
            try:
                ds = person_folders(c.data, c.canvas, [folder], require_parsing=True, split=split)
            except Exception as e:  # noqa: BLE001 - a missing optional eval folder must not lose the run
                out[f"{folder}/error"] = str(e)
                continue
            out.update(iou_per_label(predict, ds, limit, self.device, folder))
        return out

    def data_description(self) -> str:
        c: ParserConfig = self.cfg
        return (f"{', '.join(c.data.datasets)} images with parsing maps (LIP merged to the 10 sps labels, CCP "
                f"mapped by sps.data.ccp) ({len(self.train_set)} images), flip p={c.data.flip}; IoU on "
                f"{', '.join((*c.data.eval_folder, 'spt-demo'))}")


STAGE = ParserStage
