"""What a motion measure is, for every tool that reports one: a function of a sample set and the real data.

A measure takes clips as an (N, W, C) float64 array of pixels (x and y interleaved per joint, y down) and
a Reference (the real windows it may compare with, the joint names, the frame rate, a tempo), and returns
one float, `fn(clips, ref)`. The bootstrap (motionlab.evaluation.intervals) resamples clips; `resample`
says how:

- "clips": draw N clips with replacement and recompute (any statistic of the set);
- "pairs": a mean over pairs of distinct clips (diversity): pairs of two draws of the same clip are left
  out, since their distance 0 would bias the mean down.

Recomputing every measure on a thousand resamples of 256 clips is slow, so a measure may also say how it
splits into per-clip rows, computed once, and a statistic of any resample of them: `features(clips, ref)`
gives (N, ...) rows; `stat(rows, ref)` gives the value ("clips"), or for "pairs" the (n, n) matrix of
pairwise distances whose off-diagonal mean is the value. fn stays the definition (the spec's numbers come
from it bit for bit); tests hold stat(features(x)) to fn(x) for every measure.

`spec` marks the six metrics of the spec's protocol (RESULTS.md keeps their columns); the rest are the
field's measures adapted to 2D (motionlab.evaluation.catalog lists them all).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import math

import numpy as np

RESAMPLES = ("clips", "pairs")


@dataclass(frozen=True, eq=False)
class Reference:
    """The real data a sample set is judged against: windows of the training clip(s) at the samples'
    length, in pixels, with what a measure needs to read them."""
    windows: np.ndarray                 # (M, W, C) pixels
    joints: tuple[str, ...]
    fps: float = 30.0
    bpm: float | None = None
    cache: dict = field(default_factory=dict, repr=False)  # per-reference statistics a measure computes once

    def cached(self, key: str, make: Callable):
        """make() once per reference (normalizing statistics, feature sets)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


@dataclass(frozen=True)
class Measure:
    name: str                           # the key in every table, JSON and card
    label: str                          # what a chart or column says
    unit: str                           # e.g. "px", "px/s³", "BPM", "" (a ratio)
    fn: Callable[[np.ndarray, Reference], float]
    resample: str = "clips"
    features: Callable[[np.ndarray, Reference], np.ndarray] | None = None
    stat: Callable[[np.ndarray, Reference], float | np.ndarray] | None = None
    spec: bool = False                  # one of the spec's six
    doc: str = ""                       # one line for tooltips; the function's docstring has the definition
    bounds: tuple[float, float] = (0.0, math.inf)  # the values it can take: intervals are kept inside

    def __post_init__(self):
        if self.resample not in RESAMPLES:
            raise ValueError(f"resample must be one of {RESAMPLES}, got {self.resample!r}")
        if (self.features is None) != (self.stat is None):
            raise ValueError(f"{self.name}: features and stat come together")

    SHARE = (0.0, 1.0)  # noqa: RUF012  (a share of frames, clips or windows)

    def __call__(self, clips, ref: Reference) -> float:
        return float(self.fn(np.asarray(clips, np.float64), ref))


def mean_of_rows(rows, ref=None) -> float:
    """The statistic of per-clip measures: the mean of the clips' values."""
    return float(np.mean(rows))
