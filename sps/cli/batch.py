"""Running one task over many photos: outputs, intermediates, progress, skipped photos and the summary."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from .. import parsing as P
from .. import pose as K

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Job:
    """One output to make: ``run(pipeline)`` returns a ``PipelineResult``, written to ``out``."""

    label: str  # how the summary names it (a photo, or "person + clothes")
    out: Path
    run: Callable[[Any], Any]


@dataclass
class Summary:
    """What a batch did: outputs written, inputs skipped with the reason."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def report(self) -> str:
        where = f" ({self.written[0]})" if len(self.written) == 1 else ""
        lines = [f"{len(self.written)} written{where}, {len(self.skipped)} skipped"]
        lines += [f"  skipped {label}: {why}" for label, why in self.skipped]
        return "\n".join(lines)


def output_path(out: str | Path, name: str, single: bool) -> Path:
    """Where one output goes: ``out`` itself when it names an image file and there is one output, else
    ``out/<name>.png`` (``out`` is a folder)."""
    out = Path(out)
    if single and out.suffix.lower() in IMAGE_SUFFIXES:
        return out
    return out / f"{name}.png"


def label_map_image(index: np.ndarray) -> Image.Image:
    """An (H, W) label map as a palette PNG: the pixel values are the label ids, shown in the parsing colours."""
    im = Image.fromarray(np.asarray(index, np.uint8), mode="P")
    im.putpalette(np.asarray(P.PALETTE, np.uint8).reshape(-1).tolist())
    return im


def write_pose(path: Path, kps: np.ndarray, size: tuple[int, int]) -> None:
    """OpenPose JSON of (18, 2) keypoints on an (H, W) photo, with ``canvas_hw`` (``--pose`` reads it back)."""
    K.write_openpose_json(path, kps)
    data = json.loads(path.read_text())
    data["canvas_hw"] = [int(size[0]), int(size[1])]
    path.write_text(json.dumps(data))


def write_intermediates(out: Path, res: Any, names: tuple[str, str]) -> None:
    """Next to ``out``: the parsing maps and poses of the result's source and target, named ``names``
    (e.g. ``("source", "target")``): ``<out stem>.<name>_parsing.png`` and ``<out stem>.<name>_pose.json``."""
    src_size = np.asarray(res.source_image).shape[:2]
    tgt_size = np.asarray(res.image).shape[:2]
    for name, parsing, kps, size in ((names[0], res.source_parsing, res.source_keypoints, src_size),
                                     (names[1], res.target_parsing, res.target_keypoints, tgt_size)):
        label_map_image(parsing).save(out.with_name(f"{out.stem}.{name}_parsing.png"))
        write_pose(out.with_name(f"{out.stem}.{name}_pose.json"), kps, size)


def run_jobs(pipe: Any, jobs: Sequence[Job], intermediates: tuple[str, str] | None = None,
             progress: bool = True) -> Summary:
    """Run every job on ``pipe``, writing its image (and, with ``intermediates``, its maps and poses); a job that
    fails is skipped with its reason (a traceback only with ``-v``)."""
    summary = Summary()
    bar = tqdm(jobs, unit="photo", disable=not progress or len(jobs) < 2, file=sys.stderr)
    for job in bar:
        bar.set_postfix_str(job.label, refresh=False)
        try:
            res = job.run(pipe)
            job.out.parent.mkdir(parents=True, exist_ok=True)
            res.image.save(job.out)
            if intermediates:
                write_intermediates(job.out, res, intermediates)
        except Exception as e:  # an unusable photo (SPSError, unreadable file) or a bug: skip, report, go on
            log.debug("%s", job.label, exc_info=True)
            summary.skipped.append((job.label, f"{type(e).__name__}: {e}"))
            continue
        summary.written.append(job.out)
    return summary
