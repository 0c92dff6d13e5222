"""``python -m sps.evaluate layouts``: G_S's target layouts alone on paired photos, in seconds per network.

Choosing between G_S snapshots (or training recipes) needs only their target parsing, not rendered images. Every
photo is parsed once (the parser's maps of the source and of the real target); then each G_S in turn runs through
the pipeline on those source maps, and its target map is scored against the target's: mIoU pooled over the pairs,
per label, and split by whether the view turns between the two photos (one of them faces away). The part-warped
source parsing (no learning) is the baseline row.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from .. import parsing as P
from .. import pose as K
from ..errors import SPSError
from ..metrics import ParsingIoU
from ..models import SemanticGenerator
from ..pipeline import SPSPipeline
from .report import machine_note
from .run import WARP, part_warp_parsing, select_pairs

log = logging.getLogger(__name__)
SAME_VIEW, VIEW_TURNS = "same view", "view turns"


def with_semantic_generator(pipe: SPSPipeline, folder: str | Path) -> SPSPipeline:
    """``pipe`` with its G_S replaced by the one exported in ``folder`` (a ``semantic_generator`` folder)."""
    if not (Path(folder) / "config.json").is_file():
        raise SPSError(f"{folder}: not an exported semantic_generator folder (no config.json)")
    return pipe.replaced(semantic_generator=SemanticGenerator.from_pretrained(str(folder)))


def evaluate_layouts(pairs_csv: str | Path, generators: dict[str, str], weights: str | Path | None = "weights",
                     out: str | Path = "eval_layouts", split: str | None = "test", limit: int | None = None
                     ) -> dict[str, dict[str, object]]:
    """Score the shipped G_S (``weights``) and every ``{name: folder}`` of ``generators`` on the same pairs; write
    ``out/results.md``; return ``{row: {"pairs", "mIoU", "same view", "view turns", "IoU per label"}}``."""
    from ..data import load_image

    pairs_csv = Path(pairs_csv)
    folder = pairs_csv.parent
    pairs, kps = select_pairs(pairs_csv, split, limit, None)
    pipe = SPSPipeline.from_pretrained(weights)
    nets = {"shipped G_S": pipe, **{n: with_semantic_generator(pipe, d) for n, d in generators.items()}}
    t0 = time.perf_counter()
    photos = {n: load_image(folder / "images" / n) for pair in pairs for n in pair}
    maps = {n: pipe.analyse(img)[1] for n, img in photos.items()}  # the parser's map of every photo, once
    view = {p: VIEW_TURNS if K.facing_away(kps[p[0]]) != K.facing_away(kps[p[1]]) else SAME_VIEW for p in pairs}
    scores: dict[str, dict[str, ParsingIoU]] = {}
    for name in (WARP, *nets):
        acc = scores[name] = {"all": ParsingIoU(), SAME_VIEW: ParsingIoU(), VIEW_TURNS: ParsingIoU()}
        for s, t in pairs:
            size = maps[t].shape
            if name == WARP:
                pred = part_warp_parsing(maps[s], kps[s], kps[t], size)
            else:
                res = nets[name](photos[s], kps[t], source_keypoints=kps[s], source_parsing=maps[s], target_size=size)
                pred = P.resize_labels(res.target_parsing, size)
            for key in ("all", view[(s, t)]):
                acc[key].update(pred, maps[t])
    summary = {name: {"pairs": len(pairs), "mIoU": acc["all"].miou(), SAME_VIEW: acc[SAME_VIEW].miou(),
                      VIEW_TURNS: acc[VIEW_TURNS].miou(), "IoU per label": acc["all"].per_class()}
               for name, acc in scores.items()}
    n_turn = sum(v == VIEW_TURNS for v in view.values())
    _write(Path(out), summary, f"# Target layouts: {pairs_csv}\n\n{len(pairs)} pairs ({split or 'all'} identities; "
                               f"the view turns in {n_turn}), weights: {weights}; {time.perf_counter() - t0:.0f} s on "
                               f"{machine_note()}.\n")
    return summary


def _write(out: Path, summary: dict[str, dict[str, object]], header: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    head = ["target parsing of", "pairs", "mIoU", SAME_VIEW, VIEW_TURNS, *P.LABELS]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, v in summary.items():
        values = [float(v[k]) for k in ("mIoU", SAME_VIEW, VIEW_TURNS)] + [float(x) for x in v["IoU per label"]]
        cells = [str(v["pairs"]), *(f"{x:.3f}" if np.isfinite(x) else "—" for x in values)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    note = ("Each target parsing against the parser's map of the real target at the photo's resolution, pooled over the "
            "pairs (sps.metrics.ParsingIoU); 'view turns': one photo of the pair faces away (its shoulders swapped), "
            "the other does not.")
    (out / "results.md").write_text(header + "\n" + "\n".join(lines) + "\n\n" + note + "\n")
