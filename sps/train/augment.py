"""Batched augmentations that make studio training photos look like a user's photo.

Every function takes a batch on the canvas and a ``torch.Generator`` (so a resumed run draws the same):
images (B, 3, H, W) in [-1, 1], parsing (B, H, W) label ids (-1 = unknown), keypoints (B, 18, 2) canvas xy
(-1 missing). Geometry moves all three together; colour touches only the image.

- ``zoom``: random scale and shift (zoom out: more surroundings; zoom in: a half-body or portrait crop);
- ``clutter``: the background (label 0) replaced by a shuffled mosaic of other photos of the batch, so that
  patterned, busy surroundings are seen as background (VITON's are plain white);
- ``colour``: brightness, contrast, saturation and per-channel gains; ``grayscale``: some photos lose their colour;
- ``zoom_pair``: the source and the candidate of G_S's pseudo pairs zoomed independently (``LayoutZoom``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import pose as K


@dataclass
class AugmentConfig:
    """Probabilities and ranges of each augmentation (0 switches one off)."""

    zoom: float = 0.5  # probability of a random scale + shift
    scale: tuple[float, float] = (0.7, 1.6)  # < 1 zooms out, > 1 zooms in
    clutter: float = 0.5  # probability of a cluttered background where the parsing says background
    clutter_tiles: int = 4  # the mosaic is tiles x tiles blocks of shuffled photos
    colour: float = 0.8  # probability of a colour jitter
    brightness: float = 0.25
    contrast: float = 0.3
    saturation: float = 0.4
    channel_gain: float = 0.1
    grayscale: float = 0.1  # probability of a grey photo

    def __post_init__(self) -> None:
        for name in ("zoom", "clutter", "colour", "grayscale"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"AugmentConfig.{name} is a probability in [0, 1], got {getattr(self, name)!r}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"AugmentConfig.scale must be (low, high) with 0 < low <= high, got {self.scale!r}")


@dataclass
class LayoutZoom:
    """Zooms of G_S's pseudo pairs. A full-body source cut to a half body (zoomed in) teaches G_S to continue what
    the crop hides, e.g. trousers down to the shoes of a full-body target; a zoomed candidate teaches close-up and
    distant target poses. The source only zooms in: a zoomed-out source shows nothing new."""

    source: float = 0.0  # probability that the source is zoomed in
    source_scale: tuple[float, float] = (1.2, 2.0)
    target: float = 0.0  # probability that the candidate (pose and pseudo label together) is zoomed
    target_scale: tuple[float, float] = (0.75, 1.5)

    def __post_init__(self) -> None:
        self.source_config(), self.target_config()  # validates
        if self.source_scale[0] < 1:
            raise ValueError(f"LayoutZoom.source_scale zooms in only (low >= 1), got {self.source_scale!r}")

    def source_config(self) -> AugmentConfig:
        return AugmentConfig(zoom=self.source, scale=tuple(self.source_scale))

    def target_config(self) -> AugmentConfig:
        return AugmentConfig(zoom=self.target, scale=tuple(self.target_scale))


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def zoom(image: torch.Tensor, parsing: torch.Tensor, kps: torch.Tensor, cfg: AugmentConfig, g: torch.Generator
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scale each selected sample about a random centre; what comes into view is white / background."""
    b, _, h, w = image.shape
    on = torch.rand(b, generator=g) < cfg.zoom
    if not on.any():
        return image, parsing, kps
    s = torch.where(on, torch.exp(_uniform(b, *torch.tensor(cfg.scale).log().tolist(), g)), torch.ones(b))
    # output pixel p shows input pixel c + (p - centre_out) / s: pick the input centre so the person stays in view
    cx = _uniform(b, 0.5 - 0.25, 0.5 + 0.25, g) * (w - 1)
    cy = torch.where(s > 1, _uniform(b, 0.2, 0.55, g), _uniform(b, 0.4, 0.6, g)) * (h - 1)  # zoom in: upper body
    cx = torch.where(on, cx, torch.full_like(cx, (w - 1) / 2))
    cy = torch.where(on, cy, torch.full_like(cy, (h - 1) / 2))
    # affine_grid, normalised coordinates (align_corners=True, the output centre is 0): u_in = u_out / s + u_c
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = 1 / s, 1 / s
    theta[:, 0, 2], theta[:, 1, 2] = 2 * cx / (w - 1) - 1, 2 * cy / (h - 1) - 1
    grid = F.affine_grid(theta.to(image), (b, 3, h, w), align_corners=True)
    img = F.grid_sample(image + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=True) - 1
    inside = F.grid_sample(torch.ones_like(image[:, :1]), grid, mode="nearest", padding_mode="zeros",
                           align_corners=True)
    img = torch.where(inside > 0, img, torch.ones_like(img))  # white, as the canvas padding
    par = F.grid_sample(parsing[:, None].float() + 1, grid.to(torch.float32), mode="nearest", padding_mode="zeros",
                        align_corners=True)[:, 0].round().long() - 1  # 0 (outside) -> -1 ...
    par = torch.where((par < 0) & (parsing.amin((1, 2), keepdim=True) >= 0), torch.zeros_like(par), par)
    # keypoints: x_out = (x_in - c) * s + centre_out
    scale = s.view(b, 1, 1).to(kps)
    centre_in = torch.stack([cx, cy], -1).view(b, 1, 2).to(kps)
    centre_out = torch.tensor([(w - 1) / 2, (h - 1) / 2]).to(kps)
    moved = (kps - centre_in) * scale + centre_out
    in_view = (moved[..., 0] >= 0) & (moved[..., 0] <= w - 1) & (moved[..., 1] >= 0) & (moved[..., 1] <= h - 1)
    vis = K.visible(kps) & in_view
    out_kps = torch.where(vis[..., None], moved, torch.full_like(kps, K.MISSING))
    keep = ~on.view(b, 1, 1, 1).to(image.device)
    return (torch.where(keep, image, img), torch.where(keep[:, 0], parsing, par),
            torch.where(keep[:, 0], kps, out_kps))


def clutter(image: torch.Tensor, parsing: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Where the parsing says background (0), show a mosaic of shuffled tiles of the batch's photos."""
    b, _, h, w = image.shape
    on = (torch.rand(b, generator=g) < cfg.clutter).to(image.device)
    if b < 2 or not on.any():
        return image
    n = cfg.clutter_tiles
    th, tw = -(-h // n), -(-w // n)
    tiles = F.interpolate(image, size=(th * n, tw * n), mode="bilinear", align_corners=False)
    tiles = tiles.unfold(2, th, th).unfold(3, tw, tw)  # (B, 3, n, n, th, tw)
    tiles = tiles.permute(0, 2, 3, 1, 4, 5).reshape(b * n * n, 3, th, tw)
    pick = torch.randint(b * n * n, (b * n * n,), generator=g)
    flip = torch.rand(b * n * n, generator=g) < 0.5
    mosaic = torch.where(flip.view(-1, 1, 1, 1), tiles[pick].flip(-1), tiles[pick])
    mosaic = mosaic.view(b, n, n, 3, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(b, 3, n * th, n * tw)[..., :h, :w]
    bg = (parsing == 0)[:, None] & on.view(b, 1, 1, 1)
    return torch.where(bg, mosaic, image)


def colour(image: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Brightness, contrast, saturation and per-channel gains (white balance), then grayscale for some."""
    b = image.shape[0]
    x = (image + 1) / 2  # [0, 1]
    on = (torch.rand(b, generator=g) < cfg.colour).view(b, 1, 1, 1)
    bright = 1 + _uniform(b, -cfg.brightness, cfg.brightness, g).view(b, 1, 1, 1)
    contrast = 1 + _uniform(b, -cfg.contrast, cfg.contrast, g).view(b, 1, 1, 1)
    sat = 1 + _uniform(b, -cfg.saturation, cfg.saturation, g).view(b, 1, 1, 1)
    gain = 1 + (torch.rand(b, 3, 1, 1, generator=g) * 2 - 1) * cfg.channel_gain
    grey = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    y = (x - x.mean((1, 2, 3), keepdim=True)) * contrast.to(x) + x.mean((1, 2, 3), keepdim=True)
    y = (grey + (y - grey) * sat.to(x)) * bright.to(x) * gain.to(x)
    x = torch.where(on.to(x.device), y.clamp(0, 1), x)
    to_grey = (torch.rand(b, generator=g) < cfg.grayscale).view(b, 1, 1, 1).to(x.device)
    grey = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
    return torch.where(to_grey, grey, x) * 2 - 1


def augment(image: torch.Tensor, parsing: torch.Tensor, kps: torch.Tensor, cfg: AugmentConfig,
            g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """zoom, then clutter behind the person, then colour: (image, parsing, keypoints) of the same shapes."""
    image, parsing, kps = zoom(image, parsing, kps, cfg, g)
    image = clutter(image, parsing, cfg, g)
    return colour(image, cfg, g), parsing, kps


def zoom_pair(batch: dict[str, torch.Tensor], cfg: LayoutZoom, g: torch.Generator) -> dict[str, torch.Tensor]:
    """A pair batch (``src_`` / ``tgt_`` image, parsing, kps) with its source and its candidate zoomed independently."""
    out = dict(batch)
    for pre, zcfg in (("src_", cfg.source_config()), ("tgt_", cfg.target_config())):
        if zcfg.zoom:
            keys = (pre + "image", pre + "parsing", pre + "kps")
            out.update(zip(keys, zoom(*(batch[k] for k in keys), zcfg, g)))
    return out
