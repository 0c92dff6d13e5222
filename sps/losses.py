"""Loss terms of the paper, each returning a scalar float32 tensor (inputs may be half precision).

Adversarial (LSGAN, masked LSGAN for per-sample scores, hinge option), parsing cross-entropy, pose
consistency / heatmap MSE, perceptual content loss and the semantic-aware style loss (per-region Gram
matrices), pixel L1, total variation; ``LossWeights`` holds the weight of each term (the ``loss`` section of
every training stage's config, see ``sps.train.config``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

STYLE_LABELS = tuple(range(2, 10))  # hair, upper clothes, pants, skirt, arms, legs (face 1 and background 0 excluded)
MIN_REGION_FRACTION = 1e-3  # a region "exists" in a map when it covers more than this fraction of the canvas

Scores = torch.Tensor | Sequence[torch.Tensor]


def _mean_over(x: Scores, fn) -> torch.Tensor:
    """Apply ``fn`` to one tensor (as float32) or average it over a list (multi-scale discriminators)."""
    if isinstance(x, torch.Tensor):
        return fn(x.float())
    return torch.stack([fn(t.float()) for t in x]).mean()


def lsgan_d(real: Scores, fake: Scores) -> torch.Tensor:
    """Discriminator LSGAN loss 0.5 * (E[(D(real) - 1)^2] + E[D(fake)^2])."""
    return 0.5 * (_mean_over(real, lambda t: ((t - 1) ** 2).mean()) + _mean_over(fake, lambda t: (t**2).mean()))


def lsgan_g(fake: Scores) -> torch.Tensor:
    """Generator LSGAN loss E[(D(fake) - 1)^2]."""
    return _mean_over(fake, lambda t: ((t - 1) ** 2).mean())


def _masked_mean(per_sample: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Mean of (B,) values over the samples where ``ok`` (B,) is 1; 0 (with a graph) when there are none."""
    return (per_sample * ok).sum() / ok.sum().clamp(min=1)


def masked_lsgan_g(fake: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """LSGAN generator loss of (B, ...) scores, averaged over the samples where ``ok`` (B,) (e.g. a face
    was found); 0 with a graph when none."""
    per = ((fake.float() - 1) ** 2).flatten(1).mean(1)  # (B,)
    return _masked_mean(per, ok.float())


def masked_lsgan_d(real: torch.Tensor, fake: torch.Tensor, ok_real: torch.Tensor, ok_fake: torch.Tensor
                   ) -> torch.Tensor:
    """LSGAN discriminator loss of (B, ...) scores, each half averaged over its valid samples (B,)."""
    r = ((real.float() - 1) ** 2).flatten(1).mean(1)  # (B,)
    f = (fake.float() ** 2).flatten(1).mean(1)  # (B,)
    return 0.5 * (_masked_mean(r, ok_real.float()) + _masked_mean(f, ok_fake.float()))


def hinge_d(real: Scores, fake: Scores) -> torch.Tensor:
    """Discriminator hinge loss 0.5 * (E[relu(1 - D(real))] + E[relu(1 + D(fake))])."""
    return 0.5 * (_mean_over(real, lambda t: F.relu(1 - t).mean()) + _mean_over(fake, lambda t: F.relu(1 + t).mean()))


def hinge_g(fake: Scores) -> torch.Tensor:
    """Generator hinge loss -E[D(fake)]."""
    return _mean_over(fake, lambda t: -t.mean())


def parsing_ce(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -1) -> torch.Tensor:
    """Cross-entropy of (B, 10, H, W) logits against an index map (B, H, W) (``ignore_index`` skipped)
    or soft / one-hot targets (B, 10, H, W)."""
    logits = logits.float()
    if target.is_floating_point():
        if target.shape != logits.shape:
            raise ValueError(f"soft targets must have the logits' shape {tuple(logits.shape)}, got {tuple(target.shape)}")
        return -(target * F.log_softmax(logits, 1)).sum(1).mean()
    if (target != ignore_index).sum() == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits, target.long(), ignore_index=ignore_index)


def heatmap_mse(pred_heatmaps: torch.Tensor, target_heatmaps: torch.Tensor, known: torch.Tensor | None = None
                ) -> torch.Tensor:
    """MSE between (B, 18, H, W) predicted and target pose heatmaps (the pose estimator's training loss).

    ``known`` (B, 18) bool leaves out the channels of joints whose state is unknown (missing from pseudo labels):
    the mean runs over the known channels only, so with every joint known it is the plain MSE."""
    if known is None:
        return F.mse_loss(pred_heatmaps.float(), target_heatmaps.float())
    w = known.to(pred_heatmaps.device, torch.float32)[..., None, None]  # (B, 18, 1, 1)
    se = (pred_heatmaps.float() - target_heatmaps.float()) ** 2 * w
    return se.sum() / (w.sum() * pred_heatmaps.shape[-2] * pred_heatmaps.shape[-1]).clamp(min=1.0)


def pose_consistency(pred_heatmaps: torch.Tensor, target_heatmaps: torch.Tensor) -> torch.Tensor:
    """Heatmap MSE between the (frozen) pose estimator's heatmaps of a generated image and the target heatmaps."""
    return heatmap_mse(pred_heatmaps, target_heatmaps)


def l1_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute pixel difference (e.g. a cycle reconstruction against its source)."""
    return (a.float() - b.float()).abs().mean()


def content_loss(feats_a: Sequence[torch.Tensor], feats_b: Sequence[torch.Tensor], reduce: str = "mean") -> torch.Tensor:
    """MSE of perceptual features, averaged ("mean") or summed ("sum") over the scales."""
    terms = torch.stack([F.mse_loss(a, b) for a, b in zip(feats_a, feats_b)])
    return terms.mean() if reduce == "mean" else terms.sum()


def _region_masks(parsing: torch.Tensor, labels: Sequence[int]) -> torch.Tensor:
    """Index (B, H, W) or soft/one-hot (B, 10, H, W) parsing -> (B, L, H, W) float region masks."""
    if parsing.dim() == 3:
        parsing = F.one_hot(parsing.clamp(min=0).long(), 10).permute(0, 3, 1, 2).float()
    return parsing[:, list(labels)].float()


def region_grams(feat: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-region Gram matrices.

    Args:
        feat: (B, C, h, w) features; masks: (B, L, H, W) region masks at any resolution.
    Returns:
        grams (B, L, C, C) = sum_p m_p f_p f_p^T / (C * area), area (B, L) in feature pixels.
    """
    b, c, h, w = feat.shape
    m = F.adaptive_avg_pool2d(masks, (h, w)) if masks.shape[-2:] != (h, w) else masks  # soft area-weighted masks
    f = feat.reshape(b, c, h * w)
    m = m.reshape(b, -1, h * w).to(feat.dtype)
    area = m.sum(-1)  # (B, L)
    grams = torch.einsum("blp,bcp,bdp->blcd", m, f, f) / (c * area.clamp(min=1e-6))[..., None, None]
    return grams, area


def style_loss(feats_a: Sequence[torch.Tensor], parsing_a: torch.Tensor, feats_b: Sequence[torch.Tensor],
               parsing_b: torch.Tensor, labels: Sequence[int] = STYLE_LABELS,
               min_fraction: float = MIN_REGION_FRACTION) -> torch.Tensor:
    """Semantic-aware style loss: per-region Gram matrices of image A's and image B's features.

    A region (label 2..9 by default; face excluded) counts only where it covers more than ``min_fraction``
    of the canvas in *both* parsing maps. Each scale's term is the mean over counted regions of the
    mean squared Gram difference; terms are averaged over scales. 0 (with a graph) when no region counts.
    """
    ma, mb = _region_masks(parsing_a, labels), _region_masks(parsing_b, labels)  # (B, L, H, W)
    present = (ma.mean((-2, -1)) > min_fraction) & (mb.mean((-2, -1)) > min_fraction)  # (B, L)
    n = present.sum()
    terms = []
    for fa, fb in zip(feats_a, feats_b):
        ga, _ = region_grams(fa, ma)
        gb, _ = region_grams(fb, mb)
        d = ((ga - gb) ** 2).mean((-2, -1))  # (B, L)
        terms.append((d * present).sum() / n.clamp(min=1))
    return torch.stack(terms).mean()


def region_colours(image: torch.Tensor, parsing: torch.Tensor, labels: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) image, parsing (ids or maps) -> mean colour per region (B, L, 3) and area fraction (B, L)."""
    m = _region_masks(parsing, labels).to(image.dtype)  # (B, L, H, W)
    area = m.sum((-2, -1))  # (B, L)
    mean = torch.einsum("blhw,bchw->blc", m, image) / area.clamp(min=1e-6)[..., None]
    return mean, area / m[0, 0].numel()


def colour_loss(image_a: torch.Tensor, parsing_a: torch.Tensor, image_b: torch.Tensor, parsing_b: torch.Tensor,
                labels: Sequence[int] = tuple(range(1, 10)), min_fraction: float = MIN_REGION_FRACTION) -> torch.Tensor:
    """Per-region colour consistency: L1 between the mean colours of the same label in A and in B (a region counts
    where it covers more than ``min_fraction`` of both canvases). It penalises a colour cast directly, which the
    feature losses (Gram matrices of BatchNorm'd features) barely see. 0 (with a graph) when no region counts."""
    ca, fa = region_colours(image_a, parsing_a, labels)
    cb, fb = region_colours(image_b, parsing_b, labels)
    present = ((fa > min_fraction) & (fb > min_fraction)).to(ca.dtype)  # (B, L)
    return ((ca - cb).abs().mean(-1) * present).sum() / present.sum().clamp(min=1)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation: mean absolute difference of neighbouring pixels."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., :, 1:] - image[..., :, :-1]).abs().mean()


def _weight(default: float, help: str) -> float:
    """A LossWeights field with its help text (shown by `python -m sps.train STAGE --help`)."""
    return field(default=default, metadata={"help": help})


@dataclass
class LossWeights:
    """Weights of the loss terms: the ``loss`` section of each training stage's config.

    Each stage declares which term uses which weight (``sps.train.stages``); a stage ignores the others.
    Discriminator losses are weighted by the weight of their generator term (``adv``, ``face``).

    Paper (released code, VGG16 relu2_1): adversarial 1, face adversarial 1, pose consistency 700,
    content 0.03, style 1; the discriminator loss is 0.5 (real + fake), built into ``lsgan_d``.

    EfficientNet-Lite0 features (``PerceptualNet`` default) instead of VGG relu2_1 -- measured on 8 VITON
    train images at 128 x 96 (blocks 2/4/10, i.e. strides 4/8/16):
      * feature mean squares 72 / 62 / 60 per scale (BatchNorm'd linear bottlenecks, not ReLU outputs);
      * content MSE (mean over scales): 17 for a 2-px shift, 15 for a 3x3 blur, 83 for another person;
      * style (this module's area- and channel-normalised Grams): 0.29 for a 3x3 blur, 1.7 for another
        person's clothes, 0 for identical inputs.
    So content x 0.03 is ~0.5 for a slightly-off reconstruction and ~2.5 for a wrong one, and style x 1 is
    ~0.3-1.7: both on the scale of the LSGAN terms (0.25-1), which is the balance the paper's weights give
    its VGG terms. We therefore keep the paper's numbers; retune ``content`` if you switch the backbone
    (VGG features from a local weights file are larger; measure as above). Pose consistency keeps 700: our
    heatmaps are the paper's Gaussians (sigma 6 px at 256 high, scaled with the canvas), same magnitude.
    """

    adv: float = _weight(1.0, "image / parsing discriminators, generator and discriminator side")
    face: float = _weight(1.0, "face discriminator, generator and discriminator side")
    pose: float = _weight(700.0, "pose consistency of the generated image (frozen pose estimator)")
    content: float = _weight(0.03, "perceptual content loss of the cycle reconstruction")
    style: float = _weight(1.0, "semantic-aware style loss")
    cycle_l1: float = _weight(0.0, "pixel L1 of the cycle reconstruction (not in the paper)")
    parsing_ce: float = _weight(1.0, "parsing cross-entropy (G_S on pseudo labels, the human parser)")
    parsing_adv: float = _weight(1.0, "G_S's adversarial term when trained end to end")
    semantic_cycle: float = _weight(1.0, "cross-entropy of G_S's cycle S_s -> S_t -> S_s (end to end)")
    heatmap: float = _weight(1000.0, "pose estimator heatmap MSE (mostly-0 heatmaps: scaled up)")
    tv: float = _weight(0.0, "total variation (unused by the shipped stages)")
    colour: float = _weight(0.0, "per-region mean colour of the generated image vs the source's (not in the paper)")
    flow_tv: float = _weight(0.0, "total variation of the composite's residual flow (composite G_A only)")
    mask_prior: float = _weight(0.0, "BCE of the composite's blend mask to its prior, the warped-label agreement")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def paper(cls) -> LossWeights:
        """The released code's weights, unchanged (for VGG features)."""
        return cls(adv=1.0, face=1.0, pose=700.0, content=0.03, style=1.0)
