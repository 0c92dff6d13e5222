"""SPSPipeline: a person photo and a target pose in, the same person in the new pose out.

The chain (docs/design.md 1): human parser -> source parsing, pose estimator -> source keypoints,
semantic generator G_S -> target parsing, appearance generator G_A -> target image. Every call
works on the model canvas (``cfg.canvas``, e.g. 128 x 96): the photo is resized keeping its aspect
ratio and centre-padded with white (``sps.pose.fit_canvas``, as the training data is), and the
outputs are cropped back to the photo's own aspect ratio and resized to its size.

    pipe = SPSPipeline.from_pretrained("weights")          # or a Hub repo id, through the Hub cache
    res = pipe("person.jpg", target_keypoints)              # or pipe("person.jpg", "other_pose.jpg")
    res.image.save("out.png"); panels = res.as_panels()
"""
from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import parsing as P
from . import pose as K
from .errors import ImageReadError, KeypointError, NoPersonError, ParsingError, TooFewKeypointsError, WeightsError
from .parts import part_masks_torch, part_transforms_torch, warp_parts

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WEIGHTS = REPO_ROOT / "weights"
# Sub-folders of a pipeline folder, one per network (each: config.json, model.safetensors, README.md).
COMPONENTS: dict[str, str] = {
    "pose_estimator": "PoseEstimator",
    "human_parser": "HumanParser",
    "semantic_generator": "SemanticGenerator",
    "appearance_generator": "AppearanceGenerator",
}
PIPELINE_FILE = "pipeline.json"  # optional pipeline-level settings (see PipelineSettings)

# Joints the part transforms need at the least: neck and both shoulders (torso and arm anchors).
REQUIRED_JOINTS: tuple[int, ...] = (1, 2, 5)
PERSON_LABELS = tuple(range(1, P.NUM_LABELS))
IMAGE_PAD = 255  # white, as sps.data pads


@dataclass
class PipelineSettings:
    """Inference settings, stored as ``pipeline.json`` next to the networks (all optional).

    target_parsing: what G_A gets from G_S: ``"soft"`` (softmax, as in end-to-end training) or ``"hard"`` (one-hot).
    keypoint_threshold: heatmap peak below which a joint counts as missing.
    min_person_fraction: fewer person pixels than this fraction of the photo (parser) -> NoPersonError.
    min_joints: fewer visible joints than this (pose estimator) -> NoPersonError.
    person_margin: an estimated parsing keeps person labels only within this fraction of the canvas height of
        the body parts drawn from the keypoints (the parser, trained on VITON's white backgrounds, sometimes labels
        patterned or grey backgrounds as clothes); 0 = keep the parser's map as it is.
    target_margin: G_S's predicted parsing keeps person labels only within this fraction of the canvas height of
        the body parts drawn from the target keypoints (removes stray blobs far from the body); 0 = keep it all.
    background: ``"source"`` paints the pixels G_S labels background with the source photo's background colour
        (blended by the background probability); ``"generated"`` keeps G_A's own pixels there.
    """

    target_parsing: str = "soft"
    keypoint_threshold: float = 0.2
    min_person_fraction: float = 0.02
    min_joints: int = 4
    person_margin: float = 0.1
    target_margin: float = 0.0
    background: str = "source"

    def __post_init__(self) -> None:
        if self.target_parsing not in ("soft", "hard"):
            raise ValueError(f"target_parsing must be 'soft' or 'hard', got {self.target_parsing!r}")
        if self.background not in ("source", "generated"):
            raise ValueError(f"background must be 'source' or 'generated', got {self.background!r}")
        for name in ("person_margin", "target_margin"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1) (a fraction of the canvas height), got {getattr(self, name)!r}")

    @classmethod
    def load(cls, folder: Path) -> "PipelineSettings":
        path = folder / PIPELINE_FILE
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, folder: Path) -> None:
        (Path(folder) / PIPELINE_FILE).write_text(json.dumps(self.__dict__, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------

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
    timings: seconds per stage ("pre", "parse", "pose", "G_S", "G_A", "post").
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


@dataclass
class _Person:
    """One photo placed on the canvas, with its keypoints and parsing (canvas coordinates)."""

    array: np.ndarray  # (H0, W0, 3) uint8, the photo
    size: tuple[int, int]  # (H0, W0)
    image: torch.Tensor  # (1, 3, H, W) in [-1, 1]
    content: tuple[int, int, int, int]  # top, left, height, width of the photo on the canvas
    kps: np.ndarray | None = None  # (18, 2) canvas xy
    parsing: np.ndarray | None = None  # (H, W) int64 canvas labels


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def _read(image: Any, where: str) -> np.ndarray:
    from .data import load_image

    try:
        arr = load_image(image)
    except ImageReadError:
        raise
    except (OSError, ValueError, TypeError) as exc:  # anything a decoder throws
        raise ImageReadError(f"{where}: cannot read image ({exc})") from None
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise ImageReadError(f"{where}: image of {arr.shape[0]}x{arr.shape[1]} pixels is too small")
    return arr


def _is_keypoint_like(x: Any) -> bool:
    """Keypoints come as sequences / small 1-2D arrays; images as paths, PIL, bytes or (H, W, C) arrays."""
    if isinstance(x, (str, Path, bytes, bytearray, Image.Image)):
        return False
    if isinstance(x, (list, tuple)):
        return True
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.ndim <= 2 and np.prod(x.shape) <= 400
    return False


def _to_canvas(arr: np.ndarray, canvas: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(H0, W0, 3) uint8 -> (H, W, 3) uint8 on the canvas (bilinear resize + white centre-pad)."""
    ch, cw = canvas
    _, (rh, rw), (top, left) = K.fit_canvas(arr.shape[:2], canvas)
    pil = Image.fromarray(arr)
    if (rh, rw) != arr.shape[:2]:
        pil = pil.resize((rw, rh), Image.BILINEAR)
    out = np.full((ch, cw, 3), IMAGE_PAD, np.uint8)
    out[top:top + rh, left:left + rw] = np.asarray(pil)
    return out, (top, left, rh, rw)


def _labels_to_canvas(index: np.ndarray, size: tuple[int, int], canvas: tuple[int, int], where: str) -> np.ndarray:
    """A label map on the photo grid (or already on the canvas) -> (H, W) int64 on the canvas."""
    index = P.validate_labels(np.asarray(index), where=where)
    if index.shape == tuple(canvas):
        return index
    if index.shape != tuple(size):
        raise ParsingError(f"{where}: shape {index.shape} matches neither the photo {tuple(size)} "
                           f"nor the model canvas {tuple(canvas)}")
    _, (rh, rw), (top, left) = K.fit_canvas(size, canvas)
    lab = Image.fromarray(index.astype(np.uint8)).resize((rw, rh), Image.NEAREST)
    out = np.zeros(canvas, np.int64)
    out[top:top + rh, left:left + rw] = np.asarray(lab)
    return out


def _crop_resize_labels(index: np.ndarray, content: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    top, left, rh, rw = content
    crop = np.asarray(index, np.uint8)[top:top + rh, left:left + rw]
    return np.asarray(Image.fromarray(crop).resize((size[1], size[0]), Image.NEAREST)).astype(np.int64)


def _tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def _crop_resize_image(img: np.ndarray, content: tuple[int, int, int, int], size: tuple[int, int]) -> Image.Image:
    top, left, rh, rw = content
    pil = Image.fromarray(np.ascontiguousarray(img[top:top + rh, left:left + rw]))
    return pil if (rh, rw) == tuple(size) else pil.resize((size[1], size[0]), Image.BICUBIC)


def _kps_from_canvas(kps: np.ndarray, size: tuple[int, int], canvas: tuple[int, int]) -> np.ndarray:
    out = K.keypoints_from_canvas(kps, size, canvas)
    h, w = size
    outside = (out[:, 0] < -0.5) | (out[:, 1] < -0.5) | (out[:, 0] > w - 0.5) | (out[:, 1] > h - 0.5)
    out[outside | ~K.visible(kps)] = K.MISSING
    return out.astype(np.float32)


def check_keypoints(kps: np.ndarray, where: str) -> None:
    """Raise TooFewKeypointsError naming the missing joints the part transforms need."""
    vis = K.visible(np.asarray(kps))
    missing = [K.KEYPOINT_NAMES[j] for j in REQUIRED_JOINTS if not vis[j]]
    if missing:
        raise TooFewKeypointsError(
            f"{where}: the pose needs at least the neck and both shoulders; missing: {', '.join(missing)} "
            f"({int(vis.sum())} of 18 joints visible)")


def background_colour(image: np.ndarray, parsing: np.ndarray | None = None, border: int = 4) -> np.ndarray:
    """Background colour of an (H, W, 3) uint8 photo: the median of its outer frame (``border`` px), restricted
    to background-labelled pixels when a parsing map is given and enough of the frame is background."""
    h, w = image.shape[:2]
    frame = np.zeros((h, w), bool)
    b = max(1, min(border, h // 4, w // 4))
    frame[:b], frame[-b:], frame[:, :b], frame[:, -b:] = True, True, True, True
    if parsing is not None and (frame & (np.asarray(parsing) == 0)).sum() >= 16:
        frame &= np.asarray(parsing) == 0
    return np.median(image[frame], axis=0).astype(np.float32)


# Part compositing order for the warped baseline: later parts are drawn over earlier ones
# (limbs in front of the torso, forearms in front of upper arms).
_WARP_ORDER = (0, 1, 6, 7, 8, 9, 2, 3, 4, 5)


def warp_baseline(image: torch.Tensor, src_kps: torch.Tensor, tgt_kps: torch.Tensor,
                  fill: torch.Tensor | None = None) -> torch.Tensor:
    """The no-learning baseline: source pixels moved part by part onto the target pose.

    Uses sps.parts (10 part transforms, target part masks), composited in a fixed depth order rather than
    merged by a max (a max over [-1, 1] pixels would favour bright parts); pixels covered by no part take ``fill``.

    Args:
        image: (B, 3, H, W) in [-1, 1]; src_kps, tgt_kps: (B, 18, 2) on that grid.
        fill: (B, 3) background colour in [-1, 1] (default white).
    Returns:
        (B, 3, H, W) in [-1, 1].
    """
    b, _, h, w = image.shape
    theta, valid = part_transforms_torch(src_kps, tgt_kps, (h, w))
    masks = part_masks_torch(tgt_kps, (h, w)) * valid[..., None, None].float()  # (B, 10, H, W)
    # Warp [image, ones]: the ones channel says where the source sample fell inside the photo.
    x = torch.cat([image, torch.ones_like(image[:, :1])], 1)
    warped = warp_parts(x, theta, masks)  # (B, 10, 4, H, W)
    out = torch.ones_like(image) if fill is None else fill[:, :, None, None].expand_as(image).clone()
    for j in _WARP_ORDER:
        cover = (warped[:, j, 3:4] > 0.5)  # (B, 1, H, W)
        out = torch.where(cover, warped[:, j, :3] / warped[:, j, 3:4].clamp(min=1e-6), out)
    return out.clamp(-1, 1)


# ----------------------------------------------------------------------------------------------
# The pipeline
# ----------------------------------------------------------------------------------------------

class SPSPipeline:
    """Parser + pose estimator + semantic generator (G_S) + appearance generator (G_A)."""

    def __init__(self, pose_estimator: torch.nn.Module, human_parser: torch.nn.Module,
                 semantic_generator: torch.nn.Module, appearance_generator: torch.nn.Module,
                 settings: PipelineSettings | None = None):
        self.pose_estimator = pose_estimator.eval()
        self.human_parser = human_parser.eval()
        self.semantic_generator = semantic_generator.eval()
        self.appearance_generator = appearance_generator.eval()
        self.settings = settings or PipelineSettings()
        self.canvas: tuple[int, int] = tuple(appearance_generator.config.canvas)  # type: ignore[attr-defined]
        for name in COMPONENTS:
            net = getattr(self, name)
            net.requires_grad_(False)
            cv = tuple(getattr(getattr(net, "config", None), "canvas", self.canvas))
            if cv != self.canvas:
                log.warning("%s was trained on a %s canvas, the pipeline runs on %s", name, cv, self.canvas)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike | None = None, *,
                        local_files_only: bool | None = None, revision: str | None = None,
                        device: str | torch.device = "cpu") -> "SPSPipeline":
        """Load the four networks from a pipeline folder or a Hugging Face Hub repo id.

        ``None`` -> ``<repo>/weights``. A string that is not an existing folder and looks like ``ORG/NAME`` is
        resolved through the Hub cache with ``snapshot_download``; with ``HF_HUB_OFFLINE=1`` (or
        ``local_files_only=True``) nothing is downloaded and the cached snapshot is used.
        """
        folder = resolve_weights(path_or_repo_id, local_files_only=local_files_only, revision=revision)
        from . import models

        nets = {}
        for sub, cls_name in COMPONENTS.items():
            d = folder / sub
            if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
                raise WeightsError(f"{folder}: missing {sub}/ (config.json + model.safetensors); a pipeline folder "
                                   f"needs {', '.join(s + '/' for s in COMPONENTS)}")
            try:
                nets[sub] = getattr(models, cls_name).from_pretrained(str(d))
            except WeightsError:
                raise
            except Exception as exc:  # truncated file, key mismatch, bad config
                raise WeightsError(f"{d}: cannot load {cls_name} ({type(exc).__name__}: {exc})") from exc
        return cls(**nets, settings=PipelineSettings.load(folder)).to(device)

    @classmethod
    def from_preset(cls, preset: str = "cpu", seed: int = 0) -> "SPSPipeline":
        """Randomly initialised networks of a config preset ("cpu", "paper", "tiny"): for tests and benchmarks."""
        from . import models

        torch.manual_seed(seed)
        nets = {sub: getattr(models, name)(getattr(models, name + "Config").preset(preset))
                for sub, name in COMPONENTS.items()}
        return cls(**nets)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write the pipeline folder: one sub-folder per network and pipeline.json."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for sub in COMPONENTS:
            getattr(self, sub).save_pretrained(str(folder / sub))
        self.settings.save(folder)
        return folder

    def to(self, device: str | torch.device) -> "SPSPipeline":
        for name in COMPONENTS:
            getattr(self, name).to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.appearance_generator.parameters()).device

    # -- building blocks ------------------------------------------------------------------------

    def _tensor(self, canvas_img: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(canvas_img).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(self.device)

    def _place(self, image: Any, where: str) -> _Person:
        arr = _read(image, where)
        img, content = _to_canvas(arr, self.canvas)
        return _Person(arr, arr.shape[:2], self._tensor(img), content)

    def _mask_padding(self, labels: np.ndarray, content: tuple[int, int, int, int]) -> np.ndarray:
        top, left, rh, rw = content
        out = np.zeros_like(labels)
        out[top:top + rh, left:left + rw] = labels[top:top + rh, left:left + rw]
        return out

    @torch.inference_mode()
    def parse(self, person: _Person) -> np.ndarray:
        """(H, W) canvas label map predicted by the human parser (padding forced to background)."""
        logits = self.human_parser(person.image)  # (1, 10, H, W)
        if logits.shape[-2:] != person.image.shape[-2:]:
            logits = F.interpolate(logits, size=person.image.shape[-2:], mode="bilinear", align_corners=False)
        return self._mask_padding(logits.argmax(1)[0].cpu().numpy().astype(np.int64), person.content)

    @torch.inference_mode()
    def estimate_keypoints(self, person: _Person) -> np.ndarray:
        """(18, 2) canvas keypoints predicted by the pose estimator (joints on the padding dropped)."""
        heat = self.pose_estimator(person.image)  # (1, 18, h, w)
        kps = self.pose_estimator.decode(heat, threshold=self.settings.keypoint_threshold)[0].cpu().numpy()
        kps = K.validate_keypoints(kps, where="pose estimator output")
        if tuple(heat.shape[-2:]) != tuple(person.image.shape[-2:]):  # strided heatmaps -> canvas pixels
            kps = K.resize_keypoints(kps, tuple(heat.shape[-2:]), tuple(person.image.shape[-2:]))
        top, left, rh, rw = person.content
        off = (kps[:, 0] < left - 0.5) | (kps[:, 0] > left + rw - 0.5) | (kps[:, 1] < top - 0.5) | (kps[:, 1] > top + rh - 0.5)
        kps[off] = K.MISSING
        return kps

    def _analyse(self, person: _Person, keypoints: Any, parsing: Any, where: str,
                 timings: dict[str, float]) -> _Person:
        """Fill person.kps and person.parsing: given ones mapped to the canvas, others estimated."""
        t = time.perf_counter()
        estimated_parsing = parsing is None
        if parsing is None:
            person.parsing = self.parse(person)
        else:
            person.parsing = _labels_to_canvas(parsing, person.size, self.canvas, f"{where} parsing")
        timings["parse"] = timings.get("parse", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        estimated_kps = keypoints is None
        if keypoints is None:
            person.kps = self.estimate_keypoints(person)
        else:
            person.kps = self._keypoints_on_canvas(keypoints, person.size, f"{where} keypoints")
        timings["pose"] = timings.get("pose", 0.0) + time.perf_counter() - t
        self._check_person(person, where, estimated_parsing, estimated_kps)
        if estimated_parsing and self.settings.person_margin > 0:
            person.parsing = self._near_body(person.parsing, person.kps)
        return person

    def _keypoints_on_canvas(self, keypoints: Any, grid: tuple[int, int], where: str) -> np.ndarray:
        """Given (18, 2) xy keypoints on a photo's ``grid`` (H, W), checked, -> the model canvas."""
        return K.keypoints_to_canvas(K.validate_keypoints(_as_numpy(keypoints), where=where), grid, self.canvas)

    def _near_body(self, labels: np.ndarray, kps: np.ndarray) -> np.ndarray:
        """(H, W) canvas labels with everything farther than ``person_margin`` from the body parts set to background."""
        return np.where(self._body_region(kps, self.settings.person_margin).numpy(), labels, 0)

    def _body_region(self, kps: np.ndarray, margin: float) -> torch.Tensor:
        """(H, W) bool: the union of the part masks of ``kps`` (canvas), dilated by ``margin`` x canvas height."""
        k = 2 * round(margin * self.canvas[0]) + 1
        body = part_masks_torch(torch.from_numpy(np.asarray(kps, np.float32))[None], self.canvas).amax(1, keepdim=True)
        return F.max_pool2d(body, k, stride=1, padding=k // 2)[0, 0] > 0

    def _check_person(self, person: _Person, where: str, estimated_parsing: bool, estimated_kps: bool) -> None:
        s = self.settings
        top, left, rh, rw = person.content
        frac = float(np.isin(person.parsing, PERSON_LABELS).sum()) / max(1, rh * rw)
        joints = K.num_visible(person.kps)
        few_pixels = estimated_parsing and frac < s.min_person_fraction
        few_joints = estimated_kps and joints < s.min_joints
        if few_pixels or few_joints:
            why = []
            if few_pixels:
                why.append(f"the parser labels {100 * frac:.1f}% of the pixels as a person "
                           f"(< {100 * s.min_person_fraction:.0f}%)")
            if few_joints:
                why.append(f"the pose estimator finds {joints} joints (< {s.min_joints})")
            raise NoPersonError(f"{where}: no person found: {' and '.join(why)}")
        check_keypoints(person.kps, f"{where} keypoints")

    def _target_keypoints(self, target_pose: Any, src: _Person, target_size: tuple[int, int] | None,
                          timings: dict[str, float]) -> np.ndarray:
        """Target keypoints on the canvas from an (18, 2) array (source grid or ``target_size``) or a photo."""
        if _is_keypoint_like(target_pose):
            grid = tuple(target_size) if target_size is not None else src.size
            kps = self._keypoints_on_canvas(target_pose, grid, "target pose")
        else:
            t = time.perf_counter()
            other = self._place(target_pose, "target pose photo")
            kps = self.estimate_keypoints(other)
            timings["pose"] = timings.get("pose", 0.0) + time.perf_counter() - t
            if K.num_visible(kps) < self.settings.min_joints:
                raise NoPersonError(f"target pose photo: no person found: the pose estimator finds "
                                    f"{K.num_visible(kps)} joints (< {self.settings.min_joints})")
        check_keypoints(kps, "target pose")
        return kps

    def _generate(self, src: _Person, tgt_kps: np.ndarray, tgt_parsing: torch.Tensor | None, seed: int,
                  timings: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor]:
        """Run G_S (unless a target parsing is given) and G_A on the canvas.

        Returns the image (1, 3, H, W) in [-1, 1] and the target parsing (1, 10, H, W) probabilities.
        """
        dev = self.device
        with _seeded(seed), torch.inference_mode():
            t = time.perf_counter()
            skps = torch.from_numpy(src.kps)[None].to(dev)
            tkps = torch.from_numpy(np.asarray(tgt_kps, np.float32))[None].to(dev)
            spose = K.heatmaps_torch(skps, self.canvas)  # (1, 18, H, W)
            tpose = K.heatmaps_torch(tkps, self.canvas)
            spar = P.one_hot(torch.from_numpy(src.parsing)[None].to(dev)).float()  # (1, 10, H, W)
            timings["pre"] = timings.get("pre", 0.0) + time.perf_counter() - t
            t = time.perf_counter()
            if tgt_parsing is None:
                logits = self.semantic_generator(spar, spose, tpose, src_kps=skps, tgt_kps=tkps)  # (1, 10, H, W)
                probs = logits.softmax(1)
                if self.settings.target_margin > 0:  # far from the target body -> background
                    near = self._body_region(tgt_kps, self.settings.target_margin).to(dev)  # (H, W)
                    background = torch.zeros_like(probs)
                    background[:, 0] = 1
                    probs = torch.where(near, probs, background)
                tpar = P.one_hot(probs.argmax(1)).float() if self.settings.target_parsing == "hard" else probs
            else:
                probs = tpar = tgt_parsing.to(dev).float()
            timings["G_S"] = time.perf_counter() - t
            t = time.perf_counter()
            out = self.appearance_generator(src.image, spar, spose, tpar, tpose, skps, tkps)  # (1, 3, H, W)
            timings["G_A"] = time.perf_counter() - t
        return out, probs

    def _result(self, src: _Person, out_person: _Person, tgt_kps: np.ndarray, out: torch.Tensor,
                probs: torch.Tensor, task: str, timings: dict[str, float], t0: float) -> PipelineResult:
        """Map canvas outputs back to ``out_person``'s photo grid and pack the result."""
        t = time.perf_counter()
        size, content = out_person.size, out_person.content
        tpar = probs.argmax(1)[0].cpu().numpy().astype(np.int64)  # (H, W)
        # No-learning baseline on the canvas, background filled with the source's background colour.
        src_parsing = _crop_resize_labels(src.parsing, src.content, src.size)  # on the source photo's grid
        fill = torch.from_numpy(background_colour(src.array, src_parsing)
                                / 127.5 - 1)[None]
        warped = warp_baseline(src.image, torch.from_numpy(src.kps)[None].to(self.device),
                               torch.from_numpy(np.asarray(tgt_kps, np.float32))[None].to(self.device),
                               fill.to(self.device))
        if self.settings.background == "source":  # G_S's background -> the source photo's background colour
            bg = probs[:, :1].to(out.dtype)  # (1, 1, H, W)
            out = bg * fill.to(out).view(1, 3, 1, 1) + (1 - bg) * out
        tgt_kps_photo = _kps_from_canvas(tgt_kps, size, self.canvas)
        res = PipelineResult(
            image=_crop_resize_image(_tensor_to_uint8(out[0]), content, size),
            source_image=Image.fromarray(src.array),
            source_keypoints=_kps_from_canvas(src.kps, src.size, self.canvas),
            source_parsing=src_parsing,
            target_keypoints=tgt_kps_photo,
            target_pose_image=Image.fromarray(K.render_skeleton(tgt_kps_photo, size)),
            target_parsing=_crop_resize_labels(tpar, content, size),
            warped=_crop_resize_image(_tensor_to_uint8(warped[0]), content, size),
            task=task,
            canvas={"source_image": src.image, "source_keypoints": src.kps, "source_parsing": src.parsing,
                    "target_keypoints": np.asarray(tgt_kps, np.float32), "target_probs": probs,
                    "image": out, "warped": warped, "content": content},
        )
        timings["post"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        res.timings = dict(timings)
        return res

    # -- public calls ---------------------------------------------------------------------------

    def __call__(self, source_image: Any, target_pose: Any, *, source_keypoints: Any = None,
                 source_parsing: Any = None, target_size: tuple[int, int] | None = None,
                 seed: int = 0) -> PipelineResult:
        """Pose transfer: the person of ``source_image`` in ``target_pose``.

        Args:
            source_image: path, PIL image, encoded bytes or (H, W, 3) uint8 array.
            target_pose: (18, 2) xy keypoints on the source photo's pixel grid (or on ``target_size``), or
                another photo whose pose is estimated.
            source_keypoints: optional (18, 2) xy on the source grid (else estimated).
            source_parsing: optional (H, W) label map on the source grid or the model canvas (else parsed).
            target_size: (H, W) grid of ``target_pose`` keypoints, if not the source's.
            seed: random seed (same seed -> identical output).
        """
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        t = time.perf_counter()
        src = self._place(source_image, "source image")
        timings["pre"] = time.perf_counter() - t
        self._analyse(src, source_keypoints, source_parsing, "source image", timings)
        tgt_kps = self._target_keypoints(target_pose, src, target_size, timings)
        out, probs = self._generate(src, tgt_kps, None, seed, timings)
        return self._result(src, src, tgt_kps, out, probs, "pose transfer", timings, t0)

    def transfer_texture(self, person_image: Any, clothes_image: Any, *, person_keypoints: Any = None,
                         person_parsing: Any = None, clothes_keypoints: Any = None, clothes_parsing: Any = None,
                         seed: int = 0) -> PipelineResult:
        """Clothing texture transfer (docs/design.md 1.4): person A (``person_image``) wearing the clothes of
        person B (``clothes_image``). G_A runs with B as the source and A's parsing and pose as the target;
        the output has A's photo size."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        t = time.perf_counter()
        src = self._place(clothes_image, "clothes image")
        person = self._place(person_image, "person image")
        timings["pre"] = time.perf_counter() - t
        self._analyse(src, clothes_keypoints, clothes_parsing, "clothes image", timings)
        self._analyse(person, person_keypoints, person_parsing, "person image", timings)
        tpar = P.one_hot(torch.from_numpy(person.parsing)[None]).float()
        out, probs = self._generate(src, person.kps, tpar, seed, timings)
        return self._result(src, person, person.kps, out, probs, "texture transfer", timings, t0)

    def edit(self, source_image: Any, target_parsing: Any, target_pose: Any = None, *,
             source_keypoints: Any = None, source_parsing: Any = None, target_size: tuple[int, int] | None = None,
             seed: int = 0) -> PipelineResult:
        """Controlled manipulation: regenerate the source with an edited parsing map (see sps.edits).

        Args:
            target_parsing: (H, W) label map on the source grid or the model canvas.
            target_pose: as in __call__; None keeps the source pose.
        """
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        t = time.perf_counter()
        src = self._place(source_image, "source image")
        timings["pre"] = time.perf_counter() - t
        self._analyse(src, source_keypoints, source_parsing, "source image", timings)
        tgt_kps = src.kps if target_pose is None else self._target_keypoints(target_pose, src, target_size, timings)
        tidx = _labels_to_canvas(target_parsing, src.size, self.canvas, "target parsing")
        tpar = P.one_hot(torch.from_numpy(tidx)[None]).float()
        out, probs = self._generate(src, tgt_kps, tpar, seed, timings)
        return self._result(src, src, tgt_kps, out, probs, "edit", timings, t0)

    def analyse(self, image: Any, keypoints: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (18, 2) and parsing (H, W) of a photo, on its own pixel grid (no person checks).

        With ``keypoints`` (18, 2) on the photo's grid, those are returned and the parsing is cut to the body
        region they draw (``settings.person_margin``); without, both are estimated and the parsing is raw.
        """
        person = self._place(image, "image")
        par = self.parse(person)
        if keypoints is None:
            kps = self.estimate_keypoints(person)
        else:
            kps = self._keypoints_on_canvas(keypoints, person.size, "keypoints")
            if self.settings.person_margin > 0:
                par = self._near_body(par, kps)
        return _kps_from_canvas(kps, person.size, self.canvas), _crop_resize_labels(par, person.content, person.size)


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise KeypointError(f"keypoints: cannot convert to an array ({exc})") from None


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Run with a fixed torch RNG state without disturbing the caller's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _looks_like_repo_id(s: str) -> bool:
    parts = s.split("/")
    return len(parts) == 2 and all(parts) and not s.startswith((".", "/", "~")) and "\\" not in s


def hub_cache_dir() -> str | None:
    """The Hub cache as the environment says now (HF_HUB_CACHE, else HF_HOME/hub), read at call time so that a
    process that sets them after importing huggingface_hub is honoured; None -> huggingface_hub's default."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def resolve_weights(path_or_repo_id: str | os.PathLike | None, *, local_files_only: bool | None = None,
                   revision: str | None = None) -> Path:
    """A local pipeline folder, or the Hub cache snapshot of a repo id (downloaded unless offline)."""
    if path_or_repo_id is None:
        folder = DEFAULT_WEIGHTS
        if not folder.is_dir():
            raise WeightsError(f"no weights folder at {folder}; pass a folder or a Hub repo id")
        return folder
    p = Path(path_or_repo_id).expanduser()
    if p.is_dir():
        return p
    s = str(path_or_repo_id)
    if not _looks_like_repo_id(s):
        raise WeightsError(f"{s}: not a folder and not a Hub repo id (ORG/NAME)")
    from huggingface_hub import snapshot_download
    from huggingface_hub import constants as hf_constants

    offline = bool(hf_constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    local = offline if local_files_only is None else (local_files_only or offline)
    try:
        return Path(snapshot_download(repo_id=s, revision=revision, local_files_only=local, cache_dir=hub_cache_dir()))
    except Exception as exc:  # LocalEntryNotFoundError, RepositoryNotFoundError, connection errors
        how = "in the local Hub cache (offline)" if local else "on the Hub"
        raise WeightsError(f"{s}: cannot find the pipeline {how}: {type(exc).__name__}: {exc}") from exc
