"""The Gradio demo (``sps.app``, ``app.py``): without a server, its API surface and its errors.

Without a server: ``python app.py --help``, imports without side effects, the conversions raising ``SPSError``
(never ``gr.Error``), the handlers turning those into ``gr.Error`` (and a bug into a logged traceback and a short
message), result files written once and whole, the torch thread count.

Through its API (``app.py`` as a subprocess, ``gradio_client``): the public endpoints are exactly
``sps.app.tabs.API_NAMES`` (the README's list, whose example script runs), with named inputs and outputs; the
page-only events are refused to gradio_client; bad inputs give their own clear error without a server path, one
log line each and no traceback: an unreadable file, a photo with no person, a target pose with too few keypoints,
a value of the wrong type; more users than the queue holds are told that the queue is full. The endpoints'
behaviour: ``test_app_endpoints.py``; fixtures and helpers: ``app_helpers``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from app_helpers import REPO, client, garbage, photos, plain, presets, server, table_of, weights  # noqa: F401
from fixtures_pipeline import person_pose
from PIL import Image

from sps import pose as K

pytestmark = pytest.mark.timeout(600)


# ----------------------------------------------------------------------------------------------
# Without a server: the command line, imports, conversions and handlers
# ----------------------------------------------------------------------------------------------

def _app_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "app.py"), *args], check=False, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_app_help_prints_usage_without_serving():
    out = _app_py("--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python app.py"), out.stdout
    for option in ("--weights", "--host", "--port", "--share"):
        assert option in out.stdout, option
    assert "Running on" not in out.stdout + out.stderr
    bad = _app_py("--port", "not-a-port")
    assert bad.returncode == 2 and "invalid int value" in bad.stderr, bad.stderr


IMPORT_PROBE = """
import os, sys
before = dict(os.environ)
import sps.app, sps.app.backend, sps.app.conversions, sps.app.presets, sps.app.render, sps.app.server
assert dict(os.environ) == before, "importing sps.app changed the environment"
assert "gradio" not in sys.modules and "huggingface_hub" not in sys.modules, "sps.app imported gradio"
import sps.app.demo  # the UI layer imports gradio, and still reads no preset and sets nothing
assert sps.app.presets.presets.cache_info().currsize == 0, "presets read at import"
assert {k: os.environ.get(k) for k in sps.app.server.OFFLINE_ENV} == {k: None for k in sps.app.server.OFFLINE_ENV}
sps.app.offline_env()
assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
print("ok")
"""


def test_import_has_no_side_effects():
    from sps.app.server import OFFLINE_ENV

    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], check=False, cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def _without(joints: tuple[str, ...], preset: int = 1) -> list[list[Any]]:
    return [[r[0], -1, -1] if r[0] in joints else r for r in table_of(preset)["data"]]


def test_conversions_raise_sps_errors(tmp_path):
    """Every bad input to the pure layer raises its SPSError subclass (a gr.Error is no SPSError)."""
    from sps import errors as E
    from sps.app import conversions as C
    from sps.app.presets import preset

    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image")
    no_knees = next(p for p in presets() if not all(K.visible(p.kps)[[9, 12]]))
    cases = [
        (E.SPSError, lambda: C.read_photo(None, "source photo"), "Please provide the source photo"),
        (E.ImageReadError, lambda: C.read_photo(str(garbage), "source photo"), "garbage.jpg"),
        (E.SPSError, lambda: C.table_to_kps(None), "No target pose"),
        (E.TooFewKeypointsError, lambda: C.target_keypoints(_without(("left_shoulder",)), (256, 176)),
         "missing: left_shoulder"),
        (E.NoPersonError, lambda: C.detected_pose_on_grid(np.full((18, 2), -1.0), (256, 176), 4), "0 joints"),
        (E.SPSError, lambda: C.editor_to_index(None), "editor is empty"),
        (E.SPSError, lambda: C.apply_edit(np.zeros((8, 6), np.int64), no_knees.kps, "Wings"), "Unknown edit"),
        (E.TooFewKeypointsError, lambda: C.apply_edit(np.zeros((256, 192), np.int64), no_knees.kps,
                                                      "Trousers to shorts"), "knee"),
        (E.SPSError, lambda: preset("Upside down"), "Unknown pose preset"),
    ]
    for kind, call, text in cases:
        with pytest.raises(kind, match=text):
            call()


def test_conversions_place_photo_and_pose_on_the_grid():
    """A 100 x 50 photo fills the 256 x 192 grid's height, centred on white; table <-> keypoints round-trip."""
    from sps.app import conversions as C

    red = Image.new("RGB", (50, 100), (200, 0, 0))
    grid = C.photo_on_grid(red)
    assert grid.shape == (256, 192, 3)
    assert (grid[:, :32] == 255).all() and (grid[:, -32:] == 255).all()
    assert (grid[:, 33:159] == (200, 0, 0)).all()
    kps = presets()[1].kps
    assert np.allclose(C.table_to_kps(C.kps_to_table(kps)), kps, atol=0.05)
    on_photo = C.target_keypoints(table_of(1), (100, 50))  # grid -> photo: scale 100 / 256, 32 px padding
    vis = K.visible(kps)
    assert np.allclose(on_photo[vis], (kps[vis] - [32, 0] + 0.5) * 100 / 256 - 0.5, atol=1e-4)
    assert C.view_to_grid(101, 301) == pytest.approx(((101.5 / 2) - 0.5, (301.5 / 2) - 0.5))


def test_pose_on_person_places_a_preset_on_the_photos_person():
    """A waist-up preset on a 200 x 300 photo of a small person: necks together, the person's own legs."""
    from sps.app import conversions as C
    from sps.pipeline.poses import LEG_CHAINS

    size = (200, 300)
    source = person_pose(100, 60) + (200, 80)  # on the photo, right of centre
    waist_up = presets()[0].kps
    assert not K.visible(waist_up)[[9, 10, 12, 13]].any()
    grid = C.pose_on_person(waist_up, source, size)
    on_photo = C.grid_to_photo(grid, size)
    assert K.visible(on_photo)[[9, 10, 12, 13]].all()
    np.testing.assert_allclose(on_photo[1], source[1], atol=0.6)  # necks together (grid rounding)
    for hip, knee, ankle in LEG_CHAINS:
        np.testing.assert_allclose(on_photo[ankle] - on_photo[knee], source[ankle] - source[knee], atol=0.8)
    # a fit that leaves the neck off the photo: the preset comes back as drawn
    off = source + (200, 0)
    np.testing.assert_array_equal(C.pose_on_person(waist_up, off, size), waist_up)


class _FakePipeline:
    """Stands in for SPSPipeline: every generation fails the way the pipeline does on a photo without a person."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from sps.errors import NoPersonError

        raise NoPersonError("source image: no person found: the pose estimator finds 1 joints (< 4)")


def test_handlers_turn_sps_errors_into_gr_errors(photos):
    import gradio as gr

    from sps.app import Backend, Handlers
    from sps.errors import WeightsError

    h = Handlers(Backend(pipeline=_FakePipeline()))
    with pytest.raises(gr.Error, match="Please provide the source photo"):
        h.transfer(None, table_of(1))
    with pytest.raises(gr.Error, match="Too few keypoints: target pose: .*missing: neck"):
        h.transfer(photos[0], {"data": _without(("neck",))})
    with pytest.raises(gr.Error, match=r"No person found in the photo\..*source image: no person found"):
        h.transfer(photos[0], table_of(1))
    with pytest.raises(gr.Error, match="Unknown pose preset"):
        h.preset("Upside down")
    with pytest.raises(WeightsError):
        Backend()
    with pytest.raises(WeightsError, match="could not be loaded from"):
        Backend(REPO / "no-such-weights").load()


class _BrokenPipeline:
    """A pipeline with a bug: its error names a server path."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("/srv/secret/weights/model.safetensors: tensor mismatch")


def test_handler_bug_is_logged_once_and_hidden_from_the_user(photos, caplog):
    import gradio as gr

    from sps.app import Backend, Handlers

    h = Handlers(Backend(pipeline=_BrokenPipeline()))
    with caplog.at_level("INFO", logger="sps.app"), pytest.raises(gr.Error) as info:
        h.transfer(photos[0], table_of(1))
    assert "something went wrong" in info.value.message and "RuntimeError" in info.value.message
    assert "/srv" not in info.value.message and not info.value.print_exception
    records = [r for r in caplog.records if r.name == "sps.app.handlers"]
    assert len(records) == 1 and records[0].exc_info is not None, records  # the traceback, once
    caplog.clear()
    with caplog.at_level("INFO", logger="sps.app"), pytest.raises(gr.Error):
        h.transfer(None, table_of(1))
    records = [r for r in caplog.records if r.name == "sps.app.handlers"]
    assert len(records) == 1 and records[0].exc_info is None and "user error" in records[0].getMessage()


def test_published_files_are_whole_and_shared(tmp_path):
    """Result pictures: one file per content, written under a temporary name and renamed."""
    from sps.app.files import publish

    img = Image.new("RGB", (40, 30), (10, 200, 30))
    a, b = publish(img, tmp_path), publish(np.asarray(img), tmp_path)
    assert a == b and Path(a).parent == tmp_path and a.endswith(".png")
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(img))
    assert publish(None, tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(a).name]  # no temporary file left


def test_default_threads_leave_a_core_to_the_server():
    from sps.app.backend import default_threads

    assert [default_threads(n) for n in (1, 2, 3, 8, 64)] == [1, 1, 2, 4, 4]


# ----------------------------------------------------------------------------------------------
# (a) every endpoint
# ----------------------------------------------------------------------------------------------

def test_api_is_the_listed_endpoints_with_named_values(client):
    """Exactly API_NAMES are public, each input named after its handler parameter and each output labelled."""
    from sps.app.tabs import API_NAMES

    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {f"/{n}" for n in API_NAMES}, sorted(api["named_endpoints"])
    assert not api["unnamed_endpoints"], api["unnamed_endpoints"]
    for name, info in api["named_endpoints"].items():
        params = [p["parameter_name"] for p in info["parameters"]]
        labels = [r["label"] for r in info["returns"]]
        assert all(p and not p.startswith(("param_", "value_")) for p in params), (name, params)
        assert all(lb and not lb.startswith("value_") for lb in labels), (name, labels)
    assert [p["parameter_name"] for p in api["named_endpoints"]["/transfer"]["parameters"]] == ["source", "table"]
    assert api["named_endpoints"]["/transfer"]["returns"][-1]["label"] == "status"


def test_readme_lists_the_api(client):
    """The README's API table names every public endpoint, and no other."""
    import re

    from sps.app.tabs import API_NAMES

    text = (REPO / "README.md").read_text()
    section = text[text.index("### Its API"):]
    section = section[:section.index("\n## ")]
    listed = re.findall(r"^\| `/(\w+)`", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(API_NAMES), listed


def test_readme_api_example_runs(server, photos, monkeypatch):
    """The README's gradio_client script, run as written (its photo names replaced by real photos)."""
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Its API"):]
    code = section[section.index("```python\n") + 10:]
    code = code[:code.index("```")].replace('"http://127.0.0.1:7860/"', repr(server.url))
    for name, photo in (("me.jpg", photos[1]), ("dancer.jpg", photos[2]), ("shirt.jpg", photos[3])):
        code = code.replace(repr(name).replace("'", '"'), repr(photo))
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md (### Its API)", "exec"), scope)  # noqa: S102 (the documented script)
    assert scope["status"].startswith("✓ Done"), scope["status"]
    for name in ("generated", "result", "image"):
        assert Path(scope[name]).is_file(), name


def test_page_only_events_are_private(client, server):
    from sps.app.tabs import API_NAMES

    config = client.config
    private = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility") == "private"}
    assert {"example_source", "pick_preset", "move_joint", "hide_joint", "select_joint",
            "preset_on_source"} <= private, private
    assert not private & set(API_NAMES)
    with pytest.raises(ValueError, match="Cannot find a function"):
        client.predict(None, api_name="/pick_preset")


# ----------------------------------------------------------------------------------------------
# (c) bad inputs
# ----------------------------------------------------------------------------------------------

def test_unreadable_file(client, photos, garbage):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad, good = handle_file(garbage), handle_file(photos[0])
    editor = {"background": bad, "layers": [], "composite": None, "id": None}
    calls = (("/transfer", (bad, table_of(1))), ("/pose_from_photo", (bad, None)),
             ("/texture_transfer", (good, bad)), ("/edit_predict", (bad, None)),
             ("/edit_apply", (editor, "Shorter sleeves")), ("/edit_generate", (good, editor)))
    for api, args in calls:
        with pytest.raises(AppError, match=r"Could not read 'garbage\.jpg' as an image") as info:
            client.predict(*args, api_name=api)
        message = str(info.value)
        assert "JPEG, PNG or WebP" in message, (api, message)
        assert "/tmp" not in message and "gradio" not in message.lower(), (api, message)


def _new_log(server, before: int) -> str:
    return server.log_path.read_text(errors="replace")[before:]


def test_bad_inputs_one_line_each_no_traceback(client, server, photos, garbage):
    """Wrong values of every kind: one clear error each, one log line each, no traceback, no server path."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    good = handle_file(photos[0])
    calls = (
        ("/transfer", (handle_file(garbage), table_of(1)), r"Could not read 'garbage\.jpg'"),
        ("/transfer", (good, None), "No target pose"),
        ("/transfer", (good, "a pose"), r"Invalid input for /transfer \(ValidationError\)"),
        ("/transfer", (good, {"headers": ["joint", "x", "y"], "data": [["neck", 5, 5]]}), "Too few keypoints"),
        ("/preset_pose", ("Upside down", None), "not in the list of choices"),
        ("/render_pose", ({"headers": ["a"], "data": 5}, None, "neck"), "Invalid input for /render_pose"),
        ("/edit_apply", (None, "Wings"), "not in the list of choices"),
        ("/edit_apply", (None, "Shorter sleeves"), "Predict target parsing"),
        ("/texture_transfer", (None, good), "Please provide the person photo"),
    )
    before = server.log_path.stat().st_size
    for api, args, text in calls:
        with pytest.raises(AppError, match=text) as info:
            client.predict(*args, api_name=api)
        assert "/tmp" not in str(info.value), (api, str(info.value))
    log = _new_log(server, before)
    assert "Traceback" not in log, log[-3000:]
    lines = [ln for ln in log.splitlines() if "user error" in ln or "invalid input" in ln or "unreadable" in ln]
    assert len(lines) == len(calls), "\n".join(lines)


def test_no_person(client, weights, plain):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    if not weights["trained_pose"]:
        pytest.skip("random pose estimator (weights/ has no trained one): it finds joints on any photo")
    with pytest.raises(AppError, match="No person found"):
        client.predict(handle_file(plain), table_of(1), api_name="/transfer")
    with pytest.raises(AppError, match="No person found.*target pose photo"):
        client.predict(handle_file(plain), None, api_name="/pose_from_photo")


def test_too_few_target_keypoints(client, photos):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    table = table_of(1)
    table["data"] = [row if row[0] in ("neck", "nose", "right_shoulder") else [row[0], -1, -1] for row in table["data"]]
    with pytest.raises(AppError, match=r"Too few keypoints: target pose: .*missing: left_shoulder \(3 of 18"):
        client.predict(handle_file(photos[0]), table, api_name="/transfer")
    table["data"] = [[row[0], -1, -1] if row[0] == "neck" else row for row in table_of(1)["data"]]
    with pytest.raises(AppError, match="missing: neck"):
        client.predict(handle_file(photos[0]), table, api_name="/transfer")




def test_full_queue_is_told_not_failed(weights, photos):
    """More users than the queue holds: every request is answered or told that the queue is full."""
    from sps.bench.app import AppServer, load_test

    with AppServer(weights["folder"], extra_args=["--queue-size", "2", "--concurrency", "1"]) as srv:
        stats = load_test(srv.url, users=12, per_user=1, source=photos[0])
        log = srv.log_tail(20000)
    assert stats["errors"] == [], stats["errors"][:3]
    assert stats["answered"] + stats["queue_full"] == 12 and stats["queue_full"] > 0 and stats["answered"] >= 2
    assert "Traceback" not in log, log[-3000:]
