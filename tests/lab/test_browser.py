"""The lab in a real browser: headless Debian Chromium (playwright) against `streamlit run lab_app.py`.

Opens every page on tiny tmp checkpoints, samples once, plays an animation, moves the denoising
slider, downloads a GIF, in-betweens on the Edit page and downloads its OpenPose JSON, and saves a
screenshot of each page to artifacts/screenshots/. Skips only when /usr/bin/chromium is missing and
CI is not set; under CI a missing chromium fails.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lab_support import ROOT, lab_tree  # noqa: F401  (fixture)
from motionlab.testing import CHROMIUM_ARGS as ARGS, COUNT_RERUNS, IDLE, lab_server

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _need_chromium() -> None:
    if CHROMIUM.is_file():
        return
    if _ci():
        pytest.fail(f"CI is set but {CHROMIUM} is missing: DEBIAN_FRONTEND=noninteractive apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} not found and CI is not set "
                "(install Debian's chromium: DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)")


@pytest.fixture
def server(lab_tree, tmp_path):
    _need_chromium()
    pytest.importorskip("playwright.sync_api")
    log_path = tmp_path / "streamlit.log"
    try:
        with lab_server({**lab_tree["env"], "OMP_NUM_THREADS": "1"}, log_path, timeout=60) as url:
            yield url, log_path
    except RuntimeError as e:
        pytest.fail(str(e))


def scrub_denoising(page, den):
    """Drag the denoising view's slider across every kept step: each redraws, none reruns the script.

    Releasing settles the step (one rerun: the full-clip view follows), and Play denoising runs
    back to the final sample in the browser and settles there.
    """
    from playwright.sync_api import expect

    view = page.locator(".st-key-sample-denoise_view .scrubber")
    slider = view.locator("input.slider")
    canvas = view.locator("canvas")
    expect(view).to_have_attribute("data-drawn-step", "0")
    n = int(slider.get_attribute("max")) + 1
    assert n == 11  # the tiny run's 10-step chain, every state kept
    page.evaluate(COUNT_RERUNS)
    box = slider.bounding_box()
    thumb = 16  # Chromium's range thumb, px
    x_of = lambda k: box["x"] + thumb / 2 + k * (box["width"] - thumb) / (n - 1)  # noqa: E731
    y = box["y"] + box["height"] / 2
    page.mouse.move(x_of(n - 1), y)
    page.mouse.down()
    drawn, images = [], []
    for k in reversed(range(n)):  # final sample -> pure noise, every position
        page.mouse.move(x_of(k), y, steps=3)
        page.wait_for_function("([el, k]) => Number(el.value) === k", arg=[slider.element_handle(), k])
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        drawn.append(int(view.get_attribute("data-drawn-step")))
        images.append(canvas.evaluate("c => c.toDataURL()"))
    assert page.evaluate("window.__reruns") == 0, "scrubbing reran the script"
    assert drawn == list(range(n)), drawn  # levels 0..10 on the way to pure noise
    assert all(a != b for a, b in zip(images, images[1:])), "the drawn skeleton did not change between steps"
    assert "step 10 of 10 (pure noise)" in view.locator(".level").inner_text()
    page.mouse.up()  # settles on T: the full-clip view follows
    expect(den.locator(".annotation-text", has_text="x_t at step 10")).to_have_count(1)
    page.wait_for_selector(IDLE)
    assert page.evaluate("window.__reruns") >= 1  # the counter does see reruns
    before = int(view.get_attribute("data-draws"))
    view.locator("button.play").click()
    expect(view).to_have_attribute("data-drawn-step", "0", timeout=10_000)
    assert int(view.get_attribute("data-draws")) - before >= n - 1  # every kept step passed by
    expect(den.locator(".annotation-text", has_text="x_t at step 0")).to_have_count(1)


def test_every_page_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    url, log_path = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)  # a cold first page takes over expect's 5 s on 2 busy cores
        js_errors, stage = [], ["load"]
        page.on("pageerror", lambda e: js_errors.append(f"{stage[0]}: {e} {getattr(e, 'stack', '')}"))

        def settled(header: str):
            expect(page.locator("h2", has_text=re.compile(f"^{header}$"))).to_be_visible()
            page.wait_for_selector(IDLE)
            assert page.locator("[data-testid='stException']").count() == 0, page.locator(
                "[data-testid='stException']").first.inner_text()
            errs = page.locator("[data-testid='stAlertContentError']")
            assert errs.count() == 0, errs.all_inner_texts()

        def shot(name: str):
            page.wait_for_timeout(400)  # let plotly finish drawing
            page.screenshot(path=str(SHOTS / f"{name}.png"))

        def go(name: str):
            stage[0] = name
            page.locator("[data-testid='stSidebarNav'] a", has_text=name).click()
            settled(name)

        def press(name: str, shows: str):
            """Open a page, press its run button, wait for the plot it draws; that plot's element."""
            go(name)
            page.locator(f".st-key-{name.lower()}-run button").click()
            page.wait_for_selector(f".st-key-{shows} .js-plotly-plot")
            settled(name)
            return page.locator(f".st-key-{shows}")

        # -- a deep link on a fresh server gets lab_app.py's navigation, not a file-based one ---
        page.goto(f"{url}/training")
        settled("Training")
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert all(t in nav for t in ("Sample", "Compare", "Edit", "Metrics", "Dataset", "Training")), nav
        assert "motionlab" in page.locator("[data-testid='stSidebar']").inner_text()

        # -- Sample: sample 8 clips, play, scrub the denoising steps, download a GIF ------------
        stage[0] = "Sample"
        page.goto(url)
        settled("Sample")
        assert "missing (demo clip in use)" in page.locator("[data-testid='stSidebar']").inner_text()
        page.locator(".st-key-sample-run button").click()
        page.wait_for_selector(".st-key-sample-denoise .js-plotly-plot")
        settled("Sample")
        anim = page.locator(".st-key-sample-animation")
        expect(anim.locator(".annotation-text", has_text="tiny_ship #7")).to_have_count(1)
        expect(anim.locator(".updatemenu-button")).to_have_count(2)  # play, pause
        current = anim.locator(".slider-container text.slider-label").first
        assert current.text_content() == "frame 0"
        anim.locator(".updatemenu-button", has_text="Play").click()
        page.wait_for_function("el => el.textContent !== 'frame 0'", arg=current.element_handle(), timeout=10_000)
        stage[0] = "pause"  # plotly.js rejects the interrupted animate() promise with no reason
        anim.locator(".updatemenu-button", has_text="Pause").click()
        page.wait_for_timeout(300)
        stage[0] = "Sample"
        den = page.locator(".st-key-sample-denoise")
        expect(den.locator(".annotation-text", has_text="x_t at step 0")).to_have_count(1)
        scrub_denoising(page, den)
        settled("Sample")
        with page.expect_download() as dl:
            page.locator(".st-key-sample-export_gif button").click()
        assert dl.value.suggested_filename == "tiny_ship_seed42.gif"
        assert Path(dl.value.path()).read_bytes()[:6] == b"GIF89a"
        shot("sample")

        # -- Compare: both checkpoints and a real window, one figure ---------------------------
        cmp_anim = press("Compare", "compare-animation")
        expect(cmp_anim.locator(".annotation-text", has_text="tiny_ship #1")).to_have_count(1)
        expect(cmp_anim.locator(".annotation-text", has_text="real @0")).to_have_count(1)
        expect(cmp_anim.locator(".updatemenu-button")).to_have_count(2)
        shot("compare")

        # -- Edit: in-between the demo clip, held joints greyed, seam table, OpenPose download ---
        edit_anim = press("Edit", "edit-animation")
        expect(edit_anim.locator(".annotation-text", has_text="tiny_ship inbetween #1")).to_have_count(1)
        expect(edit_anim.locator(".legendtext", has_text="given (held)")).to_have_count(1)
        held = edit_anim.locator(".scatterlayer .trace").first.locator("path.point").first  # under the skeleton
        assert held.evaluate("p => getComputedStyle(p).fill") == "rgb(120, 120, 120)"  # the held joints: grey
        expect(edit_anim.locator(".updatemenu-button")).to_have_count(2)
        expect(page.get_by_text("Seams", exact=True)).to_be_visible()
        with page.expect_download() as dl:
            page.locator(".st-key-edit-export_openpose button").click()
        assert dl.value.suggested_filename == "tiny_ship_inbetween_seed42_openpose_30fps.zip"
        assert Path(dl.value.path()).read_bytes()[:2] == b"PK"
        shot("edit")

        # -- Metrics: judge the shipped checkpoint, every measure with its interval -------------
        press("Metrics", "metrics-intervals")
        expect(page.locator(".st-key-metrics-intervals .js-plotly-plot .scatterlayer .trace")).not_to_have_count(0)
        expect(page.get_by_text("Which is closer to the data?")).to_be_visible()
        shot("metrics")

        # -- Dataset: the demo clip (no data/ here), its windows and baseline ------------------
        go("Dataset")
        expect(page.get_by_text("copy ../shared/data/uptown_funk.json to data/uptown_funk.json")).to_be_visible()
        page.wait_for_selector(".st-key-dataset-animation .js-plotly-plot")
        page.wait_for_selector(".st-key-dataset-coverage .js-plotly-plot")
        expect(page.locator("[data-testid='stFileUploader']")).to_have_count(2)  # a clip, and pose files to import
        shot("dataset")

        # -- Training: the run's loss and sample-metric curves ---------------------------------
        go("Training")
        page.wait_for_selector(".st-key-training-loss .js-plotly-plot")
        page.wait_for_selector(".st-key-training-sample_metrics .js-plotly-plot")
        expect(page.locator(".st-key-training-start button")).to_be_visible()
        shot("training")

        browser.close()
    assert [e for e in js_errors if not e.startswith("pause: undefined")] == [], js_errors
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]
