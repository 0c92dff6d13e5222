"""The demo in a real browser: Debian's chromium driven by playwright (never `playwright install`).

Every tab is run as a user would (a source by upload or by clicking an example, a target, the button), its
outputs are waited for and a screenshot of the page is saved to artifacts/ (``app_pose_transfer.png``,
``app_texture.png``, ``app_edit.png``, ``app_bad_upload.png``). Every test fails on any ``console.error`` or
uncaught page error, and on any request outside the local server. A bad upload gives exactly one toast, without a
server path.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sps.parsing import PALETTE

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
SHIPPED = Path(os.environ.get("SPS_WEIGHTS") or REPO / "weights")  # the weights app.py uses by default
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install -y chromium"),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from sps.bench.app import AppServer, choose_weights

    weights, shipped = choose_weights(tmp_path_factory.mktemp("weights"), weights=SHIPPED)
    if not shipped:
        warnings.warn(f"weights/ is incomplete: the browser test runs the app on random weights ({weights})")
    with AppServer(weights) as srv:
        yield srv


@pytest.fixture(scope="module")
def photos():
    from sps.app.presets import example_photos

    return example_photos()  # the data folder's first (when present), then the shipped ones


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


class Page:
    """A page of the app that records the console errors, page errors and requests it makes."""

    def __init__(self, browser, server):
        self.server = server
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on("console", lambda m: self.errors.append(f"console.error: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(server.url, wait_until="load")
        self.page.wait_for_selector("#generate", timeout=60_000)

    def image_loaded(self, selector: str, timeout: float = 120_000) -> None:
        self.page.wait_for_function(
            """sel => { const img = document.querySelector(sel + ' img');
                        return img && img.complete && img.naturalWidth > 0; }""", arg=selector, timeout=timeout)

    def finish(self, screenshot: str) -> None:
        """Screenshot the whole page to artifacts/, then check: no console error, nothing requested elsewhere."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.wait_for_timeout(500)  # late console messages
        self.page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
        self.page.close()
        outside = [u for u in self.requests
                   if not u.startswith(self.server.url) and not u.startswith(("data:", "blob:"))]
        assert not outside, f"the page requested outside the local app: {outside[:5]}"
        assert not self.errors, "\n".join(self.errors[:10])


def test_pose_transfer_in_browser(browser, server, photos):
    p = Page(browser, server)
    tabs = [t.strip() for t in p.page.get_by_role("tab").all_inner_texts()]
    for name in ("Pose transfer", "Clothing texture transfer", "Edit the clothing layout"):
        assert tabs.count(name) == 1, f"tab {name!r} shown {tabs.count(name)} times: {tabs}"
    view = "() => { const i = document.querySelector('#pose-view img'); return i ? i.src : ''; }"
    redrawn = f"before => ({view})() !== '' && ({view})() !== before"
    before = p.page.evaluate(view)
    p.page.locator("#source input[type=file]").set_input_files(photos[0])
    p.image_loaded("#source")
    p.page.wait_for_function(redrawn, arg=before, timeout=60_000)  # the first preset placed on the photo's person
    before = p.page.evaluate(view)
    p.page.locator("#preset-gallery button.thumbnail-item").nth(2).click()  # the third preset
    p.page.wait_for_function("() => document.querySelector('#preset-dropdown input').value === 'Back view'",
                             timeout=30_000)
    p.page.wait_for_function(redrawn, arg=before, timeout=30_000)  # ... and the back view placed there
    p.page.locator("#generate").click()
    p.image_loaded("#out-image")
    for key in ("src-kps", "src-parsing", "tgt-pose", "tgt-parsing", "warped"):
        p.image_loaded(f"#out-{key}", timeout=10_000)
    p.page.wait_for_selector("#status:has-text('Done')", timeout=30_000)
    size = p.page.evaluate("() => { const i = document.querySelector('#out-image img'); "
                           "return [i.naturalWidth, i.naturalHeight]; }")
    assert size[0] > 50 and size[1] > 50
    # the pose generated is the preset picked last (a back view: no face in the target parsing), not the one the
    # new photo placed on its person first
    src = p.page.evaluate("() => document.querySelector('#out-tgt-parsing img').src")
    parsing = np.asarray(Image.open(io.BytesIO(p.page.request.get(src).body())).convert("RGB"))
    assert not (parsing == PALETTE[1]).all(-1).any(), "the target parsing has a face: not the back view"
    p.finish("app_pose_transfer.png")


def test_texture_tab_with_a_shipped_example(browser, server, photos):
    """Person A: the last example thumbnail, a shipped public-domain photo (there wherever the demo runs)."""
    p = Page(browser, server)
    p.page.get_by_role("tab", name="Clothing texture transfer").click()
    p.page.locator("#tex-person-examples button.thumbnail-item").nth(len(photos) - 1).click()
    p.image_loaded("#tex-person")
    p.page.locator("#tex-clothes-examples button.thumbnail-item").nth(len(photos) - 1).click()  # the first photo
    p.image_loaded("#tex-clothes")
    p.page.locator("#tex-generate").click()
    p.image_loaded("#tex-result")
    p.page.wait_for_selector("#tex-status:has-text('Done')", timeout=30_000)
    p.finish("app_texture.png")


def test_edit_tab_in_browser(browser, server, photos):
    p = Page(browser, server)
    p.page.get_by_role("tab", name="Edit the clothing layout").click()
    p.page.locator("#ed-predict").wait_for()
    p.page.locator("#ed-examples button.thumbnail-item").nth(1).click()
    p.image_loaded("#ed-source")
    p.page.locator("#ed-predict").click()
    p.page.wait_for_function("() => !!document.querySelector('#ed-editor canvas')", timeout=60_000)
    p.page.wait_for_selector("#ed-status:has-text('Done')", timeout=60_000)
    p.page.get_by_role("radio", name="Trousers to skirt").check()
    p.page.get_by_role("button", name="Apply edit").click()
    p.page.wait_for_timeout(1500)
    p.page.locator("#ed-generate").click()
    p.image_loaded("#ed-result")
    p.finish("app_edit.png")


def test_bad_upload_gives_one_toast(browser, server, tmp_path):
    bad = tmp_path / "garbage.jpg"
    bad.write_bytes(os.urandom(4096))
    p = Page(browser, server)
    p.page.locator("#source input[type=file]").set_input_files(str(bad))
    toast = p.page.locator("[data-testid='toast-body']")
    toast.first.wait_for(timeout=30_000)
    p.page.wait_for_timeout(2000)  # a second toast would have come by now
    texts = toast.all_inner_texts()
    assert len(texts) == 1, texts
    assert "Could not read 'garbage.jpg' as an image" in texts[0] and "/tmp" not in texts[0], texts[0]
    p.finish("app_bad_upload.png")
