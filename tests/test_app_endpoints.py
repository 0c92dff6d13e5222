"""The demo's endpoints through its API: ``app.py`` launched as a subprocess, driven by ``gradio_client``.

Every endpoint is called with real photos of the data folder and its images are checked: size (the photo's, or
upscaled to ``DISPLAY_H``), not blank, and the parsing images hold only ``sps.parsing.PALETTE`` colours; the
page-only events are called as the page calls them; a very large photo is downscaled with a note instead of
failing; 20 concurrent ``/transfer`` requests all succeed (``sps.bench.app.load_test``).

Endpoints with a ``gr.State`` input (``edit_apply``, ``edit_generate``) work from the client: it leaves State
inputs out and the server keeps their value per session, so one ``Client`` (one session) chains ``edit_predict`` ->
``edit_apply`` -> ``edit_generate``. Fixtures and helpers: ``app_helpers``.
"""
from __future__ import annotations

import numpy as np
import pytest
from app_helpers import (  # noqa: F401
    call_event,
    check_image,
    check_palette,
    client,
    display_size,
    load,
    photos,
    presets,
    select,
    server,
    small_photo,
    status_ok,
    table_of,
    weights,
)
from PIL import Image

pytestmark = pytest.mark.timeout(600)


def test_preset_pose(client, photos, weights):
    from gradio_client import handle_file

    from sps.app.conversions import POSE_GRID, VIEW_SCALE, kps_to_table, pose_on_person
    from sps.pipeline import SPSPipeline

    view_size = (POSE_GRID[1] * VIEW_SCALE, POSE_GRID[0] * VIEW_SCALE)
    photo = Image.open(photos[0]).convert("RGB")
    source_kps, _ = SPSPipeline.from_pretrained(weights["folder"]).analyse(photo)
    for i in (0, 2):
        table, view = client.predict(presets()[i].label, handle_file(photos[0]), api_name="/preset_pose")
        # placed on the photo's person, as the pipeline's placement="person" does
        want = kps_to_table(pose_on_person(presets()[i].kps, source_kps, (photo.height, photo.width)))
        assert [r[0] for r in table["data"]] == [r[0] for r in want]
        got, exp = np.array([r[1:] for r in table["data"]], float), np.array([r[1:] for r in want], float)
        assert np.allclose(got, exp, atol=0.25), (got, exp)
        if weights["trained_pose"]:  # a person found: not the preset as drawn on the grid
            assert table["data"] != table_of(i)["data"]
        check_image(load(view), view_size, f"pose view of {presets()[i].label!r}")
    table, view = client.predict(presets()[3].label, None, api_name="/preset_pose")  # no source: as drawn
    assert table["data"] == table_of(3)["data"]
    check_image(load(view), view_size, "pose view without a source")


def test_pose_editing_endpoints(client, server, photos):
    from gradio_client import handle_file

    from sps.app.conversions import POSE_GRID, VIEW_SCALE

    view_size = (POSE_GRID[1] * VIEW_SCALE, POSE_GRID[0] * VIEW_SCALE)
    table = table_of(1)
    check_image(load(client.predict(table, handle_file(photos[0]), "left_elbow", api_name="/render_pose")), view_size)
    # the page-only events, called as the page does
    for api, args in (("preset_on_source", [presets()[1].label, None]), ("select_joint", [table, None, "neck"])):
        msg = call_event(server, api, args, None)
        assert msg["success"], msg
        check_image(load(msg["output"]["data"][-1]), view_size, api)
    msg = call_event(server, "hide_joint", [table, "right_wrist", None], None)
    assert msg["success"], msg
    new_table, view = msg["output"]["data"]
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
    from sps.app.presets import example_photos, shipped_examples

    msg = call_event(server, "pick_preset", [], select(2))
    assert msg["success"] and msg["output"]["data"] == [presets()[2].label], msg
    examples = example_photos()
    assert examples[:len(photos)] == photos and examples[-len(shipped_examples()):] == shipped_examples()
    last = len(examples) - 1  # a shipped photo: there wherever the demo runs
    for api, order in (("example_source", examples), ("example_person", examples),
                       ("example_clothes", examples[::-1]), ("example_edit_source", examples)):
        for i in (3, last):
            msg = call_event(server, api, [None], select(i))
            assert msg["success"], (api, msg)
            arr = load(msg["output"]["data"][0])
            ref = np.asarray(Image.open(order[i]).convert("RGB"))
            assert arr.shape == ref.shape, (api, arr.shape, ref.shape)
            assert np.abs(arr.astype(np.float32) - ref).mean() < 8, f"/{api} did not return example {i}"


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

    client = Client(server.url, verbose=False, analytics_enabled=False)  # its own session
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
        fresh = Client(server.url, verbose=False, analytics_enabled=False)
        fresh.predict(value, "Shorter sleeves", api_name="/edit_apply")


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



def test_load_20_concurrent_transfers(server, photos):
    from sps.bench.app import load_test

    stats = load_test(server.url, users=20, per_user=1, source=photos[0])
    assert stats["errors"] == [], f"{len(stats['errors'])} errors, e.g. {stats['errors'][:3]}\n{server.log_tail()}"
    assert stats["requests"] == 20 and stats["answered"] == 20 and stats["queue_full"] == 0
    assert len(stats["latencies"]) == 20 and stats["p50"] <= stats["p95"] <= stats["p99"]
    assert np.isfinite(stats["p99"]) and stats["throughput"] > 0
