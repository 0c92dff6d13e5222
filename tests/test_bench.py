"""sps.bench search / train: tiny runs print their markdown table with numeric, positive figures.

No timing assertions: only that the benchmarks run end to end and report sane numbers.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from sps.bench import search as bs
from sps.bench import train as bt
from sps.parsing import NUM_LABELS


def _table(out: str) -> tuple[list[str], list[list[str]]]:
    """Header cells and data rows (cells) of the first markdown table in ``out``."""
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    assert len(lines) >= 3, out
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    assert set("".join(cells[1])) <= set("-:"), lines[1]
    return cells[0], cells[2:]


def _positive(cell: str) -> float:
    v = float(cell)
    assert math.isfinite(v) and v > 0, cell
    return v


# ------------------------------------------------------------------------------------------ search

def test_search_bench_prints_table(capsys):
    bs.main(["--sizes", "200,400", "--queries", "8", "--k", "16", "--threads", "1", "--repeats", "1",
             "--exhaustive-max", "200"])
    out = capsys.readouterr().out
    assert out.startswith("machine: ")
    header, rows = _table(out)
    assert header[0] == "N" and "prefilter q/s" in header and "exhaustive q/s" in header
    assert [r[0] for r in rows] == ["200", "400"]
    col = {h: i for i, h in enumerate(header)}
    for r in rows:
        _positive(r[col["prefilter q/s"]])
        _positive(r[col["prefilter ms/query"]])
        assert 0 < float(r[col["prefilter candidates/query"]]) <= 16
        assert float(r[col["of which rank (O(N)) ms"]]) >= 0 and float(r[col["of which score (O(k)) ms"]]) >= 0
    _positive(rows[0][col["exhaustive q/s"]])
    _positive(rows[0][col["exhaustive ms/query"]])
    assert rows[1][col["exhaustive q/s"]] == "-"  # 400 > --exhaustive-max
    m = re.search(r"projected: 50000 sources .* ~ ([0-9.]+) ms/query .* -> ([0-9.]+) (s|min|h) ", out)
    assert m, out
    _positive(m.group(1))
    _positive(m.group(2))


def test_synthetic_index_is_plausible():
    size = (64, 48)
    base, _ = bs.base_poses(size)
    index = bs.synthetic_index(50, size, base, seed=1)
    assert len(index) == 50 and len(set(index.persons)) == 50
    assert index.labels.dtype == np.uint8 and index.labels.max() < NUM_LABELS
    vis = index.kps[(index.kps >= 0).all(-1)]
    assert (vis[:, 0] <= size[1] - 1).all() and (vis[:, 1] <= size[0] - 1).all()
    fg = (index.labels > 0).mean((1, 2))
    assert (fg > 0.05).all()  # every person is drawn
    assert (index.labels == 3).any((1, 2)).all()  # a torso in upper clothes
    assert index.part_vis[:, 0].all()  # torso part visible for the search


def test_projection():
    # rank grows linearly (0.1 ms per 1000), score flat at 5 ms: 50k -> 5 + 5 = 10 ms
    ns = [1000, 2000, 4000]
    rank = [0.1, 0.2, 0.4]
    ms = [5 + r for r in rank]
    per_q, _ = bs.project(ns, ms, rank)
    assert per_q == pytest.approx(10.0, rel=1e-6)
    per_q1, _ = bs.project([1000], [5.1], [0.1])
    assert per_q1 == pytest.approx(10.0, rel=1e-6)


# ------------------------------------------------------------------------------------------- train

def test_train_bench_prints_table(capsys, data_root: Path):
    bt.main(["--stages", "semantic", "--preset", "tiny", "--steps", "3", "--warmup", "1", "--threads", "1",
             "--max-images", "8"])
    out = capsys.readouterr().out
    header, rows = _table(out)
    assert header[:6] == ["stage", "batch", "canvas", "samples/s", "s/step", "peak RSS (MiB)"]
    assert len(rows) == 1 and rows[0][0] == "semantic"
    r = rows[0]
    assert int(r[1]) == 2 and r[2] == "32x24"
    sps_, s_step, rss, _wall = (_positive(r[i]) for i in (3, 4, 5, 6))
    assert sps_ == pytest.approx(2 / s_step, rel=0.05)
    assert rss > 10  # a python process with torch is far above 10 MiB
    assert int(r[7]) == 2  # steps 2 and 3 timed


def test_train_bench_rejects_bad_options():
    with pytest.raises(SystemExit):
        bt.main(["--steps", "2", "--warmup", "2"])
    with pytest.raises(SystemExit):
        bt.main(["--stages", "semantic,nope"])


def test_pick_weights_falls_back_to_random():
    # no exported network has a 7x5 canvas: every starting network is a fresh one
    assert bt.pick_weights("e2e", (7, 5), "auto") == {
        "semantic_weights": "random", "appearance_weights": "random", "pose_weights": "random"}
    assert bt.pick_weights("appearance", (128, 96), "random") == {
        "semantic_weights": "random", "pose_weights": "random"}
    assert bt.pick_weights("semantic", (128, 96), "auto") == {}


# ------------------------------------------------------------------------------------------ pipeline

def test_pipeline_bench_prints_a_row_per_preset_and_photo_size(capsys, tmp_path):
    from sps.bench import pipeline as bp

    bp.main(["--presets", "tiny", "--sizes", "64x48,160x120", "--repeats", "1", "--warmup", "0", "--threads", "1",
             "--weights", str(tmp_path)])  # no weights there: random ones of the preset
    head, rows = _table(capsys.readouterr().out)
    assert len(rows) == 2 and [r[head.index("photo")] for r in rows] == ["64x48", "160x120"]
    for r in rows:
        assert r[head.index("preset")] == "tiny" and r[head.index("weights")] == "random"
        _positive(r[head.index("total (median)")].strip("*").split()[0])
        assert 50 < float(r[head.index("peak RSS")].split()[0]) < 4000  # MB, the child's own high-water mark
