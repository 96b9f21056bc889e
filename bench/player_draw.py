"""Bytes sent and drawing cost of a skeleton animation in headless Chromium, server-built plotly figure
(figures.skeleton_figure, what st.plotly_chart sent) against the player (player.encode + static/player.js);
prints JSON.

    python bench/player_draw.py [--panels 8] [--frames 256] [--play 4] [--repeats 3]

Both run in one page with the plotly package's plotly.min.js (no Streamlit, no server), on demo-clip
windows. Per variant: bytes (the JSON the browser receives), first_paint_ms (parse or decode, build,
plot, first frame painted), then while playing for --play seconds: animation_frames_per_s (the frame
slider's label changes; the clip is 30 fps), raf_interval_ms (requestAnimationFrame timing) and
main_thread_ms_per_animation_frame (Chrome's TaskDuration via CDP, divided by the frames shown).
Medians over --repeats, variants alternating.
"""
import argparse
import json
import os
import statistics
from pathlib import Path

import plotly

from motionlab.data.demo import demo_clip
from motionlab.lab import figures, player
from motionlab.testing import CHROMIUM, CHROMIUM_ARGS, PLAYBACK_TRACE

ORIGIN = "http://player.bench"
PAGE = """<!doctype html><html><body style="margin:0"><div id="host" style="width:940px"></div>
<script src="/plotly.min.js"></script>
<script type="module">
import mount from "/player.js";
const host = document.getElementById("host");
const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
window.show = async (kind, text) => {
  Plotly.purge(host.querySelector(".js-plotly-plot") || host);
  host.innerHTML = "";
  const t0 = performance.now();
  const d = JSON.parse(text);
  if (kind === "figure") {
    const gd = document.createElement("div");
    host.appendChild(gd);
    await Plotly.newPlot(gd, d.data, d.layout, {displaylogo: false, scrollZoom: false});
    await Plotly.addFrames(gd, d.frames);
  } else {
    delete host.__player;
    mount({data: d, parentElement: host, setStateValue() {}});
    await new Promise((r) => { const w = () => host.querySelector(".skeleton-player")?.dataset.id === d.id
                                                ? r() : setTimeout(w, 1); w(); });
  }
  await painted();
  return performance.now() - t0;
};
window.ready = true;
</script></body></html>"""



def measure(page, cdp, kind: str, text: str, seconds: float) -> dict:
    paint = page.evaluate("([k, t]) => window.show(k, t)", [kind, text])
    busy = lambda: next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]  # noqa: E731
                        if m["name"] == "TaskDuration")
    page.locator(".updatemenu-button", has_text="Play").click()
    b0 = busy()
    r = page.evaluate(PLAYBACK_TRACE, ["body", seconds * 1000])
    b1 = busy()
    page.locator(".updatemenu-button", has_text="Pause").click()
    ts, labels = r["ts"], r["labels"]
    gaps = sorted(b - a for a, b in zip(ts, ts[1:]))
    shown = sum(a != b for a, b in zip(labels, labels[1:]))
    span = (ts[-1] - ts[0]) / 1000
    return {"first_paint_ms": paint, "animation_frames_per_s": shown / span,
            "raf_interval_ms": gaps[len(gaps) // 2], "main_thread_ms_per_animation_frame": (b1 - b0) * 1000 / shown}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--panels", type=int, default=8)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--play", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    clip = demo_clip(a.panels * a.frames)
    panels = [figures.Panel(f"clip #{i}", clip.xy[i * a.frames:(i + 1) * a.frames], clip.joints)
              for i in range(a.panels)]
    texts = {"figure": json.dumps(figures.skeleton_figure(panels)),
             "player": json.dumps({**player.encode(panels), "plotly": "/plotly.min.js"})}
    files = {"/": (PAGE, "text/html"), "/player.js": (player.JS, "text/javascript"),
             "/plotly.min.js": ((Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(),
                                "text/javascript")}
    runs = {k: [] for k in texts}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.route(f"{ORIGIN}/**", lambda r: r.fulfill(body=files[r.request.url[len(ORIGIN):]][0],
                                                       content_type=files[r.request.url[len(ORIGIN):]][1]))
        page.goto(f"{ORIGIN}/")
        page.wait_for_function("window.ready")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        for _ in range(a.repeats):
            for k, text in texts.items():
                runs[k].append(measure(page, cdp, k, text, a.play))
        browser.close()
    res = {"cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()], "panels": a.panels,
           "frames": a.frames, "clip_fps": 30}
    for k, rows in runs.items():
        res[k] = {"bytes": len(texts[k]), **{m: round(statistics.median(r[m] for r in rows), 1) for m in rows[0]}}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
