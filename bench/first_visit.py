"""Seconds from opening the lab to the Sample page's form on a server started just before, in headless
Chromium; prints JSON.

    python bench/first_visit.py [--servers 4] [--after 2]

Starts `streamlit run lab_app.py` `--servers` times, one after the other on one port, and opens it
`--after` seconds after each start (a user reading the printed URL), in one browser: the first server's
visit is a browser that never saw the lab (nothing cached), the later ones a browser that did; each is
followed by a second tab on the same, now warm, server. Needs /usr/bin/chromium.
"""
import argparse
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, IDLE, SAMPLE_BUTTON, free_port, lab_server


def visit(context, url: str) -> float:
    page = context.new_page()
    page.set_default_timeout(120_000)
    t0 = time.perf_counter()
    page.goto(url)
    page.locator("h2", has_text=re.compile("^Sample$")).wait_for()
    page.wait_for_selector(SAMPLE_BUTTON)
    page.wait_for_selector(IDLE)
    dt = round(time.perf_counter() - t0, 3)
    page.close()
    return dt


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--servers", type=int, default=4)
    p.add_argument("--after", type=float, default=2.0)
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory() as d, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1500})
        for k in range(a.servers):
            env = {"MOTIONLAB_RUNS_DIR": str(Path(d) / "runs")}
            with lab_server(env, Path(d) / f"streamlit{k}.log", timeout=120, port=port) as url:
                time.sleep(a.after)
                rows.append({"fresh_server": visit(context, url), "second_tab": visit(context, url)})
        browser.close()
    later = rows[1:]
    print(json.dumps({"cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()], "after_s": a.after,
                      "servers": rows, "browser_never_saw_the_lab": rows[0]["fresh_server"],
                      "browser_saw_it_before_median": statistics.median(r["fresh_server"] for r in later) if later else None,
                      "second_tab_median": statistics.median(r["second_tab"] for r in rows)}, indent=1))


if __name__ == "__main__":
    main()
