"""motionlab.lab.figures: the skeleton animation (frames shared across subplots, the held last frame of a
shorter panel, long clips strided at real-time speed, a still figure), the figure Streamlit gets without
validation, and the metric-ratio, loss, sample-metric and coverage figures."""
from __future__ import annotations

import json

import numpy as np

from motionlab.data.demo import demo_clip
from motionlab.evaluation.metrics import METRICS
from motionlab.lab import figures


def _panels(n=2, frames=(40, 25)):
    c = demo_clip(64)
    return [figures.Panel(f"p{i}", c.xy[:frames[i % len(frames)]], c.joints) for i in range(n)]


def test_skeleton_animation_shares_frames_across_subplots():
    fig = figures.skeleton_figure(_panels(2), fps=25)
    lay = fig["layout"]
    assert lay["meta"] == {"frame_step": 1, "num_frames": 40, "shown_frames": 40, "panels": 2}
    assert len(fig["frames"]) == 40
    animated = fig["frames"][0]["traces"]
    assert all(f["traces"] == animated and len(f["data"]) == len(animated) for f in fig["frames"])
    # two panels, each with its own axes pair, y pointing down, equal aspect
    assert {t["xaxis"] for t in fig["data"]} == {"x", "x2"}
    for s in ("", "2"):
        assert lay[f"yaxis{s}"]["autorange"] == "reversed"
        assert lay[f"yaxis{s}"]["scaleanchor"] == f"x{s}"
    # play / pause in the browser, a frame slider with one step per frame
    labels = [b["label"] for b in lay["updatemenus"][0]["buttons"]]
    assert any("Play" in x for x in labels) and any("Pause" in x for x in labels)
    play = lay["updatemenus"][0]["buttons"][0]["args"][1]
    assert play["frame"]["duration"] == 40 and play["frame"]["redraw"] is False
    assert [s["args"][0][0] for s in lay["sliders"][0]["steps"]] == [str(t) for t in range(40)]
    # bones coloured by side, and the legend names the sides once
    sides = {t["name"]: t["line"]["color"] for t in fig["data"] if t["name"] != "bounds"}
    assert sides["left"] != sides["right"]
    assert sorted(t["name"] for t in fig["data"] if t.get("showlegend")) == ["center", "left", "right"]


def test_skeleton_figure_coordinates_and_held_last_frame():
    p = _panels(2)
    fig = figures.skeleton_figure(p)
    left = next(i for i, t in enumerate(fig["data"]) if t["name"] == "left" and t["xaxis"] == "x2")
    k = fig["frames"][0]["traces"].index(left)
    # panel 2 has 25 frames: frame 39 shows its last one
    x_last = figures.untyped(fig["frames"][39]["data"][k]["x"])
    x_24 = figures.untyped(fig["frames"][24]["data"][k]["x"])
    np.testing.assert_array_equal(x_last, x_24)
    # NaN separates bone segments: 3 values per bone
    assert np.isnan(x_last[2::3]).all() and np.isfinite(x_last[0::3]).all()
    # the bounds trace spans every frame of its panel
    b = next(t for t in fig["data"] if t["name"] == "bounds" and t["xaxis"] == "x2")
    xs = p[1].xy[..., 0]
    assert b["x"][0] <= xs.min() and b["x"][1] >= xs.max()


def test_long_clips_are_strided_and_keep_real_time_speed():
    c = demo_clip(300)
    panels = [figures.Panel(str(i), c.xy, c.joints) for i in range(8)]
    fig = figures.skeleton_figure(panels, fps=30, max_panel_frames=1200)
    k = fig["layout"]["meta"]["frame_step"]
    assert k == 2 and len(fig["frames"]) == 150
    assert fig["layout"]["updatemenus"][0]["buttons"][0]["args"][1]["frame"]["duration"] == round(1000 * k / 30)


def test_still_figure_has_no_frames_and_unknown_joints_are_points():
    xy = np.random.default_rng(0).normal(100, 10, (5, 3, 2)).astype(np.float32)
    fig = figures.skeleton_figure([figures.Panel("odd", xy, ("a", "b", "c"))], animate=False, frame=3)
    assert "frames" not in fig and "sliders" not in fig["layout"]
    pts = next(t for t in fig["data"] if t["name"] == "joints")
    assert pts["mode"] == "markers"
    np.testing.assert_allclose(figures.untyped(pts["x"])[0::2], xy[3, :, 0])


def test_streamlit_figure_skips_validation_but_serializes():
    import plotly.io as pio
    import plotly.tools

    fig = figures.skeleton_figure(_panels(1))
    wrapped = figures.streamlit_figure(fig)
    out = plotly.tools.return_figure_from_figure_or_data(wrapped, validate_figure=True)
    assert out is fig
    spec = json.loads(pio.to_json(out, validate=False))
    assert len(spec["frames"]) == 40 and spec["data"][1]["x"]["dtype"] == "f4"


def test_training_figures():
    recs = [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5, "sample_metrics": {m: 1.0 for m in METRICS}}]
    assert figures.loss_figure(recs)["data"][0]["y"] == [1.0, 0.5]
    sm = figures.sample_metrics_figure(recs, {m: 2.0 for m in METRICS})
    assert [t["name"] for t in sm["data"]] == [n for m in METRICS for n in (m, "dataset baseline")]
    assert sm["data"][1]["y"] == [2.0, 2.0] and sm["layout"]["yaxis"]["type"] == "linear"
    sm = figures.sample_metrics_figure(recs, {m: 200.0 for m in METRICS})
    assert sm["layout"]["yaxis"]["type"] == "log"
    assert figures.sample_metrics_figure(recs[:1]) is None
    cov = figures.coverage_figure(100, [0, 50], 60)
    assert figures.untyped(cov["data"][0]["y"]).max() == 2
