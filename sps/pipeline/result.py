"""``PipelineResult``: one pipeline call's output and every intermediate, on the photo's own pixel grid."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from .. import parsing as P
from .. import pose as K


@dataclass
class PipelineResult:
    """Output of one pipeline call, with every intermediate, on the input photo's pixel grid.

    image: generated image (PIL, the size of the source photo, or of the person photo for texture transfer).
    source_keypoints / target_keypoints: (18, 2) xy on that grid (-1 missing; a target joint that falls
        outside the photo is -1 too).
    source_parsing / target_parsing: (H, W) int64 label maps (sps.parsing.LABELS).
    target_pose_image: the target pose drawn with render_skeleton (PIL).
    warped: the no-learning baseline, source pixels moved by the 10 part transforms (PIL).
    source_image: the source photo (PIL).
    timings: seconds per step ("pre", "parse", "pose", "G_S", "G_A", "post", "total").
    canvas: the same quantities on the model canvas (torch tensors / numpy arrays), for evaluation.
    """

    image: Image.Image
    source_image: Image.Image
    source_keypoints: np.ndarray
    source_parsing: np.ndarray
    target_keypoints: np.ndarray
    target_pose_image: Image.Image
    target_parsing: np.ndarray
    warped: Image.Image
    task: str = "pose transfer"
    timings: dict[str, float] = field(default_factory=dict)
    canvas: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_panels(self) -> list[tuple[str, Image.Image]]:
        """Captioned images for display: source, its keypoints and parsing, target pose and parsing,
        the part-warped baseline and the output."""
        src = np.asarray(self.source_image)
        size = src.shape[:2]
        return [
            ("source", self.source_image),
            ("source keypoints", Image.fromarray(K.render_skeleton(self.source_keypoints, size, background=src))),
            ("source parsing", Image.fromarray(P.colorize(self.source_parsing))),
            ("target pose", self.target_pose_image),
            ("target parsing" + (" (G_S)" if self.task == "pose transfer" else ""),
             Image.fromarray(P.colorize(self.target_parsing))),
            ("part-warped source (no learning)", self.warped),
            ("output", self.image),
        ]
