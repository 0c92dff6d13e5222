"""The Gradio demo (``sps.app``, ``app.py``).

Without a server: ``python app.py --help``, imports without side effects, the conversions raising ``SPSError``
(never ``gr.Error``) and the handlers turning those into ``gr.Error``.

Through its API: ``app.py`` launched as a subprocess, driven by ``gradio_client``.
(a) every endpoint is called with real photos of the data folder and its images are checked: size (the photo's,
    or upscaled to ``DISPLAY_H``), not blank, and the parsing images hold only ``sps.parsing.PALETTE`` colours;
(c) bad inputs give their own clear error: an unreadable file, a photo with no person, a target pose with too few
    keypoints; a very large photo is downscaled with a note instead of failing;
(d) 20 concurrent ``/transfer`` requests all succeed (``sps.bench.app.load_test``).

Weights: the complete ``$SPS_WEIGHTS`` (default: the repository's ``weights/``) when there is one. Otherwise the
trained networks it does hold (pose estimator, human parser) are combined with randomly initialised ones into a
pipeline folder, so that person detection (the "no person" error) is real; without a trained pose estimator the app
runs on the random pipeline of ``sps.bench.app.choose_weights`` and the no-person test is skipped.

Endpoints with a ``gr.State`` input (``edit_apply``, ``edit_generate``, the ``example_*`` ones) work from the client:
it leaves State inputs out and the server keeps their value per session, so one ``Client`` (one session) chains
``edit_predict`` -> ``edit_apply`` -> ``edit_generate``. Events that need ``gr.SelectData`` (``example_*``,
``pick_preset``, ``move_joint``) cannot get it through ``Client.predict``; they are called on Gradio's queue
protocol directly with ``event_data`` (:func:`call_event`).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sps import pose as K

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = Path(os.environ.get("SPS_WEIGHTS") or REPO / "weights")  # the weights app.py uses by default


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------

def _component_ok(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def _partly_trained(tmp: Path, photos: list[str]) -> tuple[Path, list[str]] | None:
    """Random 'cpu' networks with the trained ones of an incomplete ``weights/`` copied over (None when the trained
    pose estimator is absent, or the mix does not load or does not find the required joints on the photos)."""
    from sps.bench.app import COMPONENT_DIRS
    from sps.errors import SPSError
    from sps.pipeline import SPSPipeline

    shipped = SHIPPED
    trained = [d for d in COMPONENT_DIRS if _component_ok(shipped / d)]
    if "pose_estimator" not in trained:
        return None
    folder = SPSPipeline.from_preset("cpu", seed=0).save_pretrained(tmp / "partly_trained")  # default settings
    for d in trained:
        for name in ("config.json", "model.safetensors"):
            shutil.copyfile(shipped / d / name, folder / d / name)
    try:
        pipe = SPSPipeline.from_pretrained(folder)
        if not all(K.visible(pipe.analyse(p)[0])[list(K.REQUIRED_JOINTS)].all() for p in photos[:2]):
            return None
    except (SPSError, RuntimeError, OSError, ValueError) as e:  # a checkpoint being rewritten, another canvas...
        warnings.warn(f"cannot combine the trained networks of {shipped} with random ones: {e}")
        return None
    return folder, trained


@pytest.fixture(scope="module")
def photos() -> list[str]:
    from sps.app.presets import example_photos

    found = example_photos()
    if len(found) < 4:
        pytest.skip("data folder absent (sps.data.data_root()): no example photos")
    return found


@pytest.fixture(scope="module")
def weights(tmp_path_factory, photos) -> dict[str, Any]:
    """``{"folder", "kind": "shipped" | "partly trained" | "random", "trained_pose": bool}``."""
    from sps.bench.app import choose_weights, weights_complete

    tmp = tmp_path_factory.mktemp("app_weights")
    if weights_complete(SHIPPED):
        return {"folder": SHIPPED, "kind": "shipped", "trained_pose": True}
    mixed = _partly_trained(tmp, photos)
    if mixed is not None:
        warnings.warn(f"weights/ is incomplete: the app runs on trained {', '.join(mixed[1])} + random others")
        return {"folder": mixed[0], "kind": "partly trained", "trained_pose": True}
    folder, _ = choose_weights(tmp, weights=SHIPPED)
    warnings.warn(f"weights/ is incomplete: the app runs on random weights ({folder})")
    return {"folder": folder, "kind": "random", "trained_pose": False}


@pytest.fixture(scope="module")
def server(weights):
    from sps.bench.app import AppServer

    with AppServer(weights["folder"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


@pytest.fixture(scope="module")
def small_photo(tmp_path_factory, photos) -> str:
    """An example photo at half size (128 px high), so that the outputs go through the display upscaling."""
    im = Image.open(photos[0]).convert("RGB")
    path = tmp_path_factory.mktemp("small") / "small.png"
    im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(path)
    return str(path)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def presets() -> tuple[Any, ...]:
    from sps.app.presets import presets as shipped

    return shipped()


def table_of(preset: int = 1) -> dict[str, Any]:
    from sps.app.conversions import COLUMNS, kps_to_table

    return {"headers": COLUMNS, "data": kps_to_table(presets()[preset].kps)}


def load(path: Any) -> np.ndarray:
    """An output image (path, or a FileData dict of the raw protocol) -> (H, W, 3) uint8."""
    if isinstance(path, dict):
        path = path["path"]
    assert path and Path(path).is_file(), f"no image file: {path!r}"
    return np.asarray(Image.open(path).convert("RGB"))


def display_size(w: int, h: int) -> tuple[int, int]:
    """(W, H) of an image of the photo's size once shown: the app upscales to DISPLAY_H px high when smaller."""
    from sps.app.render import DISPLAY_H

    return (w, h) if h >= DISPLAY_H else (max(1, round(w * DISPLAY_H / h)), DISPLAY_H)


def check_image(arr: np.ndarray, size: tuple[int, int] | None = None, what: str = "image") -> None:
    """Not blank (std over pixels > 2 grey levels) and, when given, exactly ``size`` (W, H)."""
    assert arr.ndim == 3 and arr.shape[2] == 3, f"{what}: shape {arr.shape}"
    if size is not None:
        assert (arr.shape[1], arr.shape[0]) == tuple(size), f"{what}: {arr.shape[1]}x{arr.shape[0]}, expected {size}"
    assert arr.shape[0] >= 32 and arr.shape[1] >= 32, f"{what}: tiny ({arr.shape})"
    assert float(arr.std()) > 2.0, f"{what}: blank (std {arr.std():.2f})"


def check_palette(arr: np.ndarray, what: str = "parsing") -> None:
    """Only PALETTE colours (the app colours label maps and upscales them by nearest neighbour, saved as PNG), and
    at least one person label besides the background."""
    from sps.parsing import PALETTE

    colours = np.unique(arr.reshape(-1, 3), axis=0)
    pal = {tuple(int(v) for v in c) for c in PALETTE}
    extra = [tuple(int(v) for v in c) for c in colours if tuple(int(v) for v in c) not in pal]
    assert not extra, f"{what}: {len(extra)} colours outside the palette, e.g. {extra[:5]}"
    assert len(colours) >= 2, f"{what}: a single colour {colours.tolist()}"


def status_ok(text: str) -> None:
    assert isinstance(text, str) and text.startswith("✓ Done"), f"status: {text!r}"


def call_event(server, api_name: str, data: list[Any], event_data: dict[str, Any] | None,
               timeout: float = 120.0) -> dict[str, Any]:
    """Call an event on Gradio's queue protocol with ``event_data`` (a ``gr.SelectData``), which
    ``gradio_client.Client.predict`` cannot send. Returns the ``process_completed`` message.
    State inputs are passed as None: the server fills them from the (new) session's state."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=timeout) as http:
        config = http.get("config").json()
        fn = {d.get("api_name"): d["id"] for d in config["dependencies"]}
        session = uuid.uuid4().hex[:12]
        r = http.post("gradio_api/queue/join", json={"data": data, "event_data": event_data, "fn_index": fn[api_name],
                                                     "trigger_id": None, "session_hash": session})
        r.raise_for_status()
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        return msg
    raise AssertionError(f"/{api_name}: the stream ended without process_completed")


def select(index: Any) -> dict[str, Any]:
    return {"index": index, "value": None, "selected": True}


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


# ----------------------------------------------------------------------------------------------
# (a) every endpoint
# ----------------------------------------------------------------------------------------------

def test_api_lists_every_endpoint(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    expected = {"example_source", "render_pose_on_source", "pick_preset", "preset_pose", "pose_from_photo",
                "render_pose", "select_joint", "move_joint", "hide_joint", "transfer", "example_person",
                "example_clothes", "texture_transfer", "example_edit_source", "edit_predict", "edit_apply",
                "edit_generate"}
    assert {f"/{n}" for n in expected} <= names, sorted(names)


def test_preset_pose(client, photos):
    from gradio_client import handle_file

    from sps.app.conversions import POSE_GRID, VIEW_SCALE

    view_size = (POSE_GRID[1] * VIEW_SCALE, POSE_GRID[0] * VIEW_SCALE)
    for i in (0, 2):
        table, view = client.predict(presets()[i].label, handle_file(photos[0]), api_name="/preset_pose")
        assert table["data"] == table_of(i)["data"]
        check_image(load(view), view_size, f"pose view of {presets()[i].label!r}")
    table, view = client.predict(presets()[3].label, None, api_name="/preset_pose")  # no source: dark background
    check_image(load(view), view_size, "pose view without a source")


def test_pose_editing_endpoints(client, server, photos):
    from gradio_client import handle_file

    from sps.app.conversions import POSE_GRID, VIEW_SCALE

    view_size = (POSE_GRID[1] * VIEW_SCALE, POSE_GRID[0] * VIEW_SCALE)
    table = table_of(1)
    check_image(load(client.predict(table, handle_file(photos[0]), api_name="/render_pose_on_source")), view_size)
    check_image(load(client.predict(table, handle_file(photos[0]), "left_elbow", api_name="/render_pose")), view_size)
    check_image(load(client.predict(table, None, "neck", api_name="/select_joint")), view_size)
    new_table, view = client.predict(table, "right_wrist", handle_file(photos[0]), api_name="/hide_joint")
    rows = {r[0]: r[1:] for r in new_table["data"]}
    assert rows["right_wrist"] == [-1, -1] and rows["neck"] == table["data"][1][1:]
    check_image(load(view), view_size, "view after hiding a joint")

    # move_joint needs the click position (gr.SelectData): raw queue call with event_data
    x, y = 101, 301  # a click on the 2x view -> ((x + 0.5) / 2 - 0.5, (y + 0.5) / 2 - 0.5) on the pose grid
    msg = call_event(server, "move_joint", [table, "right_wrist", None], select([x, y]))
    assert msg["success"], msg
    new_table, view = msg["output"]["data"]
    rows = {r[0]: r[1:] for r in new_table["data"]}
    want = [(x + 0.5) / VIEW_SCALE - 0.5, (y + 0.5) / VIEW_SCALE - 0.5]
    assert rows["right_wrist"] == pytest.approx(want, abs=0.051), rows["right_wrist"]
    assert rows["neck"] == table["data"][1][1:]
    check_image(load(view), view_size, "view after moving a joint")


def test_select_events(server, photos):
    msg = call_event(server, "pick_preset", [], select(2))
    assert msg["success"] and msg["output"]["data"] == [presets()[2].label], msg
    for api, order in (("example_source", photos), ("example_person", photos), ("example_clothes", photos[::-1]),
                       ("example_edit_source", photos)):
        msg = call_event(server, api, [None], select(3))
        assert msg["success"], (api, msg)
        arr = load(msg["output"]["data"][0])
        ref = np.asarray(Image.open(order[3]).convert("RGB"))
        assert arr.shape == ref.shape, (api, arr.shape, ref.shape)
        assert np.abs(arr.astype(np.float32) - ref).mean() < 8, f"/{api} did not return example 3"


@pytest.mark.parametrize("which", ["full", "small"])
def test_transfer(client, photos, small_photo, which):
    from gradio_client import handle_file

    photo = photos[0] if which == "full" else small_photo
    w, h = Image.open(photo).size
    out = client.predict(handle_file(photo), table_of(2), api_name="/transfer")
    assert len(out) == 7
    *images, status = out
    status_ok(status)
    names = ("source keypoints", "source parsing", "target pose", "target parsing", "generated image", "warped")
    arrays = {n: load(p) for n, p in zip(names, images)}
    for n, arr in arrays.items():
        check_image(arr, display_size(w, h), n)
    check_palette(arrays["source parsing"], "source parsing")
    check_palette(arrays["target parsing"], "target parsing")


def test_pose_from_photo(client, photos):
    from gradio_client import handle_file

    from sps.app.conversions import POSE_GRID, VIEW_SCALE

    table, view, status = client.predict(handle_file(photos[1]), handle_file(photos[0]), api_name="/pose_from_photo")
    status_ok(status)
    assert "joints detected" in status
    assert len(table["data"]) == 18
    vis = [r for r in table["data"] if r[1] != -1 and r[2] != -1]
    assert len(vis) >= 4
    assert all(0 <= r[1] <= POSE_GRID[1] - 1 and 0 <= r[2] <= POSE_GRID[0] - 1 for r in vis), vis
    check_image(load(view), (POSE_GRID[1] * VIEW_SCALE, POSE_GRID[0] * VIEW_SCALE), "pose view")
    # the estimated table drives a transfer
    out = client.predict(handle_file(photos[0]), table, api_name="/transfer")
    status_ok(out[-1])
    check_image(load(out[4]), display_size(*Image.open(photos[0]).size), "generated image")


def test_texture_transfer(client, photos):
    from gradio_client import handle_file

    person, clothes = photos[1], photos[3]
    pp, cp, result, status = client.predict(handle_file(person), handle_file(clothes), api_name="/texture_transfer")
    status_ok(status)
    pw, ph = Image.open(person).size
    cw, ch = Image.open(clothes).size
    for name, path, size in (("A's parsing", pp, display_size(pw, ph)), ("B's parsing", cp, display_size(cw, ch)),
                             ("result", result, display_size(pw, ph))):
        arr = load(path)
        check_image(arr, size, name)
        if "parsing" in name:
            check_palette(arr, name)


def test_edit_endpoints_chain_state(server, photos):
    """edit_predict -> edit_apply -> edit_generate on one client session: the gr.State travels server side."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from sps.app.conversions import EDITOR_H

    client = Client(server.url, verbose=False)  # its own session
    src = photos[1]
    w, h = Image.open(src).size
    full = next(p for p in presets() if p.label == "Front, relaxed")  # all 18 joints: every edit applies
    editor, used, status = client.predict(handle_file(src), full.label, api_name="/edit_predict")
    status_ok(status)
    bg = load(editor["background"])
    assert bg.shape[0] == EDITOR_H and abs(bg.shape[1] / bg.shape[0] - w / h) < 0.02, bg.shape
    check_palette(bg, "editor background")
    predicted = load(used)
    check_image(predicted, display_size(w, h), "predicted parsing")
    check_palette(predicted, "predicted parsing")

    value = {"background": handle_file(editor["background"]), "layers": [], "composite": None, "id": None}
    editor2, used2 = client.predict(value, "Trousers to skirt", api_name="/edit_apply")
    edited = load(used2)
    check_image(edited, display_size(w, h), "edited parsing")
    check_palette(edited, "edited parsing")
    check_palette(load(editor2["background"]), "edited editor background")

    value2 = {"background": handle_file(editor2["background"]), "layers": [], "composite": None, "id": None}
    used3, image, status = client.predict(handle_file(src), value2, api_name="/edit_generate")
    status_ok(status)
    readback = load(used3)
    check_palette(readback, "parsing used")
    assert np.array_equal(readback, edited), "the map read back from the editor differs from the edited one"
    check_image(load(image), display_size(w, h), "regenerated image")

    # a target pose without knees: the trouser edits say which joints they need
    client.predict(handle_file(src), presets()[0].label, api_name="/edit_predict")  # "Front, arms down": no knees
    with pytest.raises(AppError, match="knee"):
        client.predict(value, "Trousers to shorts", api_name="/edit_apply")

    # a new session has no state: a clear error rather than a crash
    with pytest.raises(AppError, match="Predict target parsing"):
        Client(server.url, verbose=False).predict(value, "Shorter sleeves", api_name="/edit_apply")


# ----------------------------------------------------------------------------------------------
# (c) bad inputs
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def garbage(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("bad") / "garbage.jpg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return str(path)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("bad") / "plain.png"
    Image.new("RGB", (192, 256), (200, 200, 200)).save(path)
    return str(path)


def test_unreadable_file(client, photos, garbage):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad, good = handle_file(garbage), handle_file(photos[0])
    calls = (("/transfer", (bad, table_of(1))), ("/pose_from_photo", (bad, None)),
             ("/texture_transfer", (good, bad)), ("/edit_predict", (bad, None)))
    for api, args in calls:
        with pytest.raises(AppError, match=r"Could not read 'garbage\.jpg' as an image") as info:
            client.predict(*args, api_name=api)
        assert "JPEG, PNG or WebP" in str(info.value), (api, str(info.value))


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


def test_large_image_is_downscaled_with_a_note(client, photos, tmp_path):
    from gradio_client import handle_file

    from sps.app.conversions import MAX_SIDE

    im = Image.open(photos[0]).convert("RGB")
    scale = 16  # 176 x 256 -> 2816 x 4096
    big = im.resize((im.width * scale, im.height * scale), Image.BICUBIC)
    path = tmp_path / "big.jpg"
    big.save(path, quality=90)
    out = client.predict(handle_file(str(path)), table_of(1), api_name="/transfer")
    *images, status = out
    assert status.startswith("✓ Done"), status
    assert f"{big.width} x {big.height} px" in status and "downscaled" in status, status
    small = (round(big.width * MAX_SIDE / big.height), MAX_SIDE)
    assert f"{small[0]} x {small[1]}" in status, status
    for n, p in zip(("source keypoints", "source parsing", "target pose", "target parsing", "image", "warped"), images):
        check_image(load(p), small, n)


# ----------------------------------------------------------------------------------------------
# (d) load
# ----------------------------------------------------------------------------------------------

def test_load_20_concurrent_transfers(server, photos):
    from sps.bench.app import load_test

    stats = load_test(server.url, requests=20, source=photos[0])
    assert stats["errors"] == [], f"{len(stats['errors'])} errors, e.g. {stats['errors'][:3]}\n{server.log_tail()}"
    assert stats["requests"] == 20 and len(stats["latencies"]) == 20
    assert np.isfinite(stats["p99"]) and stats["throughput"] > 0
