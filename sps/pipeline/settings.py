"""``PipelineSettings``: inference settings stored as ``pipeline.json`` beside the networks."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models.sps_model import SPSModelConfig

PIPELINE_FILE = "pipeline.json"
BACKGROUNDS = ("source", "plain", "generated")
PLACEMENTS = ("frame", "person")
COLOUR_MATCHING = ("edits", "always", "never")


@dataclass
class PipelineSettings:
    """Inference settings (all optional in ``pipeline.json``).

    model: the generation path's own settings (``SPSModelConfig``: soft/hard target parsing, target margin,
        heatmap sigma), the same object training uses.
    keypoint_threshold: heatmap peak below which a joint counts as missing.
    pose_flip: the pose estimator also looks at the mirrored photo and its heatmaps (sides swapped back) are
        averaged with the first look's (test-time flip averaging).
    semantic_flip: G_S also transforms the mirrored source and pose, and the two layouts are averaged (the second
        mirrored back; ``SPSModel.transform(flip_average=True)``).
    min_person_fraction: fewer person pixels than this fraction of the photo (parser) -> NoPersonError.
    min_joints: fewer visible joints than this (pose estimator, on the photo and on a grey copy of it, the better
        of the two looks) -> NoPersonError. A missing neck or shoulder is inferred, not refused.
    person_margin: an estimated parsing keeps person labels only within this fraction of the canvas height of
        the body parts drawn from the keypoints (the parser sometimes labels patterned or grey backgrounds as
        clothes); 0 = keep the parser's map as it is.
    background: ``"source"`` pastes the new person into the photo through G_S's person probability, over the
        photo's own background (where the person was, filled from around it); ``"plain"`` the same over a flat fill
        of the photo's background colour (a studio backdrop: the scene behind the source is dropped, as when the
        target was shot elsewhere); ``"generated"`` pastes G_A's whole window (its own background included).
    placement: where a target pose given as keypoints (or taken from another photo) goes: ``"frame"`` where its
        coordinates say on the photo's grid (or on ``target_size``, the photo fitted into it); ``"person"`` scaled
        to the source person and moved onto them (necks together; the hips, knees and ankles it lacks are the
        person's own, ``poses.complete_legs``; joints the photo does not show that would fall outside it are
        dropped, ``poses.keep_framing``, so the photo keeps its framing), for poses from presets or other photos.
    max_side: photos with a longer side are downscaled to it first, as the demo does (results on that grid).
    fill_holes: background pixels inside the body the keypoints draw (neck, torso, the limbs' bones) take a person
        label in the target parsing, so that G_A paints skin or clothes there (sps.pipeline.compose.fill_holes).
    back_of_head: when the target pose faces away (the person's right shoulder on the image's right), the face label
        of G_S's target parsing becomes hair (sps.pipeline.compose.back_of_head).
    limbs_from_photo: in pose transfer, along the target's limb bones the composite takes at least as much of the
        warped photo as the warp finds of the source person there (thin shins and forearms G_A paints
        see-through; sps.pipeline.sharpen.limbs_from_photo).
    match_colours: what G_A paints (rather than copies) of each target label is moved to the colour of that label
        in the source, and skin the source does not show to the tone of the skin it does show
        (sps.pipeline.painted.match_painted_colours): ``"edits"`` for a target parsing the caller gives (edits,
        texture transfer), ``"always"`` (pose transfer too), or ``"never"``.
    """

    model: SPSModelConfig = field(default_factory=SPSModelConfig)
    keypoint_threshold: float = 0.2
    pose_flip: bool = False
    semantic_flip: bool = False
    min_person_fraction: float = 0.02
    min_joints: int = 4
    person_margin: float = 0.1
    background: str = "source"
    placement: str = "frame"
    max_side: int = 2048
    fill_holes: bool = True
    back_of_head: bool = True
    limbs_from_photo: bool = True
    match_colours: str = "edits"

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = SPSModelConfig(**self.model)
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {self.background!r}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        if self.match_colours not in COLOUR_MATCHING:
            raise ValueError(f"match_colours must be one of {COLOUR_MATCHING}, got {self.match_colours!r}")
        if not (isinstance(self.max_side, int) and self.max_side >= 64):
            raise ValueError(f"max_side must be a whole number of pixels >= 64, got {self.max_side!r}")
        if not 0 <= self.person_margin < 1:
            raise ValueError(f"person_margin must be in [0, 1) (a fraction of the canvas height), "
                             f"got {self.person_margin!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSettings:
        """Settings from a ``pipeline.json`` mapping; unknown keys are ignored, and the model's keys may also
        stand at the top level (files written before the ``model`` section existed)."""
        model_keys = {f.name for f in dataclasses.fields(SPSModelConfig)}
        model = {**{k: v for k, v in data.items() if k in model_keys}, **dict(data.get("model") or {})}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "model"}
        return cls(model=SPSModelConfig(**model), **known)

    @classmethod
    def load(cls, folder: str | Path) -> PipelineSettings:
        """``folder/pipeline.json``, or the defaults when there is none."""
        path = Path(folder) / PIPELINE_FILE
        return cls.from_dict(json.loads(path.read_text())) if path.is_file() else cls()

    def save(self, folder: str | Path) -> None:
        (Path(folder) / PIPELINE_FILE).write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
