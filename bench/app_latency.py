"""Server-side latency of the lab; prints JSON.

    python bench/app_latency.py [--moves 30] [--renders 5]

slider_move_ms: the server's work when the denoising view settles on a step (moves themselves run
    in the browser: bench/slider_fps.py), for 8 samples of 256 frames (a kept 400-step trajectory):
    the view's payload, then read the kept state, unnormalize, build the two-panel animated figure
    and serialize it as st.plotly_chart does (return_figure_from_figure_or_data + plotly.io.to_json).
    Target < 50 ms.
sample_page_render_s: AppTest run of the Sample page after warm-up, with the model cached and
    the 8 x 256-frame result in the session (animation of 8 panels + the denoising figure). Target < 2 s.
slider_rerun_s: the same page rerun after the denoising view settles on a new step (AppTest reruns
    the whole page; in a browser only the fragment reruns), an upper bound for that round trip.
Sampling runs once, through the app (so the model sits in st.cache_resource); the slider figures
use that result. The checkpoint is a tiny model trained for one epoch on the demo clip (window 256, 400 diffusion
steps), so the numbers measure the lab, not the network.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from motionlab.testing import tiny_run

ROOT = Path(__file__).resolve().parent.parent


def bench_page(base: Path, ckpt: Path, renders: int):
    """Sample 8 x 256 frames through the app (model now in st.cache_resource), then time reruns."""
    from streamlit.testing.v1 import AppTest

    os.environ.update({"MOTIONLAB_CHECKPOINT_DIRS": str(base / "none"), "MOTIONLAB_RUNS_DIR": str(base / "runs")})
    at = AppTest.from_file(str(ROOT / "lab_app.py"), default_timeout=600)
    t = time.perf_counter()
    at.run()
    first = time.perf_counter() - t
    at.selectbox(key="sample.checkpoint").set_value(str(ckpt))
    at.slider(key="sample.num_samples").set_value(8)
    at.button(key="sample.run").click().run()
    job = at.session_state["lab.jobs"]["sample"]
    job.wait(900)
    at.run()
    assert not at.exception, at.exception
    assert [c.key for c in at.get("plotly_chart")] == ["sample.animation", "sample.denoise"]
    at.run()  # warm-up
    runs = []
    for _ in range(renders):
        t = time.perf_counter()
        at.run()
        runs.append(time.perf_counter() - t)
    steps = at.session_state["lab.sample.result"].steps
    moves = []
    for k in range(renders):
        at.session_state["sample.denoise_view"] = {"step": int(steps[(k * 37) % len(steps)])}  # a release
        t = time.perf_counter()
        at.run()
        moves.append(time.perf_counter() - t)
    assert not at.exception
    result = at.session_state["lab.sample.result"]
    return result, {"sampling_s": round(job.finished - job.started, 2), "first_page_load_s": round(first, 2),
                    "sample_page_render_s": round(statistics.median(runs), 3),
                    "slider_rerun_s": round(statistics.median(moves), 3)}


def bench_slider(r, moves: int) -> dict:
    import plotly.io as pio
    import plotly.tools

    from motionlab.lab import figures, scrubber

    rng = np.random.default_rng(0)
    times, build, sizes = [], [], []
    for _ in range(moves + 3):
        step, i = int(rng.choice(r.steps)), int(rng.integers(0, r.num_samples))
        t0 = time.perf_counter()
        scrubber.payload(r, i, step)
        kept, xt, x0 = r.denoise_state(step, i)
        fig = figures.skeleton_figure([figures.Panel(f"x_t at step {kept}", xt, r.joints),
                                       figures.Panel(f"x0 at step {kept}", x0, r.joints)], cols=2,
                                      shared_bounds=False)
        t1 = time.perf_counter()
        spec = pio.to_json(plotly.tools.return_figure_from_figure_or_data(figures.streamlit_figure(fig), True),
                           validate=False)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        build.append(t1 - t0)
        sizes.append(len(spec))
    times, build = times[3:], build[3:]  # warm-up
    return {"samples": r.num_samples, "frames": r.window, "timesteps": r.timesteps, "kept_states": len(r.steps),
            "trajectory_mb": round(r.trajectory.nbytes / 2**20, 1),
            "slider_move_ms": round(1000 * statistics.median(times), 1),
            "slider_move_ms_p90": round(1000 * float(np.percentile(times, 90)), 1),
            "figure_build_ms": round(1000 * statistics.median(build), 1),
            "figure_json_kb": round(statistics.median(sizes) / 1024)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--moves", type=int, default=30)
    p.add_argument("--renders", type=int, default=5)
    a = p.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        ckpt = tiny_run(base / "runs" / "bench256", window=256, stride=32, limit=0, epochs=1, timesteps=400,
                        frames=600, tag="bench256") / "best.pt"
        res = {"torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
               "load_avg": round(os.getloadavg()[0], 2)}
        result, page = bench_page(base, ckpt, a.renders)
        res.update(bench_slider(result, a.moves))
        res.update(page)
        res["targets"] = {"slider_move_ms": 50, "sample_page_render_s": 2}
        res["within_targets"] = res["slider_move_ms"] < 50 and res["sample_page_render_s"] < 2
    print(json.dumps(res))


if __name__ == "__main__":
    main()
