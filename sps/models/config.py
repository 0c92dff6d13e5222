"""Config dataclasses of every network, with named presets.

Every config has ``canvas = (H, W)``, the image size the network is built and trained for, and a
``preset(name)`` constructor:

* ``"tiny"``: 32 x 24 canvas and a few channels, for fast tests;
* ``"cpu"``: the shipped default, 128 x 96, sized so that parser + pose + G_S + G_A run in well
  under 150 ms at batch 1 on 2 CPU threads;
* ``"paper"``: 256 x 192 and the widths of the paper's released code (G_A with a global generator at
  128 px and a local enhancer at 256 px).

Configs round-trip through JSON (``to_dict`` / ``from_dict``); lists read back become tuples.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

PRESET_NAMES = ("tiny", "cpu", "paper")
NORMS = ("instance", "group", "batch", "none")


def _tuplify(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_tuplify(x) for x in v)
    return v


@dataclass
class ConfigBase:
    """Shared behaviour: presets, validation, JSON round trip."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _tuplify(getattr(self, f.name)))
        canvas = getattr(self, "canvas", None)
        if canvas is None or len(canvas) != 2 or min(canvas) < 8:
            raise ValueError(f"{type(self).__name__}.canvas must be (H, W) with H, W >= 8, got {canvas!r}")
        self.canvas = (int(canvas[0]), int(canvas[1]))
        norm = getattr(self, "norm", "none")
        if norm not in NORMS:
            raise ValueError(f"{type(self).__name__}.norm must be one of {NORMS}, got {norm!r}")

    @classmethod
    def preset(cls, name: str, **overrides: Any):
        """Build the named preset ("tiny", "cpu", "paper"), optionally overriding fields."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r} for {cls.__name__}; choose one of {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists when dumped)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Inverse of to_dict; unknown keys are an error (they mean another network's config)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {unknown}")
        return cls(**data)


@dataclass
class UNetConfigBase(ConfigBase):
    """U-Net style image-to-map network (pose estimator, parser, semantic generator)."""

    canvas: tuple[int, int] = (128, 96)
    widths: tuple[int, ...] = (32, 64, 128, 256)  # encoder widths, one per stride-2 level
    norm: str = "group"
    out_stride: int = 1  # decoder stops at this stride, the head's output is upsampled bilinearly
    dropout: float = 0.0
    dropout_blocks: int = 0  # how many of the first decoder blocks use dropout


_UNET_PRESETS = {
    "tiny": dict(canvas=(32, 24), widths=(8, 16, 16)),
    "cpu": dict(canvas=(128, 96), widths=(32, 64, 128, 256)),
    "paper": dict(canvas=(256, 192), widths=(64, 128, 256, 512, 512)),
}


@dataclass
class PoseEstimatorConfig(UNetConfigBase):
    """Image -> 18 keypoint heatmaps (trained by MSE against ``sps.pose.heatmaps_torch`` x heatmap_gain)."""

    out_stride: int = 2
    heatmap_gain: float = 1.0  # training targets are heatmaps_torch(...) * heatmap_gain; decode divides back
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": dict(_UNET_PRESETS["tiny"], out_stride=2),
        "cpu": dict(_UNET_PRESETS["cpu"], out_stride=2),
        "paper": dict(_UNET_PRESETS["paper"], out_stride=2),
    }


@dataclass
class HumanParserConfig(UNetConfigBase):
    """Image -> 10 parsing logits."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": dict(_UNET_PRESETS["tiny"], out_stride=1),
        "cpu": dict(_UNET_PRESETS["cpu"], out_stride=2),
        "paper": dict(_UNET_PRESETS["paper"], out_stride=1),
    }


@dataclass
class SemanticGeneratorConfig(UNetConfigBase):
    """G_S: [source parsing, source pose, target pose] (+ part-warped source parsing) -> target parsing logits.

    ``warp_prior``: also feed ``sps.parts.warp_image_by_parts(src_parsing, src_kps, tgt_kps)`` (10 channels),
    computed inside forward from the optional ``src_kps`` / ``tgt_kps`` arguments.
    ``correction``: the U-Net's logits correct the warped source parsing instead of drawing the map from scratch:
    ``logits = U-Net(...) + prior_gain * prior``, the prior at the canvas's full resolution (a learned gain per
    label), so part edges the source shows stay sharp where the U-Net's coarser output agrees (needs warp_prior).
    """

    norm: str = "instance"
    warp_prior: bool = True
    correction: bool = False
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": dict(_UNET_PRESETS["tiny"]),
        "cpu": dict(_UNET_PRESETS["cpu"], out_stride=2),
        "paper": dict(_UNET_PRESETS["paper"], dropout=0.5, dropout_blocks=2),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.correction and not self.warp_prior:
            raise ValueError("SemanticGeneratorConfig.correction needs warp_prior=True (it corrects the warped prior)")


@dataclass
class AppearanceGeneratorConfig(ConfigBase):
    """G_A: dual encoder with deformable skips, decoder with instance norm, tanh output.

    ``enc_widths[i]`` is the width of encoder level i (stride 2^(i+1)); ``dec_widths[j]`` the output
    width of decoder block j (the last one, 3, is the image at full resolution).
    With ``local_enhancer`` the dual-encoder generator above runs at half resolution (the global
    generator) and a small local enhancer with its own deformable skips runs at full resolution;
    ``forward(..., alpha)`` fades from the upsampled global output (0) to the local output (1).
    """

    canvas: tuple[int, int] = (128, 96)
    enc_widths: tuple[int, ...] = (32, 64, 128, 256)
    dec_widths: tuple[int, ...] = (128, 64, 32, 3)
    norm: str = "instance"
    dropout: float = 0.0
    dropout_blocks: int = 0
    merge: str = "max"  # how warped parts merge: "max" (paper) or "sum"
    local_enhancer: bool = False
    local_widths: tuple[int, int] = (32, 64)
    local_res_blocks: int = 2
    composite: bool = False  # flow + blend-mask head: the output blends the warped source (sps.models.flow)
    use_parsing: bool = True  # False: the parsing inputs are zeros (the paper's "no parsing" baseline)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": dict(canvas=(32, 24), enc_widths=(8, 16, 16), dec_widths=(16, 8, 3)),
        "cpu": dict(canvas=(128, 96)),
        "paper": dict(canvas=(256, 192), enc_widths=(64, 128, 256, 512, 512, 512),
                      dec_widths=(512, 512, 512, 256, 128, 3), dropout=0.5, dropout_blocks=3,
                      local_enhancer=True, local_widths=(32, 64), local_res_blocks=3),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.enc_widths) != len(self.dec_widths) or self.dec_widths[-1] != 3:
            raise ValueError("AppearanceGeneratorConfig: need len(enc_widths) == len(dec_widths) and dec_widths[-1] == 3, "
                             f"got {self.enc_widths} / {self.dec_widths}")
        if self.merge not in ("max", "sum"):
            raise ValueError(f"merge must be 'max' or 'sum', got {self.merge!r}")
        if self.composite and not self.use_parsing:
            raise ValueError("composite needs use_parsing: the blend mask's prior compares parsing maps")


@dataclass
class DiscriminatorConfig(ConfigBase):
    """PatchGAN-style discriminators (image+parsing, parsing+pose, face crops). LSGAN outputs, no sigmoid."""

    canvas: tuple[int, int] = (128, 96)
    width: int = 32
    n_layers: int = 3
    norm: str = "instance"
    spectral_norm: bool = False
    face_size: int = 32  # side of the face crops fed to FaceDiscriminator
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": dict(canvas=(32, 24), width=8, n_layers=2, face_size=16),
        "cpu": dict(canvas=(128, 96), width=32, n_layers=3, face_size=32),
        "paper": dict(canvas=(256, 192), width=64, n_layers=3, face_size=48),
    }


__all__ = [
    "PRESET_NAMES",
    "AppearanceGeneratorConfig",
    "ConfigBase",
    "DiscriminatorConfig",
    "HumanParserConfig",
    "PoseEstimatorConfig",
    "SemanticGeneratorConfig",
]
