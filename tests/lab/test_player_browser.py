"""The skeleton player's browser side (motionlab/lab/static/player.js) in headless Chromium, without a server:
a page that mounts it as Streamlit would, with a payload from player.encode and the plotly package's
plotly.min.js. N titled panels, play advances the frames, the slider moves them, held joints are grey."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from motionlab.data.demo import demo_clip
from motionlab.lab import player
from motionlab.lab.figures import KNOWN_COLOR, Panel
from motionlab.testing import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

ORIGIN = "http://player.test"
PAGE = """<!doctype html><html><body style="margin:0"><div id="host" style="width:900px"></div>
<script type="module">
import mount from "/player.js";
window.mount = (data) => mount({data, parentElement: document.getElementById("host"), setStateValue() {}});
window.ready = true;
</script></body></html>"""


@pytest.fixture
def page():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not found")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    import plotly
    files = {"/": (PAGE, "text/html"), "/player.js": (player.JS, "text/javascript"),
             "/plotly.min.js": ((Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(),
                                "text/javascript")}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1000, "height": 1400})
        pg.route(f"{ORIGIN}/**", lambda r: r.fulfill(body=files[r.request.url[len(ORIGIN):]][0],
                                                     content_type=files[r.request.url[len(ORIGIN):]][1]))
        pg.set_default_timeout(30_000)
        pg.goto(f"{ORIGIN}/")
        pg.wait_for_function("window.ready")
        yield pg
        browser.close()


def mount(page, panels, **kw):
    data = {**player.encode(panels, **kw), "plotly": "/plotly.min.js"}
    page.evaluate("(d) => window.mount(d)", json.loads(json.dumps(data)))
    page.wait_for_function("(id) => document.querySelector('.skeleton-player')?.dataset.id === id", arg=data["id"])
    return data


def label(page) -> str:
    return page.locator(".slider-container text.slider-label").first.text_content()


def test_panels_titles_play_and_slider(page):
    c = demo_clip(6 * 60)
    panels = [Panel(f"clip #{i}", c.xy[i * 60:(i + 1) * 60], c.joints) for i in range(6)]
    mount(page, panels)
    assert page.locator(".annotation-text").all_text_contents() == [f"clip #{i}" for i in range(6)]
    assert sorted(page.locator(".legendtext").all_text_contents()) == ["center", "left", "right"]
    assert page.locator(".updatemenu-button").count() == 2 and label(page) == "frame 0"
    line = page.locator(".scatterlayer .trace path.js-line").first
    before = line.get_attribute("d")
    page.locator(".updatemenu-button", has_text="Play").click()
    page.wait_for_function("() => !document.querySelector('.slider-container text.slider-label')"
                           ".textContent.endsWith(' 0')")
    page.locator(".updatemenu-button", has_text="Pause").click()
    page.wait_for_timeout(200)
    assert line.get_attribute("d") != before  # the skeletons moved with the frames
    # the slider: a click near its right end jumps to a late frame
    rail = page.locator(".slider-rail-rect").first.bounding_box()
    page.mouse.click(rail["x"] + rail["width"] * 0.9, rail["y"] + rail["height"] / 2)
    page.wait_for_function("() => Number(document.querySelector('.slider-container text.slider-label')"
                           ".textContent.split(' ')[1]) > 45")
    # the same payload again (a rerun) keeps the figure; new clips rebuild it
    builds = page.locator(".skeleton-player").get_attribute("data-builds")
    mount(page, panels)
    assert page.locator(".skeleton-player").get_attribute("data-builds") == builds
    mount(page, panels[:2])
    assert page.locator(".annotation-text").count() == 2


def test_held_joints_are_grey_discs_under_the_skeleton(page):
    c = demo_clip(64)
    known = np.zeros((64, 20), bool)
    known[:8] = True
    mount(page, [Panel("given", c.xy, c.joints, known), Panel("sample #0", c.xy + 40, c.joints, known)])
    assert "given (held)" in page.locator(".legendtext").all_text_contents()
    held = page.locator(".scatterlayer .trace").first  # drawn first: under the skeleton
    fill = held.locator("path.point").first.evaluate("p => [getComputedStyle(p).fill, getComputedStyle(p).fillOpacity]")
    assert f"rgba({fill[0][4:-1]}, {fill[1]})".replace(" ", "") == KNOWN_COLOR.replace(" ", "")  # grey, see-through
    assert held.locator("path.point").count() == 2 * 20  # frame 0: every joint held in both panels
    page.locator(".updatemenu-button", has_text="Play").click()
    page.wait_for_function("() => Number(document.querySelector('.slider-container text.slider-label')"
                           ".textContent.split(' ')[1]) > 10")
    page.locator(".updatemenu-button", has_text="Pause").click()
    page.wait_for_timeout(200)
    assert held.locator("path.point").count() == 0  # past frame 7 nothing is held
