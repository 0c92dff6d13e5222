"""Tests of the pseudo-label search (sps.search)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sps.data import data_root
from sps.parts import PART_NAMES, part_transforms_torch
from sps.search import (SearchConfig, SearchIndex, candidate_lists, load_index, person_id, prefilter_agreement,
                        score_pairs, search)
from sps.search.__main__ import main as cli_main
from sps.search.core import warp_codes_nearest
from sps.search.io import PairWriter, PseudoPair, read_pseudo_pairs

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


def _small_folder(tmp_path: Path, n: int) -> Path:
    """A folder with the first n VITON images' keypoints and (symlinked) parsing maps; no image copies."""
    src = _viton()
    lines = (src / "keypoints.csv").read_text().splitlines()
    out = tmp_path / "viton_small"
    (out / "parsing").mkdir(parents=True)
    (out / "keypoints.csv").write_text("\n".join(lines[: n + 1]) + "\n")
    for line in lines[1: n + 1]:
        stem = Path(line.split(":")[0]).stem
        (out / "parsing" / f"{stem}.png").symlink_to(src / "parsing" / f"{stem}.png")
    return out


def test_person_id():
    assert person_id("000003_0.jpg") == "000003"
    assert person_id("fashionMENJackets_Vestsid0000065304_1front.jpg") == "id00000653"


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
    theta, valid = part_transforms_torch(torch.tensor(kps)[None], torch.tensor(tgt_kps)[None], (h, w))
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
    common = ["--data", str(folder), "--k", "16", "--workers", "0", "--cache-dir", "", "--batch", "8"]
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
    cli_main(["--data", str(folder), "--agreement", "40", "--k", "8", "--workers", "0", "--cache-dir", ""])
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
