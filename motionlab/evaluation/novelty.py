"""Novelty and coverage: how far samples lie from the training clip, on the clip's own scale.

Exact definitions (W = window length in frames, C = 2J channels, x and y interleaved per joint):

- A *window* is W consecutive frames as a (W, C) array of pixels. *Centring* a window subtracts its
  mean x (over all W frames and J joints) from every x coordinate and its mean y from every y
  coordinate, so a window moved on screen centres to the same array.
- The distance between two windows is d(a, b) = sqrt(mean((centre(a) - centre(b)) ** 2)), the RMS
  over the W*C values: pixels per coordinate.
- The clip's windows are all its W-frame windows at stride 1, offsets 0 .. T-W (K = T-W+1 of them).
  Two windows *overlap* when their offsets differ by less than W (they share a frame).
- scale: for every offset i with at least one non-overlapping offset j (|i - j| >= W), r_i is the
  distance to its nearest such window; scale = median of r_i. A clip of T < 2W frames has no
  non-overlapping pair, and a clip whose r_i are mostly 0 repeats itself exactly: both raise
  NoveltyError, as no scale exists.
- For a sample s, its nearest clip offset o(s) = argmin_j d(s, window_j) (the smallest offset on
  ties) and ratio(s) = d(s, window_o(s)) / scale.
- novelty = median of ratio(s) over the samples: near 0 for copies of the clip (moved or not), near 1
  for samples as far from the clip as the clip is from itself elsewhere.
- coverage = the fraction of the K clip windows j with min over samples of d(s, window_j) <= scale
  (in the spirit of SinMDM's coverage): how much of the clip the samples come close to.

Searches use matmul-based squared distances; every distance that is reported (r_i, d(s, window_o(s)))
is recomputed exactly from the two windows. The clip's windows and scale are cached per clip and W.
The K*W*C window values are held in memory: more than MAX_WINDOW_VALUES raises NoveltyError.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from motionlab.errors import MotionlabError, one_line
from motionlab.data.dataset import DataConfig, MotionSequenceDataset

COLUMNS = ("novelty", "coverage")      # the columns that follow the spec's six metrics
MAX_WINDOW_VALUES = 1 << 26            # K * W * C float64 values (512 MiB) held for one clip
_BLOCK = 256                           # query rows per matmul block
_CACHE_ENTRIES = 2


class NoveltyError(MotionlabError):
    """The clip or the samples do not allow a novelty measure (too short, wrong shape, NaN)."""


def centre(windows: np.ndarray) -> np.ndarray:
    """(N, W, C) pixels -> (N, W*C) float64, each window's mean x and mean y removed."""
    a = np.asarray(windows, np.float64)
    n, w, c = a.shape
    xy = a.reshape(n, w, c // 2, 2)
    return (xy - xy.mean(axis=(1, 2), keepdims=True)).reshape(n, w * c)


def rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise RMS distance of centred (N, D) arrays, computed directly (no cancellation)."""
    return np.sqrt(((a - b) ** 2).mean(axis=1))


class ClipWindows:
    """All W-frame windows of one clip at stride 1, centred, with the clip's self-distance scale.

    Building it is cheap (a copy of the windows) and enough for `nearest`; `scale` costs a K x K
    distance search the first time it is read, and needs T >= 2W frames.
    """

    def __init__(self, channels, window: int):
        x = np.asarray(channels, np.float64)
        if x.ndim != 2 or x.shape[1] < 2 or x.shape[1] % 2:
            raise NoveltyError(f"expected clip channels of shape (T, 2J), got {x.shape}")
        if not np.isfinite(x).all():
            raise NoveltyError("the clip contains NaN or inf")
        if window < 1:
            raise NoveltyError(f"window must be at least 1 frame, got {window}")
        t, c = x.shape
        if t < window:
            raise NoveltyError(f"a clip of {t} frames has no {window}-frame window")
        k = t - window + 1
        if k * window * c > MAX_WINDOW_VALUES:
            raise NoveltyError(f"{k} windows of {window} x {c} values exceed the novelty budget of "
                               f"{MAX_WINDOW_VALUES:,} values; use a shorter clip")
        self.window, self.channels, self.frames = int(window), c, t
        # sliding_window_view gives (K, C, W); windows are (K, W, C) like samples
        views = np.lib.stride_tricks.sliding_window_view(x, window, axis=0).transpose(0, 2, 1)
        self.windows = centre(views)
        self.sq = (self.windows ** 2).sum(axis=1)
        self._scale = None
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return int(self.windows.shape[0])

    def _search(self, q: np.ndarray, exclude_overlap_from: int | None = None) -> np.ndarray:
        """(N, K) squared RMS distances of centred queries q to every window (matmul, clamped at 0).

        With exclude_overlap_from=s, query row r is the clip window at offset s + r and the windows
        that overlap it are set to +inf.
        """
        d2 = (q ** 2).sum(1)[:, None] + self.sq[None, :] - 2.0 * (q @ self.windows.T)
        np.maximum(d2, 0.0, out=d2)
        if exclude_overlap_from is not None:
            rows = np.arange(exclude_overlap_from, exclude_overlap_from + len(q))[:, None]
            d2[np.abs(rows - np.arange(self.count)[None, :]) < self.window] = np.inf
        return d2 / self.windows.shape[1]

    def _self_nearest(self) -> tuple[np.ndarray, np.ndarray]:
        """(r_i, j_i) for every offset: exact distance to and offset of the nearest non-overlapping window.

        Offsets without a non-overlapping window get r = nan and j = -1.
        """
        k = self.count
        r, j = np.full(k, np.nan), np.full(k, -1)
        for s in range(0, k, _BLOCK):
            q = self.windows[s:s + _BLOCK]
            d2 = self._search(q, exclude_overlap_from=s)
            best = d2.argmin(1)
            ok = np.isfinite(d2[np.arange(len(q)), best])
            j[s:s + len(q)][ok] = best[ok]
            r[s:s + len(q)][ok] = rms(q[ok], self.windows[best[ok]])
        return r, j

    @property
    def scale(self) -> float:
        """Median over offsets of the exact distance to the nearest non-overlapping window (pixels)."""
        with self._lock:
            if self._scale is None:
                if self.frames < 2 * self.window:
                    raise NoveltyError(f"a clip of {self.frames} frames has no two {self.window}-frame windows that "
                                       f"share no frame; novelty needs at least {2 * self.window} frames")
                r, _ = self._self_nearest()
                s = float(np.nanmedian(r))
                if not s > 0:
                    raise NoveltyError("the clip repeats itself exactly (median distance between non-overlapping "
                                       "windows is 0), so it gives no scale for novelty")
                self._scale = s
        return self._scale

    def check_samples(self, samples) -> np.ndarray:
        a = np.asarray(samples, np.float64)
        if a.ndim != 3 or a.shape[1:] != (self.window, self.channels) or not len(a):
            raise NoveltyError(f"expected samples of shape (N, {self.window}, {self.channels}), got {a.shape}")
        if not np.isfinite(a).all():
            raise NoveltyError("samples contain NaN or inf")
        return a

    def distances(self, samples) -> np.ndarray:
        """(N, K) RMS distances (pixels per coordinate) of (N, W, C) samples to every clip window."""
        q = centre(self.check_samples(samples))
        return np.sqrt(np.concatenate([self._search(q[s:s + _BLOCK]) for s in range(0, len(q), _BLOCK)]))

    def nearest(self, samples) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, distances): each sample's nearest clip offset and its exact RMS distance to it."""
        q = centre(self.check_samples(samples))
        off = np.concatenate([self._search(q[s:s + _BLOCK]).argmin(1) for s in range(0, len(q), _BLOCK)])
        return off, rms(q, self.windows[off])


@dataclass
class NoveltyResult:
    """Novelty and coverage of N samples against one clip (definitions in the module docstring)."""
    novelty: float               # median of ratios
    coverage: float              # fraction of clip windows within `scale` of some sample
    ratios: np.ndarray           # (N,) nearest distance / scale
    offsets: np.ndarray          # (N,) nearest clip offset of each sample
    distances: np.ndarray        # (N,) nearest distance in pixels per coordinate
    scale: float                 # the clip's median nearest non-overlapping distance, pixels
    windows: int                 # K, the clip's windows at stride 1
    window: int                  # W

    def to_dict(self) -> dict:
        return {"novelty": self.novelty, "coverage": self.coverage,
                "nearest_offsets": [int(v) for v in self.offsets],
                "nearest_ratios": [float(v) for v in self.ratios],
                "scale": self.scale, "clip_windows": self.windows, "window": self.window}


_cache: "OrderedDict[tuple, ClipWindows]" = OrderedDict()
_cache_lock = threading.Lock()


def clip_windows(channels, window: int) -> ClipWindows:
    """The cached ClipWindows of a clip's (T, C) channels (keyed by their bytes and W)."""
    x = np.ascontiguousarray(channels, np.float64)
    key = (hashlib.blake2b(x.tobytes(), digest_size=16).hexdigest(), x.shape, int(window))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    cw = ClipWindows(x, window)
    with _cache_lock:
        _cache[key] = cw
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return cw


def novelty(samples, channels) -> NoveltyResult:
    """Novelty and coverage of (N, W, C) pixel samples against a clip's (T, C) channels."""
    a = np.asarray(samples)
    if a.ndim != 3:
        raise NoveltyError(f"expected samples of shape (N, W, C), got {a.shape}")
    cw = clip_windows(channels, a.shape[1])
    d = cw.distances(a)
    off = d.argmin(1)
    q = centre(a)
    exact = rms(q, cw.windows[off])
    scale = cw.scale
    ratios = exact / scale
    return NoveltyResult(float(np.median(ratios)), float((d.min(0) <= scale).mean()), ratios, off, exact,
                         scale, cw.count, cw.window)


def training_clip_mismatch(clip, data_config: dict, joints, norm_mean) -> str:
    """'' when `clip` is the one a checkpoint was trained on, else why not (one line).

    The test: same joint names, and the clip's training windows under the checkpoint's data config
    (window, stride, limit, seed) reproduce its stored per-channel normalization mean.
    """

    if tuple(clip.joints) != tuple(joints):
        return "its joints differ from the checkpoint's"
    try:
        keys = ("window", "stride", "limit", "seed")
        ds = MotionSequenceDataset(clip, DataConfig(**{k: int(data_config[k]) for k in keys}))
    except (KeyError, TypeError, ValueError) as e:  # a short clip raises ClipError, a ValueError
        return f"its windows cannot be rebuilt ({one_line(e, 120)})"
    if not np.allclose(ds.mean, np.asarray(norm_mean, np.float64), rtol=1e-5, atol=1e-3):
        return "its training windows do not reproduce the checkpoint's normalization (another clip)"
    return ""
