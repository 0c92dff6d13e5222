"""G_A, the appearance generator: dual encoder with deformable skips (Siarohin et al. 2018, as in the paper).

Inputs: appearance stream [source image 3, source parsing without background 9, source pose 18],
target stream [target pose 18, target parsing without background 9]. The 10 part transforms
(target -> source, normalised, so valid at every resolution) and the target part masks are computed once
per forward on the canvas and reused at every skip level.

With ``config.composite`` (not in the paper) a 3-channel head on the decoder's last features also predicts a
residual flow (2) and a blend mask (1): the output is the source warped by the part-wise affine warp plus that flow,
blended with the generated image where the mask says, so what the source shows stays sharp (``sps.models.flow``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..parts import part_masks_torch, part_transforms_torch, usable_parts
from . import flow as W
from .blocks import ConvBlock, DeformableSkip, ResBlock, scale_keypoints, upsample_to
from .config import AppearanceGeneratorConfig
from .hub import HubModel

FLOW_SCALE = 0.1  # the head's flow channels x this = the residual flow in normalised units (small at the start)
PRIOR_LOGIT = 3.0  # the blend mask's prior: sigmoid(+3) = 0.95 where the warped labels agree, sigmoid(-3) elsewhere


@dataclass
class AppearanceOutput:
    """What G_A made of one target, on the canvas (all (B, C, H, W) unless said).

    image: the output in [-1, 1] (the composite, or the generated image without ``composite``).
    generated: the generator's own image in [-1, 1].
    Composite only (else None): warped (the source sampled through ``grid``), mask (the blend weight in [0, 1],
    already zero where the grid falls outside the source person), flow (2 channels: the learned residual, in
    normalised units), grid ((B, H, W, 2) normalised source coordinates), choice ((B, 10, H, W) one-hot part
    whose transform each pixel follows), theta ((B, 10, 2, 3) the part transforms), visible (B, 1, H, W: the
    source person's mask sampled through the grid), agree (B, 1, H, W: how far the source labels moved by the grid
    agree with the target parsing, in [0, 1]; the mask's prior is ``sigmoid(PRIOR_LOGIT * (2 * agree - 1)) *
    visible``).
    """

    image: torch.Tensor
    generated: torch.Tensor
    warped: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    flow: torch.Tensor | None = None
    grid: torch.Tensor | None = None
    choice: torch.Tensor | None = None
    theta: torch.Tensor | None = None
    visible: torch.Tensor | None = None
    agree: torch.Tensor | None = None

APP_CHANNELS = 3 + 9 + 18
TGT_CHANNELS = 18 + 9


class DualEncoderGenerator(nn.Module):
    """Two encoders (appearance, target), deformable skips at every level, a decoder to a 3-channel map.

    forward returns the pre-tanh image and the decoder's last feature map (upsampled to the output size,
    the input of the final conv), which the local enhancer adds to.
    """

    def __init__(self, enc_widths: tuple[int, ...], dec_widths: tuple[int, ...], norm: str, dropout: float,
                 dropout_blocks: int, merge: str) -> None:
        super().__init__()
        n = len(enc_widths)
        self.app_enc, self.tgt_enc = nn.ModuleList(), nn.ModuleList()
        pa, pt = APP_CHANNELS, TGT_CHANNELS
        for i, w in enumerate(enc_widths):
            nm = "none" if i == 0 else norm
            self.app_enc.append(ConvBlock(pa, w, 3, 2, nm, "lrelu"))
            self.tgt_enc.append(ConvBlock(pt, w, 3, 2, nm, "lrelu"))
            pa = pt = w
        self.skip = DeformableSkip(merge)
        self.dec = nn.ModuleList()
        prev = 2 * enc_widths[-1]
        for j in range(n - 1):
            level = n - 2 - j  # encoder level whose skip joins this block
            p = dropout if j < dropout_blocks else 0.0
            self.dec.append(ConvBlock(prev + 2 * enc_widths[level], dec_widths[j], 3, 1, norm, "relu", p))
            prev = dec_widths[j]
        self.feat_channels = prev
        self.out = nn.Conv2d(prev, dec_widths[-1], 3, 1, 1)

    @staticmethod
    def _encode(encoder: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map after every level of ``encoder``."""
        feats = []
        for block in encoder:
            x = block(x)
            feats.append(x)
        return feats

    def appearance_features(self, app: torch.Tensor) -> list[torch.Tensor]:
        """(B, 30, H, W) appearance stream -> the appearance encoder's features, one (B, enc_widths[i], h_i, w_i)
        map per level i (stride 2^(i+1)): what the deformable skips move onto the target pose."""
        return self._encode(self.app_enc, app)

    def forward(self, app: torch.Tensor, tgt: torch.Tensor, theta: torch.Tensor,
                masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size = app.shape[-2:]
        skips = [self.skip(a, t, theta, masks)  # (B, 2C, h, w) per level
                 for a, t in zip(self.appearance_features(app), self._encode(self.tgt_enc, tgt))]
        h = skips[-1]
        for blk, s in zip(self.dec, skips[-2::-1]):
            h = blk(torch.cat([upsample_to(h, s.shape[-2:]), s], 1))
        feat = upsample_to(h, size)  # (B, dec[-2], H, W)
        return self.out(feat), feat


class LocalEnhancer(nn.Module):
    """Full-resolution stream (pix2pixHD style) with its own deformable skips at strides 1 and 2.

    Its stride-2 features (same channels as the global generator's last features) are added to the global
    features, refined by residual blocks, upsampled and joined with the stride-1 skip.
    """

    def __init__(self, widths: tuple[int, int], global_channels: int, res_blocks: int, norm: str, merge: str) -> None:
        super().__init__()
        w0, w1 = widths
        self.app0, self.tgt0 = ConvBlock(APP_CHANNELS, w0, 3, 1, "none", "lrelu"), ConvBlock(TGT_CHANNELS, w0, 3, 1, "none", "lrelu")
        self.app1, self.tgt1 = ConvBlock(w0, w1, 3, 2, norm, "lrelu"), ConvBlock(w0, w1, 3, 2, norm, "lrelu")
        self.skip = DeformableSkip(merge)
        self.fuse = ConvBlock(2 * w1, global_channels, 3, 1, norm, "relu")
        self.res = nn.Sequential(*[ResBlock(global_channels, norm) for _ in range(res_blocks)])
        self.up = ConvBlock(global_channels + 2 * w0, w0, 3, 1, norm, "relu")
        self.out = nn.Conv2d(w0, 3, 3, 1, 1)

    def forward(self, app: torch.Tensor, tgt: torch.Tensor, theta: torch.Tensor, masks: torch.Tensor,
                global_feat: torch.Tensor) -> torch.Tensor:
        a0, t0 = self.app0(app), self.tgt0(tgt)
        s0 = self.skip(a0, t0, theta, masks)
        a1, t1 = self.app1(a0), self.tgt1(t0)
        h = self.fuse(self.skip(a1, t1, theta, masks)) + upsample_to(global_feat, a1.shape[-2:])
        h = self.res(h)
        h = self.up(torch.cat([upsample_to(h, s0.shape[-2:]), s0], 1))
        return self.out(h), h


class AppearanceGenerator(HubModel, pipeline_tag="image-to-image"):
    """G_A. With ``config.local_enhancer``: global generator at half resolution + local enhancer, faded by alpha.
    With ``config.composite``: flow and blend-mask head, the output composited with the warped source."""

    config_class = AppearanceGeneratorConfig

    def __init__(self, config: AppearanceGeneratorConfig | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.globalnet = DualEncoderGenerator(c.enc_widths, c.dec_widths, c.norm, c.dropout, c.dropout_blocks, c.merge)
        self.local = (LocalEnhancer(c.local_widths, self.globalnet.feat_channels, c.local_res_blocks, c.norm, c.merge)
                      if c.local_enhancer else None)
        self.blend = None
        if c.composite:
            feat = c.local_widths[0] if c.local_enhancer else self.globalnet.feat_channels
            self.blend = nn.Conv2d(feat, 3, 3, 1, 1)  # residual flow (2) + blend-mask logit (1)
            nn.init.zeros_(self.blend.weight)
            nn.init.zeros_(self.blend.bias)

    @classmethod
    def with_composite(cls, net: AppearanceGenerator) -> AppearanceGenerator:
        """A composite G_A that starts from ``net`` (a plain one): same weights, a fresh flow/mask head (zero: no
        residual flow, the mask at its prior). A composite ``net`` is returned as is."""
        return net if net.config.composite else cls.reconfigured(net, composite=True)

    @classmethod
    def reconfigured(cls, net: AppearanceGenerator, **changes) -> AppearanceGenerator:
        """A G_A with ``changes`` to ``net``'s config (composite, use_parsing) and ``net``'s weights; parameters
        only the new config has (the composite head) start fresh."""
        new = cls(type(net.config).from_dict({**net.config.to_dict(), **changes}))
        missing, unexpected = new.load_state_dict(net.state_dict(), strict=False)
        if unexpected or any(not k.startswith("blend.") for k in missing):
            raise RuntimeError(f"reconfigured {changes}: unexpected {unexpected}, missing {missing}")
        return new.to(next(net.parameters()).device)

    @staticmethod
    def pose_geometry(src_kps: torch.Tensor, tgt_kps: torch.Tensor, size: tuple[int, int],
                      mask_size: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Part transforms theta (B, 10, 2, 3) target->source (normalised, any resolution) and target
        part masks (B, 10, h, w) drawn at ``mask_size`` (default ``size``), the finest skip level."""
        theta, _ = part_transforms_torch(src_kps, tgt_kps, size)
        if mask_size is None or tuple(mask_size) == tuple(size):
            return theta, part_masks_torch(tgt_kps, size)
        return theta, part_masks_torch(scale_keypoints(tgt_kps, size, mask_size), mask_size)

    def forward(self, src_image: torch.Tensor, src_parsing: torch.Tensor, src_pose: torch.Tensor,
                tgt_parsing: torch.Tensor, tgt_pose: torch.Tensor, src_kps: torch.Tensor, tgt_kps: torch.Tensor,
                alpha: float = 1.0, details: bool = False) -> torch.Tensor | AppearanceOutput:
        """Images (B,3,H,W) in [-1,1], parsings (B,10,H,W) one-hot/soft, poses (B,18,H,W) heatmaps,
        keypoints (B,18,2) xy on the (H, W) canvas -> (B,3,H,W) in [-1,1], or with ``details`` the
        ``AppearanceOutput`` (mask, flow and grid of the composite).

        ``alpha`` (local enhancer only): 0 = upsampled global output, 1 = local enhancer output.
        """
        size = tuple(src_image.shape[-2:])
        app = self._stream(src_image, src_parsing, src_pose)  # (B, 30, H, W)
        tgt = torch.cat([tgt_pose, self._keep * tgt_parsing[:, 1:]], 1)  # (B, 27, H, W)
        theta, masks = self._skip_geometry(src_kps, tgt_kps, app)
        if self.local is None:
            out, feat = self.globalnet(app, tgt, theta, masks)
            image = torch.tanh(out)
        else:
            g_out, g_feat = self.globalnet(self._global_input(app), self._global_input(tgt), theta, masks)
            image = upsample_to(torch.tanh(g_out), size)
            feat = upsample_to(g_feat, size)
            if alpha > 0:
                l_out, feat = self.local(app, tgt, theta, masks, g_feat)
                image = alpha * torch.tanh(l_out) + (1 - alpha) * image
        if self.blend is None:
            out = AppearanceOutput(image, image)
        else:  # the part masks at full size: the finest skip's when the local enhancer made them at that size
            full = masks if tuple(masks.shape[-2:]) == size else part_masks_torch(tgt_kps.float().to(app.device), size)
            out = self._composite(image, feat, src_image, src_parsing, tgt_parsing, theta, full)
        return out if details else out.image

    @property
    def _keep(self) -> float:
        """The factor on the parsing inputs: 0 for the "no parsing" baseline, which sees zeros."""
        return 1.0 if self.config.use_parsing else 0.0

    def _stream(self, src_image: torch.Tensor, src_parsing: torch.Tensor, src_pose: torch.Tensor) -> torch.Tensor:
        """The appearance stream (B, 30, H, W): [I_s, S_s without background, p_s]."""
        return torch.cat([src_image, self._keep * src_parsing[:, 1:], src_pose], 1)

    def _global_input(self, x: torch.Tensor) -> torch.Tensor:
        """A stream as the global generator gets it: as is, or at half resolution with the local enhancer."""
        if self.local is None:
            return x
        return F.interpolate(x, size=(x.shape[-2] // 2, x.shape[-1] // 2), mode="bilinear", antialias=True,
                             align_corners=False)

    def _skip_geometry(self, src_kps: torch.Tensor, tgt_kps: torch.Tensor,
                       app: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``pose_geometry`` for the canvas of ``app``, the masks drawn at the finest deformable skip (full
        resolution with the local enhancer, else stride 2) in ``app``'s dtype."""
        size = tuple(app.shape[-2:])
        mask_size = size if self.local is not None else ((size[0] + 1) // 2, (size[1] + 1) // 2)
        theta, masks = self.pose_geometry(src_kps.to(app.device), tgt_kps.to(app.device), size, mask_size)
        return theta, masks.to(app.dtype)

    def appearance_features(self, src_image: torch.Tensor, src_parsing: torch.Tensor,
                            src_pose: torch.Tensor) -> list[torch.Tensor]:
        """The appearance encoder's features of a source, as ``forward`` computes them: one (B, enc_widths[i],
        h_i, w_i) map per level i (stride 2^(i+1) of the canvas; of the half-resolution input with the local
        enhancer). Inputs as in ``forward``. These are the maps the deformable skips move onto the target pose."""
        return self.globalnet.appearance_features(self._global_input(self._stream(src_image, src_parsing, src_pose)))

    def skip_features(self, src_image: torch.Tensor, src_parsing: torch.Tensor, src_pose: torch.Tensor,
                      src_kps: torch.Tensor, tgt_kps: torch.Tensor) -> list[torch.Tensor]:
        """``appearance_features`` moved onto the target pose by the deformable skips, as ``forward`` computes
        them: per level, each part's copy warped by its affine transform, kept inside the target part's mask and
        merged over the parts; same shapes as ``appearance_features`` (``forward`` then concatenates each with
        the target encoder's features of that level)."""
        app = self._stream(src_image, src_parsing, src_pose)
        theta, masks = self._skip_geometry(src_kps, tgt_kps, app)
        feats = self.globalnet.appearance_features(self._global_input(app))
        return [self.globalnet.skip.warp(f, theta, masks) for f in feats]

    def _composite(self, generated: torch.Tensor, feat: torch.Tensor, src_image: torch.Tensor,
                   src_parsing: torch.Tensor, tgt_parsing: torch.Tensor, theta: torch.Tensor,
                   masks: torch.Tensor) -> AppearanceOutput:
        """The source warped by the part-wise affine warp + the head's residual flow, blended with ``generated``.

        The mask's prior is the agreement of the warped source parsing with the target parsing (copy where the
        warp lands a source face on a target face, generate where it lands a face on target hair); the head's
        mask channel is a residual logit on that prior."""
        choice = W.part_selection(masks, usable_parts(theta))  # (B, 10, H, W) from (B, 10, H, W) target part masks
        head = self.blend(feat)  # (B, 3, H, W)
        flow = FLOW_SCALE * head[:, :2]
        grid = W.selected_grid(theta, choice) + flow.permute(0, 2, 3, 1)  # (B, H, W, 2)
        both = W.sample(torch.cat([src_image, src_parsing.to(src_image.dtype)], 1), grid)  # (B, 3 + 10, H, W)
        warped, warped_labels = both[:, :3], both[:, 4:]  # the source's person labels, moved
        visible = warped_labels.sum(1, keepdim=True).clamp(0, 1)  # (B, 1, H, W)
        agree = (warped_labels * tgt_parsing[:, 1:].to(warped_labels.dtype)).sum(1, keepdim=True).clamp(0, 1)
        mask = torch.sigmoid(head[:, 2:] + PRIOR_LOGIT * (2 * agree - 1)) * visible
        return AppearanceOutput(W.composite(generated, warped, mask), generated, warped, mask, flow, grid, choice,
                                theta, visible, agree)
