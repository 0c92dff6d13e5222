"""The ``sps`` command line (``sps.cli``): transfer, texture and edit on a photo or a folder of photos.

Most tests run ``sps.cli.main`` in-process on a tiny random pipeline saved to a temporary folder (every joint kept,
so that any photo counts as a person) and the shipped example photos (``sps/assets/examples``, always there);
one runs ``python -m sps`` on the trained ``weights/`` and a real photo.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sps.cli import main

REPO = Path(__file__).resolve().parents[1]
SHIPPED = Path(os.environ.get("SPS_WEIGHTS") or REPO / "weights")

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def photos() -> list[str]:
    from sps.app.presets import shipped_examples

    return shipped_examples()


@pytest.fixture(scope="module")
def weights(tmp_path_factory, photos) -> str:
    """A tiny random pipeline that finds the required joints on the shipped photos."""
    from sps.bench.app import random_weights

    return str(random_weights(tmp_path_factory.mktemp("cli") / "tiny", "tiny", probes=photos))


@pytest.fixture()
def folder(tmp_path, photos) -> Path:
    """Two photos, one file that is no photo although named like one, and a text file (ignored)."""
    d = tmp_path / "in"
    d.mkdir()
    for p in photos:
        shutil.copy(p, d / Path(p).name)
    (d / "zz_broken.jpg").write_bytes(b"not a jpeg")
    (d / "notes.txt").write_text("not a photo")
    return d


def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main([*args, "-q"])
    out = capsys.readouterr()
    return rc, out.out, out.err


def sps_process(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m sps ARGS`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "sps", *args], check=False, capture_output=True, text=True,
                          timeout=timeout)


def test_help_lists_the_commands_and_options():
    out = sps_process("--help")
    assert out.returncode == 0, out.stderr
    for word in ("transfer", "texture", "edit"):
        assert word in out.stdout
    sub = sps_process("transfer", "--help")
    for option in ("--pose", "--save-intermediates", "--device", "--weights", "-o"):
        assert option in sub.stdout, option


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "sps"
    if not script.exists():
        pytest.skip("the package is not installed with its scripts (pip install -e .)")
    out = subprocess.run([str(script), "edit", "--help"], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "short-sleeves" in out.stdout, out.stderr


def test_transfer_one_photo_to_a_file(capsys, weights, photos, tmp_path):
    out = tmp_path / "result.png"
    rc, stdout, _ = run(capsys, "transfer", photos[0], "--pose", "front_arms_down", "-o", str(out), "--weights",
                        weights, "--device", "cpu")
    assert rc == 0, stdout
    assert "1 written" in stdout and str(out) in stdout
    w, h = Image.open(photos[0]).size
    assert min(Image.open(out).size) >= min(w, h) // 2  # the photo's grid (grown when the pose leaves the photo)


def test_presets_go_on_the_person_unless_placement_says_frame(capsys, photos, tmp_path):
    from sps.cli.main import _target, build_parser

    def placement(*extra: str) -> str | None:
        args = build_parser().parse_args(["transfer", photos[0], "-o", str(tmp_path), *extra])
        return _target(args).for_pipeline()["placement"]

    assert placement("--pose", "front_arms_down") == "person"  # a preset: on the person
    assert placement("--pose", photos[1]) == "person"  # the pose of another photo: on the person
    assert placement("--pose", "front_arms_down", "--placement", "frame") == "frame"
    kps = tmp_path / "pose.json"
    kps.write_text(json.dumps({"people": [{"pose_keypoints_2d": [10.0, 10.0, 1.0] * 18}]}))
    assert placement("--pose", str(kps)) is None  # keypoints: where they say (the weights' setting)
    assert placement("--pose", str(kps), "--placement", "person") == "person"
    with pytest.raises(SystemExit) as info:  # argparse: usage and exit status 2
        build_parser().parse_args(["transfer", photos[0], "-o", str(tmp_path), "--pose", "x", "--placement", "y"])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_folder_skips_and_reports_what_it_cannot_use(capsys, weights, folder, tmp_path):
    out = tmp_path / "out"
    rc, stdout, _ = run(capsys, "transfer", str(folder), "--pose", "Hand on hip", "-o", str(out), "--weights", weights)
    assert rc == 0, stdout
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png", "grace_hopper.png"]
    assert stdout.startswith("2 written, 1 skipped"), stdout
    assert "skipped zz_broken.jpg: ImageReadError" in stdout, stdout


def test_nothing_usable_exits_non_zero(capsys, weights, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"garbage")
    rc, stdout, _ = run(capsys, "edit", str(bad), "--edit", "shorts", "-o", str(tmp_path / "out"), "--weights", weights)
    assert rc == 1 and stdout.startswith("0 written, 1 skipped"), stdout


@pytest.mark.parametrize("spec", ["back_view", "Back view", "03_back_view", "back-view"])
def test_preset_names(capsys, weights, photos, tmp_path, spec):
    rc, stdout, _ = run(capsys, "transfer", photos[1], "--pose", spec, "-o", str(tmp_path), "--weights", weights)
    assert rc == 0, stdout
    assert (tmp_path / "grace_hopper.png").is_file()


def test_intermediates_and_pose_from_a_json_or_a_photo(capsys, weights, photos, tmp_path):
    rc, stdout, _ = run(capsys, "transfer", photos[0], "--pose", photos[1], "-o", str(tmp_path / "a"),
                        "--weights", weights, "--save-intermediates")
    assert rc == 0, stdout
    base = tmp_path / "a" / "astronaut"
    sizes = {"source": Image.open(photos[0]).size, "target": Image.open(f"{base}.png").size}  # the output's grid
    for which, size in sizes.items():
        labels = Image.open(f"{base}.{which}_parsing.png")
        assert labels.mode == "P" and labels.size == size
        assert int(np.asarray(labels).max()) < 10  # label ids, shown in the parsing colours
        pose = json.loads(Path(f"{base}.{which}_pose.json").read_text())
        assert pose["canvas_hw"] == [size[1], size[0]] and len(pose["people"][0]["pose_keypoints_2d"]) == 54
    # the saved target pose drives another transfer, on the grid it names
    rc, stdout, _ = run(capsys, "transfer", photos[1], "--pose", f"{base}.target_pose.json", "-o",
                        str(tmp_path / "b.png"), "--weights", weights)
    assert rc == 0 and (tmp_path / "b.png").is_file(), stdout


def test_texture(capsys, weights, photos, folder, tmp_path):
    rc, stdout, _ = run(capsys, "texture", photos[0], photos[1], "-o", str(tmp_path / "one"), "--weights", weights)
    assert rc == 0 and (tmp_path / "one" / "astronaut_wearing_grace_hopper.png").is_file(), stdout
    rc, stdout, _ = run(capsys, "texture", str(folder), photos[1], "-o", str(tmp_path / "many"), "--weights", weights,
                        "--save-intermediates")
    assert rc == 0 and stdout.startswith("2 written, 1 skipped"), stdout
    assert (tmp_path / "many" / "grace_hopper_wearing_grace_hopper.person_parsing.png").is_file()
    rc, _, err = run(capsys, "texture", str(folder), str(folder), "-o", str(tmp_path), "--weights", weights)
    assert rc == 2 and "cannot both be folders" in err


@pytest.mark.parametrize("edit", ["shorts", "skirt", "short-sleeves", "long-sleeves"])
def test_edits(capsys, weights, photos, tmp_path, edit):
    rc, stdout, _ = run(capsys, "edit", photos[0], "--edit", edit, "-o", str(tmp_path / "e.png"), "--weights", weights)
    assert rc == 0, stdout
    assert Image.open(tmp_path / "e.png").size == Image.open(photos[0]).size  # its own pose: the photo's grid
    rc, stdout, _ = run(capsys, "edit", photos[0], "--edit", edit, "--pose", "front_relaxed", "-o",
                        str(tmp_path / "posed"), "--weights", weights, "--save-intermediates")
    assert rc == 0 and (tmp_path / "posed" / "astronaut.edited_parsing.png").is_file(), stdout


def test_bad_arguments_say_why(capsys, weights, photos, tmp_path):
    rc, _, err = run(capsys, "transfer", photos[0], "--pose", "upside_down", "-o", str(tmp_path), "--weights", weights)
    assert rc == 2 and "not a preset" in err and "back_view" in err, err
    rc, _, err = run(capsys, "transfer", str(tmp_path / "nope.jpg"), "--pose", "back_view", "-o", str(tmp_path),
                     "--weights", weights)
    assert rc == 2 and "no such file or folder" in err, err
    rc, _, err = run(capsys, "transfer", photos[0], "--pose", "back_view", "-o", str(tmp_path), "--weights", weights,
                     "--device", "no-such-device")
    assert rc == 2 and "error" in err, err
    with pytest.raises(SystemExit):
        main(["edit", photos[0], "--edit", "wings", "-o", str(tmp_path)])


def test_default_weights(capsys, weights, photos, tmp_path, monkeypatch):
    monkeypatch.delenv("SPS_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)
    rc, _, err = run(capsys, "transfer", photos[0], "--pose", "back_view", "-o", "out")
    assert rc == 2 and "--weights" in err and "SPS_WEIGHTS" in err, err
    (tmp_path / "weights").symlink_to(weights, target_is_directory=True)  # ./weights
    rc, stdout, _ = run(capsys, "transfer", photos[0], "--pose", "arm_out", "-o", "out")
    assert rc == 0 and (tmp_path / "out" / "astronaut.png").is_file(), stdout
    monkeypatch.setenv("SPS_WEIGHTS", str(tmp_path / "missing"))  # $SPS_WEIGHTS wins over ./weights
    rc, _, err = run(capsys, "transfer", photos[0], "--pose", "arm_out", "-o", "out")
    assert rc == 2 and "missing" in err, err


@pytest.mark.shipped_weights
def test_python_m_sps_with_the_shipped_weights(tmp_path):
    from sps.app.presets import data_examples
    from sps.bench.app import weights_complete

    if not weights_complete(SHIPPED):
        pytest.skip(f"{SHIPPED} is incomplete")
    photo = (data_examples() or [None])[0]
    if photo is None:
        pytest.skip("data folder absent: no full-body photo")
    out = tmp_path / "me_back.png"
    proc = sps_process("transfer", photo, "--pose", "back_view", "-o", str(out), "--weights", str(SHIPPED),
                       "--save-intermediates", timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    arr = np.asarray(Image.open(out).convert("RGB"))
    assert arr.shape[:2] == np.asarray(Image.open(photo)).shape[:2] and arr.std() > 5
    assert (tmp_path / "me_back.target_parsing.png").is_file()


def test_background_option(capsys, weights, photos, tmp_path):
    """--background plain: a flat backdrop of the photo's background colour; the default keeps the photo's scene."""
    outs = {}
    for bg in ("plain", None):
        out = tmp_path / f"{bg}.png"
        extra = ["--background", bg] if bg else []
        rc, stdout, _ = run(capsys, "transfer", photos[0], "--pose", "front_arms_down", "-o", str(out), "--weights",
                            weights, "--device", "cpu", *extra)
        assert rc == 0, stdout
        outs[bg] = np.asarray(Image.open(out).convert("RGB")).astype(int)
    corner = outs["plain"][:8, :8].reshape(-1, 3)
    assert (corner == corner[0]).all()  # one flat colour
    assert np.abs(outs[None][:8, :8].reshape(-1, 3) - corner[0]).max() > 0  # the photo's own pixels
    with pytest.raises(SystemExit):
        main(["transfer", photos[0], "--pose", "front_arms_down", "-o", str(tmp_path / "x.png"), "--background", "sky"])
    assert "invalid choice: 'sky'" in capsys.readouterr().err
