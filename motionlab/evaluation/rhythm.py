"""Rhythm: the motion's own tempo, and beat alignment at a known tempo in both directions of the field.

Tempo (ours; the sources align to music, they do not estimate a motion tempo): every joint's speed
|p[t+1] - p[t]| is smoothed (Gaussian, sigma = 1/30 s), its normalized autocorrelation taken (mean
removed, divided by the lag-0 value; the plain estimate, whose taper 1 - lag/n makes the fundamental win
over the equal peaks of a periodic signal at 2P, 3P, ...), averaged over joints and clips: a tempogram of
the set. The tempo is 60 fps / lag at its highest local maximum between 40 and 240 BPM (lags up to half
the clip), refined by a parabola through the peak and its neighbours; nan when there is no peak (a still
clip, or one too short to hold a 40-240 BPM period twice). Joints are averaged after the autocorrelation,
not before: the mean speed of all joints is ruled by the fastest ones (hands, feet) and their detector
jitter, and on the real clip its autocorrelation peaks at 8.75 frames (206 BPM at 30 fps, no multiple of
the song's beat) where the joint-averaged one peaks at 14.8 and 31.1 frames (scripts/clip_rhythm.py). The
smoothing damps the detector's frame-to-frame jitter. Speed is unsigned, so a joint swinging at period P
adds a peak at P/2; the tempo counts speed peaks, as the beat measures count speed minima. A decaying
autocorrelation pulls its first peak to a shorter lag: on the real clip's 256-frame windows the first
peak gives 121.7 BPM where the song is 115 (its second, two-beat peak gives 115.8). Compare a model with
the real windows' tempo.

Beat alignment: sources Li et al. "AI Choreographer", google-research/mint tools/calculate_beat_scores.py
(alignment_score: for each motion beat, the nearest music beat) and Li et al. "Bailando",
lisiyao21/Bailando utils/beat_align_score.py (BA: for each music beat, the nearest motion beat). Both:
motion beats = local minima of the mean joint speed (Bailando smooths it with a Gaussian of sigma 5 frames
at 60 fps, 1/12 s, and takes strict local minima; mint takes minima over +-10 frames of the unsmoothed
speed: we use Bailando's detector for both, so the two directions differ only in direction); score =
mean of exp(-d² / 2 sigma²), sigma = 3 frames at 60 fps in both sources, 0.05 s, converted to frames at
ref.fps; a clip without motion beats scores 0 (mint).

What changed: there is no audio, only a tempo (ref.bpm); without it the beat measures are nan. Music
beats are a grid of period 60 fps / bpm frames whose phase is unknown: a sample window starts anywhere
in the song. The rule: each clip gets the phase (0.25-frame grid) that maximizes its own score, the same
for every set (samples, real windows, the random-beat null). The score then says how well the clip's
motion beats fit some beat grid at the given tempo, an upper bound on the true alignment; random beats
also gain from the search, so read a score beside beat_null's, never alone.
"""
from __future__ import annotations

import math

import numpy as np

from motionlab.evaluation.measure import Measure, mean_of_rows
from motionlab.evaluation.smoothness import as_clips, frame_rate, joints_xy

BPM_RANGE = (40.0, 240.0)
TEMPO_SMOOTH_S = 1 / 30        # s, the tempogram's speed smoothing
BEAT_SMOOTH_S = 5 / 60         # s, Bailando's gaussian_filter(sigma=5) at 60 fps
SCORE_SIGMA_S = 3 / 60         # s, mint's and Bailando's sigma = 3 frames at 60 fps
PHASE_STEP = 0.25              # frames


def gaussian_smooth(s: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter along the last axis (scipy.ndimage.gaussian_filter1d's default: reflect at the
    ends, kernel truncated at 4 sigma); sigma in samples, <= 0 returns s."""
    if sigma <= 0:
        return s
    r = max(1, int(4 * sigma + 0.5))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(s, [(0, 0)] * (s.ndim - 1) + [(r, r)], mode="symmetric")
    return np.lib.stride_tricks.sliding_window_view(pad, 2 * r + 1, axis=-1) @ k


def joint_speeds(clips) -> np.ndarray:
    """(N, J, W-1) speed of every joint, px/frame."""
    d = np.diff(joints_xy(as_clips(clips, min_frames=2)), axis=1)
    return np.sqrt((d * d).sum(-1)).transpose(0, 2, 1)


def _lags(frames: int, fps: float) -> tuple[int, int]:
    """Lag range (frames) of BPM_RANGE at fps, the longest at most half the speed signal."""
    lo = max(2, math.ceil(60 * fps / BPM_RANGE[1]))
    hi = min(math.floor(60 * fps / BPM_RANGE[0]), (frames - 1) // 2)
    return lo, hi


def tempogram_rows(clips, ref) -> np.ndarray:
    """(N, L) each clip's joint-averaged speed autocorrelation at lags 0 .. L-1 (L = longest lag + 2)."""
    a = as_clips(clips, min_frames=3)
    fps = frame_rate(ref)
    s = gaussian_smooth(joint_speeds(a), TEMPO_SMOOTH_S * fps)
    s = s - s.mean(-1, keepdims=True)
    n = s.shape[-1]
    f = np.fft.rfft(s, 2 * n, axis=-1)
    ac = np.fft.irfft(f * np.conj(f), 2 * n, axis=-1)[..., :n]
    var = ac[..., :1]
    ac = np.divide(ac, var, out=np.zeros_like(ac), where=var > 1e-12 * n)          # a still joint adds 0
    length = min(_lags(a.shape[1], fps)[1] + 2, n)
    return ac[..., :length].mean(1)


def peaks(curve: np.ndarray, lo: int, hi: int) -> list[tuple[float, float]]:
    """Local maxima of curve at lags lo .. hi as (lag refined by a parabola, value), highest first."""
    out = []
    for lag in range(max(lo, 1), min(hi, len(curve) - 2) + 1):
        y0, y1, y2 = curve[lag - 1], curve[lag], curve[lag + 1]
        if y1 > y0 and y1 >= y2:
            den = y0 - 2 * y1 + y2
            shift = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            out.append((lag + shift, float(y1)))
    return sorted(out, key=lambda p: -p[1])


def _tempo_stat(rows, ref) -> float:
    rows = np.asarray(rows, np.float64)
    fps = frame_rate(ref)
    lo = _lags(10 ** 9, fps)[0]                                     # rows end 2 past the longest lag
    found = peaks(rows.mean(0), lo, rows.shape[1] - 2)
    return 60 * fps / found[0][0] if found else float("nan")


def tempo(clips, ref) -> float:
    """Tempo of the set's motion, BPM at ref.fps: 60 fps / the lag of the highest peak (40-240 BPM) of
    the joint- and clip-averaged autocorrelation of the smoothed joint speeds (module docstring)."""
    return _tempo_stat(tempogram_rows(clips, ref), ref)


def motion_beats(clips, fps: float) -> np.ndarray:
    """(N, W-1) bool: strict local minima of the mean joint speed smoothed over 1/12 s (Bailando calc_db)."""
    s = gaussian_smooth(joint_speeds(clips).mean(1), BEAT_SMOOTH_S * fps)
    out = np.zeros(s.shape, dtype=bool)
    out[:, 1:-1] = (s[:, 1:-1] < s[:, :-2]) & (s[:, 1:-1] < s[:, 2:])
    return out


def _grid(frames: int, period: float):
    """Phases (P,), music beat times (P, K) and their mask (inside 0 .. frames-1) of the beat grid."""
    phases = np.arange(0.0, period, PHASE_STEP)
    k = np.arange(int(frames / period) + 2)
    times = phases[:, None] + period * k[None]
    return phases, times, times <= frames - 1


def _to_music(beats: np.ndarray, period: float, sigma: float) -> np.ndarray:
    """(N, phases): mint's score, mean over motion beats of exp(-d²/2sigma²), d to the nearest music beat."""
    t = np.arange(beats.shape[1], dtype=np.float64)
    _, times, inside = _grid(beats.shape[1], period)
    last = inside.sum(1) - 1                                          # the last music beat per phase
    k = np.clip(np.round((t[None] - times[:, :1]) / period), 0, last[:, None])
    d = np.abs(t[None] - (times[:, :1] + k * period))                 # (phases, T)
    g = np.exp(-d * d / (2 * sigma * sigma))
    count = beats.sum(1, keepdims=True).astype(np.float64)
    score = np.divide(beats.astype(np.float64) @ g.T, count, out=np.zeros((len(beats), len(g))), where=count > 0)
    return np.where((last >= 0)[None] | (count == 0), score, -np.inf)   # a grid missing the clip: no score


def _to_motion(beats: np.ndarray, period: float, sigma: float) -> np.ndarray:
    """(N, phases): Bailando's score, mean over music beats of exp(-d²/2sigma²), d to the nearest motion beat."""
    frames = beats.shape[1]
    t = np.arange(frames)
    prev = np.maximum.accumulate(np.where(beats, t, -10 ** 9), axis=1)            # last beat <= t
    nxt = np.minimum.accumulate(np.where(beats, t, 10 ** 9)[:, ::-1], axis=1)[:, ::-1]  # first beat >= t
    _, times, inside = _grid(frames, period)
    m = np.where(inside, times, 0.0)
    lo, hi = np.floor(m).astype(int), np.minimum(np.ceil(m).astype(int), frames - 1)
    d = np.minimum(m[None] - prev[:, lo], nxt[:, hi] - m[None])                  # (N, phases, K)
    count = inside.sum(1)[None]
    g = np.where(inside[None], np.exp(-d * d / (2 * sigma * sigma)), 0.0).sum(-1)
    # a phase whose grid misses a clip shorter than a beat has no score: never its best (phase 0 has one)
    g = np.where(count > 0, g / np.maximum(count, 1), -np.inf)
    return np.where(beats.any(1, keepdims=True), g, 0.0)


def _period(ref, fps: float) -> float | None:
    if ref.bpm is None:
        return None
    bpm = float(ref.bpm)
    if not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"the reference's bpm must be a positive number or None, got {ref.bpm!r}")
    return 60 * fps / bpm


def _aligned(beats: np.ndarray, ref, fps: float, direction: str) -> np.ndarray:
    """(N,) each clip's score at its best phase; nan without a tempo."""
    period = _period(ref, fps)
    if period is None:
        return np.full(len(beats), np.nan)
    score = {"motion": _to_music, "music": _to_motion}[direction]
    return score(beats, period, SCORE_SIGMA_S * fps).max(1)


def beat_align_rows(clips, ref) -> np.ndarray:
    """(N,) per-clip mint score at the clip's best phase (see beat_align)."""
    fps = frame_rate(ref)
    return _aligned(motion_beats(as_clips(clips, 3), fps), ref, fps, "motion")


def beat_align_music_rows(clips, ref) -> np.ndarray:
    """(N,) per-clip Bailando score at the clip's best phase (see beat_align_music)."""
    fps = frame_rate(ref)
    return _aligned(motion_beats(as_clips(clips, 3), fps), ref, fps, "music")


def beat_align(clips, ref) -> float:
    """Motion beats -> music beats (mint calculate_beat_scores.py alignment_score): per clip, the mean
    over its motion beats of exp(-d²/2sigma²), d = frames to the nearest beat of the ref.bpm grid at the
    clip's best phase, sigma = 0.05 s; mean over clips. nan when ref.bpm is None."""
    return float(np.mean(beat_align_rows(clips, ref)))


def beat_align_music(clips, ref) -> float:
    """Music beats -> motion beats (Bailando beat_align_score.py BA): per clip, the mean over the grid's
    beats inside the clip of exp(-d²/2sigma²), d = frames to the nearest motion beat, at the clip's best
    phase, sigma = 0.05 s; mean over clips. nan when ref.bpm is None."""
    return float(np.mean(beat_align_music_rows(clips, ref)))


def random_beats(beats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """As many beats per clip as `beats` has, at distinct frames drawn uniformly among 1 .. T-2 (where a
    strict local minimum can be)."""
    n, frames = beats.shape
    rank = rng.random((n, frames - 2)).argsort(1).argsort(1)
    out = np.zeros_like(beats)
    out[:, 1:-1] = rank < beats.sum(1, keepdims=True)
    return out


def beat_null(clips, ref, direction: str = "motion", draws: int = 20, seed: int = 0) -> float:
    """What beat_align (direction="motion") or beat_align_music ("music") gives by chance: each clip's
    motion beats replaced by as many at uniformly random frames, scored by the same best-phase rule;
    mean over `draws` seeded draws. nan when ref.bpm is None."""
    if direction not in ("motion", "music"):
        raise ValueError(f"direction must be 'motion' or 'music', got {direction!r}")
    fps = frame_rate(ref)
    beats = motion_beats(as_clips(clips, 3), fps)
    rng = np.random.default_rng(seed)
    return float(np.mean([_aligned(random_beats(beats, rng), ref, fps, direction).mean()
                          for _ in range(max(1, draws))]))


MEASURES = (
    Measure("tempo", "tempo", "BPM", tempo, "clips", tempogram_rows, _tempo_stat,
            doc="peak of the joint speeds' autocorrelation, 40-240 BPM at ref.fps"),
    Measure("beat_align", "beat alignment (motion→music)", "", beat_align, "clips", beat_align_rows, mean_of_rows,
            doc="motion beats to the nearest beat of the ref.bpm grid, best phase per clip (mint); nan without bpm", bounds=Measure.SHARE),
    Measure("beat_align_music", "beat alignment (music→motion)", "", beat_align_music, "clips",
            beat_align_music_rows, mean_of_rows,
            doc="grid beats to the nearest motion beat, best phase per clip (Bailando); nan without bpm", bounds=Measure.SHARE),
)
