"""The demo in a real browser: Debian's chromium driven by playwright (never `playwright install`).

Loads the page, gives a source (upload) and a target (a preset), generates, waits for the output image,
checks that the page made no request outside the local server, and saves screenshots to artifacts/.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

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

    found = example_photos()
    if not found:
        pytest.skip("data folder absent (sps.data.data_root()): no photo to upload")
    return found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _page(browser, server, requests: list[str]):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server.url, wait_until="load")
    page.wait_for_selector("#generate", timeout=60_000)
    return page


def _image_loaded(page, selector: str, timeout: float = 120_000) -> None:
    page.wait_for_function(
        """sel => { const img = document.querySelector(sel + ' img');
                    return img && img.complete && img.naturalWidth > 0; }""", arg=selector, timeout=timeout)


def test_pose_transfer_in_browser(browser, server, photos):
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    page = _page(browser, server, requests)
    tabs = [t.strip() for t in page.get_by_role("tab").all_inner_texts()]
    for name in ("Pose transfer", "Clothing texture transfer", "Edit the clothing layout"):
        assert tabs.count(name) == 1, f"tab {name!r} shown {tabs.count(name)} times: {tabs}"
    page.locator("#source input[type=file]").set_input_files(photos[0])
    _image_loaded(page, "#source")
    page.locator("#preset-gallery button.thumbnail-item").nth(2).click()  # the third preset
    page.wait_for_function("() => document.querySelector('#preset-dropdown input').value === 'Back view'",
                           timeout=30_000)
    page.locator("#generate").click()
    _image_loaded(page, "#out-image")
    for key in ("src-kps", "src-parsing", "tgt-pose", "tgt-parsing", "warped"):
        _image_loaded(page, f"#out-{key}", timeout=10_000)
    page.wait_for_selector("#status:has-text('Done')", timeout=30_000)
    size = page.evaluate("() => { const i = document.querySelector('#out-image img'); "
                         "return [i.naturalWidth, i.naturalHeight]; }")
    assert size[0] > 50 and size[1] > 50
    page.screenshot(path=str(ARTIFACTS / "app_pose_transfer.png"), full_page=True)
    outside = [u for u in requests if not u.startswith(server.url) and not u.startswith(("data:", "blob:"))]
    assert not outside, f"the page requested outside the local app: {outside[:5]}"
    page.close()


def test_example_and_edit_tabs_in_browser(browser, server, photos):
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    page = _page(browser, server, requests)
    # source by clicking an example thumbnail, then the edit tab: predict, apply an edit, regenerate
    try:
        _edit_flow(page)
    finally:
        page.screenshot(path=str(ARTIFACTS / "app_edit.png"), full_page=True)
    outside = [u for u in requests if not u.startswith(server.url) and not u.startswith(("data:", "blob:"))]
    assert not outside, f"the page requested outside the local app: {outside[:5]}"
    page.close()


def _edit_flow(page) -> None:
    page.get_by_role("tab", name="Edit the clothing layout").click()
    page.locator("#ed-predict").wait_for()
    page.locator("#ed-examples button.thumbnail-item").nth(1).click()
    _image_loaded(page, "#ed-source")
    page.locator("#ed-predict").click()
    page.wait_for_function("() => { const c = document.querySelector('#ed-editor canvas'); return !!c; }",
                           timeout=60_000)
    page.get_by_role("radio", name="Trousers to skirt").check()
    page.get_by_role("button", name="Apply edit").click()
    page.wait_for_timeout(1500)
    page.locator("#ed-generate").click()
    _image_loaded(page, "#ed-result")
