"""Stage `pose`: PoseEstimator on every keypoint annotation (VITON, DeepFashion, Market; CCP's prepared folders carry
pseudo labels, `sps.data.ccp_pose`, whose unknown joints the loss leaves out); heatmap MSE, flips, the augmentations
of `sps.train.augment`."""
from __future__ import annotations

from typing import Any

import torch

from ... import losses as L
from ... import pose as K
from ..config import PoseConfig
from ..augment import augment
from ..data import flip_batch, person_folders
from ..grids import heatmap_rgb, skeleton_rgb, to_uint8
from ..nets import start_net
from ..stage import Stage, Terms
from .metrics import pck


class PoseStage(Stage):
    name = "pose"
    config_cls = PoseConfig
    exported = ("pose",)
    export_names = {"pose": "pose_estimator"}
    generator_terms = {"heatmap_mse": "heatmap"}

    def build(self) -> None:
        c: PoseConfig = self.cfg
        net = start_net("PoseEstimator", c)
        self.gain = float(net.config.heatmap_gain)
        self.train_net("pose", net)
        self.train_set = person_folders(c.data, c.canvas, c.data.datasets, balance=c.data.balance)

    def targets(self, kps: torch.Tensor) -> torch.Tensor:
        """(B, 18, 2) -> (B, 18, H, W) training targets: Gaussian heatmaps x the network's heatmap gain."""
        return K.heatmaps_torch(kps, tuple(self.cfg.canvas)) * self.gain

    def generator_losses(self, batch: dict[str, Any]) -> tuple[Terms, None]:
        b = flip_batch(batch, torch.rand(batch["image"].shape[0]) < self.cfg.data.flip)
        g = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))  # drawn from the step-seeded RNG
        image, _, kps = augment(b["image"], b["parsing"], b["kps"], self.cfg.augment, g)
        pred = self.models["pose"](image)  # (B, 18, H, W)
        return {"heatmap_mse": L.heatmap_mse(pred, self.targets(kps), b["known"])}, None

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
        for folder in c.data.eval_folder:
            ds = person_folders(c.data, c.canvas, [folder], split="test")  # held-out identities where unsplit
            out.update({f"{folder}/{k}": v for k, v in
                        pck(lambda x: net.decode(net(x).float()), ds, c.data.eval_images, self.device).items()})
        return out

    def data_description(self) -> str:
        c: PoseConfig = self.cfg
        text = (f"keypoint annotations of {', '.join(c.data.datasets)} ({len(self.train_set)} images), "
                f"flip p={c.data.flip}; PCK on {', '.join(c.data.eval_folder) or 'none'}")
        if c.data.balance:
            text += "; folders balanced to equal shares"
        if c.weights.init:
            text += f"; fine-tuned from {c.weights.init}"
        return text


STAGE = PoseStage
