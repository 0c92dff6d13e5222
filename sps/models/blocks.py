"""Building blocks: conv-norm-act, a configurable U-Net, the deformable skip, PatchGAN trunks."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..parts import merge_parts, warp_parts


def norm_layer(kind: str, ch: int) -> nn.Module:
    """'instance' (affine), 'group' (up to 8 groups), 'batch' or 'none'."""
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    if kind == "group":
        groups = next(g for g in (8, 4, 2, 1) if ch % g == 0)
        return nn.GroupNorm(groups, ch)
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


def act_layer(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {kind!r}")


class ConvBlock(nn.Sequential):
    """Conv (k x k, 'same'-ish padding) -> norm -> activation -> optional dropout."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, norm: str = "instance",
                 act: str = "relu", dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=norm in ("none", "instance")),
                                   norm_layer(norm, cout), act_layer(act)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


def upsample_to(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear resize of (B, C, h, w) to ``size`` (no-op if equal)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def scale_keypoints(kps: torch.Tensor, size: tuple[int, int], new_size: tuple[int, int]) -> torch.Tensor:
    """(B, 18, 2) pixel xy on a ``size`` (H, W) grid -> the same points on ``new_size``; -1 stays -1."""
    sx, sy = new_size[1] / size[1], new_size[0] / size[0]
    scale = torch.tensor([sx, sy], dtype=kps.dtype, device=kps.device)
    out = (kps + 0.5) * scale - 0.5
    vis = (kps >= 0).all(-1, keepdim=True)
    return torch.where(vis, out, torch.full_like(kps, -1.0))


def resize_masks(masks: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """(B, K, H, W) binary masks -> (B, K, h, w); downsampling keeps a cell if any pixel in it is set."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    if masks.shape[-2] >= size[0] and masks.shape[-1] >= size[1]:
        return F.adaptive_max_pool2d(masks, tuple(size))
    return F.interpolate(masks, size=tuple(size), mode="nearest")


class UNet(nn.Module):
    """Encoder (stride-2 levels) / decoder with skip connections.

    Encoder level i has width ``widths[i]`` at stride 2^(i+1) (conv s2 + conv). The decoder goes back up
    to stride ``out_stride`` (1 adds a last block that also sees the input), then a 1x1 head; the head's
    output is bilinearly upsampled to the input size.
    """

    def __init__(self, cin: int, cout: int, widths: tuple[int, ...], norm: str = "instance", out_stride: int = 1,
                 dropout: float = 0.0, dropout_blocks: int = 0) -> None:
        super().__init__()
        if out_stride not in (1, 2, 4) or 2 ** (len(widths) - 1) < out_stride:
            raise ValueError(f"out_stride must be 1, 2 or 4 and reachable with {len(widths)} levels, got {out_stride}")
        n = len(widths)
        self.down = nn.ModuleList()
        prev = cin
        for i, w in enumerate(widths):
            self.down.append(nn.Sequential(ConvBlock(prev, w, 3, 2, "none" if i == 0 else norm, "lrelu"),
                                           ConvBlock(w, w, 3, 1, norm, "lrelu")))
            prev = w
        stop = {1: 0, 2: 0, 4: 1}[out_stride]  # lowest encoder level the decoder returns to
        self.up = nn.ModuleList()
        for j, i in enumerate(range(n - 2, stop - 1, -1)):
            p = dropout if j < dropout_blocks else 0.0
            self.up.append(nn.Sequential(ConvBlock(prev + widths[i], widths[i], 3, 1, norm, "relu", p),
                                         ConvBlock(widths[i], widths[i], 3, 1, norm, "relu")))
            prev = widths[i]
        self.full = None
        if out_stride == 1:
            wf = max(widths[0] // 2, 8)
            self.full = ConvBlock(prev + cin, wf, 3, 1, norm, "relu")
            prev = wf
        self.head = nn.Conv2d(prev, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        feats = []
        h = x
        for blk in self.down:
            h = blk(h)
            feats.append(h)
        skips = feats[:-1][::-1]
        for blk, s in zip(self.up, skips):
            h = blk(torch.cat([upsample_to(h, s.shape[-2:]), s], 1))
        if self.full is not None:
            h = self.full(torch.cat([upsample_to(h, size), x], 1))
        return upsample_to(self.head(h), size)


class DeformableSkip(nn.Module):
    """The paper's deformable skip: warp appearance features part by part onto the target pose.

    ``warp_parts`` samples the source feature map with each part's target->source affine transform,
    each copy is masked by the target part mask (resized to the feature size, any-pixel pooling), the 10
    copies are merged (max by default) and concatenated with the target encoder's feature.
    No parameters.
    """

    def __init__(self, merge: str = "max") -> None:
        super().__init__()
        self.merge = merge

    def warp(self, app: torch.Tensor, theta: torch.Tensor, masks: torch.Tensor | None) -> torch.Tensor:
        """(B, C, h, w) appearance features -> (B, C, h, w) features moved to the target pose."""
        if masks is not None:
            masks = resize_masks(masks.to(app.dtype), app.shape[-2:])
        return merge_parts(warp_parts(app, theta, masks), self.merge)

    def forward(self, app: torch.Tensor, tgt: torch.Tensor | None, theta: torch.Tensor,
                masks: torch.Tensor | None) -> torch.Tensor:
        warped = self.warp(app, theta, masks)
        return warped if tgt is None else torch.cat([warped, tgt], 1)


class ResBlock(nn.Module):
    def __init__(self, ch: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(ConvBlock(ch, ch, 3, 1, norm, "relu"), ConvBlock(ch, ch, 3, 1, norm, "none"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def patch_trunk(cin: int, width: int, n_layers: int, norm: str, spectral: bool) -> nn.Sequential:
    """PatchGAN: n_layers 4x4 stride-2 convs, one stride-1 conv, a 1-channel stride-1 output (no sigmoid)."""
    sn = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
    norm = "none" if spectral and norm == "batch" else norm
    layers: list[nn.Module] = [sn(nn.Conv2d(cin, width, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
    prev = width
    for i in range(1, n_layers + 1):
        w = min(width * 2 ** i, 512)
        stride = 2 if i < n_layers else 1
        layers += [sn(nn.Conv2d(prev, w, 4, stride, 1, bias=norm in ("none", "instance"))), norm_layer(norm, w),
                   nn.LeakyReLU(0.2, inplace=True)]
        prev = w
    layers.append(sn(nn.Conv2d(prev, 1, 4, 1, 1)))
    return nn.Sequential(*layers)
