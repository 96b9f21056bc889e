"""How fast the Sample page's denoising view scrubs in headless Chromium; prints JSON.

    python bench/slider_fps.py [--checkpoint checkpoints/long_10000/model.pt] [--samples 2] [--sweeps 6]

Starts `streamlit run lab_app.py` on the one checkpoint, samples with the lab's default sampler,
then scrubs the denoising slider back and forth across every kept position:

raf_updates_per_s: one position per animation frame (value set and "input" fired from a
    requestAnimationFrame callback, the drawing checked on the next frame): positions drawn per
    second of animation-frame time. The display's own rate (idle_raf_per_s) is the ceiling.
pointer_updates_per_s: a real mouse drag (playwright), one position per move, as drawn per
    second of animation-frame time; playwright's event dispatch paces it.
reruns_while_scrubbing: script runs (page or fragment) seen in the app's script-run state
    during both; target 0. settle_s: from releasing the slider until the full-clip view shows
    that step and the app is idle (one fragment rerun).
draw_ms: median time of one canvas redraw. payload_bytes: the kept states as sent (uint16).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, COUNT_RERUNS, IDLE, lab_server

ROOT = Path(__file__).resolve().parent.parent

# Wraps the view's draw to time it, and records each animation frame's draw count.
INSTRUMENT = """(el) => {
  const v = el.getRootNode().__scrubber;
  const draw = v.draw;
  window.__drawMs = [];
  v.draw = (i) => { const t = performance.now(); draw(i); window.__drawMs.push(performance.now() - t); };
  window.__frames = [];
  const rec = (t) => { window.__frames.push([t, Number(el.dataset.draws)]); requestAnimationFrame(rec); };
  requestAnimationFrame(rec);
}"""

RAF_SCRUB = """async (el, sweeps) => {
  const s = el.querySelector("input.slider"), n = Number(s.max) + 1;
  const steps = el.getRootNode().__scrubber.d.steps;
  const order = [];
  for (let w = 0; w < sweeps; w++)
    for (let k = w ? 1 : 0; k < n; k++) order.push(w % 2 ? n - 1 - k : k);
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  let t = await frame();
  const t0 = t;
  let late = 0;
  for (const k of order) {
    s.value = k;
    s.dispatchEvent(new Event("input", {bubbles: true}));
    t = await frame();  // the view's own callback for this frame ran before ours
    while (Number(el.dataset.drawnStep) !== steps[k]) { late += 1; t = await frame(); }
  }
  return {positions: order.length, ms: t - t0, late_frames: late};
}"""

IDLE_RAF = """async () => {
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const t0 = await frame(); let t = t0;
  for (let i = 0; i < 120; i++) t = await frame();
  return 120 * 1000 / (t - t0);
}"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "long_10000" / "model.pt"))
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--sweeps", type=int, default=6)
    a = p.parse_args()
    ckpt = Path(a.checkpoint).resolve()
    if not ckpt.is_file():
        sys.exit(f"motionlab.slider_fps: error: {ckpt} not found")
    from playwright.sync_api import expect, sync_playwright

    res = {"cpus": os.cpu_count(), "load_avg_start": [round(x, 2) for x in os.getloadavg()],
           "checkpoint": str(ckpt), "samples": a.samples}
    with tempfile.TemporaryDirectory() as d:
        ck = Path(d) / "checkpoints" / ckpt.parent.name
        ck.mkdir(parents=True)
        (ck / "model.pt").symlink_to(ckpt)
        env = {"MOTIONLAB_CHECKPOINT_DIRS": str(ck.parent), "MOTIONLAB_RUNS_DIR": str(Path(d) / "runs")}
        with lab_server(env, Path(d) / "streamlit.log", timeout=120) as url:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 2000})
                page.set_default_timeout(60_000)
                expect.set_options(timeout=60_000)
                page.goto(url)
                page.wait_for_selector(".st-key-sample-run button")
                page.wait_for_selector(IDLE)
                thumb = page.locator(".st-key-sample-num_samples input[type='range']")
                thumb.focus()
                thumb.press("Home")
                page.wait_for_selector(IDLE)
                for _ in range(a.samples - 1):
                    thumb.press("ArrowRight")
                    page.wait_for_selector(IDLE)
                expect(thumb).to_have_value(str(a.samples))
                page.locator(".st-key-sample-run button").click()
                view = page.locator(".st-key-sample-denoise_view .scrubber")
                expect(view).to_have_attribute("data-drawn-step", "0", timeout=600_000)
                page.wait_for_selector(IDLE)
                page.wait_for_timeout(1000)
                res["sampler"] = view.evaluate("el => el.getRootNode().__scrubber.d.sampler")
                res["payload_bytes"] = view.evaluate("el => el.getRootNode().__scrubber.d.bytes")
                res["payload_base64_chars"] = view.evaluate("el => el.getRootNode().__scrubber.d.points.length")
                res["idle_raf_per_s"] = round(page.evaluate(IDLE_RAF), 1)
                page.evaluate(COUNT_RERUNS)
                view.evaluate(INSTRUMENT)

                r = view.evaluate(RAF_SCRUB, a.sweeps)
                res["positions"] = int(view.locator("input.slider").get_attribute("max")) + 1
                res["raf_positions_drawn"] = r["positions"]
                res["raf_updates_per_s"] = round(r["positions"] * 1000 / r["ms"], 1)
                res["raf_late_frames"] = r["late_frames"]

                n = res["positions"]
                box = view.locator("input.slider").bounding_box()
                x_of = lambda k: box["x"] + 8 + k * (box["width"] - 16) / (n - 1)  # noqa: E731
                y = box["y"] + box["height"] / 2
                page.mouse.move(x_of(n - 1), y)
                page.mouse.down()
                start = len(page.evaluate("window.__frames"))
                for w in range(a.sweeps):
                    for k in range(1, n):
                        page.mouse.move(x_of(n - 1 - k if w % 2 == 0 else k), y)
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                frames = page.evaluate("window.__frames")[start:]
                changed = [t for (t, c), (_, c0) in zip(frames[1:], frames) if c != c0]
                res["pointer_moves"] = a.sweeps * (n - 1)
                res["pointer_frames_with_a_new_drawing"] = len(changed)
                res["pointer_updates_per_s"] = round((len(changed) - 1) * 1000 / (changed[-1] - changed[0]), 1)
                res["reruns_while_scrubbing"] = page.evaluate("window.__reruns")
                draws = sorted(page.evaluate("window.__drawMs"))
                res["draw_ms_median"] = round(draws[len(draws) // 2], 2)
                res["draw_ms_max"] = round(draws[-1], 2)
                # release on pure noise (a step not yet settled): one fragment rerun draws the whole clip there
                page.mouse.move(x_of(0), y)
                target = str(view.evaluate("el => el.getRootNode().__scrubber.d.steps[0]"))
                expect(view).to_have_attribute("data-drawn-step", target)
                t = time.perf_counter()
                page.mouse.up()
                den = page.locator(".st-key-sample-denoise")
                expect(den.locator(".annotation-text", has_text=f"x_t at step {target} ")).to_have_count(1)
                page.wait_for_selector(IDLE)
                res["settle_s"] = round(time.perf_counter() - t, 2)
                res["reruns_after_release"] = page.evaluate("window.__reruns")
                browser.close()
    res["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    res["target"] = {"updates_per_s": 30, "reruns_while_scrubbing": 0}
    res["within_target"] = (min(res["raf_updates_per_s"], res["pointer_updates_per_s"]) >= 30
                            and res["reruns_while_scrubbing"] == 0)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
