"""Skeleton animations drawn by plotly.js in the browser from clips sent once.

The server used to build a plotly figure with one frame per shown time step and panel (2.4 MB of JSON
for 8 clips of 256 frames, 0.5-1 s for the browser to take in). Now `show` sends each panel's frames
as uint16 inside a square box fitted to that panel (0..65534 across the box, 65535 for a missing
joint), its held joints as bits, and the display bounds; static/player.js builds the figure and its
frames with plotly.js (the copy the plotly package ships, served by Streamlit's component file route).

All panels share one pair of axes, each mapped into its own square cell (titles as annotations, a
border shape per panel), and each joint is one marker: five traces in all instead of four per panel,
which halves plotly's work per animation frame (bench/player_draw.py). Play/pause, the frame slider,
titles, left/right colours, shared or per-panel bounds and the greyed held joints are as in
figures.skeleton_figure, which tests and bench/app_latency.py still use. Unlike there, panning moves all
panels together, and a joint's marker takes the joint's side colour (not each bone end's).
"""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np

from motionlab.data.skeleton import side
from motionlab.formats.render import square_bounds
from motionlab.lab.figures import (COLORS, KNOWN_COLOR, MAX_PANEL_FRAMES, PAD, PANEL_HEIGHT, SIDES, Panel,
                                   _side_layout, frame_step)

SCALE = 65534
MISSING = 65535
STATIC = Path(__file__).parent / "static"
JS = (STATIC / "player.js").read_text()
CSS = (STATIC / "player.css").read_text()


def _box(xy: np.ndarray) -> list[float]:
    """Square (x0, y0, side) around the finite points of (..., 2); (0, 0, 512) when there are none."""
    pts = xy.reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if not len(pts):
        return [0.0, 0.0, 512.0]
    lo, hi = pts.min(0), pts.max(0)
    half = max(float((hi - lo).max()) / 2, 0.5)
    c = (lo + hi) / 2
    return [float(c[0] - half), float(c[1] - half), 2 * half]


def quantize(xy: np.ndarray, box) -> np.ndarray:
    """(..., 2) pixels -> uint16 positions in the square box; MISSING where a joint is not finite."""
    x0, y0, side = box
    with np.errstate(invalid="ignore"):
        q = np.rint((xy - np.array([x0, y0])) / side * SCALE)
    bad = ~np.isfinite(q).all(-1, keepdims=True)
    return np.where(bad, MISSING, np.clip(np.nan_to_num(q), 0, SCALE)).astype("<u2")


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def encode(panels: list[Panel], fps: float = 30.0, cols: int | None = None, shared_bounds: bool = True,
           panel_height: int = PANEL_HEIGHT, title: str | None = None,
           max_panel_frames: int = MAX_PANEL_FRAMES) -> dict:
    """What static/player.js needs, JSON-ready. With many panels or long clips every k-th frame is sent
    (k = figures.frame_step) and a frame lasts k / fps; a panel shorter than the longest holds its last
    frame, which it sends once."""
    if not panels:
        raise ValueError("no clips to show")
    n, T = len(panels), max(p.num_frames for p in panels)
    k = frame_step(n, T, max_panel_frames)
    common = list(square_bounds([p.xy for p in panels], PAD)) if shared_bounds else None
    skeletons, out, h, nbytes = {}, [], hashlib.blake2b(digest_size=8), 0
    for p in panels:
        own = list(range(0, p.num_frames, k))
        if (T - 1) // k * k >= p.num_frames and own[-1] != p.num_frames - 1:
            own.append(p.num_frames - 1)  # held while the longer panels play on
        xy = np.asarray(p.xy, np.float64)[own]
        box = _box(xy)
        q = quantize(xy, box)
        sk = skeletons.setdefault(tuple(p.joints), len(skeletons))
        entry = {"title": p.title, "skeleton": sk, "frames": len(own), "box": [round(v, 4) for v in box],
                 "bounds": common or list(square_bounds([p.xy], PAD)), "points": _b64(q), "held": None}
        h.update(q.tobytes() + p.title.encode() + repr(entry["bounds"]).encode())
        nbytes += q.nbytes
        if p.known is not None:
            bits = np.packbits(np.asarray(p.known, bool)[own].ravel())
            entry["held"] = _b64(bits)
            h.update(bits.tobytes())
            nbytes += bits.nbytes
        out.append(entry)
    skel = [{"joints": len(j), "sides": [SIDES.index(side(n)) for n in j],
             "lines": {s: idx.tolist() for s, idx in _side_layout(j).items() if s in SIDES}} for j in skeletons]
    h.update(repr((fps, cols, panel_height, title, k, skel)).encode())
    return {"id": h.hexdigest(), "fps": float(fps), "step": k, "num_frames": T, "cols": cols or min(n, 4),
            "panel_height": int(panel_height), "title": title, "panels": out, "skeletons": skel,
            "colors": COLORS, "known_color": KNOWN_COLOR, "bytes": nbytes}


def decode(payload: dict) -> list[np.ndarray]:
    """Each panel's sent frames as (frames, J, 2) pixels, NaN for a missing joint (what player.js draws)."""
    out = []
    for e in payload["panels"]:
        j = payload["skeletons"][e["skeleton"]]["joints"]
        q = np.frombuffer(base64.b64decode(e["points"]), "<u2").reshape(e["frames"], j, 2)
        x0, y0, side = e["box"]
        xy = q / SCALE * side + np.array([x0, y0])
        out.append(np.where((q == MISSING).any(-1, keepdims=True), np.nan, xy))
    return out


def held(payload: dict, i: int) -> np.ndarray | None:
    """Panel i's held joints as (frames, J) bool, or None."""
    e = payload["panels"][i]
    if e["held"] is None:
        return None
    j = payload["skeletons"][e["skeleton"]]["joints"]
    return np.unpackbits(np.frombuffer(base64.b64decode(e["held"]), np.uint8))[:e["frames"] * j].reshape(-1, j) > 0


# -- Streamlit ---------------------------------------------------------------------------------------

_component = None


def _plotly_url() -> str:
    """plotly.min.js from the plotly package, served by Streamlit's component file route (no internet)."""
    import plotly
    from streamlit import config as st_config
    from streamlit.components.v1 import declare_component

    declare_component("plotly", path=str(Path(plotly.__file__).parent / "package_data"))
    base = (st_config.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/component/{__name__}.plotly/plotly.min.js?v={plotly.__version__}"


def _mount():
    global _component
    if _component is None:
        import streamlit as st
        _component = st.components.v2.component("motionlab_skeleton_player", js=JS, css=CSS, isolate_styles=False)
    return _component


def preload(key: str) -> None:
    """Have the browser load plotly.js now (a job's progress calls it), so that the first animation after
    it does not wait for 4.8 MB of JavaScript to compile."""
    _mount()(key=key, data={"preload": _plotly_url()})


def show(panels: list[Panel], key: str, fps: float = 30.0, cols: int | None = None, shared_bounds: bool = True,
         panel_height: int = PANEL_HEIGHT, title: str | None = None) -> dict:
    """Mount the player for these panels (one figure, one play button and frame slider); returns the payload."""
    import streamlit as st

    data = encode(panels, fps, cols, shared_bounds, panel_height, title)
    _mount()(key=key, data={**data, "plotly": _plotly_url()})
    if data["step"] > 1:
        st.caption(f"Showing every {data['step']}th frame so the browser stays responsive.")
    return data
