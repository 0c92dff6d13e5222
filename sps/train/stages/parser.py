"""Stage `parser`: HumanParser on VITON's LIP parsing merged to the 10 labels; cross-entropy, flips.

Metrics: IoU per label and mIoU on VITON test and on the 6 `spt-demo` images (the paper's own labels).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..common import flip_batch, models_module, parsing_rgb, person_folders, to_uint8
from ..config import ParserConfig
from ..loop import Stage
from .metrics import iou_per_label


class ParserStage(Stage):
    name = "parser"
    config_cls = ParserConfig
    exported = ("parser",)
    export_names = {"parser": "human_parser"}

    def build(self) -> None:
        c: ParserConfig = self.cfg
        M = models_module()
        net = M.HumanParser(M.HumanParserConfig.preset(c.model_preset, canvas=tuple(c.canvas)))
        self.models = {"parser": net}
        self.optimizers = {"parser": self.adam(net.parameters())}
        self.clip_params = {"parser": list(net.parameters())}
        self.train_set = person_folders(c, c.datasets, require_parsing=True)

    def micro_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        c: ParserConfig = self.cfg
        b = flip_batch(batch, torch.rand(batch["image"].shape[0]) < c.flip)
        logits = self.models["parser"](b["image"])  # (B, 10, H, W)
        loss = F.cross_entropy(logits.float(), b["parsing"], ignore_index=-1)
        self.backward(loss)
        return {"ce": loss.detach()}

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        pred = self.raw["parser"](batch["image"]).argmax(1)
        return [("image", to_uint8(batch["image"])), ("label", parsing_rgb(batch["parsing"])),
                ("predicted", parsing_rgb(pred))]

    def evaluate(self) -> dict[str, float]:
        c: ParserConfig = self.cfg
        net = self.raw["parser"]
        out: dict[str, float] = {}
        predict = lambda x: net(x).argmax(1)  # noqa: E731
        for folder, limit, split in ((c.eval_folder, c.eval_images, "test"), ("spt-demo", 0, None)):
            if not folder:
                continue
            try:
                ds = person_folders(c, folder, require_parsing=True, split=split)
            except Exception as e:  # noqa: BLE001 - a missing optional eval folder must not lose the run
                out[f"{folder}/error"] = str(e)
                continue
            out.update(iou_per_label(predict, ds, limit, self.device, folder))
        return out

    def data_description(self) -> str:
        return (f"{self.cfg.datasets} images with LIP parsing merged to the 10 sps labels ({len(self.train_set)} "
                f"images), flip p={self.cfg.flip}; IoU on {self.cfg.eval_folder} and spt-demo")


STAGE = ParserStage
