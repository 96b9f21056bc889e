"""Seconds from pressing Sample to the animation, in headless Chromium on the lab's defaults, split into
phases; prints JSON.

    python bench/lab_sample_latency.py [--presses 3] [--samples 8] [--screenshot out.png]

Starts `streamlit run lab_app.py` as a user does (shipped checkpoints, default checkpoint, sampler,
number of samples and precision), opens the Sample page, waits until the page is idle (the
precision/threads measurement may still run in the background, as it would for a user who presses
at once), then presses Sample (a new seed each time) and waits until the new animation's first frame
is painted. Needs /usr/bin/chromium.

The server is timed by bench/lab_trace/sitecustomize.py (wrapped lab functions, nothing changed in the
app); the browser by an init script (click, every websocket message's arrival and size, the DOM change
that shows the new skeletons, and the paint after it). All clocks are this machine's epoch clock.
Phases of one press, in order (they add up to the total):

  press_to_submit   click -> the job reaches the door (the rerun the click starts)
  queue             door -> job started (jobs.py submitted/started)
  model             sampling seconds (SampleResult.seconds, the caption's)
  post_processing   rest of the job thread (finished - started - model)
  job_end_to_rerun  job finished -> the page takes the result (job panel polling, st.rerun)
  before_figure     script from taking the result to the animation call
  figure_build      skeleton figure / player payload build
  figure_send       the rest of the animation call (serialising the element)
  transfer          animation call returned -> its websocket message handled in the browser
  browser_draw      that message -> the new skeletons' first frame painted
"""
import argparse
import json
import os
import re
import statistics
import tempfile
from itertools import pairwise
import time
from pathlib import Path

from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, IDLE, PLAYBACK_TRACE, lab_server

TRACE_DIR = Path(__file__).resolve().parent / "lab_trace"
ANIMATION = ".st-key-sample-animation"
PHASES = ("press_to_submit", "queue", "model", "post_processing", "job_end_to_rerun", "before_figure",
          "figure_build", "figure_send", "transfer", "browser_draw")

# Runs before the app's own scripts: records clicks on Sample, websocket messages and script-state changes.
INIT = """(() => {
  const now = () => (performance.timeOrigin + performance.now()) / 1000;
  const B = window.__bench = {msgs: [], clicks: [], states: [], armed: null};
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      this.addEventListener("message", (e) => {
        const d = e.data;
        B.msgs.push([now(), d.byteLength ?? d.size ?? d.length ?? 0]);
      });
    }
  };
  document.addEventListener("click", (e) => {
    if (e.target.closest && e.target.closest(".st-key-sample-run")) B.clicks.push(now());
  }, true);
  new MutationObserver((recs) => recs.forEach((r) => {
    if (r.attributeName === "data-test-script-state") B.states.push([now(), r.target.dataset.testScriptState]);
  })).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-test-script-state"]});
})();"""

# Watches `sel` for skeletons other than the ones shown now; records when they change and the paint after.
ARM = """(sel) => {
  const now = () => (performance.timeOrigin + performance.now()) / 1000;
  const sig = () => { const p = document.querySelector(sel + " .scatterlayer path.js-line");
                      return p ? p.getAttribute("d") : null; };
  const a = window.__bench.armed = {sig: sig(), changed: null, painted: null};
  const obs = new MutationObserver(() => {
    const s = sig();
    if (a.changed || s === null || s === a.sig) return;
    a.changed = now();
    obs.disconnect();
    requestAnimationFrame(() => setTimeout(() => { a.painted = now(); }, 0));
  });
  obs.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["d"]});
}"""


def read_trace(path: Path, since: float) -> list[dict]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["t1"] >= since]


def first(rows, ev, after=0.0, **match):
    for r in sorted(rows, key=lambda r: r["t0"]):
        if r["ev"] == ev and r["t0"] >= after and all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def phases(click: float, armed: dict, trace: list[dict], msgs: list, frames: list, idle_at: float) -> dict:
    """One press's phases (seconds) and what was sent, from the server trace and the browser's records."""
    job = first(trace, "job", click - 0.05)
    run = first(trace, "results.run_sampling", job["started"] - 0.05)
    pop = first(trace, "jobs.pop_job", job["t1"], job=True)
    chart = first(trace, "player.show", pop["t0"], key="sample.animation")
    build = [r for r in trace if r["ev"] == "player.encode"
             and pop["t0"] <= r["t0"] and r["t1"] <= chart["t1"]]  # built as the call's argument, or inside it
    inside = sum(r["t1"] - r["t0"] for r in build if r["t0"] >= chart["t0"])
    painted = armed["painted"]
    window = [m for m in msgs if chart["t0"] <= m[0] <= armed["changed"]]
    fig_msg = max(window, key=lambda m: m[1]) if window else [chart["t1"], 0]
    build_s = sum(r["t1"] - r["t0"] for r in build)
    p = {
        "press_to_submit": job["t0"] - click,
        "queue": job["started"] - job["t0"],
        "model": run["seconds"],
        "post_processing": job["t1"] - job["started"] - run["seconds"],
        "job_end_to_rerun": pop["t0"] - job["t1"],
        "before_figure": chart["t0"] - pop["t0"] - (build_s - inside),
        "figure_build": build_s,
        "figure_send": chart["t1"] - chart["t0"] - inside,
        "transfer": max(fig_msg[0], chart["t1"]) - chart["t1"],
        "browser_draw": painted - max(fig_msg[0], chart["t1"]),
    }
    total = painted - click
    runs = [r for r in trace if r["ev"] == "script_run" and click - 0.05 <= r["t0"] <= idle_at]
    denoise = [r for r in trace if r["ev"] in ("scrubber.payload", "ui.denoise_scrubber")
               or (r["ev"] in ("ui.plotly", "player.show") and r.get("key") == "sample.denoise")]
    return {
        "press_to_animation_seconds": round(total, 3),
        "phases": {k: round(v, 3) for k, v in p.items()},
        "unaccounted": round(total - sum(p.values()), 3),
        "autotune_in_job": round(sum(r["t1"] - r["t0"] for r in trace if r["ev"] == "autotune.choose"
                                     and job["started"] <= r["t0"] <= job["t1"]), 3),
        "animation_message_bytes": fig_msg[1],
        "ws_bytes_press_to_animation": sum(n for t, n in frames if click <= t <= painted),
        "ws_bytes_press_to_idle": sum(n for t, n in frames if click <= t <= idle_at),
        "after_animation": {
            "denoise_view_s": round(sum(r["t1"] - r["t0"] for r in denoise if r["t0"] >= chart["t1"]
                                        and r["ev"] != "scrubber.payload"), 3),
            "denoise_payload_s": round(sum(r["t1"] - r["t0"] for r in denoise if r["ev"] == "scrubber.payload"
                                           and r["t0"] >= chart["t1"]), 3),
            "painted_to_idle_s": round(idle_at - painted, 3),
        },
        "script_runs": {"page": sum(not r["fragment"] for r in runs), "fragment": sum(r["fragment"] for r in runs)},
    }





def play(page, seconds: float) -> dict:
    """Play the Sample animation for `seconds`: animation frames per second, rAF intervals and main-thread
    milliseconds (Chrome's TaskDuration, via CDP) per animation frame drawn."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    busy = lambda: {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}["TaskDuration"]
    page.locator(f"{ANIMATION} .updatemenu-button", has_text="Play").click()
    page.wait_for_function(f"() => !document.querySelector('{ANIMATION} .slider-container text.slider-label')"
                           ".textContent.endsWith(' 0')")
    b0 = busy()
    r = page.evaluate(PLAYBACK_TRACE, [ANIMATION, seconds * 1000])
    b1 = busy()
    page.locator(f"{ANIMATION} .updatemenu-button", has_text="Pause").click()
    ts, labels = r["ts"], r["labels"]
    gaps = sorted(b - a for a, b in pairwise(ts))
    shown = sum(a != b for a, b in pairwise(labels))
    span = (ts[-1] - ts[0]) / 1000
    return {"seconds": round(span, 2), "animation_frames_per_s": round(shown / span, 1),
            "raf_interval_ms_median": round(gaps[len(gaps) // 2], 1),
            "raf_interval_ms_p95": round(gaps[int(len(gaps) * 0.95)], 1),
            "main_thread_ms_per_animation_frame": round((b1 - b0) * 1000 / max(shown, 1), 2)}


def set_samples(page, n: int) -> None:
    """Move the Number of samples slider to n with the keyboard, as a user can."""
    thumb = page.locator(".st-key-sample-num_samples input[type='range']")
    top = int(thumb.get_attribute("max"))
    down = n > top // 2
    thumb.focus()
    thumb.press("End" if down else "Home")
    for _ in range(top - n if down else n - 1):
        thumb.press("ArrowLeft" if down else "ArrowRight")
    page.wait_for_function("([el, n]) => el.value === n", arg=[thumb.element_handle(), str(n)])
    page.wait_for_timeout(500)
    page.wait_for_selector(IDLE)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--presses", type=int, default=3)
    p.add_argument("--samples", type=int, default=0, help="number of samples (0: the page's default, 8)")
    p.add_argument("--screenshot", default="", help="also save a PNG of the page after the last press")
    p.add_argument("--play", type=float, default=4.0, help="then play the animation this many seconds (0: no)")
    p.add_argument("--wait-before-press", type=float, default=0.0,
                   help="seconds to look at the page before pressing (0: press as soon as it is idle)")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    res = {"cpus": os.cpu_count(), "load_avg_start": [round(x, 2) for x in os.getloadavg()], "presses": []}
    with tempfile.TemporaryDirectory() as d:
        trace = Path(d) / "trace.jsonl"
        env = {"MOTIONLAB_BENCH_TRACE": str(trace),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(TRACE_DIR), os.environ.get("PYTHONPATH", "")]))}
        with lab_server(env, Path(d) / "streamlit.log", timeout=120) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.set_default_timeout(300_000)
            page.add_init_script(INIT)
            frames = []  # (epoch s, bytes) of every websocket frame the page receives, from playwright
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda f: frames.append((time.time(), len(f) if isinstance(f, (bytes, str)) else 0))))
            t0, e0 = time.perf_counter(), time.time()
            page.goto(url)
            page.wait_for_selector(".st-key-sample-run button")
            page.wait_for_selector(IDLE)
            ready = time.time()
            res["page_ready_seconds"] = round(time.perf_counter() - t0, 2)
            nav = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0]; "
                                "return {dom_content_loaded: n.domContentLoadedEventEnd / 1000}; }")
            first_run = first(read_trace(trace, e0), "script_run", e0)
            res["page_load"] = {
                "dom_content_loaded_s": round(nav["dom_content_loaded"], 3),
                "first_ws_message_s": round(page.evaluate("window.__bench.msgs[0][0]") - e0, 3),
                "first_script_run_s": round(first_run["t1"] - first_run["t0"], 3) if first_run else None,
                "ws_bytes": sum(n for t, n in frames if t <= ready),
            }
            if a.samples:
                set_samples(page, a.samples)
            for i in range(a.presses):
                seed = 42 + i
                if i:  # a new seed, so this press samples afresh and draws new skeletons
                    page.locator(".st-key-sample-seed input").fill(str(seed))
                    page.locator(".st-key-sample-seed input").press("Enter")
                    page.wait_for_selector(IDLE)
                page.wait_for_timeout(a.wait_before_press * 1000)
                page.evaluate(ARM, ANIMATION)
                since = time.time()
                page.locator(".st-key-sample-run button").click()
                caption = page.get_by_text(re.compile(rf"samples from .*seed {seed}, "))
                caption.wait_for()
                page.wait_for_function("() => window.__bench.armed.painted")
                page.wait_for_selector(IDLE)
                page.wait_for_timeout(300)  # a rerun that follows at once counts too
                page.wait_for_selector(IDLE)
                idle_at = time.time()
                b = page.evaluate("window.__bench")
                row = phases(b["clicks"][-1], b["armed"], read_trace(trace, since - 1), b["msgs"], frames, idle_at)
                row["caption"] = caption.first.inner_text()
                res["presses"].append(row)
            if a.play and a.presses:
                res["playing"] = play(page, a.play)
            other = browser.new_page(viewport={"width": 1400, "height": 2000})  # a second visitor, warm server
            t0 = time.perf_counter()
            other.goto(url)
            other.wait_for_selector(".st-key-sample-run button")
            other.wait_for_selector(IDLE)
            res["page_ready_seconds_warm_server"] = round(time.perf_counter() - t0, 2)
            other.close()
            if a.screenshot:
                page.wait_for_timeout(500)  # let plotly finish drawing
                page.screenshot(path=a.screenshot, full_page=True)
            browser.close()
    rows = res["presses"]
    res["median"] = rows and {"press_to_animation_seconds": statistics.median(r["press_to_animation_seconds"] for r in rows),
                     **{k: round(statistics.median(r["phases"][k] for r in rows), 3) for k in PHASES}}
    res["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
