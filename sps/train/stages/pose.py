"""Stage `pose`: PoseEstimator on every keypoint annotation (VITON, DeepFashion, Market); heatmap MSE, flips."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset

from ... import pose as K
from ..common import balanced, flip_batch, heatmap_rgb, load_net, models_module, person_folders, skeleton_rgb, to_uint8
from ..config import PoseConfig
from ..loop import Stage
from .metrics import pck


class PoseStage(Stage):
    name = "pose"
    config_cls = PoseConfig
    exported = ("pose",)
    export_names = {"pose": "pose_estimator"}

    def build(self) -> None:
        c: PoseConfig = self.cfg
        M = models_module()
        if c.init_weights:
            net = load_net("PoseEstimator", c.init_weights, c, "init_weights")
        else:
            net = M.PoseEstimator(M.PoseEstimatorConfig.preset(c.model_preset, canvas=tuple(c.canvas)))
        self.gain = float(net.config.heatmap_gain)
        self.models = {"pose": net}
        self.optimizers = {"pose": self.adam(net.parameters())}
        self.clip_params = {"pose": list(net.parameters())}
        self.train_set = person_folders(c, c.datasets)
        if c.balance and isinstance(self.train_set, ConcatDataset):  # equal shares per folder
            self.train_set = balanced(self.train_set.datasets)

    def targets(self, kps: torch.Tensor) -> torch.Tensor:
        return K.heatmaps_torch(kps, tuple(self.cfg.canvas)) * self.gain  # (B, 18, H, W)

    def micro_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        c: PoseConfig = self.cfg
        b = flip_batch(batch, torch.rand(batch["image"].shape[0]) < c.flip)
        pred = self.models["pose"](b["image"])  # (B, 18, H, W)
        loss = F.mse_loss(pred.float(), self.targets(b["kps"])) * c.heatmap_weight
        self.backward(loss)
        return {"heatmap_mse": loss.detach()}

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        net = self.raw["pose"]
        hm = net(batch["image"]).float()
        pred = net.decode(hm)
        img = to_uint8(batch["image"])
        size = tuple(self.cfg.canvas)
        return [("image", img), ("target", heatmap_rgb(self.targets(batch["kps"]) / self.gain)),
                ("heatmaps", heatmap_rgb(hm / self.gain)), ("true kps", skeleton_rgb(batch["kps"], size, img)),
                ("decoded", skeleton_rgb(pred, size, img))]

    def evaluate(self) -> dict[str, float]:
        c: PoseConfig = self.cfg
        net = self.raw["pose"]
        out = {}
        for folder in (f.strip() for f in c.eval_folder.split(",") if f.strip()):
            ds = person_folders(c, folder, split="test")  # held-out identities of folders without a split
            out.update({f"{folder}/{k}": v for k, v in
                        pck(lambda x: net.decode(net(x).float()), ds, c.eval_images, self.device).items()})
        return out

    def data_description(self) -> str:
        c: PoseConfig = self.cfg
        text = (f"keypoint annotations of {c.datasets} ({len(self.train_set)} images), flip p={c.flip}; "
                f"PCK on {c.eval_folder}")
        if c.balance:
            text += "; folders balanced to equal shares"
        if c.init_weights:
            text += f"; fine-tuned from {c.init_weights}"
        return text


STAGE = PoseStage
