"""Every page of the lab on the shipped checkpoints and the real clip, in Chromium, as a user first meets
it: each page renders with no error, its main element appears, and a screenshot is taken.

    MOTIONLAB_SCREENSHOTS=assets/lab .venv/bin/python -m pytest -q tests/lab/test_screenshots.py

writes the README's screenshots (otherwise they go to a temporary folder). Skips without the real clip.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import REAL_CLIP, REPO
from motionlab.testing import CHROMIUM_ARGS, IDLE, lab_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
PAGES = {  # page: (button to press or None, what shows it worked)
    "Sample": (".st-key-sample-run button", ".st-key-sample-animation .js-plotly-plot"),
    "Compare": (".st-key-compare-run button", ".st-key-compare-animation .js-plotly-plot"),
    "Metrics": (None, ".st-key-metrics-intervals .js-plotly-plot"),
    "Edit": (".st-key-edit-run button", ".st-key-edit-animation .js-plotly-plot"),
    "Dataset": (None, ".st-key-dataset-animation .js-plotly-plot"),
    "Training": (None, ".st-key-training-loss .js-plotly-plot"),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not REAL_CLIP.is_file():
        pytest.skip("data/uptown_funk.json is absent (copy it from ../shared/data/; .ci/run does)")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found")
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("lab")
    env = {"MOTIONLAB_RUNS_DIR": str(tmp / "runs"), "OMP_NUM_THREADS": "2"}  # no user runs: the shipped view
    with lab_server(env, tmp / "streamlit.log", timeout=90) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield url, browser
        browser.close()


def test_a_press_samples_with_the_settings_on_the_page(lab):
    """The caption above the button names the sampler; the samples must come from it. Widgets the lab sets
    through session state once showed their minimum in the browser when a rerun overtook the first one, and
    the press sent those back (edm-10 s_churn 5 became s_churn 0, s_tmax 0): a race, so several fresh visits."""
    from playwright.sync_api import expect

    url, browser = lab
    for _ in range(4):
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(url)
        page.locator("[data-testid='stSidebarNav'] a", has_text="Sample").click()  # as a user may, at once
        expect(page.locator("h2", has_text=re.compile("^Sample$"))).to_be_visible(timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        shown = page.locator("[data-testid='stCaptionContainer']", has_text="Sampler: ").inner_text()
        label = re.match(r"Sampler: ([^,]+),", shown).group(1)
        assert "the sampler study's pick" in shown, shown
        page.locator(".st-key-sample-run button").click()
        page.wait_for_selector(".st-key-sample-animation .js-plotly-plot", timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        done = page.locator("[data-testid='stCaptionContainer']", has_text="samples from").inner_text()
        assert f", {label}, " in done, (label, done)
        assert "the sampler study's pick" in page.locator("[data-testid='stCaptionContainer']",
                                                          has_text="Sampler: ").inner_text()
        page.close()


def test_every_page_on_the_shipped_checkpoints(lab, tmp_path):
    from playwright.sync_api import expect

    url, browser = lab
    shots = tmp_path / "shots"
    shots.mkdir()
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    page.set_default_timeout(120_000)
    expect.set_options(timeout=120_000)
    errors, foreign = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # nothing leaves this machine: a :material/...: page icon once made every visit fetch it from Google
    page.on("request", lambda r: r.url.startswith((url, "data:", "blob:")) or foreign.append(r.url))
    page.goto(url)
    for name, (button, done) in PAGES.items():
        page.locator("[data-testid='stSidebarNav'] a", has_text=name).click()
        expect(page.locator("h2", has_text=re.compile(f"^{name}$"))).to_be_visible()
        page.wait_for_selector(IDLE)
        if button:
            page.locator(button).click()
        page.wait_for_selector(done)
        page.wait_for_selector(IDLE)
        assert page.locator("[data-testid='stException']").count() == 0, name
        assert page.locator("[data-testid='stAlertContentError']").count() == 0, \
            (name, page.locator("[data-testid='stAlertContentError']").all_inner_texts())
        page.wait_for_timeout(600)  # the player's first frames
        page.screenshot(path=str(shots / f"{name.lower()}.png"))
    page.close()
    assert foreign == []
    assert errors == []
    out = os.environ.get("MOTIONLAB_SCREENSHOTS")
    if out:
        dest = REPO / out
        dest.mkdir(parents=True, exist_ok=True)
        for f in shots.iterdir():
            shutil.copyfile(f, dest / f.name)
