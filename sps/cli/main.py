"""``sps COMMAND``: the three tasks on your own photos, one photo or a folder of them at a time."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from functools import partial
from pathlib import Path
from typing import Any

from .. import edits as E
from ..app.backend import default_threads
from ..errors import DataError, SPSError
from ..pipeline.settings import BACKGROUNDS, PLACEMENTS
from .batch import Job, output_path, run_jobs
from .inputs import TargetPose, default_weights, device, photos, target_pose

EDITS = {"shorts": E.trousers_to_shorts, "skirt": E.trousers_to_skirt, "short-sleeves": E.shorter_sleeves,
         "long-sleeves": E.longer_sleeves}
INTERMEDIATES = {"transfer": ("source", "target"), "texture": ("clothes", "person"), "edit": ("source", "edited")}
EXAMPLES = """examples:
  sps transfer me.jpg --pose back_view -o me_back.png
  sps transfer photos/ --pose dancer.jpg -o out/ --save-intermediates
  sps texture me.jpg shirt_photo.jpg -o me_in_shirt.png
  sps edit photos/ --edit skirt -o out/
"""


# ----------------------------------------------------------------------------------------------
# The jobs of each command (built before the weights are loaded: bad arguments fail fast)
# ----------------------------------------------------------------------------------------------

def _transfer(pipe: Any, source: Path, target: TargetPose) -> Any:
    return pipe(str(source), **target.for_pipeline())


def _target(args: argparse.Namespace) -> TargetPose | None:
    """``--pose`` (None without it), placed as ``--placement`` says when given."""
    if not args.pose:
        return None
    target = target_pose(args.pose)
    return dataclasses.replace(target, placement=args.placement) if args.placement else target


def transfer_jobs(args: argparse.Namespace) -> list[Job]:
    """SOURCE (photo or folder) in the ``--pose`` target pose."""
    sources, target = photos(args.source), _target(args)
    return [Job(p.name, output_path(args.out, p.stem, len(sources) == 1), partial(_transfer, source=p, target=target))
            for p in sources]


def _texture(pipe: Any, person: Path, clothes: Path) -> Any:
    return pipe.transfer_texture(str(person), str(clothes))


def texture_jobs(args: argparse.Namespace) -> list[Job]:
    """PERSON wearing the clothes of CLOTHES; either (not both) may be a folder."""
    persons, clothes = photos(args.person), photos(args.clothes)
    if len(persons) > 1 and len(clothes) > 1:
        raise DataError("PERSON and CLOTHES cannot both be folders: give one photo for one of them")
    pairs = [(a, b) for a in persons for b in clothes]
    return [Job(f"{a.name} + {b.name}", output_path(args.out, f"{a.stem}_wearing_{b.stem}", len(pairs) == 1),
                partial(_texture, person=a, clothes=b)) for a, b in pairs]


def _edit(pipe: Any, source: Path, edit: Any, target: TargetPose | None) -> Any:
    if target is None:  # the source's own pose and parsing map, edited
        kps, parsing = pipe.analyse(str(source))
        return pipe.edit(str(source), edit(parsing, kps))
    res = pipe(str(source), **target.for_pipeline())  # the target parsing G_S predicts, edited
    return pipe.edit(str(source), edit(res.target_parsing, res.target_keypoints), **target.for_pipeline())


def edit_jobs(args: argparse.Namespace) -> list[Job]:
    """SOURCE (photo or folder) regenerated from its parsing map with ``--edit`` applied (in ``--pose`` if given)."""
    sources = photos(args.source)
    edit = partial(_edit, edit=EDITS[args.edit], target=_target(args))
    return [Job(p.name, output_path(args.out, p.stem, len(sources) == 1), partial(edit, source=p)) for p in sources]


JOBS = {"transfer": transfer_jobs, "texture": texture_jobs, "edit": edit_jobs}


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------

def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--out", required=True, metavar="OUT",
                        help="output image file (one input), or folder (created; one <name>.png per input)")
    common.add_argument("--weights", metavar="PATH|REPO_ID",
                        help="pipeline folder or Hugging Face Hub repo id (default: $SPS_WEIGHTS, else ./weights)")
    common.add_argument("--device", default="auto", help="cpu, cuda, cuda:1... (default: auto, a GPU if there is one)")
    common.add_argument("--threads", type=int, default=default_threads(),
                        help="torch CPU threads (default: the CPU cores minus one, 1 to 4: %(default)s here)")
    common.add_argument("--background", choices=BACKGROUNDS, default=None,
                        help="behind the new person: the photo's own scene (source), a flat fill of its background "
                             "colour (plain) or G_A's own pixels (generated); default: the weights' pipeline.json")
    common.add_argument("--save-intermediates", action="store_true",
                        help="also write the parsing maps (palette PNG: pixel = label id) and poses (OpenPose JSON) "
                             "next to each output: <name>.<which>_parsing.png, <name>.<which>_pose.json")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    common.add_argument("-v", "--verbose", action="store_true", help="log details, with the traceback of a failure")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    ap = argparse.ArgumentParser(prog="sps", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES,
                                 description="Person image generation with semantic parsing transformation: pose "
                                             "transfer, clothing texture transfer and clothing edits of your photos. "
                                             "Each input may be a folder of photos.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    t = sub.add_parser("transfer", parents=[common], help="the person of SOURCE in another pose",
                       description="Redraw the person of SOURCE in the --pose target pose.")
    t.add_argument("source", metavar="SOURCE", help="photo of a person, or a folder of photos")
    t.add_argument("--pose", required=True, metavar="PRESET|PHOTO|KEYPOINTS.json",
                   help="a pose preset (e.g. back_view, front_relaxed), a photo to take the pose of, or OpenPose "
                        "JSON keypoints (on the grid 'canvas_hw' names, else on SOURCE's pixels)")
    x = sub.add_parser("texture", parents=[common], help="PERSON wearing the clothes of CLOTHES",
                       description="Dress PERSON (keeps pose and clothing layout) in the textures of CLOTHES.")
    x.add_argument("person", metavar="PERSON", help="photo (or folder) of the person to dress")
    x.add_argument("clothes", metavar="CLOTHES", help="photo (or folder) of a person wearing the clothes")
    e = sub.add_parser("edit", parents=[common], help="change the clothing layout of SOURCE",
                       description="Edit the parsing map of SOURCE (its own pose, or --pose) and regenerate it.")
    e.add_argument("source", metavar="SOURCE", help="photo of a person, or a folder of photos")
    e.add_argument("--edit", required=True, choices=list(EDITS), help="the change to the clothing layout")
    e.add_argument("--pose", metavar="PRESET|PHOTO|KEYPOINTS.json", help="also move to this pose (as in transfer)")
    for p in (t, e):
        p.add_argument("--placement", choices=PLACEMENTS, default=None,
                       help="where --pose goes: on the person (scaled to them, their own legs where the pose has "
                            "none; the default for presets and photos) or where its coordinates say on the photo "
                            "(frame; the default for keypoint files)")
    return ap


def load_pipeline(weights: str, device_name: str, threads: int | None) -> Any:
    """The pipeline of ``weights`` on ``device_name`` (``auto``: a GPU when there is one)."""
    import torch

    from ..pipeline import SPSPipeline

    if threads:
        torch.set_num_threads(threads)
    return SPSPipeline.from_pretrained(weights, device=device(device_name))


def main(argv: list[str] | None = None) -> int:
    """Run ``sps`` with ``argv``; 0 when at least one output was written, 1 when none, 2 for unusable arguments."""
    ap = build_parser()
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        jobs = JOBS[args.command](args)
        pipe = load_pipeline(args.weights or default_weights(), args.device, args.threads)
        if args.background:
            pipe.settings.background = args.background
    except (SPSError, RuntimeError, AssertionError) as e:  # bad inputs, weights; torch: an unusable --device
        print(f"sps {args.command}: error: {e}", file=sys.stderr)
        return 2
    summary = run_jobs(pipe, jobs, INTERMEDIATES[args.command] if args.save_intermediates else None,
                       progress=not args.quiet)
    print(summary.report())
    return 0 if summary.written else 1
