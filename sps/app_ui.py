"""The Gradio Blocks demo: pose transfer, clothing texture transfer and parsing-map editing.

``build_demo(backend)`` returns the ``gr.Blocks``; ``app.py`` at the repository root launches it. All model
work goes through one :class:`Backend`, which loads the :class:`sps.SPSPipeline` once and serialises the
forward passes with a lock, so the Gradio queue may run several events at once safely.

Every event has an ``api_name`` (see ``/?view=api`` of a running app, or the README's ``gradio_client``
snippet). Target poses travel as an 18-row table ``joint, x, y`` on a fixed 256 x 192 "pose grid" (``-1`` =
missing); the source photo is fitted onto the same grid (resize + centre-pad) to place the pose on it.
"""
from __future__ import annotations

import os

# Offline: no analytics, no telemetry; set before gradio / huggingface_hub are imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import parsing as P
from . import pose as K
from .errors import SPSError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
POSES_DIR = Path(__file__).resolve().parent / "assets" / "poses"
POSE_GRID: tuple[int, int] = (256, 192)  # (H, W) of the target-pose table and the preset files
VIEW_SCALE = 2  # the pose editor canvas is drawn at 2x the pose grid
MAX_SIDE = 2048  # larger photos are downscaled (with a warning) before anything else
MIN_KEYPOINTS = 4  # fewer visible target joints than this cannot place the body parts
DISPLAY_H = 256  # small model outputs are upscaled to at least this height for display
EXAMPLE_FOLDERS = ("deepfashion/images", "viton/test/images", "spt-demo/images")
NUM_EXAMPLES = 8
COLUMNS = ["joint", "x", "y"]

INTRO = """
# Person image generation with semantic parsing transformation
Re-pose a person photo, swap clothes between two people, or redraw the clothing layout, following
*Song et al., "Unsupervised Person Image Generation with Semantic Parsing Transformation", CVPR 2019*.
The model first predicts **where** each garment and body part goes in the new pose (a *parsing map*,
one colour per label), then paints the source's textures into those regions.

**How to use:** ① pick a source photo (upload a full- or half-body photo of one person on a plain
background, or click an example) → ② choose a target pose (a preset, the pose of another photo, or drag
joints yourself) → ③ press **Generate**. Everything runs locally on CPU; nothing is uploaded elsewhere.
"""

CAPTIONS = {
    "src_kps": "**Detected source pose**: the 18 keypoints the pose estimator found on your photo.",
    "src_parsing": "**Source parsing**: which pixels are face, hair, clothes, arms and legs (colours below).",
    "tgt_pose": "**Target pose**: the skeleton the person is moved into.",
    "tgt_parsing": "**Predicted target parsing**: the clothing layout predicted for the new pose (stage 1).",
    "image": "**Generated image**: the source person's textures painted into the target layout (stage 2).",
    "warped": "**Warped source**: the photo cut into 10 rigid body parts and moved part by part to the "
              "target pose; the generator starts from this and fixes what rigid warping cannot.",
}


# ----------------------------------------------------------------------------------------------
# Backend: one pipeline, one lock
# ----------------------------------------------------------------------------------------------

def default_weights() -> Path:
    """``$SPS_WEIGHTS`` if set, else ``<repo>/weights``."""
    env = os.environ.get("SPS_WEIGHTS")
    return Path(env).expanduser() if env else REPO_ROOT / "weights"


class Backend:
    """Holds the pipeline; every model call goes through :meth:`call`, serialised by a lock."""

    def __init__(self, weights: str | Path | None = None, pipeline: Any = None):
        self.weights = str(weights if weights is not None else default_weights())
        self._pipe = pipeline
        self._lock = threading.Lock()

    @property
    def pipe(self) -> Any:
        with self._lock:
            if self._pipe is None:
                from .pipeline import SPSPipeline  # heavy import (torch models) on first use

                t0 = time.perf_counter()
                try:
                    self._pipe = SPSPipeline.from_pretrained(self.weights)
                except SPSError as e:
                    raise gr.Error(f"The model weights could not be loaded from {self.weights}: {e}") from e
                log.info("pipeline loaded from %s in %.1f s", self.weights, time.perf_counter() - t0)
            return self._pipe

    def load(self) -> "Backend":
        """Load the pipeline now (fail fast at start-up rather than on the first request)."""
        _ = self.pipe
        return self

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(pipe, *args)`` under the lock, turning sps input errors into ``gr.Error``."""
        pipe = self.pipe
        with self._lock:
            try:
                return fn(pipe, *args, **kwargs)
            except SPSError as e:
                raise gr.Error(_friendly(e)) from e


def _friendly(e: SPSError) -> str:
    """A user-facing message for an sps input error."""
    from .errors import ImageReadError, NoPersonError, TooFewKeypointsError

    if isinstance(e, NoPersonError):
        return f"No person found in the photo. Please use a photo of one person, fully or half visible. ({e})"
    if isinstance(e, TooFewKeypointsError):
        return f"Too few keypoints: {e}"
    if isinstance(e, ImageReadError):
        return f"Could not read the image: {e}"
    return str(e)


# ----------------------------------------------------------------------------------------------
# Inputs: photos, pose tables, presets
# ----------------------------------------------------------------------------------------------

class PhotoInput(gr.Image):
    """``gr.Image`` whose upload errors become a clear ``gr.Error`` instead of a bare server error."""

    is_template = True  # rendered by the frontend's Image component

    def preprocess(self, payload):  # type: ignore[override]
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
            name = getattr(payload, "orig_name", None) or Path(str(getattr(payload, "path", "file"))).name
            raise gr.Error(f"Could not read '{name}' as an image ({type(e).__name__}). "
                           "Please upload a JPEG, PNG or WebP photo.") from e


def read_photo(image: Any, what: str) -> tuple[Image.Image, list[str]]:
    """An uploaded photo (path, PIL or array) -> RGB PIL image, at most MAX_SIDE px, and notes for the user."""
    if image is None:
        raise gr.Error(f"Please provide the {what} first (upload a photo or click an example).")
    try:
        if isinstance(image, Image.Image):
            im = image
        elif isinstance(image, np.ndarray):
            im = Image.fromarray(np.asarray(image, np.uint8))
        else:
            im = Image.open(image)
            im.load()
        im = ImageOps.exif_transpose(im).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        name = Path(str(image)).name if isinstance(image, (str, Path)) else "upload"
        raise gr.Error(f"Could not read the {what} '{name}' as an image ({type(e).__name__}). "
                       "Please upload a JPEG, PNG or WebP photo.") from e
    notes: list[str] = []
    if max(im.size) > MAX_SIDE:
        w0, h0 = im.size
        s = MAX_SIDE / max(w0, h0)
        im = im.resize((max(1, round(w0 * s)), max(1, round(h0 * s))), Image.LANCZOS)
        notes.append(f"The {what} was {w0} x {h0} px; it was downscaled to {im.width} x {im.height} "
                     f"(at most {MAX_SIDE} px a side).")
        gr.Warning(notes[-1])
    return im, notes


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    kps: np.ndarray  # (18, 2) on POSE_GRID


def load_presets(folder: Path = POSES_DIR) -> list[Preset]:
    """The shipped pose presets (OpenPose JSON on the 256 x 192 pose grid), sorted by file name."""
    import json

    out = []
    for path in sorted(folder.glob("*.json")):
        kps = K.read_openpose_json(path)
        meta = json.loads(path.read_text()).get("sps_preset", {})
        out.append(Preset(path.stem, meta.get("label", path.stem.replace("_", " ")), kps))
    return out


PRESETS = load_presets()
PRESET_BY_LABEL = {p.label: p for p in PRESETS}


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


def table_to_kps(table: Any) -> np.ndarray:
    """A pose table (list of rows, pandas frame or gradio's ``{"headers", "data"}`` dict) -> (18, 2).

    Rows are matched by joint name when the first column names a joint, else by order; blank,
    non-numeric, negative or off-grid values mean "missing".
    """
    if table is None:
        raise gr.Error("No target pose: choose a preset, take the pose of a photo, or fill the table.")
    if isinstance(table, dict):
        rows = table.get("data", [])
    elif hasattr(table, "values") and hasattr(table, "columns"):  # pandas
        rows = table.values.tolist()
    else:
        rows = list(table)
    kps = np.full((K.NUM_KEYPOINTS, 2), K.MISSING, np.float32)
    index = {n: i for i, n in enumerate(K.KEYPOINT_NAMES)}
    for r, row in enumerate(rows):
        row = list(row)
        if len(row) >= 3 and str(row[0]).strip() in index:
            j, xy = index[str(row[0]).strip()], row[1:3]
        elif len(row) >= 2 and r < K.NUM_KEYPOINTS:
            j, xy = r, row[-2:]
        else:
            continue
        x, y = _num(xy[0]), _num(xy[1])
        h, w = POSE_GRID
        if 0 <= x <= w - 1 and 0 <= y <= h - 1:
            kps[j] = (x, y)
    return kps


def check_target(kps: np.ndarray) -> None:
    n = K.num_visible(kps)
    if n < MIN_KEYPOINTS or not K.visible(kps)[1]:
        raise gr.Error(f"Too few keypoints in the target pose: {n} visible"
                       f"{'' if K.visible(kps)[1] else ', and no neck'}. At least {MIN_KEYPOINTS} joints "
                       "including the neck are needed (x in 0-191, y in 0-255; -1 = missing).")


def fit_on_grid(im: Image.Image, grid: tuple[int, int] = POSE_GRID, fill: int = 255) -> np.ndarray:
    """The photo resized and centre-padded onto an (H, W) grid, as the pose table sees it."""
    _, (rh, rw), (top, left) = K.fit_canvas((im.height, im.width), grid)
    canvas = np.full((*grid, 3), fill, np.uint8)
    canvas[top:top + rh, left:left + rw] = np.asarray(im.resize((rw, rh), Image.BILINEAR))
    return canvas


def pose_view(kps: np.ndarray, source: Any = None, selected: str | None = None) -> np.ndarray:
    """The target skeleton at VIEW_SCALE x the pose grid, over a faded copy of the source when given."""
    h, w = POSE_GRID[0] * VIEW_SCALE, POSE_GRID[1] * VIEW_SCALE
    bg = np.full((h, w, 3), 24, np.uint8)
    if source is not None:
        try:
            im, _ = read_photo(source, "source photo")
            faded = fit_on_grid(im).astype(np.float32) * 0.35 + 10
            bg = np.asarray(Image.fromarray(faded.astype(np.uint8)).resize((w, h), Image.BILINEAR))
        except gr.Error:
            pass
    big = K.validate_keypoints(kps).copy()
    vis = K.visible(big)
    big[vis] = (big[vis] + 0.5) * VIEW_SCALE - 0.5
    out = K.render_skeleton(big, (h, w), background=bg)
    if selected in K.KEYPOINT_NAMES:  # ring around the joint being edited
        j = K.KEYPOINT_NAMES.index(selected)
        if vis[j]:
            yy, xx = np.mgrid[0:h, 0:w]
            d2 = (xx - big[j, 0]) ** 2 + (yy - big[j, 1]) ** 2
            out[(d2 <= 9.0 ** 2) & (d2 >= 7.0 ** 2)] = (255, 60, 60)
    return out


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------

def _upscale(img: np.ndarray | Image.Image, nearest: bool) -> Image.Image:
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, np.uint8))
    if im.height >= DISPLAY_H:
        return im
    s = DISPLAY_H / im.height
    return im.resize((max(1, round(im.width * s)), DISPLAY_H), Image.NEAREST if nearest else Image.BICUBIC)


def parsing_image(index: Any) -> Image.Image:
    """A label map coloured with PALETTE (pixel-exact: only palette colours, upscaled by nearest)."""
    idx = np.asarray(index.detach().cpu() if hasattr(index, "detach") else index)
    return _upscale(P.colorize(idx), nearest=True)


def legend_html(labels: tuple[int, ...] | None = None) -> str:
    """Colour chips and names of the parsing labels, as HTML (crisp at any zoom)."""
    labels = tuple(range(1, P.NUM_LABELS)) if labels is None else labels
    chips = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:2px 10px 2px 0;white-space:nowrap">'
        f'<span style="width:14px;height:14px;border:1px solid #777;margin-right:5px;display:inline-block;'
        f'background:rgb{tuple(int(c) for c in P.PALETTE[i])}"></span>{P.LABELS[i]}</span>'
        for i in labels)
    return f'<div class="sps-legend"><b style="margin-right:8px">Parsing colours:</b>{chips}' \
           f'<span style="margin-left:4px;color:#777">(black = background)</span></div>'


def _pil(x: Any) -> Image.Image:
    if isinstance(x, Image.Image):
        return x.convert("RGB")
    arr = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8) if arr.max() <= 1.0 else arr.astype(np.uint8)
    return Image.fromarray(arr).convert("RGB")


def _status(notes: list[str], seconds: float) -> str:
    lines = [f"✓ Done in {seconds:.1f} s."] + [f"⚠ Note: {n}" for n in notes]
    return "\n\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Event handlers (plain functions of a Backend; build_demo wires them)
# ----------------------------------------------------------------------------------------------

class Handlers:
    """The app's event handlers, bound to one backend (also usable directly in tests)."""

    def __init__(self, backend: Backend):
        self.b = backend

    # -- target pose ---------------------------------------------------------------------------
    def preset(self, label: str, source: Any = None) -> tuple[list[list[Any]], np.ndarray]:
        """Preset name -> (pose table, pose view)."""
        if label not in PRESET_BY_LABEL:
            raise gr.Error(f"Unknown pose preset {label!r}; choose one of: {', '.join(PRESET_BY_LABEL)}.")
        kps = PRESET_BY_LABEL[label].kps
        return kps_to_table(kps), pose_view(kps, source)

    def pose_from_photo(self, photo: Any, source: Any = None, progress=gr.Progress()) -> tuple[list[list[Any]], np.ndarray, str]:
        """Estimate the pose of a second photo -> (pose table on the grid, pose view, status)."""
        im, notes = read_photo(photo, "target pose photo")
        progress(0.2, desc="Estimating the pose of the target photo")
        t0 = time.perf_counter()
        kps = self.b.call(_estimate_keypoints, im)
        need = getattr(getattr(self.b.pipe, "settings", None), "min_joints", MIN_KEYPOINTS)
        if K.num_visible(kps) < need:
            raise gr.Error(f"No person found in the target pose photo: only {K.num_visible(kps)} joints were "
                           f"detected (at least {need} needed).")
        grid = K.keypoints_to_canvas(kps, (im.height, im.width), POSE_GRID)
        notes.append(f"{K.num_visible(kps)} of 18 joints detected in the target photo.")
        return kps_to_table(grid), pose_view(grid, source), _status(notes, time.perf_counter() - t0)

    def render(self, table: Any, source: Any = None, joint: str | None = None) -> np.ndarray:
        """Pose table -> pose view (after editing the table or changing the source)."""
        return pose_view(table_to_kps(table), source, joint)

    def move_joint(self, table: Any, joint: str, source: Any = None, evt: gr.SelectData = None):  # type: ignore[assignment]
        """Click on the pose view: put ``joint`` where clicked. Returns (table, view)."""
        kps = table_to_kps(table)
        if evt is not None and joint in K.KEYPOINT_NAMES and evt.index is not None:
            x, y = (float(v) for v in evt.index[:2])
            j = K.KEYPOINT_NAMES.index(joint)
            h, w = POSE_GRID
            kps[j] = (np.clip((x + 0.5) / VIEW_SCALE - 0.5, 0, w - 1), np.clip((y + 0.5) / VIEW_SCALE - 0.5, 0, h - 1))
        return kps_to_table(kps), pose_view(kps, source, joint)

    def remove_joint(self, table: Any, joint: str, source: Any = None):
        """Mark ``joint`` missing. Returns (table, view)."""
        kps = table_to_kps(table)
        if joint in K.KEYPOINT_NAMES:
            kps[K.KEYPOINT_NAMES.index(joint)] = K.MISSING
        return kps_to_table(kps), pose_view(kps, source, joint)

    def example(self, paths: list[str], evt: gr.SelectData = None) -> Image.Image:  # type: ignore[assignment]
        """Click on an example thumbnail -> that photo in the input."""
        if evt is None or not paths:
            raise gr.Error("Click one of the example photos.")
        return Image.open(paths[evt.index]).convert("RGB")

    # -- pose transfer ---------------------------------------------------------------------------
    def transfer(self, source: Any, table: Any, progress=gr.Progress()):
        """Source photo + target pose table -> (src kps, src parsing, tgt pose, tgt parsing, image, warped, status)."""
        t0 = time.perf_counter()
        progress(0.05, desc="Reading the photo")
        im, notes = read_photo(source, "source photo")
        grid = table_to_kps(table)
        check_target(grid)
        tgt = K.keypoints_from_canvas(grid, (im.height, im.width), POSE_GRID)
        progress(0.2, desc="Pose, parsing, parsing transformation and image generation")
        res = self.b.call(lambda pipe: pipe(im, tgt, seed=0))
        progress(0.9, desc="Drawing the results")
        src_kps = K.render_skeleton(np.asarray(res.source_keypoints), (im.height, im.width), background=np.asarray(im))
        warped = _pil(res.warped) if getattr(res, "warped", None) is not None else None
        return (_upscale(src_kps, False), parsing_image(res.source_parsing), _upscale(_pil(res.target_pose_image), True),
                parsing_image(res.target_parsing), _upscale(_pil(res.image), False),
                _upscale(warped, False) if warped is not None else None, _status(notes, time.perf_counter() - t0))

    # -- texture transfer ------------------------------------------------------------------------
    def texture(self, person: Any, clothes: Any, progress=gr.Progress()):
        """Person photo + clothes photo -> (person parsing, clothes parsing, result, status)."""
        t0 = time.perf_counter()
        progress(0.05, desc="Reading the photos")
        a, notes = read_photo(person, "person photo")
        b, notes_b = read_photo(clothes, "clothes photo")
        progress(0.2, desc="Parsing both photos and generating")
        res = self.b.call(lambda pipe: pipe.transfer_texture(a, b))
        person_parsing, clothes_parsing = _texture_parsings(res)
        return (parsing_image(person_parsing), parsing_image(clothes_parsing), _upscale(_pil(res.image), False),
                _status(notes + notes_b, time.perf_counter() - t0))

    # -- parsing editing -------------------------------------------------------------------------
    def edit_predict(self, source: Any, label: str, progress=gr.Progress()):
        """Source + pose preset -> (editor value with the predicted target parsing, state, status)."""
        t0 = time.perf_counter()
        im, notes = read_photo(source, "source photo")
        grid, _ = self.preset(label)
        grid = table_to_kps(grid)
        tgt = K.keypoints_from_canvas(grid, (im.height, im.width), POSE_GRID)
        progress(0.2, desc="Predicting the target parsing")
        res = self.b.call(lambda pipe: pipe(im, tgt, seed=0))
        index = np.asarray(res.target_parsing)
        state = {"kps": np.asarray(res.target_keypoints, np.float32).tolist(), "target": tgt.tolist(),
                 "index": index.astype(np.uint8)}
        return editor_value(index), parsing_image(index), state, _status(notes, time.perf_counter() - t0)

    def edit_apply(self, editor: Any, edit: str, state: dict | None):
        """Apply a preset edit (sps.edits) to the map in the editor -> (new editor value, preview, state)."""
        if not state:
            raise gr.Error("First press 'Predict target parsing'.")
        from . import edits as E

        fns = {"Shorter sleeves": E.shorter_sleeves, "Longer sleeves": E.longer_sleeves,
               "Trousers to shorts": E.trousers_to_shorts, "Trousers to skirt": E.trousers_to_skirt}
        if edit not in fns:
            raise gr.Error(f"Unknown edit {edit!r}; choose one of {', '.join(fns)}.")
        index = editor_to_index(editor, state["index"])
        try:
            edited = np.asarray(fns[edit](index, np.asarray(state["kps"], np.float32)))
        except SPSError as e:
            raise gr.Error(f"{_friendly(e)}. Pick a target pose that shows those joints.") from e
        return editor_value(edited), parsing_image(edited), {**state, "index": edited.astype(np.uint8)}

    def edit_generate(self, source: Any, editor: Any, state: dict | None, progress=gr.Progress()):
        """Regenerate from the edited map -> (edited map as read back, image, status)."""
        t0 = time.perf_counter()
        if not state:
            raise gr.Error("First press 'Predict target parsing'.")
        im, notes = read_photo(source, "source photo")
        index = editor_to_index(editor, state["index"])
        progress(0.2, desc="Generating from the edited parsing")
        res = self.b.call(lambda pipe: pipe.edit(im, index, np.asarray(state["target"], np.float32)))
        out = res.image if hasattr(res, "image") else res
        return parsing_image(index), _upscale(_pil(out), False), _status(notes, time.perf_counter() - t0)


def _estimate_keypoints(pipe: Any, im: Image.Image) -> np.ndarray:
    """Keypoints (18, 2) of a photo on its own pixel grid, estimated by the pipeline's pose estimator."""
    kps, _ = pipe.analyse(im)
    return K.validate_keypoints(kps)


def _texture_parsings(res: Any) -> tuple[Any, Any]:
    """(person's parsing, clothes photo's parsing) from a transfer_texture result."""
    person = next(getattr(res, n) for n in ("person_parsing", "target_parsing") if getattr(res, n, None) is not None)
    clothes = next(getattr(res, n) for n in ("clothes_parsing", "source_parsing") if getattr(res, n, None) is not None)
    return person, clothes


# ----------------------------------------------------------------------------------------------
# Editor conversions
# ----------------------------------------------------------------------------------------------

EDITOR_H = 384  # the parsing editor canvas height (the map is scaled to it by nearest neighbour)


def editor_value(index: np.ndarray) -> dict:
    """An ImageEditor value whose background is the coloured map at EDITOR_H px high, for painting."""
    idx = np.asarray(index)
    w = max(1, round(idx.shape[1] * EDITOR_H / idx.shape[0]))
    col = Image.fromarray(P.colorize(idx)).resize((w, EDITOR_H), Image.NEAREST)
    return {"background": np.asarray(col), "layers": [], "composite": None}


def editor_to_index(editor: Any, current: np.ndarray | None = None) -> np.ndarray:
    """The editor's composite (or background) -> (H, W) label ids of the nearest palette colours, at the size of
    `current`, the map last sent to the editor. `current` is also the answer when the browser sends no picture back
    (a canvas that could not render, e.g. without WebGL), so preset edits and regeneration still work.
    """
    img = None
    if isinstance(editor, dict):
        for key in ("composite", "background"):
            if editor.get(key) is not None:
                img = editor[key]
                break
    else:
        img = editor
    if img is None and current is not None:
        return np.asarray(current, np.int64)
    if img is None:
        raise gr.Error("The parsing editor is empty: press 'Predict target parsing' first.")
    if isinstance(img, (str, Path)):
        img = Image.open(img)
    arr = np.asarray(img.convert("RGBA") if isinstance(img, Image.Image) else img)
    if arr.ndim == 3 and arr.shape[2] == 4:  # transparent pixels count as background
        arr = np.where(arr[..., 3:4] > 0, arr[..., :3], 0)
    labels = P.nearest_label(arr[..., :3])
    if current is None:
        return labels
    h, w = np.shape(current)
    if labels.shape != (h, w):
        labels = np.asarray(Image.fromarray(labels.astype(np.uint8)).resize((w, h), Image.NEAREST)).astype(np.int64)
    return labels


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------

def example_photos(limit: int = NUM_EXAMPLES) -> list[str]:
    """Paths of a few example photos from the data root (none if the data folder is absent)."""
    try:
        from .data import data_root

        root = data_root(check=False)
    except Exception:  # data module missing or broken: no examples
        env = os.environ.get("SPS_DATA")
        root = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    for sub in EXAMPLE_FOLDERS:
        folder = root / sub
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if files:
                step = max(1, len(files) // limit)
                return [str(p) for p in files[::step][:limit]]
    return []


def _example_gallery(paths: list[str], label: str, elem_id: str) -> gr.Gallery | None:
    if not paths:
        return None
    thumbs = [(Image.open(p).convert("RGB"), None) for p in paths]
    return gr.Gallery(thumbs, label=label, columns=8, rows=1, height=150, allow_preview=False,
                      object_fit="contain", show_share_button=False, show_download_button=False,
                      show_fullscreen_button=False, elem_classes=["sps-examples"], elem_id=elem_id)


def _caption(key: str) -> gr.Markdown:
    return gr.Markdown(CAPTIONS[key], elem_classes=["sps-caption"])


THEME_FONTS = dict(font=["system-ui", "sans-serif"], font_mono=["monospace"])  # no web fonts: works offline
CSS = """
.sps-caption { font-size: 0.85em; line-height: 1.3; color: var(--body-text-color-subdued); }
.sps-caption p { margin: 2px 0 0 0; }
.sps-legend { font-size: 0.9em; padding: 4px 0; }
"""


def build_demo(backend: Backend | None = None) -> gr.Blocks:
    """The Blocks app. Pass a backend (e.g. with a preloaded pipeline); default: weights from $SPS_WEIGHTS."""
    h = Handlers(backend or Backend())
    examples = example_photos()
    preset_labels = [p.label for p in PRESETS]
    preset_thumbs = [(K.render_skeleton(p.kps, POSE_GRID), p.label) for p in PRESETS]
    first = PRESETS[0]
    full_body = next((p for p in PRESETS if K.num_visible(p.kps) == K.NUM_KEYPOINTS), first)  # every edit applies

    with gr.Blocks(title="sps: person image generation", theme=gr.themes.Default(**THEME_FONTS), css=CSS,
                   analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            # ---------------------------------------------------------------- pose transfer
            with gr.Tab("Pose transfer", id="pose"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1):
                        gr.Markdown("### ① Source photo")
                        source = PhotoInput(label="Source photo (upload)", type="filepath", sources=["upload"],
                                            image_mode=None, height=320, elem_id="source")
                        src_gallery = _example_gallery(examples, "…or click an example", "src-examples")
                    with gr.Column(scale=1):
                        gr.Markdown("### ② Target pose")
                        pose_img = gr.Image(pose_view(first.kps), label="Target pose (click to move the selected joint)",
                                            interactive=False, height=320, elem_id="pose-view",
                                            show_download_button=False, show_fullscreen_button=False)
                        with gr.Tabs():
                            with gr.Tab("Presets", id="presets"):
                                preset_gallery = gr.Gallery(preset_thumbs, label="Pose presets (click one)", columns=4,
                                                            height=330, allow_preview=False, object_fit="contain",
                                                            show_share_button=False, show_download_button=False,
                                                            elem_id="preset-gallery")
                                preset_dd = gr.Dropdown(preset_labels, value=first.label, label="Preset",
                                                        elem_id="preset-dropdown")
                            with gr.Tab("From a photo", id="from-photo"):
                                pose_photo = PhotoInput(label="Photo whose pose to copy", type="filepath",
                                                        sources=["upload"], image_mode=None, height=220)
                                pose_photo_btn = gr.Button("Use this photo's pose")
                            with gr.Tab("Edit joints", id="edit-joints"):
                                gr.Markdown("Select a joint, then click on the target pose image to place it. "
                                            "Coordinates are on a 192 x 256 grid (x, y); -1 = not visible.")
                                with gr.Row():
                                    joint = gr.Dropdown(list(K.KEYPOINT_NAMES), value="right_wrist", label="Joint",
                                                        scale=2)
                                    remove_btn = gr.Button("Hide joint", scale=1)
                                table = gr.Dataframe(kps_to_table(first.kps), headers=COLUMNS,
                                                     datatype=["str", "number", "number"], col_count=(3, "fixed"),
                                                     row_count=(18, "fixed"), type="array", label="Target keypoints",
                                                     elem_id="pose-table")
                        go = gr.Button("③ Generate", variant="primary", elem_id="generate")
                status = gr.Markdown("", elem_id="status")
                gr.HTML(legend_html())
                with gr.Row(equal_height=True):
                    outs = {}
                    for key, label in (("src_kps", "Source keypoints"), ("src_parsing", "Source parsing"),
                                       ("tgt_pose", "Target pose"), ("tgt_parsing", "Target parsing"),
                                       ("image", "Generated image"), ("warped", "Warped source")):
                        with gr.Column(min_width=120):
                            outs[key] = gr.Image(label=label, interactive=False, height=260, format="png",
                                                 elem_id=f"out-{key.replace('_', '-')}")
                            _caption(key)

                # wiring
                if src_gallery is not None:
                    src_paths = gr.State(examples)
                    src_gallery.select(h.example, [src_paths], [source], api_name="example_source")
                source.change(h.render, [table, source], [pose_img], api_name="render_pose_on_source")
                def pick_preset(evt: gr.SelectData) -> str:
                    return preset_labels[evt.index]

                preset_gallery.select(pick_preset, None, [preset_dd], api_name="pick_preset")
                preset_dd.change(h.preset, [preset_dd, source], [table, pose_img], api_name="preset_pose")
                pose_photo_btn.click(h.pose_from_photo, [pose_photo, source], [table, pose_img, status],
                                     api_name="pose_from_photo")
                table.input(h.render, [table, source, joint], [pose_img], api_name="render_pose")
                joint.change(h.render, [table, source, joint], [pose_img], api_name="select_joint")
                pose_img.select(h.move_joint, [table, joint, source], [table, pose_img], api_name="move_joint")
                remove_btn.click(h.remove_joint, [table, joint, source], [table, pose_img], api_name="hide_joint")
                go.click(h.transfer, [source, table], [*outs.values(), status], api_name="transfer")

            # ---------------------------------------------------------------- texture transfer
            with gr.Tab("Clothing texture transfer", id="texture"):
                gr.Markdown("Dress person **A** in the clothes of person **B**: A keeps pose and clothing layout "
                            "(its parsing map); the textures come from B.")
                with gr.Row():
                    with gr.Column():
                        person = PhotoInput(label="A: person (keeps pose and shape)", type="filepath",
                                            sources=["upload"], image_mode=None, height=300, elem_id="tex-person")
                        person_gallery = _example_gallery(examples, "…or click an example", "tex-person-examples")
                    with gr.Column():
                        clothes = PhotoInput(label="B: clothes (gives the textures)", type="filepath",
                                             sources=["upload"], image_mode=None, height=300, elem_id="tex-clothes")
                        clothes_gallery = _example_gallery(examples[::-1], "…or click an example", "tex-clothes-examples")
                tex_go = gr.Button("Transfer clothes", variant="primary", elem_id="tex-generate")
                tex_status = gr.Markdown("")
                gr.HTML(legend_html())
                with gr.Row(equal_height=True):
                    with gr.Column():
                        tex_pp = gr.Image(label="A's parsing", interactive=False, height=260, format="png")
                        gr.Markdown("**Person A's parsing**: the layout the result keeps.", elem_classes=["sps-caption"])
                    with gr.Column():
                        tex_cp = gr.Image(label="B's parsing", interactive=False, height=260, format="png")
                        gr.Markdown("**Clothes B's parsing**: where each texture is taken from.",
                                    elem_classes=["sps-caption"])
                    with gr.Column():
                        tex_out = gr.Image(label="Result", interactive=False, height=260, format="png",
                                           elem_id="tex-result")
                        gr.Markdown("**Result**: A's pose and layout with B's textures.", elem_classes=["sps-caption"])
                if person_gallery is not None:
                    person_gallery.select(h.example, [gr.State(examples)], [person], api_name="example_person")
                    clothes_gallery.select(h.example, [gr.State(examples[::-1])], [clothes], api_name="example_clothes")
                tex_go.click(h.texture, [person, clothes], [tex_pp, tex_cp, tex_out, tex_status],
                             api_name="texture_transfer")

            # ---------------------------------------------------------------- parsing editing
            with gr.Tab("Edit the clothing layout", id="edit"):
                gr.Markdown("① Choose a source and a pose and predict the target parsing. ② Change it: apply a "
                            "preset edit, or paint labels with the brush (its colours are the parsing colours "
                            "below). ③ Regenerate the person from the edited map.")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=1):
                        ed_source = PhotoInput(label="Source photo", type="filepath", sources=["upload"],
                                               image_mode=None, height=300, elem_id="ed-source")
                        ed_gallery = _example_gallery(examples, "…or click an example", "ed-examples")
                        ed_preset = gr.Dropdown(preset_labels, value=full_body.label, label="Target pose preset")
                        ed_predict = gr.Button("① Predict target parsing", variant="primary", elem_id="ed-predict")
                    with gr.Column(scale=2):
                        editor = gr.ImageEditor(label="② Target parsing (paint to edit)", type="numpy",
                                                image_mode="RGB", sources=(), transforms=(), height=420,
                                                brush=gr.Brush(colors=["#%02x%02x%02x" % tuple(int(v) for v in c)
                                                                       for c in P.PALETTE], color_mode="fixed",
                                                               default_size=8),
                                                eraser=False, layers=False, format="png", elem_id="ed-editor")
                        with gr.Row():
                            ed_edit = gr.Radio(["Shorter sleeves", "Longer sleeves", "Trousers to shorts",
                                                "Trousers to skirt"], value="Shorter sleeves", label="Preset edit")
                            ed_apply = gr.Button("Apply edit")
                        gr.HTML(legend_html(tuple(range(P.NUM_LABELS))))
                ed_go = gr.Button("③ Regenerate from the edited map", variant="primary", elem_id="ed-generate")
                ed_status = gr.Markdown("")
                ed_state = gr.State(None)
                with gr.Row(equal_height=True):
                    with gr.Column():
                        ed_map = gr.Image(label="Parsing used", interactive=False, height=260, format="png")
                        gr.Markdown("**Parsing map used**: the edited map as read back from the canvas (each "
                                    "pixel snapped to the nearest parsing colour).", elem_classes=["sps-caption"])
                    with gr.Column():
                        ed_out = gr.Image(label="Regenerated image", interactive=False, height=260, format="png",
                                          elem_id="ed-result")
                        gr.Markdown("**Regenerated image**: the source person drawn into the edited layout.",
                                    elem_classes=["sps-caption"])
                if ed_gallery is not None:
                    ed_gallery.select(h.example, [gr.State(examples)], [ed_source], api_name="example_edit_source")
                ed_predict.click(h.edit_predict, [ed_source, ed_preset], [editor, ed_map, ed_state, ed_status],
                                 api_name="edit_predict")
                ed_apply.click(h.edit_apply, [editor, ed_edit, ed_state], [editor, ed_map, ed_state],
                               api_name="edit_apply")
                ed_go.click(h.edit_generate, [ed_source, editor, ed_state], [ed_map, ed_out, ed_status],
                            api_name="edit_generate")
        demo.sps_backend = h.b  # type: ignore[attr-defined]
        gr.Markdown("<small>sps — open-source implementation of Song et al., CVPR 2019. Models trained on VITON / "
                    "DeepFashion research data; for research and demonstration only.</small>")
    return demo


class OfflineHTML:
    """ASGI middleware: drop the third-party URLs Gradio's page template hard-codes (an iframe-resizer script
    from cdnjs, font preconnects), so that the page makes no request outside this server."""

    PATTERNS = (
        rb'<script\s+src="https://cdnjs\.cloudflare\.com/[^"]*"\s*async\s*>\s*</script>',
        rb'<link\s+rel="preconnect"\s+href="https://fonts\.g[^"]*"[^>]*/>',
    )

    def __init__(self, app: Any):
        import re

        self.app = app
        self._res = [re.compile(p) for p in self.PATTERNS]

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            return await self.app(scope, receive, send)
        start: dict | None = None
        chunks: list[bytes] = []

        async def wrapped(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    start = message
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                for rx in self._res:
                    body = rx.sub(b"", body)
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, wrapped)


def launch(demo: gr.Blocks | None = None, **kwargs: Any) -> None:
    """Queue and launch: host/port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860)."""
    from starlette.middleware import Middleware

    demo = demo or build_demo(Backend().load())
    demo.queue(default_concurrency_limit=int(os.environ.get("SPS_CONCURRENCY", "2")),
               max_size=int(os.environ.get("SPS_QUEUE_SIZE", "64")))
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                ssr_mode=False, show_error=True,
                app_kwargs={"middleware": [Middleware(OfflineHTML)]}, **kwargs)
