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

    image: the output photo (PIL): the source photo (the person photo for texture transfer) with the person
        re-posed, pasted back over its own background; as large as the photo, or larger when it was grown
        (``grown``) to hold the target pose.
    target_keypoints / target_parsing / target_pose_image / warped: on the output's grid.
    source_image / source_keypoints / source_parsing: the source photo (PIL) and its (18, 2) xy keypoints and
        (H, W) int64 label map (sps.parsing.LABELS) on its grid (-1 = missing joint).
    warped: the no-learning baseline, source pixels moved by the 10 part transforms, pasted the same way (PIL).
    inferred_joints: source joints the pose estimator (or the given keypoints) missed and the pipeline inferred
        (neck, shoulders; sps.pipeline.poses.infer_upper_body).
    grown: (top, bottom, left, right) pixels added around the photo to hold the target pose (all 0: none).
    window: (top, left, height, width) of the person's canvas-shaped window on the output's grid (it may reach
        outside it): where the networks looked and generated.
    downscale: output pixels per pixel of the photo as given (< 1 when a large photo was downscaled).
    notes: what the pipeline did that a user should know (downscaled, joints inferred, photo grown, ...).
    timings: seconds per step ("pre", "parse", "pose", "G_S", "G_A", "post", "total").
    canvas: the window's quantities on the model canvas (torch tensors / numpy arrays), for evaluation, with
        "window" (sps.pipeline.window.Window) and "frame" (sps.pipeline.window.Frame).
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
    inferred_joints: tuple[str, ...] = ()
    grown: tuple[int, int, int, int] = (0, 0, 0, 0)
    window: tuple[int, int, int, int] = (0, 0, 0, 0)
    downscale: float = 1.0
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    canvas: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_panels(self) -> list[tuple[str, Image.Image]]:
        """Captioned images for display: source, its keypoints and parsing, target pose and parsing,
        the part-warped baseline and the output."""
        src = np.asarray(self.source_image)
        return [
            ("source", self.source_image),
            ("source keypoints",
             Image.fromarray(K.render_skeleton(self.source_keypoints, src.shape[:2], background=src))),
            ("source parsing", Image.fromarray(P.colorize(self.source_parsing))),
            ("target pose", self.target_pose_image),
            ("target parsing" + (" (G_S)" if self.task == "pose transfer" else ""),
             Image.fromarray(P.colorize(self.target_parsing))),
            ("part-warped source (no learning)", self.warped),
            ("output", self.image),
        ]
