"""Pure conversions between what the demo's widgets hold and what the pipeline takes. No gradio here.

Target poses travel as an 18-row table ``joint, x, y`` on a fixed 256 x 192 *pose grid* (``-1`` = missing); the
source photo is fitted onto the same grid (a :class:`sps.canvas.Canvas`: resize + centre-pad) to place the pose on
it. Label maps travel to the parsing editor as coloured pictures and come back by nearest palette colour.

Every function raises an :class:`sps.errors.SPSError` subclass on bad input; the UI layer (``sps.app.handlers``)
turns those into messages for the user.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from .. import parsing as P
from .. import pose as K
from ..canvas import Canvas
from ..data.images import read_image
from ..errors import ImageReadError, NoPersonError, SPSError
from ..presets import POSE_GRID

VIEW_SCALE = 2  # the pose editor canvas is drawn at 2x the pose grid
MAX_SIDE = 2048  # larger photos are downscaled (with a note) before anything else
EDITOR_H = 384  # the parsing editor canvas height (the map is scaled to it by nearest neighbour)
COLUMNS = ["joint", "x", "y"]
EDITS = {"Shorter sleeves": "shorter_sleeves", "Longer sleeves": "longer_sleeves",
         "Trousers to shorts": "trousers_to_shorts", "Trousers to skirt": "trousers_to_skirt"}  # label -> sps.edits


class AppInputError(SPSError):
    """An input the demo cannot use: missing, empty, or not one of the offered choices."""


# ----------------------------------------------------------------------------------------------
# Photos
# ----------------------------------------------------------------------------------------------

def read_photo(image: Any, what: str) -> tuple[Image.Image, list[str]]:
    """An uploaded photo (path, PIL or array) -> RGB PIL image of at most MAX_SIDE px a side, and notes for the
    user (a downscaled photo says so). Raises AppInputError when absent, ImageReadError when undecodable."""
    if image is None:
        raise AppInputError(f"Please provide the {what} first (upload a photo or click an example).")
    try:
        arr, (h0, w0) = read_image(image, what, MAX_SIDE)  # sps's one reader: EXIF, 16-bit, transparency, draft
    except ImageReadError as e:
        name = Path(str(image)).name if isinstance(image, (str, Path)) else "upload"
        raise ImageReadError(f"Could not read the {what} '{name}' as an image. "
                             "Please upload a JPEG, PNG or WebP photo.") from e
    im = Image.fromarray(arr)
    notes: list[str] = []
    if (im.height, im.width) != (h0, w0):
        notes.append(f"The {what} was {w0} x {h0} px; it was downscaled to {im.width} x {im.height} "
                     f"(at most {MAX_SIDE} px a side).")
    return im, notes


def pose_grid(photo_size: tuple[int, int]) -> Canvas:
    """Where an (H, W) photo sits on the pose grid."""
    return Canvas.fit(photo_size, POSE_GRID)


def photo_on_grid(im: Image.Image) -> np.ndarray:
    """The photo resized and centre-padded (white) onto the pose grid, as the pose table sees it: (256, 192, 3)."""
    return pose_grid((im.height, im.width)).image(im)


# ----------------------------------------------------------------------------------------------
# Pose tables
# ----------------------------------------------------------------------------------------------

def kps_to_table(kps: np.ndarray) -> list[list[Any]]:
    """(18, 2) pose-grid keypoints -> rows ``[joint, x, y]`` (rounded; -1 for missing)."""
    kps = K.validate_keypoints(kps)
    vis = K.visible(kps)
    return [[name, round(float(x), 1) if v else -1, round(float(y), 1) if v else -1]
            for name, (x, y), v in zip(K.KEYPOINT_NAMES, kps.tolist(), vis.tolist())]


def _num(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return -1.0
    return f if np.isfinite(f) else -1.0


def _rows(table: Any) -> list[Any]:
    if table is None:
        raise AppInputError("No target pose: choose a preset, take the pose of a photo, or fill the table.")
    if isinstance(table, dict):  # gradio's {"headers", "data"}
        return list(table.get("data", []))
    if hasattr(table, "values") and hasattr(table, "columns"):  # pandas
        return table.values.tolist()
    return list(table)


def table_to_kps(table: Any) -> np.ndarray:
    """A pose table (list of rows, pandas frame or gradio's ``{"headers", "data"}`` dict) -> (18, 2) on the grid.

    Rows are matched by joint name when the first column names a joint, else by order; blank, non-numeric,
    negative or off-grid values mean "missing". Raises AppInputError when there is no table.
    """
    kps = np.full((K.NUM_KEYPOINTS, 2), K.MISSING, np.float32)
    index = {n: i for i, n in enumerate(K.KEYPOINT_NAMES)}
    h, w = POSE_GRID
    for r, row in enumerate(_rows(table)):
        row = list(row)
        if len(row) >= 3 and str(row[0]).strip() in index:
            j, xy = index[str(row[0]).strip()], row[1:3]
        elif len(row) >= 2 and r < K.NUM_KEYPOINTS:
            j, xy = r, row[-2:]
        else:
            continue
        x, y = _num(xy[0]), _num(xy[1])
        if 0 <= x <= w - 1 and 0 <= y <= h - 1:
            kps[j] = (x, y)
    return kps


def grid_to_photo(grid: np.ndarray, photo_size: tuple[int, int]) -> np.ndarray:
    """A target pose (18, 2) on the pose grid -> (18, 2) xy on the (H, W) photo's pixel grid, for the pipeline.

    The pose must pass :func:`sps.pose.check_required_joints` (the pipeline's own rule): TooFewKeypointsError
    names the missing joints otherwise.
    """
    K.check_required_joints(grid, "target pose")
    return K.keypoints_from_canvas(grid, tuple(photo_size), POSE_GRID)


def pose_on_person(grid: np.ndarray, source_kps: np.ndarray, photo_size: tuple[int, int]) -> np.ndarray:
    """A target pose (18, 2) on the pose grid -> the same pose on the grid, placed on the person of the (H, W) photo
    whose (18, 2) keypoints are ``source_kps``: scaled to them, necks together, the legs it lacks theirs
    (``sps.pipeline.poses.place_on_person`` and ``complete_legs``, the pipeline's ``placement="person"``). Joints
    that land off the photo are dropped; the pose comes back as given when the fit leaves its neck or a shoulder
    off the photo. Raises TooFewKeypointsError when either pose lacks a neck or shoulder (an inferred one counts)."""
    from ..pipeline.poses import complete_legs, infer_upper_body, place_on_person  # (sps.pipeline imports the Hub)

    source = infer_upper_body(K.validate_keypoints(source_kps))[0]
    fitted = complete_legs(place_on_person(grid_to_photo(grid, photo_size), source), source)
    h, w = photo_size
    inside = np.isfinite(fitted).all(1) & (fitted[:, 0] >= 0) & (fitted[:, 0] <= w - 1) & (fitted[:, 1] >= 0) \
        & (fitted[:, 1] <= h - 1)
    if not inside[list(K.REQUIRED_JOINTS)].all():
        return K.validate_keypoints(grid).copy()
    on_photo = np.where(inside[:, None], np.nan_to_num(fitted), K.MISSING).astype(np.float32)
    return pose_grid(photo_size).keypoints(on_photo)


def target_keypoints(table: Any, photo_size: tuple[int, int]) -> np.ndarray:
    """A target pose table -> (18, 2) xy on the (H, W) photo's pixel grid (see :func:`grid_to_photo`)."""
    return grid_to_photo(table_to_kps(table), photo_size)


def detected_pose_on_grid(kps: np.ndarray, photo_size: tuple[int, int], min_joints: int) -> np.ndarray:
    """Keypoints estimated on an (H, W) photo -> (18, 2) on the pose grid. Raises NoPersonError when fewer than
    ``min_joints`` joints were found (the pipeline's person test)."""
    kps = K.validate_keypoints(kps)
    n = K.num_visible(kps)
    if n < min_joints:
        raise NoPersonError(f"target pose photo: only {n} joints were detected (at least {min_joints} needed)")
    return pose_grid(photo_size).keypoints(kps)


def view_to_grid(x: float, y: float) -> tuple[float, float]:
    """A click (x, y) on the pose view (VIEW_SCALE x the grid) -> the nearest (x, y) on the pose grid."""
    h, w = POSE_GRID
    return (float(np.clip((x + 0.5) / VIEW_SCALE - 0.5, 0, w - 1)),
            float(np.clip((y + 0.5) / VIEW_SCALE - 0.5, 0, h - 1)))


def joint_index(joint: str | None) -> int | None:
    """The COCO-18 index of a joint name; None for anything else."""
    return K.KEYPOINT_NAMES.index(joint) if joint in K.KEYPOINT_NAMES else None


# ----------------------------------------------------------------------------------------------
# Label maps and the parsing editor
# ----------------------------------------------------------------------------------------------

def editor_value(index: np.ndarray) -> dict:
    """An ImageEditor value whose background is the coloured map at EDITOR_H px high, for painting."""
    idx = np.asarray(index)
    w = max(1, round(idx.shape[1] * EDITOR_H / idx.shape[0]))
    col = Image.fromarray(P.colorize(idx)).resize((w, EDITOR_H), Image.NEAREST)
    return {"background": np.asarray(col), "layers": [], "composite": None}


def _editor_picture(editor: Any) -> Any:
    if not isinstance(editor, dict):
        return editor
    return next((editor[key] for key in ("composite", "background") if editor.get(key) is not None), None)


def editor_to_index(editor: Any, current: np.ndarray | None = None) -> np.ndarray:
    """The editor's composite (or background) -> (H, W) label ids of the nearest palette colours, at the size of
    ``current``, the map last sent to the editor. ``current`` is also the answer when the browser sends no picture
    back (a canvas that could not render, e.g. without WebGL), so preset edits and regeneration still work.
    Raises AppInputError when there is neither.
    """
    img = _editor_picture(editor)
    if img is None and current is not None:
        return np.asarray(current, np.int64)
    if img is None:
        raise AppInputError("The parsing editor is empty: press 'Predict target parsing' first.")
    if isinstance(img, (str, Path)):
        path = Path(img)
        try:
            img = Image.open(path)
            img.load()
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
            raise ImageReadError(f"The parsing editor's picture '{path.name}' is not an image "
                                 f"({type(e).__name__}).") from e
    arr = np.asarray(img.convert("RGBA") if isinstance(img, Image.Image) else img)
    if arr.ndim == 3 and arr.shape[2] == 4:  # transparent pixels count as background
        arr = np.where(arr[..., 3:4] > 0, arr[..., :3], 0)
    labels = P.nearest_label(arr[..., :3])
    if current is None:
        return labels
    h, w = np.shape(current)
    return P.resize_labels(labels, (h, w))


def apply_edit(index: np.ndarray, kps: np.ndarray, edit: str) -> np.ndarray:
    """One of the EDITS (by its label) applied to an (H, W) label map with its (18, 2) keypoints.
    Raises AppInputError for an unknown edit, TooFewKeypointsError when the pose lacks the joints it needs."""
    from .. import edits as E

    if edit not in EDITS:
        raise AppInputError(f"Unknown edit {edit!r}; choose one of {', '.join(EDITS)}.")
    return np.asarray(getattr(E, EDITS[edit])(index, np.asarray(kps, np.float32)))


def texture_parsings(res: Any) -> tuple[Any, Any]:
    """(person's parsing, clothes photo's parsing) from a ``transfer_texture`` result."""
    person = next(getattr(res, n) for n in ("person_parsing", "target_parsing") if getattr(res, n, None) is not None)
    clothes = next(getattr(res, n) for n in ("clothes_parsing", "source_parsing") if getattr(res, n, None) is not None)
    return person, clothes
