"""``PipelineSettings``: inference settings stored as ``pipeline.json`` beside the networks."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models.sps_model import SPSModelConfig

PIPELINE_FILE = "pipeline.json"
BACKGROUNDS = ("source", "generated")


@dataclass
class PipelineSettings:
    """Inference settings (all optional in ``pipeline.json``).

    model: the generation path's own settings (``SPSModelConfig``: soft/hard target parsing, target margin,
        heatmap sigma), the same object training uses.
    keypoint_threshold: heatmap peak below which a joint counts as missing.
    min_person_fraction: fewer person pixels than this fraction of the photo (parser) -> NoPersonError.
    min_joints: fewer visible joints than this (pose estimator) -> NoPersonError.
    person_margin: an estimated parsing keeps person labels only within this fraction of the canvas height of
        the body parts drawn from the keypoints (the parser sometimes labels patterned or grey backgrounds as
        clothes); 0 = keep the parser's map as it is.
    background: ``"source"`` paints the pixels G_S labels background with the source photo's background colour
        (blended by the background probability); ``"generated"`` keeps G_A's own pixels there.
    """

    model: SPSModelConfig = field(default_factory=SPSModelConfig)
    keypoint_threshold: float = 0.2
    min_person_fraction: float = 0.02
    min_joints: int = 4
    person_margin: float = 0.1
    background: str = "source"

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = SPSModelConfig(**self.model)
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {self.background!r}")
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
