"""How sure a measure's value is, and what real data scores at the same N.

A verdict read at N = 8 samples is partly luck, and some measures depend on N itself (coord_range is a
max − min over every frame of every clip), so a sample set is judged with two numbers:

- `bootstrap`: the measure's value on the set with a percentile interval from resampling the set;
- `real_range`: the central range of the measure over many random sets of N real windows (`real_pool`),
  i.e. what the data itself scores at this N.

Real sets and samples are judged against the same Reference (`ref`: the samples', e.g. the training
windows), so value and range are like with like. Measures that read the reference's windows (fid_k,
div_k, precision, recall: `reads_windows` finds them by probing) then judge real sets in-sample: the
pool's windows are in the reference or 1-2 frames from one. That is the default, on this evidence
(uptown_funk, W = 256, N = 64):

- in-sample: fid_k 0.8–6.2, div_k 9.0–10.7, recall 0.93–1.0, precision 1–1 (a real window is inside
  its own ball: only near-copies reach it);
- held out (`held_out=True`: the pool split into two halves that share no frame, `held_out_split`; real
  sets drawn from the first, judged against the second, `held_out_reference`, and samples judged
  against that second half too): fid_k 693–749, precision 0–0, recall 0–0. A 256-frame window 30 frames
  from another is as far from it as any window of the other half (RMS ~55 px) and the halves dance
  differently (the second moves faster), so on one clip the held-out range measures how the dance
  changes, not how real data fits the reference: a model covering the whole clip would sit between.

So in-sample ranges are the bar "as close as the training windows themselves" (strict for precision);
held-out ranges become the honest bar once the pool has several clips (held_out_split keeps short clips
whole on one side). Everything is deterministic for a seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.evaluation.measure import Measure, Reference


@dataclass(frozen=True)
class Estimate:
    """A measure's value on a set and its bootstrap interval; `resamples` are the resampled values."""
    value: float
    interval: tuple[float, float]
    n: int
    n_boot: int
    resamples: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class RealRange:
    """The measure over `draws` random sets of n real windows: central range and median."""
    range: tuple[float, float]
    median: float
    n: int
    draws: int
    replace: bool                       # drawn with replacement (n larger than the population)
    held_out: bool                      # drawn from the first half, judged against the second
    values: np.ndarray = field(repr=False, compare=False)


def _clips(clips) -> np.ndarray:
    a = np.asarray(clips, np.float64)
    if a.ndim != 3:
        raise ValueError(f"expected clips of shape (N, W, C), got {a.shape}")
    return a


def _percentiles(vals: np.ndarray, level: float) -> tuple[float, float]:
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return (float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(vals, [tail, 100 - tail])
    return (float(lo), float(hi))


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(B, k) indices into n items -> (B, n) how often each item was drawn."""
    b = idx.shape[0]
    return np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _pair_means(d: np.ndarray, idx: np.ndarray, distinct: bool) -> np.ndarray:
    """Per row of idx, the mean of d over pairs a<b of its draws, from draw counts c:
    sum over pairs = (cᵀDc − Σ c_i² D_ii) / 2 leaving out two draws of one item (distinct), or
    (cᵀDc − Σ c_i D_ii) / 2 keeping them as a set with duplicates is measured (D_ii ≈ 0)."""
    c = _counts(idx, len(d))
    diag = np.diag(d)
    total = np.einsum("bi,bi->b", c @ d, c)
    k = idx.shape[1]
    if distinct:
        num, den = total - (c * c) @ diag, k * k - (c * c).sum(1)
    else:
        num, den = total - c @ diag, np.full(len(c), float(k * (k - 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _pair_matrix(measure: Measure, clips: np.ndarray, ref: Reference) -> np.ndarray:
    """The (n, n) distances whose mean over pairs is the value: stat's, or the measure of each pair."""
    if measure.stat is not None:
        return np.asarray(measure.stat(measure.features(clips, ref), ref), np.float64)
    n = len(clips)
    d = np.zeros((n, n))
    for i, j in zip(*np.triu_indices(n, 1)):
        d[i, j] = d[j, i] = measure(clips[[i, j]], ref)
    return d


def bootstrap(measure: Measure, clips, ref: Reference, n_boot: int = 1000, level: float = 0.95,
              seed=0) -> Estimate:
    """measure(clips, ref), the exact definition, with a `level` percentile interval over n_boot resamples,
    re-centred on the value: shifted by value − median of the resamples. A statistic the bootstrap biases
    keeps its value inside that way (coord_range is a max − min, which a resample holding ~63% of the
    distinct clips can only shrink: its plain percentile interval can lie wholly below the value, and a
    bit-identical rerun would fall outside a card's interval); for unbiased statistics the shift is ~0.

    Every resample draws N indices with replacement (the same indices for every measure for one seed):
    - resample "clips": the statistic of the drawn rows, `stat(features(clips)[idx])` with the features
      computed once, or `measure(clips[idx])` recomputed when the measure has no features/stat;
    - resample "pairs": the (N, N) distance matrix is computed once (stat of the features, or the measure
      of each pair of clips); a resample's value is the mean of D[i_a, i_b] over pairs a<b of its draws
      with i_a != i_b: two draws of one clip are left out, as their distance 0 would bias the mean down.
      A resample that drew a single clip N times has no pair and is dropped (only likely for N ≤ 3).
    n_boot is fixed (no time-based reduction, which would break determinism); measures without
    features/stat are recomputed n_boot times and are slow.
    """
    clips = _clips(clips)
    n = len(clips)
    value = measure(clips, ref)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    if measure.resample == "pairs":
        vals = _pair_means(_pair_matrix(measure, clips, ref), idx, distinct=True)
    elif measure.features is not None:
        rows = measure.features(clips, ref)
        vals = np.array([float(measure.stat(rows[i], ref)) for i in idx])
    else:
        vals = np.array([measure(clips[i], ref) for i in idx])
    lo, hi = _percentiles(vals, level)
    ok = vals[np.isfinite(vals)]
    shift = value - float(np.median(ok)) if len(ok) and np.isfinite(value) else 0.0
    low, high = measure.bounds  # re-centring must not step outside what the measure can be (a recall below 0)
    return Estimate(value, (min(max(lo + shift, low), high), min(max(hi + shift, low), high)), n, n_boot, vals)


def real_pool(clip_or_clips, window: int) -> np.ndarray:
    """Every stride-1 window of the clip(s) at `window` frames, in pixels: (M, window, C) float64, clip by
    clip in time order (640 windows at 256 frames of an 895-frame clip). Takes a Clip, a (T, C) array, an
    object with .clip (a ClipSet entry), or a list of them; a clip shorter than the window gives none."""
    items = clip_or_clips if isinstance(clip_or_clips, (list, tuple)) else [clip_or_clips]
    out = []
    for c in items:
        if not isinstance(c, np.ndarray):      # (an array's .clip is a method)
            c = getattr(c, "clip", c)
            c = getattr(c, "channels", c)
        ch = np.asarray(c, np.float64)
        if ch.ndim != 2:
            raise MotionlabError(f"expected a (T, C) clip, got shape {ch.shape}")
        if len(ch) >= window:
            out.append(np.lib.stride_tricks.sliding_window_view(ch, window, axis=0).transpose(0, 2, 1))
    if not out:
        raise MotionlabError(f"no clip has {window} frames: the real pool is empty")
    return np.ascontiguousarray(np.concatenate(out))


def held_out_split(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of two halves of a pool that share no frame.

    Consecutive windows that continue each other by one frame form a run (one clip of `real_pool`). With
    several runs, whole runs go to the half holding fewer windows so far (clips against clips). A single
    run of F >= 2W frames is cut at F // 2: its windows wholly before the cut form the first half, those
    from the cut on the second (192 and 193 windows of the 895-frame clip at W = 256). A pool that is not
    stride-1 windows has runs of one window whose halves may overlap in frames: build pools with real_pool.
    """
    w = windows
    m, width = w.shape[0], w.shape[1]
    cont = np.all(w[1:, :-1] == w[:-1, 1:], axis=(1, 2)) if m > 1 else np.zeros(0, bool)
    starts = np.r_[0, np.flatnonzero(~cont) + 1]
    runs = [np.arange(s, e) for s, e in zip(starts, np.r_[starts[1:], m])]
    if len(runs) == 1:
        frames = m + width - 1
        if frames < 2 * width:
            raise MotionlabError(f"the real pool is too short to hold out a reference: it needs a clip of at "
                                 f"least {2 * width} frames (twice the window) or two clips")
        cut = frames // 2
        return np.arange(cut - width + 1), np.arange(cut, m)
    halves = ([], [])
    for r in runs:
        min(halves, key=lambda h: sum(map(len, h))).append(r)
    return np.concatenate(halves[0]), np.concatenate(halves[1])


def _halves(pool_ref: Reference) -> tuple[np.ndarray, Reference]:
    def make():
        a, b = held_out_split(pool_ref.windows)
        return (np.ascontiguousarray(pool_ref.windows[a]),
                Reference(np.ascontiguousarray(pool_ref.windows[b]), pool_ref.joints, pool_ref.fps, pool_ref.bpm))
    return pool_ref.cached("intervals.halves", make)


def held_out_reference(pool_ref: Reference) -> Reference:
    """The Reference measures that read the windows are judged against: the pool's second half in time."""
    return _halves(pool_ref)[1]


def reads_windows(measure: Measure, pool_ref: Reference) -> bool:
    """Whether the measure's value depends on the reference's windows, probed once per pool: 16 windows
    of the pool's first half measured against 32 windows holding them (in-sample: precision 1, distances
    0), against 32 windows of the second half, and against the first 32 with frames and joints shuffled,
    enlarged 1.5x and moved far away. A measure that reads only joints, fps or bpm gives bit-identical
    values; one that gives the same value for all three is treated as descriptive (with held_out=None in
    real_range; the default in-sample judging needs no probe to stay like with like)."""
    def probe():
        w = pool_ref.windows
        half = max(len(w) // 2, 1)
        near = w[np.unique(np.linspace(0, half - 1, min(32, half)).astype(int))]
        later = w[np.unique(np.linspace(half, len(w) - 1, min(32, len(w) - half)).astype(int))]
        rng = np.random.default_rng(0)     # scramble frames and joints: no invariance of a measure survives it
        joints = rng.permutation(near.shape[2] // 2)
        scrambled = near[:, rng.permutation(near.shape[1])][:, :, np.stack([2 * joints, 2 * joints + 1], 1).ravel()]
        far = 1.5 * scrambled + 10 * (float(np.ptp(near)) or 1.0)
        vals = [measure(near[::2], Reference(np.ascontiguousarray(q), pool_ref.joints, pool_ref.fps, pool_ref.bpm))
                for q in (near, later, far) if len(q)]
        return any(not (v == vals[0] or (np.isnan(v) and np.isnan(vals[0]))) for v in vals[1:])
    return pool_ref.cached(("intervals.reads_windows", measure), probe)


def real_range(measure: Measure, pool_ref: Reference, n: int, draws: int = 300, level: float = 0.95, seed=0,
               held_out: bool | None = False, ref: Reference | None = None) -> RealRange:
    """The measure over `draws` random sets of n real windows: the central `level` range and the median.

    Sets are drawn from the M pool windows without replacement when n <= M (n distinct windows, as a
    sample set holds distinct samples), with replacement otherwise (a set then holds duplicates and is
    measured as such: a "pairs" measure counts their distance 0, as its definition would). Sets are
    judged against `ref` (default pool_ref; pass the samples' reference). held_out=True draws from the
    pool's first half and judges against its second (`held_out_reference`), None does so only for a
    measure that reads the windows (`reads_windows`); see the module docstring for which to choose. The
    features of the population are computed once per pool, measure and reference and kept in
    pool_ref.cache; each draw computes only the statistic.
    """
    held = reads_windows(measure, pool_ref) if held_out is None else bool(held_out)
    pop, jref = _halves(pool_ref) if held else (pool_ref.windows, pool_ref if ref is None else ref)
    m = len(pop)
    replace = n > m
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, m, (draws, n)) if replace else np.argsort(rng.random((draws, m)), axis=1)[:, :n]
    key = ("intervals.rows", measure, held, jref)
    if measure.resample == "pairs" and measure.stat is not None:
        d = pool_ref.cached(key, lambda: _pair_matrix(measure, pop, jref))
        vals = _pair_means(d, idx, distinct=False)
    elif measure.features is not None:
        rows = pool_ref.cached(key, lambda: measure.features(pop, jref))
        vals = np.array([float(measure.stat(rows[i], jref)) for i in idx])
    else:  # recomputed per draw (a "pairs" measure without stat too: M² pair calls would cost more)
        vals = np.array([measure(pop[i], jref) for i in idx])
    ok = vals[np.isfinite(vals)]
    median = float(np.median(ok)) if len(ok) else float("nan")
    return RealRange(_percentiles(vals, level), median, n, draws, replace, held, vals)
