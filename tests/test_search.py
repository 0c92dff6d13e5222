"""Tests of the pseudo-label search (sps.search)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sps.data import data_root
from sps.errors import DataError
from sps.parts import PART_NAMES, part_masks_torch, part_transforms_torch
from sps.search import (
    SearchConfig,
    SearchIndex,
    candidate_lists,
    concat_indexes,
    load_index,
    person_id,
    prefilter_agreement,
    score_pairs,
    search,
)
from sps.search.__main__ import display_name
from sps.search.__main__ import main as cli_main
from sps.search.core import candidate_variants, near_duplicate_iou, warp_codes_nearest
from sps.search.io import PairWriter, PseudoPair, read_pseudo_pairs
from sps.search.variants import Variant, apply_variant

torch.set_num_threads(1)


def _viton() -> Path:
    try:
        folder = data_root(check=False) / "viton" / "train"
    except Exception:  # noqa: BLE001
        folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "viton" / "train"
    if not (folder / "keypoints.csv").is_file():
        pytest.skip(f"VITON data not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def viton_small() -> SearchIndex:
    return load_index(_viton(), (64, 48), limit=80, workers=0, cache_dir=None, progress=False)


def _small_folder(tmp_path: Path, n: int, name: str = "viton_small", start: int = 0) -> Path:
    """A folder with n VITON images' keypoints (from the start-th) and (symlinked) parsing maps; no image copies."""
    src = _viton()
    lines = (src / "keypoints.csv").read_text().splitlines()
    out = tmp_path / name
    (out / "parsing").mkdir(parents=True)
    (out / "keypoints.csv").write_text("\n".join(lines[:1] + lines[start + 1: start + n + 1]) + "\n")
    for line in lines[start + 1: start + n + 1]:
        stem = Path(line.split(":")[0]).stem
        (out / "parsing" / f"{stem}.png").symlink_to(src / "parsing" / f"{stem}.png")
    return out


def test_person_id():
    assert person_id("000003_0.jpg") == "000003"
    assert person_id("fashionMENJackets_Vestsid0000065304_1front.jpg") == "id00000653"
    assert person_id("0001_c3s1_000551_03.jpg") == person_id("0001_c5s1_109748_05.jpg") == "0001"  # Market
    assert person_id("0001.jpg") == "0001"


def test_fast_warp_matches_grid_sample(viton_small):
    idx = viton_small
    src = torch.arange(40)
    cand = torch.arange(40, 80)
    h, w = idx.size
    theta, _ = part_transforms_torch(idx.kps_t[src], idx.kps_t[cand], (h, w))
    fast, rows = warp_codes_nearest(idx, src, theta)
    x = idx.coded[src].reshape(-1, 1, h, w).float()
    grid = F.affine_grid(theta.reshape(-1, 2, 3), [x.shape[0], 1, h, w], align_corners=False)
    ref = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    ref = ref.reshape(-1, h * w)[rows].round().to(torch.uint8)
    assert (fast != ref).float().mean() < 1e-4  # only exact half-pixel ties may round differently


def test_exhaustive_equals_prefilter_when_k_covers_all(viton_small):
    ex = search(viton_small, range(30), SearchConfig(k=None))
    pf = search(viton_small, range(30), SearchConfig(k=len(viton_small)))
    assert any(r.candidate >= 0 for r in ex)
    for e, p in zip(ex, pf):
        assert e.candidate == p.candidate
        assert e.score == pytest.approx(p.score, abs=1e-6) or (math.isnan(e.score) and math.isnan(p.score))
    stats = prefilter_agreement(viton_small, k=len(viton_small), sources=range(30))
    assert stats["agreement"] == 1.0 and stats["mean_regret"] == pytest.approx(0.0, abs=1e-9)


def test_candidates_respect_exclusions(viton_small):
    cfg = SearchConfig(k=None, pose_margin=0.1)
    for s, lst in zip(range(20), candidate_lists(viton_small, torch.arange(20), cfg)):
        assert s not in lst.tolist()
        for c in lst.tolist():
            assert viton_small.persons[c] != viton_small.persons[s]
            assert bool((viton_small.part_vis[c] | ~viton_small.part_vis[s]).all())  # has the source's parts


def _centred(idx: SearchIndex, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Image i shrunk to half size in the middle of an empty canvas (room to move it around)."""
    h, w = idx.size
    lab = np.zeros((h, w), np.uint8)
    lab[h // 4: h // 4 + h // 2, w // 4: w // 4 + w // 2] = idx.labels[i][::2, ::2]
    kps = idx.kps[i].copy()
    vis = (kps >= 0).all(1)
    kps[vis] = np.floor(kps[vis] / 2) + np.array([w // 4, h // 4])
    return lab, kps


def test_candidate_equal_to_warped_source_scores_zero(viton_small):
    lab, kps = _centred(viton_small, 0)
    h, w = viton_small.size
    shift = np.array([5.0, -3.0], np.float32)  # x, y in pixels
    tgt_kps = kps.copy()
    tgt_kps[(kps >= 0).all(1)] += shift
    # build the candidate with the warp itself: the transform fitted between the two poses, applied to the map
    theta, _valid = part_transforms_torch(torch.tensor(kps)[None], torch.tensor(tgt_kps)[None], (h, w))
    grid = F.affine_grid(theta[0, :1], [1, 1, h, w], align_corners=False)  # torso transform (= global shift)
    tgt_lab = F.grid_sample(torch.tensor(lab, dtype=torch.float32)[None, None], grid, mode="nearest",
                            align_corners=False)[0, 0].round().to(torch.uint8).numpy()
    other = viton_small.labels[5], viton_small.kps[5]
    idx = SearchIndex(["a_0.jpg", "b_0.jpg", "c_0.jpg"], np.stack([lab, tgt_lab, other[0]]),
                      np.stack([kps, tgt_kps, other[1]]))
    scores = score_pairs(idx, torch.tensor([0, 0]), torch.tensor([1, 2]))
    assert float(scores[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(scores[1]) > 0.05
    # the search picks it (pose margin 0: a pure translation is the same pose)
    res = search(idx, [0], SearchConfig(k=None, pose_margin=0.0))[0]
    assert res.candidate == 1 and res.score == pytest.approx(0.0, abs=1e-6) and res.margin > 0.05


def test_candidates_with_missing_parts_are_skipped(viton_small):
    idx0 = viton_small
    src = next(i for i in range(len(idx0)) if bool(idx0.part_vis[i, PART_NAMES.index("right_forearm")]))
    names, labels, kps = [idx0.names[src]], [idx0.labels[src]], [idx0.kps[src]]
    no_wrist = idx0.kps[(src + 1) % len(idx0)].copy()
    no_wrist[4] = -1  # right wrist gone: no right forearm
    empty = np.full((18, 2), -1, np.float32)  # no keypoints at all
    for name, k in (("x_0.jpg", no_wrist), ("y_0.jpg", empty)):
        names.append(name)
        labels.append(idx0.labels[(src + 1) % len(idx0)])
        kps.append(k)
    names.append(idx0.names[(src + 2) % len(idx0)])
    labels.append(idx0.labels[(src + 2) % len(idx0)])
    kps.append(idx0.kps[(src + 2) % len(idx0)])
    idx = SearchIndex(names, np.stack(labels), np.stack(kps))
    cfg = SearchConfig(k=None, pose_margin=0.0)
    lst = candidate_lists(idx, torch.tensor([0]), cfg)[0].tolist()
    assert 1 not in lst and 2 not in lst
    res = search(idx, None, cfg)  # every source, including the one with no keypoints: no crash
    assert len(res) == 4
    # a required-part set lets the wrist-less candidate in
    cfg2 = SearchConfig(k=None, pose_margin=0.0, required_parts=("torso", "head"))
    assert 1 in candidate_lists(idx, torch.tensor([0]), cfg2)[0].tolist()


def test_csv_round_trip(tmp_path):
    rows = [PseudoPair("a.jpg", "b.jpg", 0.25, 0.125, "viton/train"),
            PseudoPair("c.jpg", "", math.nan, math.nan, "viton/train"),
            PseudoPair("d.jpg", "a.jpg", 0.5, math.nan, "deepfashion")]
    path = tmp_path / "pairs.csv"
    with PairWriter(path, with_dataset=True) as w:
        w.write(rows)
    back = read_pseudo_pairs(path, skip_empty=False)
    assert [(p.source, p.candidate, p.dataset) for p in back] == [(p.source, p.candidate, p.dataset) for p in rows]
    assert back[0].score == 0.25 and back[0].margin == 0.125 and math.isnan(back[2].margin)
    assert [p.source for p in read_pseudo_pairs(path)] == ["a.jpg", "d.jpg"]
    assert [p.source for p in read_pseudo_pairs(path, max_score=0.3)] == ["a.jpg"]


def test_cli_resume_equals_single_run(tmp_path):
    folder = _small_folder(tmp_path, 60)
    common = ["--data", str(folder), "--k", "16", "--workers", "0", "--cache-dir", "", "--batch", "8", "--split", "all"]
    single = tmp_path / "single.csv"
    cli_main(common + ["--out", str(single), "--limit", "40"])
    resumed = tmp_path / "resumed.csv"
    cli_main(common + ["--out", str(resumed), "--limit", "20"])
    # simulate an interruption in the middle of writing a row
    with resumed.open("a") as fh:
        fh.write("000099_0.jpg,0001")
    cli_main(common + ["--out", str(resumed), "--limit", "40"])
    assert resumed.read_text() == single.read_text()
    pairs = read_pseudo_pairs(single)
    assert len(pairs) >= 35 and all(p.source != p.candidate for p in pairs)


def test_cli_agreement_prints_table(tmp_path, capsys):
    folder = _small_folder(tmp_path, 40)
    cli_main(["--data", str(folder), "--agreement", "40", "--k", "8", "--workers", "0", "--cache-dir", "", "--split", "all"])
    out = capsys.readouterr().out
    assert "agreement" in out and "mean_regret" in out


def test_plot_search_result(viton_small):
    import matplotlib
    matplotlib.use("Agg")
    from sps.search.plot import plot_search_result

    res = search(viton_small, [3], SearchConfig(k=16))[0]
    fig = plot_search_result(viton_small, res)
    assert len(fig.axes) >= 6
    fig2 = plot_search_result(viton_small, 3, candidate=viton_small.names[res.candidate], parts=False)
    assert len(fig2.axes) == 4


# ------------------------------------------------------------------ variants, near-duplicates, cross-folder pools

def _one_armed(shift: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic 64x48 person: face, upper clothes and only a *left* arm (label 6; joints 5-7), no legs."""
    kps = np.full((18, 2), -1, np.float32)
    for j, xy in {0: (24, 10), 1: (24, 16), 2: (18, 17), 5: (30, 17), 8: (20, 36), 11: (28, 36),
                  6: (36, 24), 7: (40, 31)}.items():
        kps[j] = np.array(xy, np.float32) + np.array(shift, np.float32)
    masks = part_masks_torch(torch.from_numpy(kps)[None], (64, 48))[0].numpy() > 0.5
    lab = np.zeros((64, 48), np.uint8)
    lab[masks[PART_NAMES.index("torso")]] = 3
    lab[masks[PART_NAMES.index("head")]] = 1
    lab[masks[PART_NAMES.index("left_upper_arm")] | masks[PART_NAMES.index("left_forearm")]] = 6
    return lab, kps


def test_flip_variant_swaps_left_and_right():
    src_lab, src_kps = _one_armed()
    raw_lab, raw_kps = _one_armed(shift=(3, 2))  # the same person a few pixels away
    kps, lab, _ = apply_variant(raw_kps[None], np.array([True]), np.array([1.0]), (64, 48), labels=raw_lab[None])
    cand_lab, cand_kps = lab[0], kps[0]  # mirrored: only a right arm now
    assert 6 not in cand_lab and (cand_lab == 7).sum() == (raw_lab == 6).sum()
    assert (cand_kps[[6, 7]] < 0).all() and (cand_kps[[3, 4]] >= 0).all()
    np.testing.assert_allclose(cand_kps[4], [47 - raw_kps[7, 0], raw_kps[7, 1]])
    idx = SearchIndex(["s_0.jpg", "c_0.jpg"], np.stack([src_lab, cand_lab]), np.stack([src_kps, cand_kps]))
    # as it is, the candidate lacks the source's left arm; mirrored back, its right arm is that left arm
    assert search(idx, [0], SearchConfig(k=None, pose_margin=0.0))[0].candidate == -1
    res = search(idx, [0], SearchConfig(k=None, pose_margin=0.0, flip=True))[0]
    assert res.candidate == 1 and res.flip and res.scale == 1.0 and res.score < 0.05
    # the prefilter ranks the mirrored column too
    assert search(idx, [0], SearchConfig(k=4, pose_margin=0.0, flip=True))[0].candidate == 1
    mirrored = idx.mirrored()  # the index's part maps mirrored = maps drawn from the mirrored pose
    drawn = SearchIndex(["m_0.jpg"], raw_lab[None], raw_kps[None])
    assert (mirrored.coded[1] != drawn.coded[0]).float().mean() < 0.01


def test_source_without_parts_is_scored_without_crash():
    lab, kps = _one_armed()
    none = np.full((18, 2), -1, np.float32)
    idx = SearchIndex(["a_0.jpg", "b_0.jpg"], np.stack([lab, lab]), np.stack([none, kps]))
    res = search(idx, [0], SearchConfig(k=None, pose_margin=0.0, flip=True, near_duplicate_iou=None))[0]
    assert res.candidate == 1 and res.score == pytest.approx(1.0)  # nothing to compare: cost = union


def test_near_duplicates_are_excluded():
    lab, kps = _one_armed()
    moved = kps.copy()
    moved[0, 0] += 1  # the same map, the nose a pixel away: no exact copy, and the pose margin is 0
    m_kps, m_lab, _ = apply_variant(moved[None], np.array([True]), np.array([1.0]), (64, 48), labels=lab[None])
    idx = SearchIndex(["a_0.jpg", "b_0.jpg", "c_0.jpg"], np.stack([lab, lab, m_lab[0]]),
                      np.stack([kps, moved, m_kps[0]]))
    assert float(near_duplicate_iou(idx, torch.tensor([0, 0]), torch.tensor([1, 2]))[0]) == 1.0
    loose = {"k": None, "pose_margin": 0.0, "required_parts": ("torso",)}
    assert candidate_lists(idx, torch.tensor([0]), SearchConfig(**loose, near_duplicate_iou=None))[0].tolist() == [1, 2]
    # the identical map and the mirrored one (compared in both orientations) are both near-duplicates
    assert candidate_lists(idx, torch.tensor([0]), SearchConfig(**loose))[0].tolist() == []
    assert search(idx, [0], SearchConfig(**loose))[0].candidate == -1


def test_rescale_only_people_wholly_on_the_canvas(viton_small):
    lab, kps = _one_armed()
    vit = int(np.argmax(viton_small.border.numpy()))  # a VITON half body, cut by the bottom edge
    assert bool(viton_small.border[vit])
    idx = SearchIndex(["a_0.jpg", "v_0.jpg"], np.stack([lab, viton_small.labels[vit]]),
                      np.stack([kps, viton_small.kps[vit]]))
    views, usable = candidate_variants(idx, torch.tensor([0, 1]), Variant(scale=0.8))
    assert usable.tolist() == [True, False]
    vis = (kps >= 0).all(1)
    centre = (kps[vis].min(0) + kps[vis].max(0)) / 2
    np.testing.assert_allclose(views.kps_t[0].numpy()[vis], (kps[vis] - centre) * 0.8 + centre, atol=1e-5)
    assert abs(int((views.labels_t[0] > 0).sum()) / int((lab > 0).sum()) - 0.64) < 0.08
    big, ok = candidate_variants(idx, torch.tensor([0]), Variant(flip=True, scale=2.0))
    assert not bool(ok[0])  # pushed off the canvas
    assert not bool((big.labels_t[0] == 6).any()) and bool((big.labels_t[0] == 7).any())


def test_variant_search_prefilter_equals_exhaustive(viton_small):
    cfg = {"flip": True, "scales": (1.15, 1.0, 0.85)}
    assert SearchConfig(**cfg).variants[0] == Variant()  # the identity first: ties keep the plain candidate
    ex = search(viton_small, range(40), SearchConfig(k=None, **cfg))
    pf = search(viton_small, range(40), SearchConfig(k=2 * len(viton_small), **cfg))
    assert any(r.flip for r in ex)
    assert [(e.candidate, e.flip, e.scale) for e in ex] == [(p.candidate, p.flip, p.scale) for p in pf]
    plain = search(viton_small, range(40), SearchConfig(k=None))
    assert all(v.score <= p.score + 1e-6 for v, p in zip(ex, plain) if p.candidate >= 0)  # more choice, no worse


def test_cross_folder_pool(viton_small):
    ix = viton_small
    pool = concat_indexes([SearchIndex(ix.names[:40], ix.labels[:40], ix.kps[:40], "a"),
                           SearchIndex(ix.names[40:], ix.labels[40:], ix.kps[40:], "b")])
    assert pool.positions_of("b") == list(range(40, 80)) and pool.persons[0].startswith("a/")
    mixed = search(pool, range(40), SearchConfig(k=16))
    assert {pool.origins[r.candidate] for r in mixed if r.candidate >= 0} == {"a", "b"}
    same = search(pool, range(40), SearchConfig(k=16, pool="same"))
    assert {pool.origins[r.candidate] for r in same if r.candidate >= 0} == {"a"}


def test_csv_round_trip_keeps_the_variant(tmp_path):
    rows = [PseudoPair("a.jpg", "b.jpg", 0.25, 0.125, flip=True, scale=0.85),
            PseudoPair("c.jpg", "d.jpg", 0.5, 0.1, scale=1.15, candidate_dataset="market"),
            PseudoPair("e.jpg", "", math.nan, math.nan)]
    path = tmp_path / "pairs.csv"
    with PairWriter(path, with_variant=True) as w:
        w.write(rows)
    assert path.read_text().splitlines()[0] == "source,candidate,score,margin,flip,scale,candidate_dataset"
    back = read_pseudo_pairs(path, skip_empty=False, variants=True)
    assert [(p.flip, p.scale, p.candidate_dataset) for p in back] == [(True, 0.85, ""), (False, 1.15, "market"),
                                                                     (False, 1.0, "")]
    with pytest.raises(DataError, match="variants=True"):  # a reader that would ignore them is stopped
        read_pseudo_pairs(path)
    with pytest.raises(ValueError, match="with_variant"), PairWriter(tmp_path / "plain.csv") as w:
        w.write(rows[:1])


def test_pseudo_pair_dataset_applies_the_variant(data_root):
    from sps.data import PersonDataset
    from sps.train.data import PseudoPairs

    base = PersonDataset(_viton(), (64, 48), flip=False, heatmaps=False)
    a, b = [n for n, ok in zip(base.names, base.has_parsing) if ok][:2]
    plain = PseudoPairs(base, [(a, b)])[0]
    flipped = PseudoPairs(base, [PseudoPair(a, b, 0.5, 0.1, flip=True)])[0]
    ref = base.get(base.index_of(b), flip=True)
    assert torch.equal(flipped["tgt_parsing"], ref["parsing"]) and torch.equal(flipped["tgt_kps"], ref["kps"])
    assert int((flipped["tgt_parsing"] == 6).sum()) == int((plain["tgt_parsing"] == 7).sum()) > 0
    assert torch.equal(flipped["src_parsing"], plain["src_parsing"])  # the source is never changed
    small = PseudoPairs(base, [PseudoPair(a, b, 0.5, 0.1, scale=0.8)])[0]
    k0, k1 = plain["tgt_kps"].numpy(), small["tgt_kps"].numpy()
    vis = (k0 >= 0).all(1)
    centre = (k0[vis].min(0) + k0[vis].max(0)) / 2
    np.testing.assert_allclose(k1[vis], (k0[vis] - centre) * 0.8 + centre, atol=1e-4)
    assert abs(int((small["tgt_parsing"] > 0).sum()) / int((plain["tgt_parsing"] > 0).sum()) - 0.64) < 0.08
    assert bool((small["tgt_image"][:, 0] == 1.0).all())  # white where the shrunk photo leaves the canvas
    demo = PersonDataset(data_root / "spt-demo", (64, 48), flip=False, heatmaps=False)
    pair = PseudoPair(a, "1_A.jpg", 0.5, 0.1, candidate_dataset="spt-demo")
    cross = PseudoPairs(base, [pair], {"spt-demo": demo})[0]
    assert torch.equal(cross["tgt_parsing"], demo.get(demo.index_of("1_A.jpg"), flip=False)["parsing"])
    with pytest.raises(ValueError, match="not opened"):
        PseudoPairs(base, [pair])


def test_cli_cross_folder_out_dir_resumes_and_reports(tmp_path):
    a, b = _small_folder(tmp_path, 30, "a"), _small_folder(tmp_path, 30, "b", start=30)
    out = tmp_path / "pairs"
    common = ["--data", str(a), str(b), "--k", "16", "--workers", "0", "--cache-dir", "", "--split", "all",
              "--flip", "--scales", "0.85,1", "--batch", "8", "--out-dir", str(out)]
    cli_main(common + ["--limit", "5", f"{display_name(a)}=12"])
    assert len(read_pseudo_pairs(out / "a_all.csv", skip_empty=False, variants=True)) == 12
    cli_main(common)  # resumes: every source once
    pa = read_pseudo_pairs(out / "a_all.csv", skip_empty=False, variants=True)
    pb = read_pseudo_pairs(out / "b_all.csv", skip_empty=False, variants=True)
    assert sorted(p.source for p in pa) == sorted({p.source for p in pa}) and len(pa) == len(pb) == 30
    assert {p.candidate_dataset for p in pa} >= {"", display_name(b)}  # candidates from both folders
    md, png = tmp_path / "report.md", tmp_path / "examples.png"
    cli_main(["report", "--data", str(a), str(b), "--split", "all", "--pairs-dir", str(out), "--out", str(md),
              "--figure", str(png), "--cache-dir", "", "--examples", "2"])
    text = md.read_text()
    assert "## Match scores per source folder" in text and "flipped" in text and "![examples](examples.png)" in text
    assert png.stat().st_size > 1000


def test_view_turn_search_pairs_front_views_with_back_views(viton_small):
    """view="turn": every candidate faces the other way; head_as_hair makes a face on the back of a head no mismatch."""
    from sps import pose as K
    from sps.parsing import LABELS
    from sps.search.index import head_as_hair

    ix = viton_small
    w = ix.size[1]
    face, hair = LABELS.index("face"), LABELS.index("hair")
    # a back view of each person: the photo mirrored, the joints keep their names (right shoulder now on the right)
    back_kps = ix.kps[:40].copy()
    vis = (back_kps >= 0).all(-1)
    back_kps[..., 0] = np.where(vis, w - 1 - back_kps[..., 0], back_kps[..., 0])
    back_labels = ix.labels[:40, :, ::-1].copy()
    back_labels[back_labels == face] = hair
    pool = SearchIndex(ix.names[:40] + [f"b{n}" for n in ix.names[:40]], np.concatenate([ix.labels[:40], back_labels]),
                       np.concatenate([ix.kps[:40], back_kps]))
    away = K.facing_away(pool.kps_t)
    assert int(away[:40].sum()) <= 2 and int(away[40:].sum()) >= 38  # VITON is frontal; the copies face away
    cfg = SearchConfig(k=16, view="turn", flip=True, pose_margin=0.0)
    merged = head_as_hair(pool)
    assert not (merged.labels == face).any() and (merged.labels[40:] == pool.labels[40:]).all()
    results = search(merged, range(40), cfg)
    found = [r for r in results if r.candidate >= 0 and not away[r.source]]
    assert len(found) >= 30 and all(bool(away[r.candidate]) for r in found)
    plain = search(pool, range(40), SearchConfig(k=16, flip=True, pose_margin=0.0))
    assert sum(bool(away[r.candidate]) for r in plain if r.candidate >= 0) < len(found) // 2  # views kept without it
    src = torch.tensor([r.source for r in found])
    cand = torch.tensor([r.candidate for r in found])
    assert float(score_pairs(merged, src, cand).mean()) < float(score_pairs(pool, src, cand).mean())
    with pytest.raises(ValueError, match="view"):
        SearchConfig(view="side")
