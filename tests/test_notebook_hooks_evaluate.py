"""Public hooks of sps.evaluate that the tutorials use: a fixed subset of pairs (``only``) and reading a finished
evaluation's CSV files back (``read_metrics``, ``read_per_pair``)."""
from __future__ import annotations

import math
import shutil

import pytest

from sps.errors import SPSError
from sps.evaluate import OURS, evaluate, markdown_table, read_metrics, read_per_pair, select_pairs


def test_only_evaluates_the_given_pairs_and_the_files_read_back(random_pipeline_dir, data_root, tmp_path):
    csv_path = data_root / "deepfashion" / "pairs.csv"
    test_pairs, _ = select_pairs(csv_path, "test", None)
    chosen = [test_pairs[5], test_pairs[2]]  # given out of order: evaluated in the file's order
    out = tmp_path / "eval"
    summary = evaluate(csv_path, random_pipeline_dir, out, fid=False, only=chosen)
    assert summary[OURS]["pairs"] == 2

    metrics = read_metrics(out / "metrics.csv")
    assert list(metrics) == list(summary)
    for name, vals in summary.items():
        assert metrics[name]["pairs"] == vals["pairs"]
        for col in ("SSIM", "PCKh", "Δb*", "mIoU"):
            assert metrics[name][col] == pytest.approx(vals[col], rel=1e-5, nan_ok=True)
    assert math.isnan(metrics["copy source"]["mIoU"])
    assert markdown_table(metrics) == markdown_table(summary)

    ssim = read_per_pair(out / "per_pair.csv")
    assert list(ssim[OURS]) == [test_pairs[2], test_pairs[5]]
    assert sum(ssim[OURS].values()) / 2 == pytest.approx(summary[OURS]["SSIM"], abs=1e-4)
    assert set(read_per_pair(out / "per_pair.csv", "PSNR")) == set(ssim)
    with pytest.raises(ValueError, match="no '<method>: L1' column"):
        read_per_pair(out / "per_pair.csv", "L1")


def test_only_refuses_pairs_outside_the_split(data_root):
    csv_path = data_root / "deepfashion" / "pairs.csv"
    train_pairs, _ = select_pairs(csv_path, "train", None)
    with pytest.raises(SPSError, match="not among the test pairs"):
        select_pairs(csv_path, "test", None, only=train_pairs[:1])
    assert select_pairs(csv_path, "train", 1, only=train_pairs[:3])[0] == train_pairs[:1]  # only, then limit


def test_two_peers_with_as_many_pairs_get_their_own_ours_row(random_pipeline_dir, data_root, tmp_path):
    """Two published methods on different pairs, two pairs each: each gets 'ours' on exactly its own pairs (the
    second named after its peer) instead of one row overwriting the other."""
    csv_path = data_root / "deepfashion" / "pairs.csv"
    test_pairs, _ = select_pairs(csv_path, "test", 4)
    for method, chosen in (("first", test_pairs[:2]), ("second", test_pairs[2:])):
        (tmp_path / "peers" / method).mkdir(parents=True)
        for a, b in chosen:
            shutil.copy(data_root / "deepfashion" / "images" / b, tmp_path / "peers" / method / f"{a[:-4]}__{b[:-4]}.png")
    summary = evaluate(csv_path, random_pipeline_dir, tmp_path / "eval", fid=False, only=test_pairs,
                       peers=tmp_path / "peers")
    ssim = read_per_pair(tmp_path / "eval" / "per_pair.csv")[OURS]
    first, second = "ours, on the same 2 pairs", "ours, on the same 2 pairs as second"
    assert summary[first]["SSIM"] == pytest.approx(sum(ssim[p] for p in test_pairs[:2]) / 2, abs=1e-4)
    assert summary[second]["SSIM"] == pytest.approx(sum(ssim[p] for p in test_pairs[2:]) / 2, abs=1e-4)
    names = list(read_metrics(tmp_path / "eval" / "metrics.csv"))
    assert names.index(first) == names.index("first (published)") + 1
    assert names.index(second) == names.index("second (published)") + 1
