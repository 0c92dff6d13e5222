"""The demo's one model object: loads the :class:`sps.SPSPipeline` on first use and runs every forward pass on one
dedicated inference thread.

The Gradio queue runs several events at once on its worker threads (reading uploads, drawing and encoding the
results); their forward passes all go to the one inference thread, one at a time, so torch's thread pool belongs to
a single thread with a fixed thread count (``threads``), instead of one OpenMP team per Gradio worker thread
competing for the same cores. Errors are ``sps.errors`` exceptions (never ``gr.Error``): the UI layer words them.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

from .. import pose as K
from ..errors import SPSError, WeightsError

log = logging.getLogger(__name__)

MIN_JOINTS = 4  # joints a photo must show to count as a person, when the pipeline does not say


def default_threads(cores: int | None = None) -> int:
    """Torch threads for the app: one core is left to the web server's own work (uploads, PNG encoding), at most 4
    (the 128 x 96 networks gain little beyond). 2 cores -> 1 thread."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(4, cores - 1))


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


class Backend:
    """Holds the pipeline of ``weights`` (a pipeline folder or a Hub repo id), or a given ``pipeline``.

    ``threads``: torch intra-op threads of the inference thread (None: torch's default, left as it is).
    """

    def __init__(self, weights: str | os.PathLike | None = None, pipeline: Any = None, threads: int | None = None):
        if weights is None and pipeline is None:
            raise WeightsError("Backend needs a weights folder or Hub repo id (or a loaded pipeline)")
        self.weights = str(weights) if weights is not None else "(given pipeline)"
        self.threads = threads
        self._pipe = pipeline
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="sps-inference", initializer=_set_threads,
                                          initargs=(threads,))

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
        """``fn(pipe, *args, **kwargs)`` on the inference thread (calls run one at a time, in arrival order)."""
        pipe = self.pipe
        return self._worker.submit(fn, pipe, *args, **kwargs).result()

    def close(self) -> None:
        """Stop the inference thread (after the calls already submitted)."""
        self._worker.shutdown(wait=True)

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
