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
from ..errors import KeypointError, MissingPartsError, NoPersonError
from ..models.sps_model import SPSModel, SPSOutput, body_region
from . import reading as R
from .baselines import background_colour, warp_baseline
from .compose import (back_of_head, back_of_head_map, fill_probs, hair_colour, opacity, paint_back_of_head, paste,
                      person_mask, plate, removed_on_frame)
from .inputs import Photo, check_grid, grid_to_photo, is_keypoint_like, keypoints_on_grid, labels_on_grid, place
from .poses import (complete_legs, infer_upper_body, keep_framing, loose, missing_parts, names, place_on_person,
                    pose_box, shoulder_widths)
from .result import PipelineResult
from .settings import PLACEMENTS, PipelineSettings
from .sharpen import limbs_from_photo, window_composite
from .painted import match_painted_colours
from .weights import COMPONENTS, load_networks, resolve_weights
from .window import Frame, Window

log = logging.getLogger(__name__)
STEPS = ("pre", "parse", "pose", "G_S", "G_A", "post")  # the timed steps, all in every result's timings


class _Timer:
    """Seconds per named step, summed over repeats."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = dict.fromkeys(STEPS, 0.0)

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

    def replaced(self, settings: PipelineSettings | None = None, **networks: torch.nn.Module) -> SPSPipeline:
        """A pipeline sharing this one's networks and settings, with the given ones replaced (e.g.
        ``pipe.replaced(semantic_generator=net)``: another G_S to compare, on the same device)."""
        unknown = sorted(set(networks) - set(COMPONENTS))
        if unknown:
            raise TypeError(f"replaced(): unknown networks {unknown}; known: {list(COMPONENTS)}")
        nets = {k: networks[k].to(self.device) if k in networks else getattr(self, k) for k in COMPONENTS}
        return SPSPipeline(**nets, settings=settings or self.settings)

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
        return place(image, self.canvas, self.device, where, self.settings.max_side)

    @torch.inference_mode()
    def parse(self, photo: Photo) -> np.ndarray:
        """(H, W) canvas label map predicted by the human parser (padding forced to background)."""
        logits = self.human_parser(photo.image)  # (1, 10, h, w)
        if logits.shape[-2:] != photo.image.shape[-2:]:
            logits = F.interpolate(logits, size=photo.image.shape[-2:], mode="bilinear", align_corners=False)
        return photo.canvas.clear_padding(logits.argmax(1)[0].cpu().numpy().astype(np.int64))

    @torch.inference_mode()
    def estimate_keypoints(self, photo: Photo) -> np.ndarray:
        """(18, 2) canvas keypoints predicted by the pose estimator (joints on the padding dropped); with
        ``settings.pose_flip`` from the heatmaps of the photo and of its mirror image averaged."""
        heat = self.pose_estimator(photo.image)  # (1, 18, h, w)
        if self.settings.pose_flip:
            mirrored = self.pose_estimator(photo.image.flip(-1)).flip(-1)[:, list(K.FLIP_PERMUTATION)]
            heat = 0.5 * (heat + mirrored)
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

    def _target_pose(self, target_pose: Any, seen: R.Sighting, target_size: tuple[int, int] | None,
                     placement: str, notes: list[str], timer: _Timer) -> np.ndarray:
        """The target pose as a loose pose (NaN missing; it may leave the photo) on the source photo's grid, from
        (18, 2) keypoints (the photo's grid as given, or ``target_size``) or a photo whose pose is estimated."""
        if target_pose is None or isinstance(target_pose, dict):
            raise KeypointError(f"target pose: expected 18 (x, y) keypoints or a photo of a person, "
                                f"got {type(target_pose).__name__}")
        photo = seen.photo
        if is_keypoint_like(target_pose):
            grid = check_grid(target_size, "target_size") if target_size is not None else photo.original or photo.size
            kps = keypoints_on_grid(target_pose, grid, "target pose")
        else:
            with timer("pre"):
                other = self._place(target_pose, "target pose photo")
            with timer("pose"):
                ck = R.look(self, other)
            if K.num_visible(ck) < self.settings.min_joints:
                raise NoPersonError(f"target pose photo: no person found: the pose estimator finds "
                                    f"{K.num_visible(ck)} joints (< {self.settings.min_joints})")
            kps, grid = other.canvas.keypoints_back(ck), other.size
        kps, inferred = infer_upper_body(kps)
        K.check_required_joints(kps, "target pose")
        if inferred:
            notes.append(f"The target pose's {', '.join(names(inferred))} was inferred from its other joints.")
        if placement == "person":
            return keep_framing(complete_legs(place_on_person(kps, seen.kps), seen.kps), seen.kps, photo.size)
        return grid_to_photo(loose(kps), grid, photo.size)

    def _window(self, seen: R.Sighting, target: np.ndarray, notes: list[str], where: str,
                timer: _Timer) -> tuple[R.View, np.ndarray]:
        """Frame (grown to hold the loose ``target`` pose), window around the person and the target, second pass.
        Returns the view and the target keypoints on the model canvas."""
        frame = Frame.holding(seen.photo.size, target)
        tgt = frame.keypoints(target)
        box = R.person_box(seen, frame)
        tb = pose_box(loose(tgt))
        box = np.concatenate([np.minimum(box[:2], tb[:2]), np.maximum(box[2:], tb[2:])])
        view = R.view(self, seen, frame, Window.around(box, self.canvas), timer)
        neck_y, size = seen.kps[1, 1], shoulder_widths(seen.kps)
        room = (seen.photo.size[0] - neck_y) / size if size > 0 else 0.0
        missing = missing_parts(loose(tgt), view.observed, room, seen.lower_body)
        if missing:
            raise MissingPartsError(
                f"{where}: the photo shows no hips or legs, but the target pose has {', '.join(missing)}: "
                f"a half-body photo can be re-posed from the waist up (a target pose without knees and ankles)")
        if view.inferred:
            notes.append(f"The {where}'s {', '.join(names(view.inferred))} was not found and was inferred "
                         f"from the other joints.")
        if frame.grown:
            h, w = frame.size
            notes.append(f"The photo was grown to {w} x {h} px (top, bottom, left, right: "
                         f"{', '.join(map(str, frame.pad))}) to hold the target pose; the new area is filled in.")
        return view, view.window.keypoints(tgt)

    def _read(self, image: Any, keypoints: Any, parsing: Any, where: str, notes: list[str],
              timer: _Timer) -> R.Sighting:
        """Read a photo (downscaled when large) and find its person (first pass)."""
        with timer("pre"):
            photo = self._place(image, where)
        if photo.downscale < 1:
            (h0, w0), (h, w) = photo.original, photo.size
            notes.append(f"The {where} was {w0} x {h0} px; it was downscaled to {w} x {h} "
                         f"(at most {self.settings.max_side} px a side).")
        return R.find(self, photo, keypoints, parsing, where, timer)

    # -- generation and the way back ------------------------------------------------------------

    def _generate(self, src: Photo, tgt_kps: np.ndarray, tgt_parsing: np.ndarray | None, seed: int,
                  timer: _Timer) -> SPSOutput:
        """SPSModel on the canvas: G_S (unless a target parsing is given), holes in the body filled, then G_A."""
        dev = self.device
        with _seeded(seed), torch.inference_mode():
            with timer("pre"):
                source = self.model.person(src.image, torch.from_numpy(src.parsing)[None].to(dev),
                                           torch.from_numpy(src.kps)[None].to(dev))
                tkps = torch.from_numpy(np.asarray(tgt_kps, np.float32))[None].to(dev)
            if tgt_parsing is None:
                with timer("G_S"):
                    sem = self.model.transform(source, tkps, flip_average=self.settings.semantic_flip)
                probs, logits = sem.probs, sem.logits
            else:
                probs, logits = self.model.maps(torch.from_numpy(tgt_parsing)[None].to(dev)), None
            if self.settings.fill_holes:
                probs = fill_probs(probs, tgt_kps)
            if self.settings.back_of_head and tgt_parsing is None:  # a given parsing (an edit) is kept as drawn
                probs = back_of_head(probs, tgt_kps)
            hard = tgt_parsing is not None or self.settings.model.target_parsing == "hard"
            target = self.model.person(None, P.one_hot(probs.argmax(1)).to(probs) if hard else probs, tkps)
            with timer("G_A"):
                app = self.model.render(source, target, details=True)  # image (1, 3, H, W)
                if self.settings.limbs_from_photo and tgt_parsing is None:  # an edit's new sleeve is painted
                    app = limbs_from_photo(app, probs, tgt_kps)
                if self.settings.match_colours == "always" or (self.settings.match_colours == "edits"
                                                               and tgt_parsing is not None):
                    app = match_painted_colours(app, source.image, source.parsing, target.parsing)
        return SPSOutput(source, target, app.image, probs, logits, app)

    def _result(self, src: R.View, out: R.View, tgt_kps: np.ndarray, gen: SPSOutput, task: str,
                notes: list[str], timer: _Timer) -> PipelineResult:
        """Paste the window's output back into the (grown) photo and pack the result."""
        with timer("post"):
            frame, win, probs = out.frame, out.window, gen.target_probs
            tpar = probs.argmax(1)[0].cpu().numpy().astype(np.int64)  # (H, W)
            src_parsing = src.source_parsing()
            colour = background_colour(src.source.photo.array, src_parsing)  # (3,) float, 0..255
            if self.settings.background == "plain":
                base = np.empty((*frame.size, 3), np.uint8)
                base[:] = np.round(colour).astype(np.uint8)
                removed = None
            else:  # the photo without the person who stood there: their labels and body, filled from around them
                gone = person_mask(out.photo.parsing, out.photo.kps)  # (H, W) canvas
                known = frame.place(np.ones(out.source.photo.size, bool), False)
                known &= ~removed_on_frame(win, gone, frame.size)
                base = plate(frame.place(out.source.photo.array, 255), known)
                removed = gone.numpy() > 0.5
            person = opacity(probs, tgt_kps, removed)  # (1, 1, H, W)
            sharp = window_composite(gen.appearance, src, win)  # (3, h, w) at the window's size, or None
            alpha = torch.ones_like(person) if self.settings.background == "generated" else person
            # No-learning baseline: the source's parts moved onto the target pose, pasted the same way.
            fill = torch.from_numpy(colour / 127.5 - 1)[None]
            warped = warp_baseline(src.photo.image, gen.source.keypoints, gen.target.keypoints, fill.to(self.device))
            tgt_frame = K.crop_keypoints(win.keypoints_back(tgt_kps), 0, 0, frame.size)
            image = paste(base, win, sharp if sharp is not None else gen.image[0], alpha[0],
                          on_window=sharp is not None)
            head = back_of_head_map(gen.target_logits, tpar, tgt_kps) if self.settings.back_of_head else None
            if head is not None:  # a back view: the face G_S drew, made hair, given the source's hair colour
                image = paint_back_of_head(image, win.labels_back(head, frame.size),
                                           hair_colour(src.source.photo.array, src_parsing),
                                           soften=max(1, round(win.height / head.shape[0])))
            res = PipelineResult(
                image=Image.fromarray(image),
                source_image=Image.fromarray(src.source.photo.array),
                source_keypoints=src.source_keypoints(),
                source_parsing=src_parsing,
                target_keypoints=tgt_frame,
                target_pose_image=_skeleton(tgt_frame, frame.size),
                target_parsing=win.labels_back(tpar, frame.size),
                warped=Image.fromarray(paste(base, win, warped[0], person[0])),
                task=task,
                inferred_joints=names(src.inferred),
                grown=frame.pad,
                window=win.box,
                downscale=out.source.photo.downscale,
                notes=notes,
                canvas={"source_image": src.photo.image, "source_keypoints": src.photo.kps,
                        "source_parsing": src.photo.parsing, "target_keypoints": np.asarray(tgt_kps, np.float32),
                        "target_probs": probs, "image": gen.image, "warped": warped, "content": win.canvas.content,
                        "window": win, "frame": frame},
            )
        res.timings = {**timer.seconds, "total": time.perf_counter() - timer.t0}
        return res

    # -- public calls ---------------------------------------------------------------------------

    def __call__(self, source_image: Any, target_pose: Any, *, source_keypoints: Any = None,
                 source_parsing: Any = None, target_size: tuple[int, int] | None = None,
                 seed: int = 0, placement: str | None = None) -> PipelineResult:
        """Pose transfer: the person of ``source_image`` in ``target_pose``, pasted back into the photo.

        Args:
            source_image: path, PIL image, encoded bytes or (H, W, 3) uint8 array (downscaled to
                ``settings.max_side`` when larger; every result is then on the downscaled grid).
            target_pose: (18, 2) xy keypoints on the source photo's pixel grid (or on ``target_size``), or
                another photo whose pose is estimated.
            source_keypoints: optional (18, 2) xy on the source grid (else estimated).
            source_parsing: optional (H, W) label map on the source grid or the model canvas (else parsed).
            target_size: (H, W) grid of ``target_pose`` keypoints, if not the source's (the photo is fitted
                into it, centred, as on the demo's pose grid).
            seed: random seed (same seed -> identical output).
            placement: ``"frame"`` or ``"person"`` (see PipelineSettings.placement); None = the settings'.
        Raises:
            NoPersonError when the photo shows no person; MissingPartsError (a TooFewKeypointsError) when the
            target pose needs legs that the photo does not show. A missing neck or shoulder is inferred.
        """
        timer, notes = _Timer(), []
        placement = _check_placement(placement or self.settings.placement)
        # 1. the photo read whole: the person found (keypoints and parsing, given or estimated), missing joints inferred
        seen = self._read(source_image, source_keypoints, source_parsing, "source image", notes, timer)
        # 2. the target pose on the photo's grid (where it says, or placed on the person)
        target = self._target_pose(target_pose, seen, target_size, placement, notes, timer)
        # 3. the frame grown to hold it, the window around person and pose read again at full detail
        src, tgt_kps = self._window(seen, target, notes, "source image", timer)
        # 4. SPSModel on the window: G_S -> target parsing -> G_A
        gen = self._generate(src.photo, tgt_kps, None, seed, timer)
        # 5. pasted back into the photo, over its own background
        return self._result(src, src, tgt_kps, gen, "pose transfer", notes, timer)

    def transfer_texture(self, person_image: Any, clothes_image: Any, *, person_keypoints: Any = None,
                         person_parsing: Any = None, clothes_keypoints: Any = None, clothes_parsing: Any = None,
                         seed: int = 0) -> PipelineResult:
        """Clothing texture transfer (docs/design.md 1.4): person A (``person_image``) wearing the clothes of
        person B (``clothes_image``). G_A runs with B's window as the source and A's parsing and pose as the
        target; the output is A's photo with A repainted."""
        timer, notes = _Timer(), []
        clothes = self._read(clothes_image, clothes_keypoints, clothes_parsing, "clothes image", notes, timer)
        person = self._read(person_image, person_keypoints, person_parsing, "person image", notes, timer)
        src, _ = self._window(clothes, loose(clothes.kps), notes, "clothes image", timer)
        out, tgt_kps = self._window(person, loose(person.kps), notes, "person image", timer)
        gen = self._generate(src.photo, tgt_kps, out.photo.parsing, seed, timer)
        return self._result(src, out, tgt_kps, gen, "texture transfer", notes, timer)

    def edit(self, source_image: Any, target_parsing: Any, target_pose: Any = None, *,
             source_keypoints: Any = None, source_parsing: Any = None, target_size: tuple[int, int] | None = None,
             seed: int = 0, placement: str | None = None) -> PipelineResult:
        """Controlled manipulation: regenerate the source with an edited parsing map (see sps.edits).

        Args:
            target_parsing: (H, W) label map on the source grid, on the output grid of a transfer to the same
                ``target_pose`` (a grown photo), or on the model canvas.
            target_pose: as in __call__; None keeps the source pose.
        """
        timer, notes = _Timer(), []
        placement = _check_placement(placement or self.settings.placement)
        seen = self._read(source_image, source_keypoints, source_parsing, "source image", notes, timer)
        target = (loose(seen.kps) if target_pose is None
                  else self._target_pose(target_pose, seen, target_size, placement, notes, timer))
        src, tgt_kps = self._window(seen, target, notes, "source image", timer)
        tidx = P.validate_labels(np.asarray(target_parsing), where="target parsing")
        if tidx.shape != src.frame.size:
            tidx = src.frame.place(labels_on_grid(tidx, seen.photo, "target parsing"), 0)
        gen = self._generate(src.photo, tgt_kps, src.window.labels(tidx), seed, timer)
        return self._result(src, src, tgt_kps, gen, "edit", notes, timer)

    def analyse(self, image: Any, keypoints: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (18, 2) and parsing (H, W) of a photo, on its own pixel grid (downscaled to
        ``settings.max_side`` when larger), read in one pass over the whole photo (no person checks).

        With ``keypoints`` (18, 2) on the photo's grid, those are returned and the parsing is cut to the body
        region they draw (``settings.person_margin``); without, both are estimated and the parsing is raw.
        """
        photo = self._place(image, "image")
        par = self.parse(photo)
        if keypoints is None:
            kps = self.estimate_keypoints(photo)
        else:
            given = photo.grid_keypoints(keypoints_on_grid(keypoints, photo.original, "keypoints"))
            kps = photo.canvas.keypoints(given)
            if self.settings.person_margin > 0:
                par = self._near_body(par, kps)
        return photo.canvas.keypoints_back(kps), photo.canvas.labels_back(par)


def _skeleton(kps: np.ndarray, size: tuple[int, int], most: int = 768) -> Image.Image:
    """The pose drawn on a black (H, W) image; large images are drawn at ``most`` px a side and scaled up."""
    s = min(1.0, most / max(size))
    small = (max(1, round(size[0] * s)), max(1, round(size[1] * s)))
    pil = Image.fromarray(K.render_skeleton(K.resize_keypoints(kps, size, small), small))
    return pil if small == size else pil.resize((size[1], size[0]), Image.BILINEAR)


def _check_placement(placement: str) -> str:
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    return placement



@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Run with a fixed torch RNG state without disturbing the caller's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
