"""Jerk and acceleration: how smooth the motion is, in pixels per second cubed / squared.

Source: GENEA Challenge numerical evaluations (Kucherenko et al., "The GENEA Challenge 2020"), repository
Svito-zar/genea_numerical_evaluations, file calc_jerk.py (compute_jerks, compute_acceleration). There the
n-th frame difference of each joint's 3D position is taken, its Euclidean norm averaged over frames, the
result scaled by the frame rate (hard-coded 20 fps) to the n-th power, then averaged over joints and files.

What changed for 2D: joints are (x, y) pixels, so the norm is over two coordinates and the units are px/s³
(jerk) and px/s² (acceleration); the frame rate is the Reference's `fps`, not a constant. The real clip's
own values are printed by scripts/clip_rhythm.py (docs/MEASURES.md).

This module also holds the small clip checks the other measure modules share.
"""
from __future__ import annotations

import math

import numpy as np

from motionlab.evaluation.measure import Measure, mean_of_rows


def as_clips(clips, min_frames: int = 2, what: str = "clips") -> np.ndarray:
    """(N, W, 2J) float64 pixels, checked; ValueError (one line) otherwise."""
    a = np.asarray(clips, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] < 2 or a.shape[2] % 2 or a.shape[1] < min_frames or a.shape[0] < 1:
        raise ValueError(f"expected {what} of shape (N>=1, W>={min_frames}, 2J), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contain NaN or inf")
    return a


def joints_xy(clips: np.ndarray) -> np.ndarray:
    """(N, W, 2J) -> (N, W, J, 2) view: x and y per joint."""
    n, w, c = clips.shape
    return clips.reshape(n, w, c // 2, 2)


def frame_rate(ref) -> float:
    fps = float(ref.fps)
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"the reference's fps must be a positive number, got {ref.fps!r}")
    return fps


def same_layout(clips: np.ndarray, ref, measure: str) -> None:
    """Measures that compare with the real windows need samples shaped like them."""
    real = np.shape(ref.windows)
    if len(real) != 3 or real[1:] != clips.shape[1:]:
        raise ValueError(f"{measure}: samples are {clips.shape[1:]} (frames, channels) but the reference "
                         f"windows are {tuple(real[1:])}")


def _difference_norms(clips, ref, order: int) -> np.ndarray:
    """Per clip: mean over frames and joints of |order-th frame difference| x fps**order."""
    a = as_clips(clips, min_frames=order + 1)
    d = np.diff(joints_xy(a), n=order, axis=1)
    return np.sqrt((d * d).sum(-1)).mean(axis=(1, 2)) * frame_rate(ref) ** order


def jerk_rows(clips, ref) -> np.ndarray:
    """(N,) each clip's mean jerk, px/s³ (see jerk)."""
    return _difference_norms(clips, ref, 3)


def accel_rows(clips, ref) -> np.ndarray:
    """(N,) each clip's mean acceleration, px/s² (see accel)."""
    return _difference_norms(clips, ref, 2)


def jerk(clips, ref) -> float:
    """Mean jerk, px/s³: mean over clips, frames and joints of |p[t+3] - 3p[t+2] + 3p[t+1] - p[t]| x fps³.

    GENEA calc_jerk.py compute_jerks in 2D (third frame difference of each joint's (x, y), Euclidean norm);
    clips have equal lengths, so GENEA's per-joint-then-per-file averaging is this one mean.
    """
    return float(jerk_rows(clips, ref).mean())


def accel(clips, ref) -> float:
    """Mean acceleration, px/s²: mean over clips, frames and joints of |p[t+2] - 2p[t+1] + p[t]| x fps².

    GENEA calc_jerk.py compute_acceleration in 2D (second frame difference, Euclidean norm per joint).
    """
    return float(accel_rows(clips, ref).mean())


MEASURES = (
    Measure("jerk", "jerk", "px/s³", jerk, "clips", jerk_rows, mean_of_rows,
            doc="mean |third frame difference| per joint x fps³ (GENEA calc_jerk.py, 2D)"),
    Measure("accel", "acceleration", "px/s²", accel, "clips", accel_rows, mean_of_rows,
            doc="mean |second frame difference| per joint x fps² (GENEA calc_jerk.py, 2D)"),
)
