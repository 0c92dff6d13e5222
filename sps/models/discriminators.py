"""Discriminators (PatchGAN, LSGAN outputs without sigmoid) and face crops for the face discriminator."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .blocks import patch_trunk
from .config import DiscriminatorConfig
from .hub import HubModel

FACE_POINTS = (0, 14, 15, 16, 17)  # nose, right/left eye, right/left ear
NECK = 1
FACE_SCALE = 2.2  # crop side in units of the face-centre-to-neck distance
FACE_FALLBACK = 0.14  # crop side as a fraction of H when the neck is missing


class _Disc(HubModel):
    config_class = DiscriminatorConfig
    in_channels = 3

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.net = patch_trunk(self.in_channels, c.width, self._layers(), c.norm, c.spectral_norm)

    def _layers(self) -> int:
        return self.config.n_layers


class PatchDiscriminator(_Disc):
    """D on concat[image 3, parsing 10] -> (B, 1, h, w) patch scores."""

    in_channels = 13

    def forward(self, image: torch.Tensor, parsing: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, parsing], 1))


class ParsingDiscriminator(_Disc):
    """D for G_S on concat[parsing 10 (softmax/one-hot), pose heatmaps 18] -> (B, 1, h, w)."""

    in_channels = 28

    def forward(self, parsing: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([parsing, pose], 1))


class FaceDiscriminator(_Disc):
    """D on face crops (B, 3, s, s) from ``face_crops`` -> (B, 1, h, w)."""

    in_channels = 3

    def _layers(self) -> int:
        # keep at least a 4 px map before the two stride-1 convs
        return max(1, min(self.config.n_layers, int(torch.log2(torch.tensor(self.config.face_size / 4.0)).item())))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.net(crops)


def face_boxes(kps: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Square face boxes from keypoints: centre (B, 2) xy px, side (B,) px, ok (B,).

    Centre = mean of the visible face points (nose, eyes, ears); side = FACE_SCALE x the distance from the
    centre to the neck (FACE_FALLBACK x H without a neck). A face counts when >= 2 face points are visible,
    one of them the nose or an eye.
    """
    kps = kps.float()
    face = kps[:, list(FACE_POINTS)]  # (B, 5, 2)
    vis = (face >= 0).all(-1)  # (B, 5)
    n = vis.sum(1)
    centre = (face * vis[..., None]).sum(1) / n.clamp(min=1)[:, None]
    neck = kps[:, NECK]
    has_neck = (neck >= 0).all(-1)
    side = torch.where(has_neck, FACE_SCALE * (centre - neck).norm(dim=-1), torch.full_like(centre[:, 0], FACE_FALLBACK * size[0]))
    side = side.clamp(min=0.06 * size[0], max=0.5 * size[0])
    ok = (n >= 2) & vis[:, :3].any(1)
    centre = torch.where(ok[:, None], centre, torch.tensor([size[1] / 2, size[0] / 2], device=kps.device))
    return centre, side, ok


def face_crops(image: torch.Tensor, kps: torch.Tensor, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable square crops around the head.

    Args:
        image: (B, C, H, W); kps: (B, 18, 2) xy on the image's pixel grid.
    Returns:
        crops (B, C, size, size) (zeros outside the image) and face_ok (B,) bool.
    """
    b, c, h, w = image.shape
    centre, side, ok = face_boxes(kps.to(image.device), (h, w))
    cx = (centre[:, 0] + 0.5) * 2 / w - 1  # normalised, align_corners=False
    cy = (centre[:, 1] + 0.5) * 2 / h - 1
    zero = torch.zeros_like(cx)
    theta = torch.stack([torch.stack([side / w, zero, cx], -1), torch.stack([zero, side / h, cy], -1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(image.dtype), [b, c, size, size], align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False), ok
