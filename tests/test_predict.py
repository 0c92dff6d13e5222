"""sps.predict: parsing maps of a person folder, written as label PNGs, resumable."""
from __future__ import annotations

import numpy as np
from PIL import Image

from sps import predict
from sps.parsing import NUM_LABELS



def test_predict_folder_writes_label_maps_and_resumes(make_person_folder, random_pipeline_dir, tmp_path):  # noqa: F811
    folder = make_person_folder(n=3, size=(40, 30), parsing=False, pairs=False)
    out = tmp_path / "maps"
    written, skipped = predict.predict_folder(folder, out, random_pipeline_dir)
    assert (written, skipped) == (3, 0)
    for i in range(3):
        lab = Image.open(out / f"img{i:03d}.png")
        assert lab.mode == "L" and lab.size == (30, 40)  # the photo's size
        assert np.asarray(lab).max() < NUM_LABELS
    assert not list(out.glob("*.tmp"))
    (out / "img001.png").unlink()
    assert predict.predict_folder(folder, out, random_pipeline_dir) == (1, 2)  # only the missing map is redone
    from sps.splits import split_of

    n_train = sum(split_of(f"img{i:03d}.jpg") == "train" for i in range(3))
    assert sum(predict.predict_folder(folder, tmp_path / "train", random_pipeline_dir, split="train")) == n_train


def test_cli_reports_a_missing_folder(tmp_path, capsys):
    assert predict.main(["--folder", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "no keypoints.csv" in capsys.readouterr().out
