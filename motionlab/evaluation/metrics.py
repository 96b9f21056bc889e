"""The six motion descriptors of the spec's evaluation protocol.

All take clips as an (N, W, C) array in pixels: N clips, W frames, C = 2J channels
with x and y interleaved per joint. Statistics pool each channel over all clips and
frames, then average over channels.
"""
from __future__ import annotations

import numpy as np

from motionlab.evaluation.measure import Measure

METRICS = ("coord_range", "pos_std", "vel_std", "vel_energy", "com_speed", "diversity")
DIVERSITY_MAX_CLIPS = 32


def _check(clips) -> np.ndarray:
    a = np.asarray(clips, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] % 2 or a.shape[1] < 2:
        raise ValueError(f"expected clips of shape (N, W>=2, 2J), got {a.shape}")
    return a


def coord_range(clips) -> float:
    """Mean over channels of (max - min) over all clips and frames."""
    f = _check(clips).reshape(-1, np.shape(clips)[2])
    return float((f.max(0) - f.min(0)).mean())


def pos_std(clips) -> float:
    """Mean over channels of the population std (ddof=0) over all clips and frames."""
    return float(_check(clips).reshape(-1, np.shape(clips)[2]).std(0).mean())


def _velocities(clips) -> np.ndarray:
    """Frame differences inside each clip, pooled: (N*(W-1), C)."""
    a = _check(clips)
    return np.diff(a, axis=1).reshape(-1, a.shape[2])


def vel_std(clips) -> float:
    """Mean over channels of the std (ddof=0) of frame-to-frame velocities."""
    return float(_velocities(clips).std(0).mean())


def vel_energy(clips) -> float:
    """Mean of squared per-channel velocities (pixels^2 per frame^2)."""
    return float((_velocities(clips) ** 2).mean())


def com_speed(clips) -> float:
    """Mean Euclidean speed (pixels/frame) of the centre of mass, the mean of all joints."""
    a = _check(clips)
    com = a.reshape(a.shape[0], a.shape[1], -1, 2).mean(2)
    return float(np.linalg.norm(np.diff(com, axis=1), axis=-1).mean())


def diversity(clips) -> float:
    """Mean pairwise L2 distance between flattened clips divided by sqrt(W*C).

    Over the first 32 clips at most; 0.0 for a single clip.
    """
    a = _check(clips)[:DIVERSITY_MAX_CLIPS]
    n = a.shape[0]
    if n < 2:
        return 0.0
    f = a.reshape(n, -1)
    sq = (f * f).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None] - 2 * f @ f.T, 0.0)
    iu = np.triu_indices(n, 1)
    return float(np.sqrt(d2[iu]).mean() / np.sqrt(f.shape[1]))


def sample_metrics(clips) -> dict | None:
    """The six metrics of sampled clips, or None when a sample holds NaN or inf (a diverged model)."""
    a = _check(clips)
    if not np.isfinite(a).all():
        return None
    return {name: globals()[name](a) for name in METRICS}


def all_metrics(clips) -> dict:
    """The six metrics plus 'clips' (the number of clips)."""
    a = _check(clips)
    if not np.isfinite(a).all():
        raise ValueError("clips contain NaN or inf")
    out = {name: globals()[name](a) for name in METRICS}
    out["clips"] = int(a.shape[0])
    return out


def _spec(name: str, label: str, unit: str, resample: str = "clips") -> Measure:
    fn = globals()[name]
    return Measure(name, label, unit, lambda clips, ref: fn(clips), resample, spec=True,
                   doc=(fn.__doc__ or "").strip().splitlines()[0])


MEASURES = (
    _spec("coord_range", "coordinate range", "px"),
    _spec("pos_std", "position std", "px"),
    _spec("vel_std", "velocity std", "px/frame"),
    _spec("vel_energy", "velocity energy", "px²/frame²"),
    _spec("com_speed", "centre-of-mass speed", "px/frame"),
    _spec("diversity", "diversity", "px", resample="pairs"),
)
