"""``SPSPipeline``: pre-processing (photo -> canvas, parsing, keypoints) + ``SPSModel`` + post-processing."""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import parsing as P
from .. import pose as K
from ..errors import KeypointError, NoPersonError
from ..models.sps_model import SPSModel, SPSOutput, body_region
from .baselines import background_colour, warp_baseline
from .inputs import Photo, check_grid, is_keypoint_like, keypoints_on_canvas, labels_on_canvas, place
from .result import PipelineResult
from .settings import PipelineSettings
from .weights import COMPONENTS, load_networks, resolve_weights

log = logging.getLogger(__name__)
PERSON_LABELS = tuple(range(1, P.NUM_LABELS))


class _Timer:
    """Seconds per named step, summed over repeats."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - t


class SPSPipeline:
    """Human parser + pose estimator (reading a photo) and ``SPSModel`` (G_S + G_A) on the model canvas."""

    def __init__(self, pose_estimator: torch.nn.Module, human_parser: torch.nn.Module,
                 semantic_generator: torch.nn.Module, appearance_generator: torch.nn.Module,
                 settings: PipelineSettings | None = None):
        self.pose_estimator = pose_estimator.eval()
        self.human_parser = human_parser.eval()
        self.model = SPSModel(semantic_generator.eval(), appearance_generator.eval())
        self.settings = settings or PipelineSettings()
        self.canvas: tuple[int, int] = self.model.canvas
        for name in COMPONENTS:
            net = getattr(self, name)
            net.requires_grad_(False)
            cv = tuple(getattr(getattr(net, "config", None), "canvas", self.canvas))
            if cv != self.canvas:
                log.warning("%s was trained on a %s canvas, the pipeline runs on %s", name, cv, self.canvas)

    @property
    def settings(self) -> PipelineSettings:
        return self._settings

    @settings.setter
    def settings(self, value: PipelineSettings) -> None:
        self._settings = value
        self.model.config = value.model  # one object: changing settings.model changes the model

    @property
    def semantic_generator(self) -> torch.nn.Module:
        return self.model.semantic_generator

    @property
    def appearance_generator(self) -> torch.nn.Module:
        return self.model.appearance_generator

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike | None = None, *,
                        local_files_only: bool | None = None, revision: str | None = None,
                        device: str | torch.device = "cpu") -> SPSPipeline:
        """Load the four networks from a pipeline folder or a Hugging Face Hub repo id.

        ``None`` -> ``$SPS_WEIGHTS``. A string that is not an existing folder and looks like ``ORG/NAME`` is
        resolved through the Hub cache with ``snapshot_download``; with ``HF_HUB_OFFLINE=1`` (or
        ``local_files_only=True``) nothing is downloaded and the cached snapshot is used.
        """
        folder = resolve_weights(path_or_repo_id, local_files_only=local_files_only, revision=revision)
        return cls(**load_networks(folder), settings=PipelineSettings.load(folder)).to(device)

    @classmethod
    def from_preset(cls, preset: str = "cpu", seed: int = 0) -> SPSPipeline:
        """Randomly initialised networks of a config preset ("cpu", "paper", "tiny"): for tests and benchmarks."""
        from .. import models

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

    def to(self, device: str | torch.device) -> SPSPipeline:
        for name in COMPONENTS:
            getattr(self, name).to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.appearance_generator.parameters()).device

    # -- reading a photo ------------------------------------------------------------------------

    def _place(self, image: Any, where: str) -> Photo:
        return place(image, self.canvas, self.device, where)

    @torch.inference_mode()
    def parse(self, photo: Photo) -> np.ndarray:
        """(H, W) canvas label map predicted by the human parser (padding forced to background)."""
        logits = self.human_parser(photo.image)  # (1, 10, h, w)
        if logits.shape[-2:] != photo.image.shape[-2:]:
            logits = F.interpolate(logits, size=photo.image.shape[-2:], mode="bilinear", align_corners=False)
        return photo.canvas.clear_padding(logits.argmax(1)[0].cpu().numpy().astype(np.int64))

    @torch.inference_mode()
    def estimate_keypoints(self, photo: Photo) -> np.ndarray:
        """(18, 2) canvas keypoints predicted by the pose estimator (joints on the padding dropped)."""
        heat = self.pose_estimator(photo.image)  # (1, 18, h, w)
        kps = self.pose_estimator.decode(heat, threshold=self.settings.keypoint_threshold)[0].cpu().numpy()
        kps = K.validate_keypoints(kps, where="pose estimator output")
        if tuple(heat.shape[-2:]) != tuple(photo.image.shape[-2:]):  # strided heatmaps -> canvas pixels
            kps = K.resize_keypoints(kps, tuple(heat.shape[-2:]), tuple(photo.image.shape[-2:]))
        kps[photo.canvas.outside(kps)] = K.MISSING
        return kps

    def _near_body(self, labels: np.ndarray, kps: np.ndarray) -> np.ndarray:
        """(H, W) canvas labels with everything farther than ``person_margin`` from the body parts set to background."""
        near = body_region(torch.from_numpy(np.asarray(kps, np.float32))[None], self.canvas,
                           self.settings.person_margin)[0]
        return np.where(near.numpy(), labels, 0)

    def _analyse(self, photo: Photo, keypoints: Any, parsing: Any, where: str, timer: _Timer) -> Photo:
        """Fill photo.kps and photo.parsing: given ones mapped to the canvas, others estimated; check the person."""
        with timer("parse"):
            photo.parsing = (self.parse(photo) if parsing is None
                             else labels_on_canvas(parsing, photo.canvas, f"{where} parsing"))
        with timer("pose"):
            photo.kps = (self.estimate_keypoints(photo) if keypoints is None
                         else keypoints_on_canvas(keypoints, photo.size, self.canvas, f"{where} keypoints"))
        self._check_person(photo, where, parsing is None, keypoints is None)
        if parsing is None and self.settings.person_margin > 0:
            photo.parsing = self._near_body(photo.parsing, photo.kps)
        return photo

    def _check_person(self, photo: Photo, where: str, estimated_parsing: bool, estimated_kps: bool) -> None:
        s = self.settings
        frac = float(np.isin(photo.parsing, PERSON_LABELS).sum()) / max(1, photo.canvas.height * photo.canvas.width)
        joints = K.num_visible(photo.kps)
        why = []
        if estimated_parsing and frac < s.min_person_fraction:
            why.append(f"the parser labels {100 * frac:.1f}% of the pixels as a person "
                       f"(< {100 * s.min_person_fraction:.0f}%)")
        if estimated_kps and joints < s.min_joints:
            why.append(f"the pose estimator finds {joints} joints (< {s.min_joints})")
        if why:
            raise NoPersonError(f"{where}: no person found: {' and '.join(why)}")
        K.check_required_joints(photo.kps, f"{where} keypoints")

    def _target_keypoints(self, target_pose: Any, src: Photo, target_size: tuple[int, int] | None,
                          timer: _Timer) -> np.ndarray:
        """Target keypoints on the canvas from an (18, 2) array (source grid or ``target_size``) or a photo."""
        if target_pose is None or isinstance(target_pose, dict):
            raise KeypointError(f"target pose: expected 18 (x, y) keypoints or a photo of a person, "
                                f"got {type(target_pose).__name__}")
        if is_keypoint_like(target_pose):
            grid = check_grid(target_size, "target_size") if target_size is not None else src.size
            kps = keypoints_on_canvas(target_pose, grid, self.canvas, "target pose")
        else:
            with timer("pose"):
                kps = self.estimate_keypoints(self._place(target_pose, "target pose photo"))
            if K.num_visible(kps) < self.settings.min_joints:
                raise NoPersonError(f"target pose photo: no person found: the pose estimator finds "
                                    f"{K.num_visible(kps)} joints (< {self.settings.min_joints})")
        K.check_required_joints(kps, "target pose")
        return kps

    # -- generation and the way back ------------------------------------------------------------

    def _generate(self, src: Photo, tgt_kps: np.ndarray, tgt_parsing: np.ndarray | None, seed: int,
                  timer: _Timer) -> SPSOutput:
        """SPSModel on the canvas: G_S (unless a target parsing is given) then G_A."""
        dev = self.device
        with _seeded(seed), torch.inference_mode():
            with timer("pre"):
                source = self.model.person(src.image, torch.from_numpy(src.parsing)[None].to(dev),
                                           torch.from_numpy(src.kps)[None].to(dev))
                tkps = torch.from_numpy(np.asarray(tgt_kps, np.float32))[None].to(dev)
            if tgt_parsing is None:
                with timer("G_S"):
                    sem = self.model.transform(source, tkps)
                target, probs, logits = sem.target, sem.probs, sem.logits
            else:
                target = self.model.person(None, torch.from_numpy(tgt_parsing)[None].to(dev), tkps)
                probs, logits = target.parsing, None
            with timer("G_A"):
                image = self.model.render(source, target)  # (1, 3, H, W)
        return SPSOutput(source, target, image, probs, logits)

    def _result(self, src: Photo, out_photo: Photo, tgt_kps: np.ndarray, gen: SPSOutput, task: str,
                timer: _Timer) -> PipelineResult:
        """Map canvas outputs back to ``out_photo``'s grid and pack the result."""
        with timer("post"):
            cv, probs, out = out_photo.canvas, gen.target_probs, gen.image
            tpar = probs.argmax(1)[0].cpu().numpy().astype(np.int64)  # (H, W)
            # No-learning baseline on the canvas, background filled with the source's background colour.
            src_parsing = src.canvas.labels_back(src.parsing)  # on the source photo's grid
            fill = torch.from_numpy(background_colour(src.array, src_parsing) / 127.5 - 1)[None]
            warped = warp_baseline(src.image, gen.source.keypoints, gen.target.keypoints, fill.to(self.device))
            if self.settings.background == "source":  # G_S's background -> the source photo's background colour
                bg = probs[:, :1].to(out.dtype)  # (1, 1, H, W)
                out = bg * fill.to(out).view(1, 3, 1, 1) + (1 - bg) * out
            tgt_kps_photo = cv.keypoints_back(tgt_kps)
            res = PipelineResult(
                image=cv.image_back(_to_uint8(out[0])),
                source_image=Image.fromarray(src.array),
                source_keypoints=src.canvas.keypoints_back(src.kps),
                source_parsing=src_parsing,
                target_keypoints=tgt_kps_photo,
                target_pose_image=Image.fromarray(K.render_skeleton(tgt_kps_photo, cv.photo)),
                target_parsing=cv.labels_back(tpar),
                warped=cv.image_back(_to_uint8(warped[0])),
                task=task,
                canvas={"source_image": src.image, "source_keypoints": src.kps, "source_parsing": src.parsing,
                        "target_keypoints": np.asarray(tgt_kps, np.float32), "target_probs": probs,
                        "image": out, "warped": warped, "content": cv.content},
            )
        res.timings = {**timer.seconds, "total": time.perf_counter() - timer.t0}
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
        timer = _Timer()
        # 1. the photo onto the model canvas
        with timer("pre"):
            src = self._place(source_image, "source image")
        # 2. read it: parsing and keypoints (given or estimated), and check that a person is there
        self._analyse(src, source_keypoints, source_parsing, "source image", timer)
        # 3. the target pose on the canvas
        tgt_kps = self._target_keypoints(target_pose, src, target_size, timer)
        # 4. SPSModel: G_S -> target parsing -> G_A
        gen = self._generate(src, tgt_kps, None, seed, timer)
        # 5. back to the photo's grid
        return self._result(src, src, tgt_kps, gen, "pose transfer", timer)

    def transfer_texture(self, person_image: Any, clothes_image: Any, *, person_keypoints: Any = None,
                         person_parsing: Any = None, clothes_keypoints: Any = None, clothes_parsing: Any = None,
                         seed: int = 0) -> PipelineResult:
        """Clothing texture transfer (docs/design.md 1.4): person A (``person_image``) wearing the clothes of
        person B (``clothes_image``). G_A runs with B as the source and A's parsing and pose as the target;
        the output has A's photo size."""
        timer = _Timer()
        with timer("pre"):
            src = self._place(clothes_image, "clothes image")
            person = self._place(person_image, "person image")
        self._analyse(src, clothes_keypoints, clothes_parsing, "clothes image", timer)
        self._analyse(person, person_keypoints, person_parsing, "person image", timer)
        gen = self._generate(src, person.kps, person.parsing, seed, timer)
        return self._result(src, person, person.kps, gen, "texture transfer", timer)

    def edit(self, source_image: Any, target_parsing: Any, target_pose: Any = None, *,
             source_keypoints: Any = None, source_parsing: Any = None, target_size: tuple[int, int] | None = None,
             seed: int = 0) -> PipelineResult:
        """Controlled manipulation: regenerate the source with an edited parsing map (see sps.edits).

        Args:
            target_parsing: (H, W) label map on the source grid or the model canvas.
            target_pose: as in __call__; None keeps the source pose.
        """
        timer = _Timer()
        with timer("pre"):
            src = self._place(source_image, "source image")
        self._analyse(src, source_keypoints, source_parsing, "source image", timer)
        tgt_kps = src.kps if target_pose is None else self._target_keypoints(target_pose, src, target_size, timer)
        tidx = labels_on_canvas(target_parsing, src.canvas, "target parsing")
        gen = self._generate(src, tgt_kps, tidx, seed, timer)
        return self._result(src, src, tgt_kps, gen, "edit", timer)

    def analyse(self, image: Any, keypoints: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (18, 2) and parsing (H, W) of a photo, on its own pixel grid (no person checks).

        With ``keypoints`` (18, 2) on the photo's grid, those are returned and the parsing is cut to the body
        region they draw (``settings.person_margin``); without, both are estimated and the parsing is raw.
        """
        photo = self._place(image, "image")
        par = self.parse(photo)
        if keypoints is None:
            kps = self.estimate_keypoints(photo)
        else:
            kps = keypoints_on_canvas(keypoints, photo.size, self.canvas, "keypoints")
            if self.settings.person_margin > 0:
                par = self._near_body(par, kps)
        return photo.canvas.keypoints_back(kps), photo.canvas.labels_back(par)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Run with a fixed torch RNG state without disturbing the caller's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
