"""``SPSModel``: the one generation path, shared by every training stage and by inference.

It holds the two generators of the paper, G_S (semantic parsing transformation) and G_A (appearance
generation), and turns typed, canvas-level tensors into a typed output:

    model = SPSModel(semantic_generator, appearance_generator, SPSModelConfig(target_parsing="soft"))
    src = model.person(image, parsing, keypoints)      # heatmaps and one-hot maps made here, once
    out = model(src, target_keypoints)                  # G_S -> target parsing -> G_A
    out.image, out.target_probs, out.target_logits

Training stages call the same pieces: ``transform`` (G_S only: the semantic stage, the semantic cycle) and
``render`` (G_A only: the appearance cycle). The generators may be plain modules or the wrappers that
``accelerate.prepare`` returns; the model only calls them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import parsing as P
from .. import pose as K
from ..parts import part_masks_torch
from .appearance import AppearanceOutput

TARGET_PARSING = ("soft", "hard")


_FLIP_LABELS = list(P.FLIP_LABELS)
_FLIP_JOINTS = list(K.FLIP_PERMUTATION)


def _flip_maps(maps: torch.Tensor) -> torch.Tensor:
    """(B, 10, H, W) label maps (one-hot, soft or logits) mirrored, left and right labels swapped."""
    return maps.flip(-1)[:, _FLIP_LABELS]


def _flip_keypoints(kps: torch.Tensor, width: int) -> torch.Tensor:
    """(B, 18, 2) canvas xy mirrored on a canvas ``width`` wide, left and right joints swapped (missing stay -1)."""
    mirrored = torch.stack([width - 1 - kps[..., 0], kps[..., 1]], -1)
    return torch.where(K.visible(kps)[..., None], mirrored, kps)[:, _FLIP_JOINTS]


@dataclass
class SPSModelConfig:
    """Settings of the generation path (the same in training and at inference).

    target_parsing: what G_A gets from G_S: ``"soft"`` (the softmax, as end-to-end training needs) or
        ``"hard"`` (one-hot of the argmax).
    target_margin: G_S's labels farther than this fraction of the canvas height from the body parts drawn
        from the target keypoints become background (removes stray blobs); 0 keeps everything.
    heatmap_sigma: Gaussian sigma of the pose heatmaps in canvas pixels; None = ``sps.pose.heatmap_sigma(H)``
        (6 px at 256 px high), which is what the shipped generators were trained with.
    """

    target_parsing: str = "soft"
    target_margin: float = 0.0
    heatmap_sigma: float | None = None

    def __post_init__(self) -> None:
        if self.target_parsing not in TARGET_PARSING:
            raise ValueError(f"target_parsing must be one of {TARGET_PARSING}, got {self.target_parsing!r}")
        if not 0 <= self.target_margin < 1:
            raise ValueError(f"target_margin must be in [0, 1) (a fraction of the canvas height), "
                             f"got {self.target_margin!r}")
        if self.heatmap_sigma is not None and self.heatmap_sigma <= 0:
            raise ValueError(f"heatmap_sigma must be positive or None, got {self.heatmap_sigma!r}")


@dataclass
class Person:
    """One batch of people on the canvas, as the generators see them.

    image: (B, 3, H, W) in [-1, 1], or None (a target that is only a pose and a parsing).
    parsing: (B, 10, H, W) one-hot or soft label maps.
    keypoints: (B, 18, 2) canvas xy, -1 missing.
    heatmaps: (B, 18, H, W) Gaussian pose heatmaps of ``keypoints``.
    """

    image: torch.Tensor | None
    parsing: torch.Tensor
    keypoints: torch.Tensor
    heatmaps: torch.Tensor

    @property
    def labels(self) -> torch.Tensor:
        """(B, H, W) label ids (argmax of the maps)."""
        return self.parsing.argmax(1)


@dataclass
class SemanticOutput:
    """G_S's answer for a target pose.

    logits: (B, 10, H, W) raw G_S output.
    probs: (B, 10, H, W) softmax, after ``target_margin``.
    target: the target person (no image): ``parsing`` is what G_A gets (soft or hard), with the target pose.
    """

    logits: torch.Tensor
    probs: torch.Tensor
    target: Person


@dataclass
class SPSOutput:
    """One generation: the source, the target (pose + parsing fed to G_A), G_S's maps and the image.

    image: (B, 3, H, W) in [-1, 1].
    target_probs: (B, 10, H, W) target parsing probabilities (G_S's softmax, or the given maps).
    target_logits: (B, 10, H, W) G_S logits, None when the target parsing was given.
    appearance: G_A's details (the composite's mask, flow and grid; ``image`` is its ``image``).
    """

    source: Person
    target: Person
    image: torch.Tensor
    target_probs: torch.Tensor
    target_logits: torch.Tensor | None = None
    appearance: AppearanceOutput | None = None


def body_region(keypoints: torch.Tensor, size: tuple[int, int], margin: float) -> torch.Tensor:
    """(B, H, W) bool: the union of the 10 part masks drawn from (B, 18, 2) keypoints, dilated by
    ``margin`` x canvas height (a square max-pool)."""
    k = 2 * round(margin * size[0]) + 1
    body = part_masks_torch(keypoints.float(), size).amax(1, keepdim=True)  # (B, 1, H, W)
    # a k x k max-pool, done as a row pool then a column pool (the same result, O(k) instead of O(k^2))
    body = F.max_pool2d(body, (1, k), stride=1, padding=(0, k // 2))
    return F.max_pool2d(body, (k, 1), stride=1, padding=(k // 2, 0))[:, 0] > 0


class SPSModel(nn.Module):
    """G_S + G_A on the canvas. ``forward(source, target_keypoints)`` is the whole generation path."""

    def __init__(self, semantic_generator: nn.Module | None, appearance_generator: nn.Module | None,
                 config: SPSModelConfig | None = None, canvas: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.semantic_generator = semantic_generator
        self.appearance_generator = appearance_generator
        self.config = config or SPSModelConfig()
        if canvas is None:
            net = appearance_generator if appearance_generator is not None else semantic_generator
            canvas = _unwrap(net).config.canvas
        self.canvas: tuple[int, int] = (int(canvas[0]), int(canvas[1]))

    # -- inputs -----------------------------------------------------------------------------------

    def heatmaps(self, keypoints: torch.Tensor) -> torch.Tensor:
        """(B, 18, 2) canvas xy -> (B, 18, H, W) Gaussian heatmaps."""
        return K.heatmaps_torch(keypoints, self.canvas, self.config.heatmap_sigma)

    @staticmethod
    def maps(parsing: torch.Tensor) -> torch.Tensor:
        """(B, H, W) label ids -> (B, 10, H, W) one-hot float; (B, 10, H, W) maps pass through."""
        return parsing if parsing.dim() == 4 else P.one_hot(parsing).to(parsing.device)

    def person(self, image: torch.Tensor | None, parsing: torch.Tensor, keypoints: torch.Tensor) -> Person:
        """Build the generators' view of a batch: one-hot maps and heatmaps, made once."""
        keypoints = keypoints.float()
        return Person(image, self.maps(parsing), keypoints, self.heatmaps(keypoints))

    # -- the two steps ----------------------------------------------------------------------------

    def transform(self, source: Person, target_keypoints: torch.Tensor, flip_average: bool = False) -> SemanticOutput:
        """G_S: the source's parsing moved to the target pose (soft/hard and margin as configured).

        ``flip_average``: G_S also sees the mirrored pair (left and right swapped) and the two answers' logits are
        averaged, the second mirrored back (test-time flip averaging; twice G_S's cost)."""
        c = self.config
        target_keypoints = target_keypoints.float()
        target_heatmaps = self.heatmaps(target_keypoints)
        logits = self.semantic_generator(source.parsing, source.heatmaps, target_heatmaps,
                                         src_kps=source.keypoints, tgt_kps=target_keypoints)  # (B, 10, H, W)
        if flip_average:
            width = source.parsing.shape[-1]
            src_kps, tgt_kps = _flip_keypoints(source.keypoints, width), _flip_keypoints(target_keypoints, width)
            mirrored = self.semantic_generator(_flip_maps(source.parsing), self.heatmaps(src_kps),
                                               self.heatmaps(tgt_kps), src_kps=src_kps, tgt_kps=tgt_kps)
            logits = 0.5 * (logits + _flip_maps(mirrored))
        probs = logits.softmax(1)
        if c.target_margin > 0:  # far from the target body -> background
            near = body_region(target_keypoints, self.canvas, c.target_margin).to(probs.device)[:, None]
            background = torch.zeros_like(probs)
            background[:, 0] = 1
            probs = torch.where(near, probs, background)
        fed = P.one_hot(probs.argmax(1)).to(probs) if c.target_parsing == "hard" else probs
        return SemanticOutput(logits, probs, Person(None, fed, target_keypoints, target_heatmaps))

    def render(self, source: Person, target: Person, alpha: float = 1.0,
               details: bool = False) -> torch.Tensor | AppearanceOutput:
        """G_A: the source's appearance painted into the target parsing and pose -> (B, 3, H, W), or with
        ``details`` its ``AppearanceOutput`` (the composite's mask, flow and grid)."""
        return self.appearance_generator(source.image, source.parsing, source.heatmaps, target.parsing,
                                         target.heatmaps, source.keypoints, target.keypoints, alpha=alpha,
                                         details=details)

    def forward(self, source: Person, target_keypoints: torch.Tensor, target_parsing: torch.Tensor | None = None,
                alpha: float = 1.0) -> SPSOutput:
        """The whole path: G_S (unless ``target_parsing``, ids or maps, is given) then G_A."""
        if target_parsing is None:
            sem = self.transform(source, target_keypoints)
            target, probs, logits = sem.target, sem.probs, sem.logits
        else:
            target = self.person(None, target_parsing, target_keypoints)
            probs, logits = target.parsing, None
        app = self.render(source, target, alpha, details=True)
        return SPSOutput(source, target, app.image, probs, logits, app)


def _unwrap(net: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel-style wrapper (``.module``), else the module."""
    return getattr(net, "module", net)
