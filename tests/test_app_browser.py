"""Web demo in a real browser: Playwright drives Debian's Chromium (installed by .ci/run with apt).

Screenshots are kept as test artifacts in test-artifacts/ (or $TEST_ARTIFACTS). Without Chromium the test
skips, unless TRANSLATE_REQUIRE_BROWSER=1 (set by .ci/run), where a missing browser is a failure.
"""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translate.app import Limits, launch_demo
from translate.app.runs import example_images

CHROMIUM = os.environ.get("TRANSLATE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections are refused in sandboxed CI.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
TIMEOUT_MS = 90_000  # generous: a loaded CI machine may take long to serve the first page; a hang still fails

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # seconds per page: not in the fast tier


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        if os.environ.get("TRANSLATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing but TRANSLATE_REQUIRE_BROWSER=1")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(smoke_run):
    # A low upload limit, so "too large" is cheap to provoke; the test images are far below it.
    demo, url = launch_demo(ckpt=smoke_run, device="cpu", limits=Limits(max_upload_mb=0.1), block=False, quiet=True)
    yield demo, url
    demo.close()


@pytest.fixture()
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server[1])
    page.wait_for_selector("#translate-btn")
    yield page
    page.close()


def _toast(page, text):
    return page.locator(".toast-body", has_text=text).first.wait_for(state="visible")


def test_upload_translate_and_screenshot(page, server, tmp_path):
    catalog = server[0].translator.catalog
    (example,) = example_images(catalog.get(catalog.labels[0]).config, 1)  # a test-split scene, as a person would try
    src = tmp_path / "scene.png"
    shutil.copy(example, src)
    page.locator("#input-image input[type=file]").set_input_files(str(src))
    page.locator("#input-image img").first.wait_for(state="visible")
    page.click("#translate-btn")
    out = page.locator("#output-image img").first
    out.wait_for(state="visible")
    page.locator("#status", has_text="Translated").wait_for(state="visible")
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=out.element_handle())
    assert out.evaluate("el => [el.naturalWidth, el.naturalHeight]") == list(Image.open(src).size)
    page.locator("#download-png").wait_for(state="visible")
    assert "downscaled" in page.locator("#cap-note").inner_text()  # the resolution cap is stated
    page.get_by_text("Before ↔ after slider").click()
    page.locator("#compare-slider img").nth(1).wait_for(state="visible")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo_translate.png"), full_page=True)
    assert (ARTIFACTS / "demo_translate.png").stat().st_size > 10_000


def test_bad_uploads_show_messages(page, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("plain text, not pixels\n" * 4)
    page.locator("#input-image input[type=file]").set_input_files(str(text))
    page.click("#translate-btn")
    _toast(page, "notes.png: not an image this demo can read")
    big = tmp_path / "huge.png"  # noise does not compress: about 190 kB, over the 0.1 MB limit
    Image.fromarray((np.random.default_rng(1).random((256, 256, 3)) * 255).astype(np.uint8)).save(big)
    page.locator("#input-image input[type=file]").set_input_files(str(big))
    _toast(page, "huge.png")
    assert "exceed" in page.locator(".toast-body", has_text="huge.png").first.inner_text()
    page.wait_for_timeout(800)  # let the toasts finish fading in before the screenshot
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo_bad_upload.png"), full_page=True)


def test_batch_tab_gallery_and_zip(page, tmp_path):
    files = []
    for i, size in enumerate([(24, 20), (33, 17)]):
        path = tmp_path / f"b{i}.png"
        Image.fromarray((np.random.default_rng(i).random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(path)
        files.append(str(path))
    page.get_by_role("tab", name="Batch").click()
    page.locator("#batch-files input[type=file]").set_input_files(files)
    page.locator("#batch-files", has_text="b1").wait_for(state="visible")  # the name and ".png" are separate elements
    page.click("#batch-btn")
    page.locator("#batch-status", has_text="Translated 2 image(s)").wait_for(state="visible")
    page.locator("#batch-gallery img").nth(1).wait_for(state="visible")
    assert page.locator("#batch-gallery img").count() == 2
    page.locator("#batch-zip").wait_for(state="visible")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo_batch.png"), full_page=True)


def test_example_click_and_refinement_steps(page):
    thumbs = page.locator("#examples img")
    thumbs.first.wait_for(state="visible")
    assert thumbs.count() == 6  # the smoke set's testA
    thumbs.nth(1).click()
    page.locator("#input-image img").first.wait_for(state="visible")
    page.locator("#status", has_text="Translated 32×32").wait_for(state="visible")  # one click translates it
    steps = page.locator("#refine-steps input[type=number]")  # shown: the smoke checkpoint holds D
    steps.fill("2")
    steps.press("Enter")
    page.click("#translate-btn")
    page.locator("#status", has_text="with 2 refinement step(s)").wait_for(state="visible")
    assert "Translated 32×32" in page.locator("#status").inner_text()


@pytest.fixture(scope="module")
def bundled_server(smoke_run, tmp_path_factory):
    """``translate demo`` with no arguments, run in-process without blocking: the shipped demo.pt, or where
    that is absent (and TRANSLATE_REQUIRE_DEMO_CKPT is not 1) a stand-in made from the smoke run."""
    import importlib.util

    import translate.app
    from translate.cli import main
    from translate.runfolder import bundled

    with pytest.MonkeyPatch.context() as mp:
        if not bundled.bundled_checkpoint().is_file():
            if os.environ.get("TRANSLATE_REQUIRE_DEMO_CKPT") == "1":
                pytest.fail(f"{bundled.bundled_checkpoint()} is missing but TRANSLATE_REQUIRE_DEMO_CKPT=1")
            script = Path(__file__).resolve().parents[1] / "benchmarks" / "make_demo_checkpoint.py"
            spec = importlib.util.spec_from_file_location("make_demo_checkpoint", script)
            make = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(make)
            assets = tmp_path_factory.mktemp("assets")
            assert make.main([str(smoke_run / "ckpt" / "latest.pt"), "--out", str(assets / "demo.pt")]) == 0
            mp.setattr(bundled, "ASSETS", assets)
        started = {}
        launch = translate.app.launch_demo

        def nonblocking(*args, **kwargs):
            started["demo"], started["url"] = launch(*args, **{**kwargs, "block": False, "quiet": True})

        mp.setattr(translate.app, "launch_demo", nonblocking)
        assert main(["demo"]) == 0
        yield started["demo"], started["url"]
        started["demo"].close()


def test_demo_without_arguments_translates_an_example_on_one_click(browser, bundled_server):
    from translate.runfolder.bundled import demo_test_images

    demo, url = bundled_server
    assert url.startswith("http://127.0.0.1:")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url)
        page.locator("#run-card", has_text="bundled demo model").wait_for(state="visible")
        thumbs = page.locator("#examples img")
        thumbs.first.wait_for(state="visible")
        thumbs.first.click()  # the only action: no upload, no Translate button
        page.locator("#status", has_text="Translated").wait_for(state="visible")
        out = page.locator("#output-image img").first
        out.wait_for(state="visible")
        page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=out.element_handle())
        catalog = demo.translator.catalog
        (first,) = demo_test_images(catalog.get(catalog.labels[0]).config, 1)
        assert out.evaluate("el => [el.naturalWidth, el.naturalHeight]") == list(Image.open(first).size)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo_bundled.png"), full_page=True)
    finally:
        page.close()
