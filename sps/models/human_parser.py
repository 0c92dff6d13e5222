"""Human parser: image -> logits of the 10 sps labels (``sps.parsing.LABELS``)."""
from __future__ import annotations

import torch

from .blocks import UNet
from .config import HumanParserConfig
from .hub import HubModel

NUM_LABELS = 10


class HumanParser(HubModel, pipeline_tag="image-segmentation"):
    """U-Net on the image; train with cross-entropy against merged LIP labels (``sps.losses.parsing_ce``)."""

    config_class = HumanParserConfig

    def __init__(self, config: HumanParserConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.net = UNet(3, NUM_LABELS, c.widths, c.norm, c.out_stride, c.dropout, c.dropout_blocks)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, 10, H, W) logits."""
        return self.net(image)

    @torch.no_grad()
    def predict(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, H, W) int64 label index."""
        return self(image).argmax(1)
