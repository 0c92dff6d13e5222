"""Pose estimator: image -> 18 keypoint heatmaps; ``decode`` -> (x, y) keypoints with sub-pixel refinement."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .blocks import UNet
from .config import PoseEstimatorConfig
from .hub import HubModel

NUM_KEYPOINTS = 18


class PoseEstimator(HubModel, pipeline_tag="keypoint-detection"):
    """U-Net on the image; predicts heatmaps at stride ``out_stride``, upsampled to the input size.

    Train with MSE against ``sps.pose.heatmaps_torch(kps, canvas) * config.heatmap_gain``.
    """

    config_class = PoseEstimatorConfig

    def __init__(self, config: PoseEstimatorConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.net = UNet(3, NUM_KEYPOINTS, c.widths, c.norm, c.out_stride, c.dropout, c.dropout_blocks)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, 18, H, W) heatmaps (peak ~ heatmap_gain)."""
        return self.net(image)

    @torch.no_grad()
    def decode(self, heatmaps: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
        """Heatmaps -> (B, 18, 2) float32 (x, y) on the heatmaps' pixel grid, -1 where the peak < threshold.

        The peak (divided by ``heatmap_gain``) is refined by a soft-argmax over its 3x3 neighbourhood.
        """
        return decode_heatmaps(heatmaps / self.config.heatmap_gain, threshold)


def decode_heatmaps(heatmaps: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """(B, K, H, W) -> (B, K, 2) xy: argmax + 3x3 local soft-argmax; -1 where max < threshold."""
    b, k, h, w = heatmaps.shape
    hm = heatmaps.float()
    val, idx = hm.reshape(b, k, -1).max(-1)  # (B, K)
    y0, x0 = (idx // w).float(), (idx % w).float()
    # 3x3 neighbourhood values via unfold on a zero-padded map.
    patches = F.unfold(F.pad(hm.reshape(b * k, 1, h, w), (1, 1, 1, 1), value=0.0), 3)  # (BK, 9, H*W)
    nb = patches.gather(2, idx.reshape(b * k, 1, 1).expand(-1, 9, 1))[..., 0].reshape(b, k, 3, 3)
    wgt = (nb - nb.amin((-2, -1), keepdim=True)).clamp(min=0)  # relative to the local minimum
    off = torch.tensor([-1.0, 0.0, 1.0], device=hm.device)
    tot = wgt.sum((-2, -1)).clamp(min=1e-12)
    dx = (wgt * off[None, None, None, :]).sum((-2, -1)) / tot
    dy = (wgt * off[None, None, :, None]).sum((-2, -1)) / tot
    xy = torch.stack([(x0 + dx).clamp(0, w - 1), (y0 + dy).clamp(0, h - 1)], -1)
    return torch.where((val >= threshold)[..., None], xy, torch.full_like(xy, -1.0))
