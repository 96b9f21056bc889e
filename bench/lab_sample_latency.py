"""Seconds from pressing Sample to the animation, in headless Chromium on the lab's defaults; prints JSON.

    python bench/lab_sample_latency.py [--presses 2] [--port 8599]

Starts `streamlit run lab_app.py` as a user does (shipped checkpoints, default checkpoint, sampler,
number of samples and precision), opens the Sample page, waits until the page is idle (the
precision/threads measurement may still run in the background, as it would for a user who presses
at once), then presses Sample and waits for the skeleton animation. Needs /usr/bin/chromium.
"""
import argparse
import json
import re
import time

from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, IDLE, lab_server


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--presses", type=int, default=2)
    p.add_argument("--screenshot", default="", help="also save a PNG of the page after the last press")
    p.add_argument("--wait-before-press", type=float, default=0.0,
                   help="seconds to look at the page before pressing (0: press as soon as it is idle)")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    res = {"presses": []}
    with lab_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.set_default_timeout(300_000)
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(".st-key-sample-run button")
        page.wait_for_selector(IDLE)
        res["page_ready_seconds"] = round(time.perf_counter() - t0, 2)
        for i in range(a.presses):
            seed = 42 + i
            if i:  # a new seed, so this press samples afresh and its caption tells the new result
                page.locator(".st-key-sample-seed input").fill(str(seed))
                page.locator(".st-key-sample-seed input").press("Enter")
                page.wait_for_selector(IDLE)
            page.wait_for_timeout(a.wait_before_press * 1000)
            t1 = time.perf_counter()
            page.locator(".st-key-sample-run button").click()
            caption = page.get_by_text(re.compile(rf"samples from .*seed {seed}, "))
            caption.wait_for()
            page.wait_for_selector(".st-key-sample-animation .js-plotly-plot")
            shown = time.perf_counter() - t1
            page.wait_for_selector(IDLE)
            res["presses"].append({"press_to_animation_seconds": round(shown, 2),
                                   "caption": caption.first.inner_text()})
        if a.screenshot:
            page.wait_for_timeout(500)  # let plotly finish drawing
            page.screenshot(path=a.screenshot, full_page=True)
        browser.close()
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
