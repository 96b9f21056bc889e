"""The denoising scrubber: the kept trajectory of one sample, sent to the browser once.

The browser view (static/scrubber.js, mounted by ui.denoise_scrubber) draws a filmstrip: a few
evenly spaced moments of the clip, x_t in one row and x̂0 below it, at the kept step under the
slider. Moving the slider or playing the denoising redraws a canvas and talks to no server; the
settled step goes back to Python on release, for the full-clip animation.

Payload: for every kept step and each of the two rows, a square box (x0, y0, side in pixels)
fitted to that row's moments, and the points inside it as uint16 (0..65534 across the box,
65535 for a missing value): steps x 2 x moments x joints x 2 x 2 bytes. 21 DPM-Solver++ states of
6 moments x 20 joints are 20 KB; the spec's 401 DDPM states 385 KB.
"""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.formats.render import COLORS as RGB
from motionlab.data.skeleton import bones_for
from motionlab.lab.figures import PAD

MOMENTS = 6
ROWS = ("x_t (noisy input)", "x̂0 predicted")
MISSING = 65535
SCALE = 65534
JS = (Path(__file__).parent / "static" / "scrubber.js").read_text()
CSS = (Path(__file__).parent / "static" / "scrubber.css").read_text()


def moments(num_frames: int, n: int = MOMENTS) -> list[int]:
    """n evenly spaced frames from the first to the last (fewer when the clip is shorter)."""
    if num_frames < 1:
        raise MotionlabError("a clip needs at least one frame")
    return sorted({int(round(f)) for f in np.linspace(0, num_frames - 1, min(n, num_frames))})


def _boxes(px: np.ndarray) -> np.ndarray:
    """(K, R, M, J, 2) -> (K, R, 3) square boxes (x0, y0, side) around each (step, row)'s finite points."""
    pts = px.reshape(px.shape[0], px.shape[1], -1, 2).astype(np.float64)
    ok = np.isfinite(pts).all(-1, keepdims=True)
    lo = np.where(ok, pts, np.inf).min(2)
    hi = np.where(ok, pts, -np.inf).max(2)
    empty = ~np.isfinite(lo).all(-1)
    lo[empty], hi[empty] = 0.0, 512.0
    c = (lo + hi) / 2
    half = np.maximum((hi - lo).max(-1) / 2, 1.0) * (1 + PAD)
    return np.concatenate([c - half[..., None], 2 * half[..., None]], -1)


def quantize(px: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(K, R, M, J, 2) pixels -> uint16 positions in their (step, row) box; MISSING where not finite."""
    lo = boxes[:, :, None, None, :2]
    side = boxes[:, :, None, None, 2:3]
    with np.errstate(invalid="ignore"):
        q = np.rint((px - lo) / side * SCALE)
    q = np.where(np.isfinite(q), np.clip(q, 0, SCALE), MISSING)
    return q.astype("<u2")


def dequantize(q: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Inverse of quantize (to within side / 65534 pixels); NaN for MISSING. For tests and checks."""
    out = q.astype(np.float64) / SCALE * boxes[:, :, None, None, 2:3] + boxes[:, :, None, None, :2]
    return np.where(q == MISSING, np.nan, out)


def states(result, sample: int, frames: list[int]) -> np.ndarray:
    """(K, 2, M, J, 2) pixels: x_t and x̂0 of one sample at `frames`, for every kept step."""
    result.check_trajectory_sample(sample)
    t = result.trajectory
    j = len(result.joints)
    both = np.stack([t.x_t[:, sample][..., frames], t.pred_x0[:, sample][..., frames]], 1)  # (K, 2, C, M)
    px = result.normalizer.unnormalize(both)                                                # (K, 2, M, C)
    return px.reshape(*px.shape[:3], j, 2)


def payload(result, sample: int, settled: int | None = None, n_moments: int = MOMENTS) -> dict:
    """What the browser view needs for one sample, JSON-ready.

    settled: the noise level the slider starts at (nearest kept one; default the final sample).
    "id" changes with the result and sample, so the browser keeps its slider position across
    reruns that send the same states. Everything but "start" is computed once per result and sample
    (36 ms for a 401-state ddpm-400 trajectory) and kept on the result for later reruns.
    """
    result.check_trajectory_sample(sample)
    steps = result.steps
    start = result.trajectory.nearest(steps[-1] if settled is None else settled)
    fixed = result.scrub_payloads.get((sample, n_moments))
    if fixed is None:
        fixed = result.scrub_payloads[(sample, n_moments)] = _fixed_payload(result, sample, n_moments)
    return {**fixed, "start": int(start)}


def _fixed_payload(result, sample: int, n_moments: int) -> dict:
    frames = moments(result.window, n_moments)
    px = states(result, sample, frames)
    boxes = _boxes(px)
    q = quantize(px, boxes)
    sides = {"center": 0, "left": 1, "right": 2}
    pts = base64.b64encode(q.tobytes()).decode("ascii")
    ident = hashlib.blake2b(f"{result.key}|{sample}".encode(), digest_size=8).hexdigest()
    return {
        "id": ident, "steps": result.steps, "timesteps": int(result.timesteps), "sampler": result.sampler,
        "frames": frames, "joints": len(result.joints), "rows": list(ROWS),
        "bones": [[a, b, sides.get(s, 0)] for a, b, s in bones_for(result.joints)],
        "colors": ["rgb({}, {}, {})".format(*RGB[s]) for s in sides],
        "boxes": np.round(boxes, 2).ravel().tolist(), "points": pts, "bytes": int(q.nbytes),
    }
