"""The demo's one model object: loads the :class:`sps.SPSPipeline` on first use and serialises the calls.

The Gradio queue may run several events at once; every forward pass goes through one lock, so they run one at a
time on the shared networks. Errors are ``sps.errors`` exceptions (never ``gr.Error``): the UI layer words them.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from .. import pose as K
from ..errors import SPSError, WeightsError

log = logging.getLogger(__name__)

MIN_JOINTS = 4  # joints a photo must show to count as a person, when the pipeline does not say


class Backend:
    """Holds the pipeline of ``weights`` (a pipeline folder or a Hub repo id), or a given ``pipeline``."""

    def __init__(self, weights: str | os.PathLike | None = None, pipeline: Any = None):
        if weights is None and pipeline is None:
            raise WeightsError("Backend needs a weights folder or Hub repo id (or a loaded pipeline)")
        self.weights = str(weights) if weights is not None else "(given pipeline)"
        self._pipe = pipeline
        self._lock = threading.Lock()

    @property
    def pipe(self) -> Any:
        """The pipeline, loaded on first access (WeightsError naming the weights when that fails)."""
        with self._lock:
            if self._pipe is None:
                from ..pipeline import SPSPipeline  # heavy import (torch models) on first use

                t0 = time.perf_counter()
                try:
                    self._pipe = SPSPipeline.from_pretrained(self.weights)
                except SPSError as e:
                    raise WeightsError(f"The model weights could not be loaded from {self.weights}: {e}") from e
                log.info("pipeline loaded from %s in %.1f s", self.weights, time.perf_counter() - t0)
            return self._pipe

    def load(self) -> Backend:
        """Load the pipeline now (fail fast at start-up rather than on the first request)."""
        _ = self.pipe
        return self

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(pipe, *args, **kwargs)`` under the lock."""
        pipe = self.pipe
        with self._lock:
            return fn(pipe, *args, **kwargs)

    # -- the pipeline calls the demo makes --------------------------------------------------------

    def transfer(self, im: Image.Image, target: np.ndarray) -> Any:
        """Pose transfer of a photo to (18, 2) target keypoints on its own pixel grid (seed 0)."""
        return self.call(lambda pipe: pipe(im, target, seed=0))

    def texture(self, person: Image.Image, clothes: Image.Image) -> Any:
        """Person A wearing the clothes of person B."""
        return self.call(lambda pipe: pipe.transfer_texture(person, clothes))

    def edit(self, im: Image.Image, index: np.ndarray, target: np.ndarray) -> Any:
        """The source regenerated into an (H, W) label map, in the (18, 2) target pose."""
        return self.call(lambda pipe: pipe.edit(im, index, np.asarray(target, np.float32)))

    def estimate_pose(self, im: Image.Image) -> tuple[np.ndarray, int]:
        """(18, 2) keypoints of a photo on its own pixel grid, and the pipeline's ``min_joints`` for a person."""
        def run(pipe: Any) -> tuple[np.ndarray, int]:
            kps, _ = pipe.analyse(im)
            return K.validate_keypoints(kps), int(getattr(getattr(pipe, "settings", None), "min_joints", MIN_JOINTS))

        return self.call(run)

