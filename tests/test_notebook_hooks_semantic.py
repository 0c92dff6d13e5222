"""The public names of `sps.train` that notebooks 04 and 05 use: `read_pairs` (a search CSV with the training
filters), `PseudoPairs`, `get_stage` and `train` with explicit paths, independent of the current directory."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sps.train as T
from sps.data import PersonDataset

HEADER = "source,candidate,score,margin,flip,scale,candidate_dataset"


def _write_pairs(path: Path, rows: list[tuple[str, str, float, float, int, float]]) -> Path:
    lines = [HEADER] + [f"{s},{c},{sc},{m},{f},{k}," for s, c, sc, m, f, k in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_public_names_resolve() -> None:
    for name in T.__all__:
        assert getattr(T, name) is not None, name
    assert T.get_stage("semantic").exported == ("G_S",)
    assert T.STAGES.index("semantic") < T.STAGES.index("e2e")
    with pytest.raises(ValueError, match="unknown stage"):
        T.get_stage("nope")


def test_read_pairs_applies_the_training_filters(tmp_path: Path) -> None:
    csv = _write_pairs(tmp_path / "p.csv", [("a.jpg", "b.jpg", 0.30, 0.050, 0, 1.0),
                                            ("b.jpg", "c.jpg", 0.45, 0.002, 1, 0.85),
                                            ("c.jpg", "a.jpg", 0.80, 0.020, 0, 1.0)])
    every = T.read_pairs(csv)
    assert [p.source for p in every] == ["a.jpg", "b.jpg", "c.jpg"]
    assert every[1].flip and every[1].scale == pytest.approx(0.85) and not every[0].flip  # variants are read
    assert [p.source for p in T.read_pairs(csv, max_score=0.5)] == ["a.jpg", "b.jpg"]
    assert [p.source for p in T.read_pairs(csv, min_margin=0.01)] == ["a.jpg", "c.jpg"]
    assert [p.source for p in T.read_pairs(csv, min_margin=0.01, max_score=0.5)] == ["a.jpg"]
    assert len(T.read_pairs(csv, min_margin=0.0, max_score=0.0)) == 3  # 0 = no filter, as on the command line


def test_train_with_explicit_paths_from_another_directory(tmp_path: Path, make_person_folder, monkeypatch) -> None:
    folder = make_person_folder(n=8, size=(32, 24), pairs=False, name="people")
    names = [f"img{i:03d}.jpg" for i in range(8)]
    rows = [(a, b, 0.2 + 0.1 * i, 0.01, i % 2, 1.0) for i, (a, b) in enumerate(zip(names, names[1:] + names[:1]))]
    csv = _write_pairs(tmp_path / "pairs.csv", rows)
    kept = T.read_pairs(csv, max_score=0.75)
    assert 0 < len(kept) < len(rows)
    items = T.PseudoPairs(PersonDataset(folder, (32, 24), heatmaps=False), kept[:1])
    assert set(items[0]) >= {"src_image", "src_kps", "src_parsing", "tgt_image", "tgt_kps", "tgt_parsing"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # nothing relative to the repository may be needed
    out = tmp_path / "run"
    summary = T.train("semantic", ["--preset", "tiny", "--canvas", "32", "24", "--steps", "2", "--batch_size", "2",
                                   "--threads", "1", "--data.root", str(folder.parent), "--data.dataset", "people",
                                   "--data.pairs", str(csv), "--data.max_score", "0.75", "--data.eval_images", "1",
                                   "--log.every", "1", "--log.sample_every", "0", "--checkpoint.every", "0",
                                   "--out", str(out)])
    assert summary["steps"] == 2 and torch.isfinite(torch.tensor(list(summary["final_losses"].values()))).all()
    card = (Path(summary["exports"][0]) / "README.md").read_text()
    assert f"{len(kept) - 1} from {csv}" in card  # the filtered pairs, one held out for the metrics
    assert not list(elsewhere.iterdir())  # and nothing was written in the current directory
