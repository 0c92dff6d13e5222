"""Reading a person photo in two passes (docs/design.md 2).

1. ``find``: the whole photo on the model canvas: parser and pose estimator (or the given keypoints and parsing)
   find the person; no person -> NoPersonError; a missing neck or shoulder is inferred (``poses.infer_upper_body``).
2. ``view``: a canvas-shaped window around the person (and the target pose) read again at full detail; its joints
   complete the first pass's, its label map replaces it.

The functions take the pipeline for its networks (``parse``, ``estimate_keypoints``) and settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import pose as K
from ..canvas import IMAGE_PAD, to_tensor
from ..errors import NoPersonError, TooFewKeypointsError
from .inputs import Photo, keypoints_on_grid, labels_on_grid
from .poses import REQUIRED, face_centre, infer_upper_body, loose, lower_body_share, names, pose_box
from .window import Frame, Window

if TYPE_CHECKING:
    from .pipeline import SPSPipeline, _Timer

PERSON_LABELS = tuple(range(1, 10))
WIDE = 1.25  # photos wider than the canvas's aspect by more than this are also looked at in tiles


@dataclass
class Sighting:
    """The person of a photo on its grid, after the first pass.

    kps: (18, 2) photo-grid keypoints, a missing neck or shoulder inferred.
    observed: (18,) bool, the joints seen (or given), not inferred.
    labels: (H0, W0) labels of the first pass cut to the body, or the given map, or None (given keypoints only).
    lower_body: the share of pants, skirt and legs among the person pixels of the first pass's whole label map
        (before the cut to the body a misplaced joint would draw; ``poses.lower_body_share``).
    """

    photo: Photo
    kps: np.ndarray
    observed: np.ndarray
    labels: np.ndarray | None
    given_kps: bool
    given_parsing: bool
    lower_body: float = 0.0


@dataclass
class View:
    """The person's window read on the model canvas: ``photo`` holds the canvas image, keypoints and parsing."""

    photo: Photo
    window: Window
    frame: Frame
    source: Sighting
    observed: np.ndarray  # (18,) bool: joints seen by either pass (or given)
    inferred: tuple[int, ...]  # joints inferred

    def source_keypoints(self) -> np.ndarray:
        """(18, 2) keypoints on the source photo's grid."""
        return self.frame.photo_keypoints(self.window.keypoints_back(self.photo.kps))

    def source_parsing(self) -> np.ndarray:
        """(H0, W0) label map on the source photo's grid (background outside the window)."""
        return self.window.labels_back(self.photo.parsing, self.frame.size)[self.frame.photo_box]


def look(pipe: SPSPipeline, photo: Photo) -> np.ndarray:
    """(18, 2) canvas keypoints of a photo; when fewer than ``min_joints`` are found, a second look at a grey copy
    (the estimator is sensitive to colour) and the better of the two."""
    kps = pipe.estimate_keypoints(photo)
    if K.num_visible(kps) < pipe.settings.min_joints:
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=photo.image.dtype, device=photo.image.device)
        grey = (photo.image * luma.view(1, 3, 1, 1)).sum(1, keepdim=True).expand_as(photo.image)  # (1, 3, H, W)
        again = pipe.estimate_keypoints(Photo(photo.array, photo.canvas, grey.contiguous()))
        kps = again if K.num_visible(again) > K.num_visible(kps) else kps
    return kps


def tiles(photo: Photo) -> list[Window | None]:
    """Where the first pass looks: the whole photo (None) and, for a photo wider than the canvas by more than
    ``WIDE``, canvas-shaped windows of its full height sliding across it by half their width (a person standing
    in a landscape photo would be a few dozen canvas pixels tall on the whole photo)."""
    h, w = photo.size
    ch, cw = photo.canvas.size
    if w / h <= WIDE * cw / ch:
        return [None]
    width = h * cw / ch
    n = int(np.ceil((w - width) / (width / 2))) + 1
    lefts = np.linspace(0, w - width, n)
    return [None] + [Window.around(np.array([x, 0, x + width, h]), (ch, cw), margin=0.0) for x in lefts]


def _first_look(pipe: SPSPipeline, photo: Photo, timer: _Timer) -> tuple[Window | None, Photo, np.ndarray]:
    """The look (whole photo or a tile) in which the pose estimator finds the most joints (the whole photo on a
    tie): its window, its photo on the canvas and its canvas keypoints."""
    best = None
    for win in tiles(photo):
        p = photo if win is None else Photo(crop := win.crop(photo.array, IMAGE_PAD), win.canvas,
                                            to_tensor(win.canvas.image(crop), pipe.device))
        with timer("pose"):
            ck = look(pipe, p)
        if best is None or K.num_visible(ck) > K.num_visible(best[2]):
            best = (win, p, ck)
    return best


def find(pipe: SPSPipeline, photo: Photo, keypoints: Any, parsing: Any, where: str, timer: _Timer) -> Sighting:
    """First pass: the person on the whole photo, or on the tile of a wide photo where more of them is seen
    (given keypoints and parsing are trusted as they are)."""
    given = labels_on_grid(parsing, photo, f"{where} parsing") if parsing is not None else None
    lower = lower_body_share(given)
    if keypoints is not None:
        grid = photo.original or photo.size
        kps, labels = photo.grid_keypoints(keypoints_on_grid(keypoints, grid, f"{where} keypoints")), given
    else:
        win, p, ck = _first_look(pipe, photo, timer)
        with timer("parse"):
            cl = pipe.parse(p) if given is None else (p.canvas.labels(given) if win is None else win.labels(given))
        _check_person(pipe, p, cl, ck, where, given is None)
        lower = lower_body_share(cl) if given is None else lower
        if given is None and pipe.settings.person_margin > 0:
            cl = pipe._near_body(cl, ck)
        if win is None:
            kps, labels = photo.canvas.keypoints_back(ck), photo.canvas.labels_back(cl)
        else:
            kps = K.crop_keypoints(win.keypoints_back(ck), 0, 0, photo.size)
            labels = win.labels_back(cl, photo.size)
        labels = given if given is not None else labels
    observed = K.visible(kps)
    kps, _ = infer_upper_body(kps, face_centre(labels))
    missing = [j for j in REQUIRED if not K.visible(kps)[j]]
    if missing:
        what = (f"the pose needs the neck and both shoulders, or enough of the head and body to infer them; "
                f"missing: {', '.join(names(missing))} ({int(observed.sum())} of 18 joints visible)")
        if keypoints is not None:
            raise TooFewKeypointsError(f"{where} keypoints: {what}")
        raise NoPersonError(f"{where}: no person found: no upper body: {what}")
    return Sighting(photo, kps, observed, labels, keypoints is not None, given is not None, lower)


def _check_person(pipe: SPSPipeline, photo: Photo, labels: np.ndarray, kps: np.ndarray, where: str,
                  estimated_parsing: bool) -> None:
    """NoPersonError when the parser labels too few person pixels or the pose estimator finds too few joints."""
    s = pipe.settings
    frac = float(np.isin(labels, PERSON_LABELS).sum()) / max(1, photo.canvas.height * photo.canvas.width)
    joints = K.num_visible(kps)
    why = []
    if estimated_parsing and frac < s.min_person_fraction:
        why.append(f"the parser labels {100 * frac:.1f}% of the pixels as a person "
                   f"(< {100 * s.min_person_fraction:.0f}%)")
    if joints < s.min_joints:
        why.append(f"the pose estimator finds {joints} joints (< {s.min_joints})")
    if why:
        raise NoPersonError(f"{where}: no person found: {' and '.join(why)}")


def person_box(seen: Sighting, frame: Frame) -> np.ndarray:
    """(x0, y0, x1, y1) on the frame grid of the body the keypoints draw and the person labels of the first pass."""
    t, _, l, _ = frame.pad
    x0, y0, x1, y1 = pose_box(loose(seen.kps) + (l, t))
    if seen.labels is not None and (seen.labels > 0).any():
        ys, xs = np.nonzero(seen.labels)
        x0, y0, x1, y1 = min(x0, xs.min() + l), min(y0, ys.min() + t), max(x1, xs.max() + l), max(y1, ys.max() + t)
    return np.array([x0, y0, x1, y1], np.float64)


def view(pipe: SPSPipeline, seen: Sighting, frame: Frame, window: Window, timer: _Timer) -> View:
    """Second pass: the window read on the model canvas; its joints complete the first pass's, its labels replace
    the first pass's (joints and labels off the photo dropped), and what is still missing is inferred again.
    Both networks look again even when the window shows the person at the first pass's scale: on street photos
    the second look finds other joints and a better label map (a test-time augmentation of sorts)."""
    photo = seen.photo
    crop = window.crop(frame.place(photo.array, IMAGE_PAD), IMAGE_PAD)
    v = Photo(crop, window.canvas, to_tensor(window.canvas.image(crop), pipe.device))
    on_photo = window.labels(frame.place(np.ones(photo.size, np.uint8), 0)) > 0  # (H, W) canvas
    first = seen.kps.copy()
    first[~seen.observed] = K.MISSING
    first = window.keypoints(frame.keypoints(loose(first)))
    if seen.given_parsing:
        labels = window.labels(frame.place(seen.labels, 0))
    else:
        with timer("parse"):
            labels = np.where(on_photo, pipe.parse(v), 0)
    kps = first
    if not seen.given_kps:
        with timer("pose"):
            second = pipe.estimate_keypoints(v)
        second[~_on(on_photo, second)] = K.MISSING
        kps = np.where(K.visible(second)[:, None], second, first).astype(np.float32)
    observed = K.visible(kps)
    kps, inferred = infer_upper_body(kps, face_centre(labels))
    fallback = window.keypoints(frame.keypoints(loose(seen.kps)))  # the first pass's inferred joints
    for j in REQUIRED:
        if not K.visible(kps)[j] and K.visible(fallback)[j]:
            kps[j], inferred = fallback[j], tuple(sorted({*inferred, j}))
    if not seen.given_parsing and pipe.settings.person_margin > 0:
        labels = pipe._near_body(labels, kps)
    v.kps, v.parsing = kps, labels
    return View(v, window, frame, seen, observed, inferred)


def _on(mask: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """(18,) bool: visible canvas joints that fall on ``mask``."""
    h, w = mask.shape
    vis = K.visible(kps)
    xy = np.clip(np.round(kps), 0, [w - 1, h - 1]).astype(int)
    return vis & mask[xy[:, 1], xy[:, 0]]
