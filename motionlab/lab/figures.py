"""Plotly figure builders, as plain figure dicts.

Skeleton animations put every panel in one figure (one subplot per clip) with shared frames, so a
single play button and frame slider drive them all and playback runs in the browser. Axes are in
image coordinates with y pointing down (autorange "reversed"), equal aspect, and fixed for the
whole animation: an invisible per-panel "bounds" trace spans the clip's extent over all frames.

Coordinates travel as base64 float32 typed arrays ({"dtype": "f4", "bdata": ...}; NaN separates
bone segments), which keeps the figure small and fast to build. Building a plotly
graph_objects.Figure would validate every frame's traces (hundreds of ms for 256 frames);
`streamlit_figure` hands the prebuilt dict to st.plotly_chart without that pass.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np
from plotly.basedatatypes import BaseFigure

from motionlab.evaluation.metrics import METRICS
from motionlab.formats.render import COLORS as RGB
from motionlab.formats.render import square_bounds
from motionlab.data.skeleton import bones_for

SIDES = ("center", "left", "right")
COLORS = {s: "rgb({}, {}, {})".format(*c) for s, c in RGB.items()}
MAX_PANEL_FRAMES = 4096   # panels x animation frames; longer clips are shown every k-th frame
PANEL_HEIGHT = 300
KNOWN_COLOR = "rgba(120, 120, 120, 0.45)"
PAD = 0.06                # margin around a panel's skeleton, as a fraction of its extent


@dataclass
class Panel:
    title: str
    xy: np.ndarray        # (T, J, 2) pixels, y down
    joints: tuple
    known: np.ndarray | None = None  # (T, J) bool: joints held to given values, drawn with a grey halo

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])


def typed(a) -> dict:
    """A numpy array as a plotly.js typed-array spec (float32, little endian)."""
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": "f4", "bdata": base64.b64encode(a.tobytes()).decode("ascii")}


def untyped(spec) -> np.ndarray:
    """Inverse of `typed` (also passes lists through); for tests and checks."""
    if isinstance(spec, dict):
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<f4")
    return np.asarray(spec, dtype=np.float32)


def _side_layout(joints) -> dict[str, np.ndarray]:
    """For each side, joint indices of its bone polyline with -1 between segments."""
    bones = bones_for(joints)
    out = {}
    for s in SIDES:
        idx = [v for a, b, side in bones if side == s for v in (a, b, -1)]
        out[s] = np.array(idx, dtype=np.int64)
    used = {i for a, b, _ in bones for i in (a, b)}
    loose = [j for j in range(len(joints)) if j not in used]
    if loose:  # joints of an unknown skeleton: points only
        out["joints"] = np.array([v for j in loose for v in (j, -1)], dtype=np.int64)
    return out


def _polyline(xy: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(T, J, 2) -> (T, len(idx), 2) with NaN where idx == -1."""
    a = xy[:, np.maximum(idx, 0), :].astype(np.float32)
    a[:, idx < 0, :] = np.nan
    return a


def frame_step(num_panels: int, num_frames: int, max_panel_frames: int = MAX_PANEL_FRAMES) -> int:
    return max(1, math.ceil(num_panels * num_frames / max_panel_frames))


def _grid(n: int, cols: int):
    rows = math.ceil(n / cols)
    gx, gy, title_h = 0.01, 0.02, 0.06 / max(1, rows) + 0.02
    cells = []
    for i in range(n):
        r, c = divmod(i, cols)
        x = [c / cols + gx, (c + 1) / cols - gx]
        y = [1 - (r + 1) / rows + gy, 1 - r / rows - title_h]
        cells.append((x, y))
    return rows, cells


def _add_playback(fig: dict, lines: list[dict], animated: list[int], shown: list[int], k: int, fps: float) -> None:
    """The animation frames (only the skeleton traces change) and the play/pause buttons and frame slider."""
    layout = fig["layout"]
    frames = []
    for t in shown:
        fd = []
        for per in lines:
            for _, poly in per.items():
                a = poly[min(t, len(poly) - 1)]
                fd.append({"x": typed(a[:, 0]), "y": typed(a[:, 1])})
        frames.append({"name": str(t), "data": fd, "traces": animated})
    fig["frames"] = frames
    duration = max(1, round(1000 * k / max(fps, 1e-3)))
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}, "transition": {"duration": 0}}
    many = len(shown) > 30
    layout["updatemenus"] = [{
        "type": "buttons", "direction": "left", "showactive": False, "x": 0, "y": 0, "xanchor": "left",
        "yanchor": "top", "pad": {"t": 48, "r": 10},
        "buttons": [
            {"label": "▶ Play", "method": "animate",
             "args": [None, {"mode": "immediate", "fromcurrent": True, "transition": {"duration": 0},
                             "frame": {"duration": duration, "redraw": False}}]},
            {"label": "❚❚ Pause", "method": "animate", "args": [[None], still]},
        ]}]
    layout["sliders"] = [{
        "active": 0, "x": 0.16, "len": 0.84, "y": 0, "yanchor": "top", "pad": {"t": 40, "b": 0},
        "currentvalue": {"prefix": "frame ", "visible": True, "xanchor": "left", "font": {"color": "#333"}},
        "font": {"color": "rgba(0,0,0,0)"} if many else {},
        "ticklen": 0 if many else 5, "minorticklen": 0 if many else 4,
        "tickcolor": "rgba(0,0,0,0)" if many else "#333",
        "steps": [{"label": str(t), "method": "animate", "args": [[str(t)], still]} for t in shown]}]


def skeleton_figure(panels: list[Panel], fps: float = 30.0, cols: int | None = None, animate: bool = True,
                    frame: int = 0, shared_bounds: bool = True, max_panel_frames: int = MAX_PANEL_FRAMES,
                    panel_height: int = PANEL_HEIGHT, title: str | None = None) -> dict:
    """Skeleton panels in one figure; animated with play/pause and a frame slider, or a still.

    Clips shorter than the longest hold their last frame. With many panels or long clips every
    k-th frame is shown (k = frame_step(...)) and the frame duration grows by k, so playback keeps
    real-time speed. layout["meta"] records k and the frame counts. (About 70 lines: one pass over
    the panels builds each one's axes, title, bounds and traces, which share its axis names; the
    playback part is _add_playback.)
    """
    if not panels:
        raise ValueError("no clips to show")
    n = len(panels)
    cols = cols or min(n, 4)
    rows, cells = _grid(n, cols)
    T = max(p.num_frames for p in panels)
    k = frame_step(n, T, max_panel_frames) if animate else 1
    shown = list(range(0, T, k)) if animate else [min(max(int(frame), 0), T - 1)]
    common = square_bounds([p.xy for p in panels], PAD) if shared_bounds else None
    data, layout, animated = [], {}, []
    lines = []  # per panel: {trace_index: (T, L, 2) polyline}
    first_known = next((i for i, p in enumerate(panels) if p.known is not None), None)
    annotations = []
    for i, (p, (dx, dy)) in enumerate(zip(panels, cells)):
        s = "" if i == 0 else str(i + 1)
        x0, y0, x1, y1 = common or square_bounds([p.xy], PAD)
        layout[f"xaxis{s}"] = {"domain": dx, "anchor": f"y{s}", "autorange": True, "showgrid": False,
                               "zeroline": False, "showticklabels": False, "ticks": "", "showline": True,
                               "mirror": True, "linecolor": "#d0d0d0"}
        layout[f"yaxis{s}"] = {"domain": dy, "anchor": f"x{s}", "autorange": "reversed", "scaleanchor": f"x{s}",
                               "scaleratio": 1, "showgrid": False, "zeroline": False, "showticklabels": False,
                               "ticks": "", "showline": True, "mirror": True, "linecolor": "#d0d0d0"}
        annotations.append({"text": p.title, "x": (dx[0] + dx[1]) / 2, "y": dy[1], "xref": "paper",
                            "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 12}})
        data.append({"type": "scatter", "x": [x0, x1], "y": [y0, y1], "mode": "markers", "name": "bounds",
                     "marker": {"opacity": 0, "size": 1}, "hoverinfo": "skip", "showlegend": False,
                     "xaxis": f"x{s}", "yaxis": f"y{s}"})
        per = {}
        if p.known is not None:  # under the skeleton: grey discs on the given (held) joints
            held = np.where(np.asarray(p.known, bool)[..., None], p.xy, np.nan).astype(np.float32)
            f0 = held[min(shown[0], len(held) - 1)]
            per[len(data)] = held
            animated.append(len(data))
            data.append({"type": "scatter", "x": typed(f0[:, 0]), "y": typed(f0[:, 1]), "name": "given (held)",
                         "legendgroup": "given", "showlegend": i == first_known,
                         "mode": "markers", "marker": {"color": KNOWN_COLOR, "size": 13},
                         "hoverinfo": "skip", "xaxis": f"x{s}", "yaxis": f"y{s}"})
        for side, idx in _side_layout(p.joints).items():
            poly = _polyline(p.xy, idx)
            f0 = poly[min(shown[0], len(poly) - 1)]
            color = COLORS.get(side, COLORS["center"])
            tr = {"type": "scatter", "x": typed(f0[:, 0]), "y": typed(f0[:, 1]), "name": side,
                  "legendgroup": side, "showlegend": i == 0 and side != "joints",
                  "mode": "markers" if side == "joints" else "lines+markers",
                  "line": {"color": color, "width": 3}, "marker": {"color": color, "size": 5},
                  "hoverinfo": "skip", "xaxis": f"x{s}", "yaxis": f"y{s}"}
            per[len(data)] = poly
            animated.append(len(data))
            data.append(tr)
        lines.append(per)
    height = rows * panel_height + (110 if animate else 40) + (30 if title else 0)
    layout.update({"height": height, "margin": {"l": 10, "r": 10, "t": 30 if title else 10,
                                                "b": 100 if animate else 10},
                   "annotations": annotations, "plot_bgcolor": "white", "paper_bgcolor": "white",
                   "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
                   "hovermode": False, "dragmode": "pan", "uirevision": "skeleton"})
    if title:
        layout["title"] = {"text": title, "x": 0, "font": {"size": 14}}
    layout["meta"] = {"frame_step": k, "num_frames": T, "shown_frames": len(shown), "panels": n}
    fig = {"data": data, "layout": layout}
    if not animate:
        return fig
    _add_playback(fig, lines, animated, shown, k, fps)
    return fig


def panels_from_pixels(pixels, joints, titles) -> list[Panel]:
    """(N, W, C) channels -> Panels with (W, J, 2) arrays."""
    px = np.asarray(pixels, np.float32)
    j = len(joints)
    return [Panel(t, px[i].reshape(px.shape[1], j, 2), tuple(joints)) for i, t in enumerate(titles)]


def loss_figure(records: list[dict], title: str = "training loss") -> dict:
    ep = [r["epoch"] for r in records if "loss" in r]
    loss = [r["loss"] for r in records if "loss" in r]
    return {"data": [{"type": "scatter", "mode": "lines+markers" if len(ep) < 60 else "lines", "x": ep, "y": loss,
                      "name": "loss"}],
            "layout": {"height": 320, "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
                       "title": {"text": title, "x": 0}, "xaxis": {"title": {"text": "epoch"}},
                       "yaxis": {"title": {"text": "loss"}, "type": "log"}}}


def sample_metrics_figure(records: list[dict], baseline: dict | None = None) -> dict | None:
    """Six small charts of the monitored sample metrics vs epoch, baseline dashed; None when absent.

    A chart whose values (with the baseline) span more than a decade uses a log axis.
    """
    recs = [r for r in records if isinstance(r.get("sample_metrics"), dict)]
    if not recs:
        return None
    data, layout, ann = [], {}, []
    cols = 3
    for i, m in enumerate(METRICS):
        s = "" if i == 0 else str(i + 1)
        r, c = divmod(i, cols)
        dx = [c / cols + 0.04, (c + 1) / cols - 0.02]
        dy = [1 - (r + 1) / 2 + 0.1, 1 - r / 2 - 0.08]
        ep = [x["epoch"] for x in recs if isinstance(x["sample_metrics"].get(m), (int, float))]
        ys = [x["sample_metrics"][m] for x in recs if isinstance(x["sample_metrics"].get(m), (int, float))]
        vals = [v for v in ys + ([baseline[m]] if baseline and m in baseline else []) if v > 0]
        log = bool(vals) and max(vals) / min(vals) > 10
        layout[f"xaxis{s}"] = {"domain": dx, "anchor": f"y{s}", "title": {"text": "epoch"} if r == 1 else None}
        layout[f"yaxis{s}"] = {"domain": dy, "anchor": f"x{s}", "type": "log" if log else "linear"}
        data.append({"type": "scatter", "mode": "lines+markers" if len(ep) < 60 else "lines", "x": ep, "y": ys,
                     "name": m, "showlegend": False, "xaxis": f"x{s}", "yaxis": f"y{s}", "line": {"color": "#1f77b4"}})
        if baseline and m in baseline and ep:
            data.append({"type": "scatter", "mode": "lines", "x": [min(ep), max(ep)], "y": [baseline[m]] * 2,
                         "name": "dataset baseline", "legendgroup": "baseline", "showlegend": i == 0,
                         "xaxis": f"x{s}", "yaxis": f"y{s}", "line": {"color": "black", "dash": "dash", "width": 1.5},
                         "hovertemplate": f"baseline {baseline[m]:.4g}<extra></extra>"})
        ann.append({"text": m, "xref": "paper", "yref": "paper", "x": (dx[0] + dx[1]) / 2, "y": dy[1],
                    "xanchor": "center", "yanchor": "bottom", "showarrow": False})
    layout.update({"height": 480, "margin": {"l": 50, "r": 10, "t": 50, "b": 40}, "annotations": ann,
                   "title": {"text": "sample metrics vs epoch", "x": 0},
                   "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.08, "yanchor": "bottom"}})
    return {"data": data, "layout": layout}


def coverage_figure(num_frames: int, starts, window: int) -> dict:
    """How often each frame of the clip falls inside a training window."""
    cover = np.zeros(num_frames, np.int32)
    for s in np.asarray(starts, np.int64):
        cover[s:s + window] += 1
    return {"data": [{"type": "scatter", "mode": "lines", "x": typed(np.arange(num_frames)), "y": typed(cover),
                      "fill": "tozeroy", "name": "windows", "line": {"color": "#1f77b4"}}],
            "layout": {"height": 200, "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
                       "title": {"text": f"windows covering each frame ({len(starts)} windows)", "x": 0},
                       "xaxis": {"title": {"text": "frame"}}, "yaxis": {"title": {"text": "windows"}}}}


class PrebuiltFigure(BaseFigure):
    """A figure dict that st.plotly_chart takes as already validated; see streamlit_figure."""

    def __init__(self, d: dict):  # deliberately no BaseFigure.__init__: nothing is parsed
        object.__setattr__(self, "_prebuilt", d)

    def __setattr__(self, k, v):
        object.__setattr__(self, k, v)

    def to_dict(self) -> dict:
        return self._prebuilt

    def to_plotly_json(self) -> dict:
        return self._prebuilt

    def __repr__(self) -> str:
        return f"PrebuiltFigure({len(self._prebuilt.get('data', []))} traces)"


def streamlit_figure(fig: dict) -> PrebuiltFigure:
    """Wrap a figure dict for st.plotly_chart without re-validating it trace by trace.

    st.plotly_chart turns a dict into a graph_objects.Figure (validating every animation frame,
    hundreds of ms for 256 frames) but takes a BaseFigure's to_dict() as already validated. The
    builders here emit valid plotly JSON, so this only skips the redundant pass.
    """
    return PrebuiltFigure(fig)
