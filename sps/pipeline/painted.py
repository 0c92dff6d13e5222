"""Painted regions take the source's colours: what G_A invents is matched to what the photo shows.

What the composite does not copy from the source is G_A's painting (new sleeve cloth after an edit, shins that
trousers covered, the back of a head). The painting follows the source's colours only as well as training taught
it: in an edit, new sleeve cloth came out lavender on an orange blouse, and skin the source does not show at all a
brownish average. So, per label of the target parsing, the painted pixels (weight: the label's probability times
1 - the blend mask) are repainted around a reference colour:

- a label the source shows: reference = the source region's mean colour; G_A's texture around its own mean is kept
  whole (a mean shift);
- a skin label (face, arms, legs) the source does not show (or shows less than ``SHOWN`` of, such as an ankle of a
  whole leg): reference = the mean tone of the skin the source does show, with ``UNSEEN_SHADING`` of G_A's light
  and dark and none of its hues (its guesses are blotchy);
- a clothing label the source does not show (trousers under a half-body photo): left as painted, nothing says
  better.

Only the generated image changes; the composite is blended again, so copied source pixels stay as they are. The
pipeline applies this to edits and texture transfer (a target parsing the caller drew) by default; for pose
transfer it lowers PCKh measured by our own pose estimator (docs/design.md 2.3), which G_A's painting was trained
to please, so there it is an option (``PipelineSettings.match_colours``).
"""
from __future__ import annotations

from dataclasses import replace

import torch

from ..losses import MIN_REGION_FRACTION, region_colours
from ..models.appearance import AppearanceOutput
from ..models.flow import composite
from ..parsing import NUM_LABELS

SKIN_LABELS = (1, 6, 7, 8, 9)  # face, left arm, right arm, left leg, right leg (sps.parsing.LABELS)
SHOWN = 0.5  # a source skin region under this fraction of the target's (an ankle of a whole leg) does not show it
UNSEEN_SHADING = 0.5  # how much of G_A's luminance variation an unseen skin region keeps (and none of its hues)
LUMA = (0.299, 0.587, 0.114)  # RGB -> luminance weights (ITU-R BT.601)


def _tone(colours: torch.Tensor, area: torch.Tensor) -> torch.Tensor | None:
    """(1, L, 3) region colours and (1, L) area fractions of skin labels -> (1, 3) area-weighted mean colour of
    those that exist, or None."""
    area = area * (area > MIN_REGION_FRACTION)
    if float(area.sum()) == 0:
        return None
    return (colours * area[..., None]).sum(1) / area.sum(1, keepdim=True)


def skin_tone(source_image: torch.Tensor, source_parsing: torch.Tensor) -> torch.Tensor | None:
    """(1, 3, H, W) source image in [-1, 1] and its (1, 10, H, W) maps -> (1, 3) area-weighted mean colour of the
    skin regions it shows, or None when it shows none."""
    return _tone(*region_colours(source_image, source_parsing, SKIN_LABELS))


def reference_colours(source_image: torch.Tensor, source_parsing: torch.Tensor,
                      target_probs: torch.Tensor) -> dict[int, tuple[torch.Tensor, float, float]]:
    """label -> ((1, 3) colour, share of G_A's luminance variation kept, share of its hue variation kept) for each
    person label of the target with a reference (see the module docstring); labels without one are absent."""
    labels = tuple(range(1, NUM_LABELS))
    colours, source_area = region_colours(source_image, source_parsing, labels)  # (1, 9, 3), (1, 9)
    target_area = target_probs[:, 1:].mean((-2, -1))  # (1, 9)
    skin = [label - 1 for label in SKIN_LABELS]  # their rows among ``labels``
    tone = _tone(colours[:, skin], source_area[:, skin])
    out = {}
    for k, label in enumerate(labels):
        shown = float(source_area[0, k]) > MIN_REGION_FRACTION
        if label in SKIN_LABELS:
            shown &= float(source_area[0, k]) >= SHOWN * float(target_area[0, k])
        if shown:
            out[label] = (colours[:, k], 1.0, 1.0)
        elif label in SKIN_LABELS and tone is not None:
            out[label] = (tone, UNSEEN_SHADING, 0.0)
    return out


def match_painted_colours(app: AppearanceOutput, source_image: torch.Tensor, source_parsing: torch.Tensor,
                          target_probs: torch.Tensor) -> AppearanceOutput:
    """G_A's output for one target (batch 1) with its painted pixels of each target label (``target_probs``
    (1, 10, H, W)) repainted around the label's reference colour (``reference_colours``); ``app`` itself when
    nothing is painted or nothing has a reference."""
    painted = 1 - app.mask if app.mask is not None else torch.ones_like(app.generated[:, :1])  # (1, 1, H, W)
    generated = app.generated
    luma_weights = torch.tensor(LUMA, dtype=generated.dtype, device=generated.device)[None, :, None, None]
    for label, (colour, shading, chroma) in reference_colours(source_image, source_parsing, target_probs).items():
        region = target_probs[:, label:label + 1]  # (1, 1, H, W) soft region
        weight = region * painted
        if float(weight.mean()) <= MIN_REGION_FRACTION:
            continue
        luma = (generated * luma_weights).sum(1, keepdim=True)  # (1, 1, H, W)
        hue = generated - luma  # (1, 3, H, W) what is left beside the luminance
        luma, hue = (x - (x * weight).sum((-2, -1), keepdim=True) / weight.sum((-2, -1), keepdim=True)
                     for x in (luma, hue))  # deviations from the painted pixels' means
        repainted = colour[..., None, None] + shading * luma + chroma * hue  # (1, 3, H, W)
        generated = generated + region * (repainted - generated)
    if generated is app.generated:
        return app
    generated = generated.clamp(-1, 1)
    image = generated if app.mask is None else composite(generated, app.warped, app.mask)
    return replace(app, generated=generated, image=image)
