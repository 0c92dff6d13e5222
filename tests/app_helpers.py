"""Fixtures and helpers of the demo's tests (``test_app.py``, ``test_app_endpoints.py``); import them there.

Weights: the complete ``$SPS_WEIGHTS`` (default: the repository's ``weights/``) when there is one. Otherwise the
trained networks it does hold (pose estimator, human parser) are combined with randomly initialised ones into a
pipeline folder, so that person detection (the "no person" error) is real; without a trained pose estimator the app
runs on the random pipeline of ``sps.bench.app.choose_weights`` and the no-person test is skipped.

The page-only events (``example_*``, ``pick_preset``, ``move_joint``, ``hide_joint``...) are private: they are called
on Gradio's queue protocol directly, as the page does, with ``event_data`` for the ones that need a
``gr.SelectData`` (:func:`call_event`).
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sps import pose as K

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
    from sps.app.presets import data_examples

    found = data_examples()
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

    return Client(server.url, verbose=False, analytics_enabled=False)


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
