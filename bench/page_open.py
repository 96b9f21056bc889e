"""Seconds from opening each page of the lab to its main element, in headless Chromium; prints JSON.

    python bench/page_open.py [--rounds 3] [--think 0]

Starts `streamlit run lab_app.py` on the shipped checkpoints (a fresh runs folder, so the shipped view)
and, in each round, opens a new tab on the lab and clicks through the pages in the sidebar: each
page's time runs from the click (or, for the first, from page.goto) to its main element being drawn
and the page idle. Nothing is pressed: Metrics shows the releases' precomputed N = 256 rows, Sample and
Edit their forms, Dataset the clip, Training the longest shipped curve. Round 1 is a fresh server (the
imports, the checkpoint listing and the first model load happen there); later rounds a warm one.
--think S waits S seconds on each page before the next click, as a reader does (0: a robot clicking on
at once).
Needs /usr/bin/chromium and data/uptown_funk.json.
"""
import argparse
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, IDLE, SAMPLE_BUTTON, lab_server

PAGES = {  # page: what shows it is there
    "Sample": SAMPLE_BUTTON,
    "Metrics": ".st-key-metrics-intervals .js-plotly-plot",
    "Compare": ".st-key-compare-run button",
    "Edit": ".st-key-edit-run button",
    "Dataset": ".st-key-dataset-animation .js-plotly-plot",
    "Training": ".st-key-training-loss .js-plotly-plot",
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--think", type=float, default=0.0)
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    rounds = []
    with tempfile.TemporaryDirectory() as d:
        env = {"MOTIONLAB_RUNS_DIR": str(Path(d) / "runs")}
        with lab_server(env, Path(d) / "streamlit.log", timeout=120) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for _ in range(a.rounds):
                page = browser.new_page(viewport={"width": 1400, "height": 1500})
                page.set_default_timeout(120_000)
                row = {}
                for i, (name, done) in enumerate(PAGES.items()):
                    t0 = time.perf_counter()
                    if i == 0:
                        page.goto(url)
                    else:
                        page.locator("[data-testid='stSidebarNav'] a", has_text=name).click()
                    page.locator("h2", has_text=re.compile(f"^{name}$")).wait_for()
                    page.wait_for_selector(done)
                    page.wait_for_selector(IDLE)
                    row[name] = round(time.perf_counter() - t0, 3)
                    time.sleep(a.think)
                rounds.append(row)
                page.close()
            browser.close()
    out = {"cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()], "think_s": a.think, "rounds": rounds,
           "fresh_server": rounds[0],
           "warm_server_median": {k: round(statistics.median(r[k] for r in rounds[1:]), 3) for k in PAGES}
           if len(rounds) > 1 else None}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
