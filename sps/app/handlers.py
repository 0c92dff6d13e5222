"""The demo's event handlers: widget values in, widget values out, bound to one :class:`Backend`.

This is the only layer that knows about errors shown to the user: every ``sps.errors.SPSError`` raised below
(conversions, the pipeline) becomes a ``gr.Error`` with a friendly message here (:func:`user_errors`).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from .. import pose as K
from ..errors import ImageReadError, NoPersonError, SPSError, TooFewKeypointsError
from . import conversions as C
from . import render as R
from .backend import Backend
from .presets import preset

Table = list[list[Any]]


def friendly(e: SPSError) -> str:
    """A user-facing message for an sps input error."""
    if isinstance(e, NoPersonError):
        return f"No person found in the photo. Please use a photo of one person, fully or half visible. ({e})"
    if isinstance(e, TooFewKeypointsError):
        return f"Too few keypoints: {e}"
    if isinstance(e, ImageReadError):
        return f"Could not read the image: {e}"
    return str(e)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an ``SPSError`` raised inside into a ``gr.Error`` with its friendly message."""
    try:
        yield
    except SPSError as e:
        raise gr.Error(friendly(e)) from e


def read_photo(image: Any, what: str) -> tuple[Image.Image, list[str]]:
    """:func:`conversions.read_photo`, its notes also shown as warnings."""
    im, notes = C.read_photo(image, what)
    for note in notes:
        gr.Warning(note)
    return im, notes


class Handlers:
    """The app's event handlers, bound to one backend (also usable directly in tests)."""

    def __init__(self, backend: Backend):
        self.b = backend

    # -- target pose -----------------------------------------------------------------------------

    def _view(self, kps: np.ndarray, source: Any = None, joint: str | None = None) -> np.ndarray:
        """The pose view; an unreadable source photo just leaves the background dark."""
        try:
            im = read_photo(source, "source photo")[0] if source is not None else None
        except SPSError:
            im = None
        return R.pose_view(kps, im, joint)

    def preset(self, label: str, source: Any = None) -> tuple[Table, np.ndarray]:
        """Preset name -> (pose table, pose view)."""
        with user_errors():
            kps = preset(label).kps
        return C.kps_to_table(kps), self._view(kps, source)

    def pose_from_photo(self, photo: Any, source: Any = None,
                        progress=gr.Progress()) -> tuple[Table, np.ndarray, str]:
        """Estimate the pose of a second photo -> (pose table on the grid, pose view, status)."""
        with user_errors():
            im, notes = read_photo(photo, "target pose photo")
            progress(0.2, desc="Estimating the pose of the target photo")
            t0 = time.perf_counter()
            kps, need = self.b.estimate_pose(im)
            grid = C.detected_pose_on_grid(kps, (im.height, im.width), need)
        notes.append(f"{K.num_visible(kps)} of 18 joints detected in the target photo.")
        return C.kps_to_table(grid), self._view(grid, source), R.status_text(notes, time.perf_counter() - t0)

    def render(self, table: Any, source: Any = None, joint: str | None = None) -> np.ndarray:
        """Pose table -> pose view (after editing the table or changing the source)."""
        with user_errors():
            return self._view(C.table_to_kps(table), source, joint)

    def move_joint(self, table: Any, joint: str, source: Any = None,
                   evt: gr.SelectData = None) -> tuple[Table, np.ndarray]:  # type: ignore[assignment]
        """Click on the pose view: put ``joint`` where clicked. Returns (table, view)."""
        with user_errors():
            kps = C.table_to_kps(table)
        j = C.joint_index(joint)
        if evt is not None and j is not None and evt.index is not None:
            kps[j] = C.view_to_grid(*(float(v) for v in evt.index[:2]))
        return C.kps_to_table(kps), self._view(kps, source, joint)

    def remove_joint(self, table: Any, joint: str, source: Any = None) -> tuple[Table, np.ndarray]:
        """Mark ``joint`` missing. Returns (table, view)."""
        with user_errors():
            kps = C.table_to_kps(table)
        j = C.joint_index(joint)
        if j is not None:
            kps[j] = K.MISSING
        return C.kps_to_table(kps), self._view(kps, source, joint)

    def example(self, paths: list[str], evt: gr.SelectData = None) -> Image.Image:  # type: ignore[assignment]
        """Click on an example thumbnail -> that photo in the input."""
        if evt is None or not paths:
            raise gr.Error("Click one of the example photos.")
        return Image.open(paths[evt.index]).convert("RGB")

    # -- pose transfer ---------------------------------------------------------------------------

    def transfer(self, source: Any, table: Any, progress=gr.Progress()) -> tuple[Any, ...]:
        """Source photo + target pose table -> (src kps, src parsing, tgt pose, tgt parsing, image, warped, status)."""
        t0 = time.perf_counter()
        progress(0.05, desc="Reading the photo")
        with user_errors():
            im, notes = read_photo(source, "source photo")
            target = C.target_keypoints(table, (im.height, im.width))
            progress(0.2, desc="Pose, parsing, parsing transformation and image generation")
            res = self.b.transfer(im, target)
        progress(0.9, desc="Drawing the results")
        warped = getattr(res, "warped", None)
        return (R.upscale(R.skeleton_on_photo(res.source_keypoints, im), False),
                R.parsing_image(res.source_parsing),
                R.upscale(R.as_pil(res.target_pose_image), True),
                R.parsing_image(res.target_parsing),
                R.upscale(R.as_pil(res.image), False),
                R.upscale(R.as_pil(warped), False) if warped is not None else None,
                R.status_text(notes, time.perf_counter() - t0))

    # -- texture transfer ------------------------------------------------------------------------

    def texture(self, person: Any, clothes: Any, progress=gr.Progress()) -> tuple[Any, ...]:
        """Person photo + clothes photo -> (person parsing, clothes parsing, result, status)."""
        t0 = time.perf_counter()
        progress(0.05, desc="Reading the photos")
        with user_errors():
            a, notes = read_photo(person, "person photo")
            b, notes_b = read_photo(clothes, "clothes photo")
            progress(0.2, desc="Parsing both photos and generating")
            res = self.b.texture(a, b)
        person_parsing, clothes_parsing = C.texture_parsings(res)
        return (R.parsing_image(person_parsing), R.parsing_image(clothes_parsing),
                R.upscale(R.as_pil(res.image), False),
                R.status_text(notes + notes_b, time.perf_counter() - t0))

    # -- parsing editing -------------------------------------------------------------------------

    def edit_predict(self, source: Any, label: str, progress=gr.Progress()) -> tuple[Any, ...]:
        """Source + pose preset -> (editor value with the predicted target parsing, preview, state, status)."""
        t0 = time.perf_counter()
        with user_errors():
            im, notes = read_photo(source, "source photo")
            target = C.grid_to_photo(preset(label).kps, (im.height, im.width))
            progress(0.2, desc="Predicting the target parsing")
            res = self.b.transfer(im, target)
        index = np.asarray(res.target_parsing)
        state = {"kps": np.asarray(res.target_keypoints, np.float32).tolist(), "target": target.tolist(),
                 "index": index.astype(np.uint8)}
        return C.editor_value(index), R.parsing_image(index), state, R.status_text(notes, time.perf_counter() - t0)

    def edit_apply(self, editor: Any, edit: str, state: dict | None) -> tuple[Any, ...]:
        """Apply a preset edit (sps.edits) to the map in the editor -> (new editor value, preview, state)."""
        if not state:
            raise gr.Error("First press 'Predict target parsing'.")
        with user_errors():
            index = C.editor_to_index(editor, state["index"])
            try:
                edited = C.apply_edit(index, state["kps"], edit)
            except TooFewKeypointsError as e:
                raise gr.Error(f"{friendly(e)}. Pick a target pose that shows those joints.") from e
        return C.editor_value(edited), R.parsing_image(edited), {**state, "index": edited.astype(np.uint8)}

    def edit_generate(self, source: Any, editor: Any, state: dict | None, progress=gr.Progress()) -> tuple[Any, ...]:
        """Regenerate from the edited map -> (edited map as read back, image, status)."""
        t0 = time.perf_counter()
        if not state:
            raise gr.Error("First press 'Predict target parsing'.")
        with user_errors():
            im, notes = read_photo(source, "source photo")
            index = C.editor_to_index(editor, state["index"])
            progress(0.2, desc="Generating from the edited parsing")
            res = self.b.edit(im, index, state["target"])
        out = res.image if hasattr(res, "image") else res
        return R.parsing_image(index), R.upscale(R.as_pil(out), False), R.status_text(notes, time.perf_counter() - t0)
