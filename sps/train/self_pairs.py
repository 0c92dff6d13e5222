"""Self pairs for G_S: a pseudo pair turned round so that the label is the source's own parsing.

A searched pseudo pair (source S_s at pose p_s, candidate S_c at pose p_c) teaches G_S to move S_s onto p_c, but
its label S_c is another person: their clothes (a skirt for trousers, long hair for short), their body. G_S learns
the candidate's average wardrobe, not to keep the source's. A self pair keeps the pose change and swaps the roles:

    input  = S_s moved part by part onto p_c (``part_warped_labels``), at pose p_c
    label  = S_s itself, at pose p_s

so the label is a real map of the very person in the input, in a real pose. The input is rougher than a photo's
map (the rigid part warp tears loose clothes and hair), which G_S has to clean up anyway.

Views: a part warp moves a face onto a back-view pose as a face. Where p_c faces away and p_s does not, the moved
face becomes hair (what a back view shows of a head), so G_S learns to draw a face for a front target from a
back-view source. The other way round (a back view's hair moved onto a frontal pose) would give an input no photo
shows, so those pairs are left as they are.
"""
from __future__ import annotations

import torch

from .. import parsing as P
from .. import pose as K
from ..parts import warp_image_by_parts

FACE, HAIR = P.LABELS.index("face"), P.LABELS.index("hair")


def part_warped_labels(parsing: torch.Tensor, src_kps: torch.Tensor, tgt_kps: torch.Tensor) -> torch.Tensor:
    """(B, H, W) label ids at ``src_kps`` -> (B, H, W) label ids moved part by part onto ``tgt_kps`` (B, 18, 2);
    background where no part lands. Unknown pixels (-1) count as background."""
    one_hot = P.one_hot(parsing.clamp(min=0)).to(parsing.device)  # (B, 10, H, W)
    moved = warp_image_by_parts(one_hot, src_kps.float(), tgt_kps.float())  # (B, 10, H, W), 0 outside the parts
    return torch.where(moved.sum(1) > 0.5, moved.argmax(1), torch.zeros_like(parsing))


def self_pairs(batch: dict[str, torch.Tensor], prob: float, g: torch.Generator) -> dict[str, torch.Tensor]:
    """A pair batch (``src_`` / ``tgt_`` image, parsing, kps) with a share ``prob`` of its pairs made self pairs.

    For those, ``src_parsing`` is the source's map moved onto the candidate's pose (``src_kps`` = the candidate's),
    and ``tgt_parsing`` / ``tgt_kps`` are the source's own; the images swap with them.
    """
    n = batch["src_kps"].shape[0]
    on = torch.rand(n, generator=g) < prob
    src_away, cand_away = K.facing_away(batch["src_kps"]), K.facing_away(batch["tgt_kps"])
    on &= ~(src_away & ~cand_away).cpu()  # a back view's hair would land on a frontal head
    if not on.any():
        return batch
    idx = on.nonzero()[:, 0].to(batch["src_kps"].device)
    src_par, src_kps, cand_kps = batch["src_parsing"][idx], batch["src_kps"][idx], batch["tgt_kps"][idx]
    moved = part_warped_labels(src_par, src_kps, cand_kps)  # (n, H, W) at the candidate's pose
    turned = (cand_away[idx] & ~src_away[idx]).view(-1, 1, 1)
    moved = torch.where(turned & (moved == FACE), torch.full_like(moved, HAIR), moved)
    out = {k: v.clone() for k, v in batch.items()}
    out["src_parsing"][idx], out["src_kps"][idx] = moved.to(src_par.dtype), cand_kps
    out["tgt_parsing"][idx], out["tgt_kps"][idx] = src_par, src_kps
    if "src_image" in batch and "tgt_image" in batch:
        out["src_image"][idx], out["tgt_image"][idx] = batch["tgt_image"][idx], batch["src_image"][idx]
    return out
