"""The demo's event handlers: widget values in, widget values out, bound to one :class:`Backend`.

This is the only layer that knows about errors shown to the user: every handler is an :func:`endpoint`, which turns
an ``sps.errors.SPSError`` raised below (conversions, the pipeline) into a ``gr.Error`` with a friendly message and
one log line, and any other exception into a logged traceback and a short "something went wrong".
"""
from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr
import numpy as np
from PIL import Image

from .. import pose as K
from ..errors import ImageReadError, NoPersonError, SPSError, TooFewKeypointsError
from . import conversions as C
from . import render as R
from .backend import Backend
from .files import publish, publish_editor
from .presets import preset

log = logging.getLogger(__name__)
Table = list[list[Any]]
POSE_CACHE = 16  # source photos whose estimated pose the handlers remember
F = TypeVar("F", bound=Callable[..., Any])


def friendly(e: SPSError) -> str:
    """A user-facing message for an sps input error."""
    if isinstance(e, NoPersonError):
        return f"No person found in the photo. Please use a photo of one person, fully or half visible. ({e})"
    if isinstance(e, TooFewKeypointsError):
        return f"Too few keypoints: {e}"
    if isinstance(e, ImageReadError):
        return f"Could not read the image: {e}"
    return str(e)


def user_error(message: str) -> gr.Error:
    """A ``gr.Error`` for the user (one toast), without gradio's traceback in the log."""
    return gr.Error(message, print_exception=False)


def endpoint(fn: F) -> F:
    """Wrap an event handler so that every failure gives one toast and one log line.

    A user error (``gr.Error``, or an ``SPSError`` worded by :func:`friendly`) is logged in one line, without a
    traceback. Anything else is a bug: its traceback is logged once, and the user is told that the server failed,
    without the exception's text (it may hold server paths).
    """
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error as e:
            e.print_exception = False
            log.info("%s: user error: %s", fn.__name__, e.message)
            raise
        except SPSError as e:
            log.info("%s: user error: %s: %s", fn.__name__, type(e).__name__, e)
            raise user_error(friendly(e)) from e
        except Exception as e:
            log.exception("%s: internal error", fn.__name__)
            raise user_error(f"Sorry, something went wrong on the server ({type(e).__name__}). "
                             "It has been logged; please try again or use another photo.") from e

    return wrapper  # type: ignore[return-value]


def read_photo(image: Any, what: str) -> tuple[Image.Image, list[str]]:
    """:func:`conversions.read_photo`, its notes also shown as warnings."""
    im, notes = C.read_photo(image, what)
    for note in notes:
        gr.Warning(note)
    return im, notes


class Handlers:
    """The app's event handlers, bound to one backend (also usable directly in tests). Each is an :func:`endpoint`."""

    def __init__(self, backend: Backend):
        self.b = backend
        self._poses: dict[str, tuple[np.ndarray, int]] = {}  # source photo -> its pose (``_source_pose``)
        self._poses_lock = threading.Lock()

    # -- target pose -----------------------------------------------------------------------------

    def _view(self, kps: np.ndarray, source: Any = None, joint: str | None = None) -> str | None:
        """The pose view (a published file); an unreadable source photo just leaves the background dark."""
        try:
            im = C.read_photo(source, "source photo")[0] if source is not None else None
        except SPSError:
            im = None
        return publish(R.pose_view(kps, im, joint))

    def _source_pose(self, im: Image.Image) -> tuple[np.ndarray, int]:
        """``Backend.estimate_pose`` of a source photo, remembered for the last ``POSE_CACHE`` photos (by content):
        picking presets one after another for one photo then costs no network pass, and answers at once."""
        key = hashlib.sha1(im.tobytes()).hexdigest() + f"{im.size}"
        with self._poses_lock:
            found = self._poses.get(key)
        if found is None:
            found = self.b.estimate_pose(im)
            with self._poses_lock:
                self._poses[key] = found
                while len(self._poses) > POSE_CACHE:
                    self._poses.pop(next(iter(self._poses)))
        return found

    def _on_person(self, grid: np.ndarray, source: Any) -> np.ndarray:
        """A pose on the grid placed on the source photo's person (``C.pose_on_person``: their size and place,
        their legs where the pose has none); as it is without a source, or when no person is found in it."""
        if source is None:
            return grid
        try:
            im = C.read_photo(source, "source photo")[0]
            kps, need = self._source_pose(im)
            if K.num_visible(kps) < need:
                return grid
            return C.pose_on_person(grid, kps, (im.height, im.width))
        except SPSError:
            return grid

    @endpoint
    def preset(self, pose_preset: str, source: Any = None) -> tuple[Table, str | None]:
        """Preset name -> (pose table, pose view), placed on the source photo's person when there is one."""
        kps = self._on_person(preset(pose_preset).kps, source)
        return C.kps_to_table(kps), self._view(kps, source)

    @endpoint
    def pose_from_photo(self, photo: Any, source: Any = None,
                        progress=gr.Progress()) -> tuple[Table, str | None, str]:
        """Estimate the pose of a second photo -> (pose table on the grid, pose view, status)."""
        im, notes = read_photo(photo, "target pose photo")
        progress(0.2, desc="Estimating the pose of the target photo")
        t0 = time.perf_counter()
        kps, need = self.b.estimate_pose(im)
        grid = self._on_person(C.detected_pose_on_grid(kps, (im.height, im.width), need), source)
        notes.append(f"{K.num_visible(kps)} of 18 joints detected in the target photo.")
        return C.kps_to_table(grid), self._view(grid, source), R.status_text(notes, time.perf_counter() - t0)

    @endpoint
    def render(self, table: Any, source: Any = None, joint: str | None = None) -> str | None:
        """Pose table -> pose view (after editing the table or changing the source)."""
        return self._view(C.table_to_kps(table), source, joint)

    @endpoint
    def move_joint(self, table: Any, joint: str, source: Any = None,
                   evt: gr.SelectData = None) -> tuple[Table, str | None]:  # type: ignore[assignment]
        """Click on the pose view: put ``joint`` where clicked. Returns (table, view)."""
        kps = C.table_to_kps(table)
        j = C.joint_index(joint)
        if evt is not None and j is not None and evt.index is not None:
            kps[j] = C.view_to_grid(*(float(v) for v in evt.index[:2]))
        return C.kps_to_table(kps), self._view(kps, source, joint)

    @endpoint
    def remove_joint(self, table: Any, joint: str, source: Any = None) -> tuple[Table, str | None]:
        """Mark ``joint`` missing. Returns (table, view)."""
        kps = C.table_to_kps(table)
        j = C.joint_index(joint)
        if j is not None:
            kps[j] = K.MISSING
        return C.kps_to_table(kps), self._view(kps, source, joint)

    @endpoint
    def example(self, paths: list[str], evt: gr.SelectData = None) -> str | None:  # type: ignore[assignment]
        """Click on an example thumbnail -> that photo in the input."""
        if evt is None or not paths:
            raise user_error("Click one of the example photos.")
        return publish(Image.open(paths[evt.index]).convert("RGB"))

    # -- pose transfer ---------------------------------------------------------------------------

    @endpoint
    def transfer(self, source: Any, table: Any, progress=gr.Progress()) -> tuple[Any, ...]:
        """Source photo + target pose table -> (src kps, src parsing, tgt pose, tgt parsing, image, warped, status)."""
        t0 = time.perf_counter()
        progress(0.05, desc="Reading the photo")
        im, notes = read_photo(source, "source photo")
        target = C.target_keypoints(table, (im.height, im.width))
        progress(0.2, desc="Pose, parsing, parsing transformation and image generation")
        res = self.b.transfer(im, target)
        progress(0.9, desc="Drawing the results")
        warped = getattr(res, "warped", None)
        images = (R.upscale(R.skeleton_on_photo(res.source_keypoints, im), False),
                  R.parsing_image(res.source_parsing),
                  R.upscale(R.as_pil(res.target_pose_image), True),
                  R.parsing_image(res.target_parsing),
                  R.upscale(R.as_pil(res.image), False),
                  R.upscale(R.as_pil(warped), False) if warped is not None else None)
        return (*map(publish, images), R.status_text(notes, time.perf_counter() - t0))

    # -- texture transfer ------------------------------------------------------------------------

    @endpoint
    def texture(self, person: Any, clothes: Any, progress=gr.Progress()) -> tuple[Any, ...]:
        """Person photo + clothes photo -> (person parsing, clothes parsing, result, status)."""
        t0 = time.perf_counter()
        progress(0.05, desc="Reading the photos")
        a, notes = read_photo(person, "person photo")
        b, notes_b = read_photo(clothes, "clothes photo")
        progress(0.2, desc="Parsing both photos and generating")
        res = self.b.texture(a, b)
        person_parsing, clothes_parsing = C.texture_parsings(res)
        return (publish(R.parsing_image(person_parsing)), publish(R.parsing_image(clothes_parsing)),
                publish(R.upscale(R.as_pil(res.image), False)),
                R.status_text(notes + notes_b, time.perf_counter() - t0))

    # -- parsing editing -------------------------------------------------------------------------

    @endpoint
    def edit_predict(self, source: Any, pose_preset: str, progress=gr.Progress()) -> tuple[Any, ...]:
        """Source + pose preset -> (editor value with the predicted target parsing, preview, state, status)."""
        t0 = time.perf_counter()
        im, notes = read_photo(source, "source photo")
        target = C.grid_to_photo(preset(pose_preset).kps, (im.height, im.width))
        progress(0.2, desc="Predicting the target parsing")
        res = self.b.transfer(im, target)
        index = np.asarray(res.target_parsing)
        state = {"kps": np.asarray(res.target_keypoints, np.float32).tolist(), "target": target.tolist(),
                 "index": index.astype(np.uint8)}
        return (publish_editor(C.editor_value(index)), publish(R.parsing_image(index)), state,
                R.status_text(notes, time.perf_counter() - t0))

    @endpoint
    def edit_apply(self, editor: Any, edit: str, state: dict | None) -> tuple[Any, ...]:
        """Apply a preset edit (sps.edits) to the map in the editor -> (new editor value, preview, state)."""
        if not state:
            raise user_error("First press 'Predict target parsing'.")
        index = C.editor_to_index(editor, state["index"])
        try:
            edited = C.apply_edit(index, state["kps"], edit)
        except TooFewKeypointsError as e:
            raise user_error(f"{friendly(e)}. Pick a target pose that shows those joints.") from e
        return (publish_editor(C.editor_value(edited)), publish(R.parsing_image(edited)),
                {**state, "index": edited.astype(np.uint8)})

    @endpoint
    def edit_generate(self, source: Any, editor: Any, state: dict | None, progress=gr.Progress()) -> tuple[Any, ...]:
        """Regenerate from the edited map -> (edited map as read back, image, status)."""
        t0 = time.perf_counter()
        if not state:
            raise user_error("First press 'Predict target parsing'.")
        im, notes = read_photo(source, "source photo")
        index = C.editor_to_index(editor, state["index"])
        progress(0.2, desc="Generating from the edited parsing")
        res = self.b.edit(im, index, state["target"])
        out = res.image if hasattr(res, "image") else res
        return (publish(R.parsing_image(index)), publish(R.upscale(R.as_pil(out), False)),
                R.status_text(notes, time.perf_counter() - t0))
