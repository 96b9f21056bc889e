"""K browser sessions pressing Sample at the same moment, on the Sample page's defaults; prints JSON.

    python bench/lab_sessions.py [--sessions 1 3 8] [--seed 42]

For each K, starts `streamlit run lab_app.py` as the README says (motionlab.testing.lab_server: shipped
checkpoints, default checkpoint, sampler, number of samples and precision), opens the Sample page in K
headless Chromium sessions (one browser, K contexts: K Streamlit sessions), waits until every page is idle,
then has every page click Sample at one wall-clock moment (a timer in each page). Per session: seconds from
that moment to its result's caption and skeleton animation, the queue place it was shown (the lab admits
one sampling job per slot, slots sized to the CPUs: on 2 CPUs one at a time, the rest wait), and errors
(a timeout, an exception or error box on the page). Per K: the server's peak resident memory (VmHWM of a
fresh server). A press is what bench/lab_sample_latency.py times (motionlab.testing.SAMPLE_BUTTON,
sample_caption, SAMPLE_ANIMATION). Needs /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time

from motionlab.testing import (CHROMIUM, CHROMIUM_ARGS, IDLE, PAGE_ERRORS, SAMPLE_ANIMATION, SAMPLE_BUTTON,
                               lab_server, memory_kb, sample_caption, server_pid)

QUEUE = re.compile(r"waiting for a free slot, (\d+) of (\d+) in the queue")


async def _session(browser, url: str, timeout_s: float):
    ctx = await browser.new_context(viewport={"width": 1400, "height": 2000})
    page = await ctx.new_page()
    page.set_default_timeout(timeout_s * 1000)
    await page.goto(url)
    await page.wait_for_selector(SAMPLE_BUTTON)
    await page.wait_for_selector(IDLE)
    return ctx, page


async def _press(page, at: float, seed: int, timeout_s: float) -> dict:
    """Click Sample at epoch second `at` (a timer in the page), wait for the result; the row of this session."""
    places = []

    async def watch():  # the queue place the page shows while it waits
        while True:
            try:
                m = QUEUE.search(await page.inner_text("body", timeout=2000))
            except Exception:  # noqa: BLE001 - a page mid-render; look again
                m = None
            if m:
                places.append(int(m.group(1)))
            await asyncio.sleep(0.25)

    await page.evaluate("([sel, at]) => setTimeout(() => document.querySelector(sel).click(), at * 1000 - Date.now())",
                        [SAMPLE_BUTTON, at])
    watcher = asyncio.create_task(watch())
    row = {}
    try:
        await page.get_by_text(sample_caption(seed)).first.wait_for(timeout=timeout_s * 1000)
        await page.wait_for_selector(SAMPLE_ANIMATION, timeout=timeout_s * 1000)
        row["press_to_animation_seconds"] = round(time.time() - at, 2)
        row["errors"] = [(await e.inner_text())[:200] for e in await page.query_selector_all(PAGE_ERRORS)]
    except Exception as e:  # noqa: BLE001 - reported, not raised: the other sessions go on
        row["press_to_animation_seconds"] = None
        row["errors"] = [f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"]
    finally:
        watcher.cancel()
    row["queue_place_shown"] = max(places) if places else 0
    return row


async def _round(k: int, seed: int, timeout_s: float) -> dict:
    from playwright.async_api import async_playwright

    with lab_server(timeout=180) as url:
        pid = server_pid(url)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            t0 = time.time()
            opened = await asyncio.gather(*[_session(browser, url, timeout_s) for _ in range(k)])
            ready = time.time() - t0
            rss_before = memory_kb(pid, "VmRSS")
            at = time.time() + 2.0  # every page clicks at this moment
            rows = await asyncio.gather(*[_press(page, at, seed, timeout_s) for _, page in opened])
            peak = memory_kb(pid, "VmHWM")
            for ctx, _ in opened:
                await ctx.close()
            await browser.close()
    times = [r["press_to_animation_seconds"] for r in rows if r["press_to_animation_seconds"] is not None]
    return {"sessions": k, "pages_ready_seconds": round(ready, 1),
            "press_to_animation_seconds": sorted(times),
            "min_max": [min(times), max(times)] if times else None,
            "sessions_with_errors": sum(bool(r["errors"]) for r in rows),
            "server_rss_before_press_mb": round(rss_before / 1024) if rss_before else None,
            "server_peak_rss_mb": round(peak / 1024) if peak else None,
            "per_session": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 3, 8])
    ap.add_argument("--seed", type=int, default=42, help="the page's default seed")
    ap.add_argument("--timeout", type=float, default=600, help="seconds a session may wait for its animation")
    a = ap.parse_args()
    res = {"cpus": os.cpu_count(), "load_avg_start": [round(x, 2) for x in os.getloadavg()], "rounds": []}
    for k in a.sessions:
        res["rounds"].append(asyncio.run(_round(k, a.seed, a.timeout)))
    res["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
