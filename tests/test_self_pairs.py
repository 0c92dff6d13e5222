"""Self pairs for G_S (sps.train.self_pairs): the roles of a pseudo pair swapped, the label the source's own map."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sps import parsing as P
from sps.train.config import SemanticConfig
from sps.pose import facing_away
from sps.train.self_pairs import FACE, HAIR, part_warped_labels, self_pairs

from conftest import synthetic_parsing, synthetic_pose

H, W = 64, 48


def _person(shift: float = 0.0, back: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(parsing (H, W), kps (18, 2)) of the synthetic person, moved right by ``shift`` pixels; ``back``: the
    joints mirrored without swapping their sides (a back view: the right shoulder on the image's right)."""
    kps = synthetic_pose(H, W)
    if back:
        kps[:, 0] = W - 1 - kps[:, 0]
    par = torch.from_numpy(synthetic_parsing(H, W, kps).astype(np.int64))
    kps = torch.from_numpy(kps) + torch.tensor([shift, 0.0])
    return torch.roll(par, int(shift), dims=1), kps


def _batch(*pairs: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]) -> dict:
    out: dict[str, list] = {k: [] for k in ("src_image", "src_parsing", "src_kps", "tgt_image", "tgt_parsing",
                                            "tgt_kps")}
    for i, ((sp, sk), (tp, tk)) in enumerate(pairs):
        out["src_parsing"].append(sp), out["src_kps"].append(sk), out["tgt_parsing"].append(tp)
        out["tgt_kps"].append(tk)
        out["src_image"].append(torch.full((3, H, W), 0.1 * i)), out["tgt_image"].append(torch.full((3, H, W), -0.1 * i))
    return {k: torch.stack(v) for k, v in out.items()}


def test_facing_away_tells_back_views_from_front_views_and_missing_shoulders():
    front, back = _person()[1], _person(back=True)[1]
    no_shoulder = front.clone()
    no_shoulder[5] = -1
    assert facing_away(torch.stack([front, back, no_shoulder])).tolist() == [False, True, False]


def test_part_warped_labels_moves_the_map_with_the_pose():
    par, kps = _person()
    same = part_warped_labels(par[None], kps[None], kps[None])[0]
    person = par > 0
    assert (same[person] == par[person]).float().mean() > 0.9  # the parts cover the person; labels kept
    moved_par, moved_kps = _person(shift=6)
    moved = part_warped_labels(par[None], kps[None], moved_kps[None])[0]
    assert (moved == moved_par)[moved_par > 0].float().mean() > 0.85
    assert (moved == torch.roll(same, 6, dims=1)).float().mean() > 0.97


def test_self_pairs_swap_the_roles_and_label_the_source_with_its_own_map():
    src, cand = _person(), _person(shift=6)
    cand_other = (torch.full_like(cand[0], 5) * (cand[0] > 0), cand[1])  # another person: all skirt
    batch = _batch((src, cand_other), (src, cand_other))
    out = self_pairs(batch, 1.0, torch.Generator().manual_seed(0))
    for i in range(2):
        assert torch.equal(out["tgt_parsing"][i], src[0]) and torch.equal(out["tgt_kps"][i], src[1])
        assert torch.equal(out["src_kps"][i], cand[1])
        assert torch.equal(out["src_parsing"][i], part_warped_labels(src[0][None], src[1][None], cand[1][None])[0])
        assert not (out["src_parsing"][i] == 5).any()  # nothing of the candidate's clothes
        assert torch.equal(out["src_image"][i], batch["tgt_image"][i])
    assert torch.equal(batch["tgt_parsing"][0], cand_other[0])  # the batch given is left as it was


def test_self_pairs_turn_the_face_to_hair_for_a_back_view_and_skip_back_to_front():
    front, back = _person(), _person(back=True)
    batch = _batch((front, back), (back, front))
    out = self_pairs(batch, 1.0, torch.Generator().manual_seed(0))
    moved = out["src_parsing"][0]
    assert not (moved == FACE).any() and (moved == HAIR).sum() >= (front[0] == FACE).sum() * 0.8
    assert torch.equal(out["tgt_parsing"][0], front[0])
    for k in batch:  # a back view's hair is never moved onto a frontal pose
        assert torch.equal(out[k][1], batch[k][1])


def test_self_pairs_share_and_config():
    batch = _batch(*[(_person(), _person(shift=4))] * 200)
    out = self_pairs(batch, 0.3, torch.Generator().manual_seed(0))
    swapped = (out["tgt_kps"] != batch["tgt_kps"]).flatten(1).any(1).float().mean()
    assert 0.2 < float(swapped) < 0.4
    assert self_pairs(batch, 0.0, torch.Generator().manual_seed(0)) is batch
    with pytest.raises(ValueError, match="self_pairs"):
        SemanticConfig(self_pairs=1.5)
    assert int(P.one_hot(out["src_parsing"]).sum()) == out["src_parsing"].numel()  # valid labels only
