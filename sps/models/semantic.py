"""G_S, the semantic parsing transformation: source parsing + source/target pose -> target parsing."""
from __future__ import annotations

import dataclasses
import logging

import torch
import torch.nn.functional as F

from ..parts import warp_image_by_parts
from .blocks import UNet, scale_keypoints, upsample_to
from .config import SemanticGeneratorConfig
from .hub import HubModel

log = logging.getLogger(__name__)
NUM_LABELS = 10
NUM_KEYPOINTS = 18
GAIN_SCALE = 10.0  # prior_gain is stored divided by this: an Adam step (~lr) moves the gain 10x as far


class SemanticGenerator(HubModel, pipeline_tag="image-to-image"):
    """U-Net over concat[src_parsing 10, src_pose 18, tgt_pose 18] (+ part-warped src_parsing 10) -> 10 logits.

    With ``config.warp_prior`` (default) pass ``src_kps`` and ``tgt_kps`` (B, 18, 2 canvas xy): the source
    parsing moved part by part onto the target pose is fed as 10 extra channels, a strong prior. Without
    them those channels are zeros (a warning is logged once) -- do pass them. With ``config.correction`` the output
    is a correction of that prior: the logits add a learned gain per label (``GAIN_SCALE * prior_gain``) x the prior,
    which is then computed at the canvas's full resolution.
    """

    config_class = SemanticGeneratorConfig

    def __init__(self, config: SemanticGeneratorConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        cin = NUM_LABELS + 2 * NUM_KEYPOINTS + (NUM_LABELS if c.warp_prior else 0)
        self.net = UNet(cin, NUM_LABELS, c.widths, c.norm, c.out_stride, c.dropout, c.dropout_blocks)
        if c.correction:
            self.prior_gain = torch.nn.Parameter(torch.zeros(NUM_LABELS))  # 0: starts as the plain U-Net
        self._warned = False

    def with_correction(self) -> SemanticGenerator:
        """A copy with ``config.correction`` on: the same U-Net weights, ``prior_gain`` 0 (the same output, up to the
        prior's full resolution), ready to fine-tune as a correction of the warped prior."""
        if self.config.correction:
            return self
        net = SemanticGenerator(dataclasses.replace(self.config, correction=True))
        missing, unexpected = net.load_state_dict(self.state_dict(), strict=False)
        assert missing == ["prior_gain"] and not unexpected, (missing, unexpected)
        return net

    def forward(self, src_parsing: torch.Tensor, src_pose: torch.Tensor, tgt_pose: torch.Tensor, *,
                src_kps: torch.Tensor | None = None, tgt_kps: torch.Tensor | None = None) -> torch.Tensor:
        """(B,10,H,W) one-hot/soft, (B,18,H,W), (B,18,H,W) [, (B,18,2), (B,18,2)] -> (B,10,H,W) logits."""
        if not self.config.warp_prior:
            return self.net(torch.cat([src_parsing, src_pose, tgt_pose], 1))
        if src_kps is None or tgt_kps is None:
            if not self._warned:
                log.warning("SemanticGenerator(warp_prior=True) called without src_kps/tgt_kps: prior channels are zero")
                self._warned = True
            prior = torch.zeros_like(src_parsing)
        else:
            prior = self.warp_prior(src_parsing, src_kps, tgt_kps, full=self.config.correction)  # (B, 10, H, W)
        logits = self.net(torch.cat([src_parsing, src_pose, tgt_pose, prior], 1))
        if self.config.correction:
            logits = logits + GAIN_SCALE * self.prior_gain.view(1, -1, 1, 1) * prior
        return logits

    @staticmethod
    def warp_prior(src_parsing: torch.Tensor, src_kps: torch.Tensor, tgt_kps: torch.Tensor, full: bool = False
                   ) -> torch.Tensor:
        """Source parsing moved onto the target pose part by part (zero outside the target parts).

        Computed at half resolution (4x cheaper; the maps are smooth label masks) and upsampled, unless ``full``.
        """
        size = src_parsing.shape[-2:]
        if full:
            return warp_image_by_parts(src_parsing, src_kps.to(src_parsing.device), tgt_kps.to(src_parsing.device))
        half = (max(size[0] // 2, 8), max(size[1] // 2, 8))
        small = F.interpolate(src_parsing, size=half, mode="bilinear", align_corners=False, antialias=True)
        warped = warp_image_by_parts(small, scale_keypoints(src_kps.to(small.device), size, half),
                                     scale_keypoints(tgt_kps.to(small.device), size, half))
        return upsample_to(warped, size)
