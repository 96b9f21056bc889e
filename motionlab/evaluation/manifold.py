"""k-nearest-neighbour precision and recall of sample windows against the real windows (k = 3).

Source: Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing Generative Models"
(NeurIPS 2019); the motion version follows MAS (Kapon et al., "Multi-view Ancestral Sampling"), repository
roykapon/MAS, eval/metrics.py (manifold_estimate): the manifold of a set is the union of balls around its
points, each ball's radius the distance to the point's k-th nearest neighbour in its own set;
precision = share of samples inside the real manifold, recall = share of real windows inside the samples'.

Feature space (ours; the image sources use an Inception embedding, MAS a motion encoder; we have none):

- centre each window: subtract its mean x and mean y over all frames and joints (a dance moved on screen
  is the same dance; novelty.py centres the same way);
- positions: the centred (x, y) of every joint averaged over B = 8 equal time bins (B x 2J numbers);
- speeds: every joint's speed |p[t+1] - p[t]| (px/frame), root-mean-square over the same 8 bins (B x J):
  what the binned positions smooth away (jitter, fast flicks);
- each block divided by the square root of its total variance over the real windows, so both blocks
  weigh the same among real windows (one scale per block keeps each block's geometry).

Real radii leave out windows that share a frame with the window (found by frame content, so any stride
works): consecutive windows of one clip are near copies, and with them every radius would be a one-frame
shift and only copies of the clip would count as precise. A window with fewer than k windows it does not
overlap uses all the others.

Relation to novelty and coverage (motionlab/evaluation/novelty.py), which stay:

- novelty is a distance (median nearest-window RMS distance over the clip's own repeat scale): it tells
  copying (near 0) from invention (near 1 or more), and says nothing about whether invented windows are
  plausible. precision is membership in the real support: copies score 1, plausible new windows inside
  the balls score high too, implausible ones 0. They answer different questions; read them together
  (novelty high and precision high = new and plausible; novelty near 0 = copying, precision adds nothing).
- coverage and recall both count how much of the clip the samples reach. coverage uses one fixed radius
  from the clip (its repeat scale) in raw centred pixels; recall uses each sample's distance to its own
  k-th neighbour, so a collapsed set (identical samples, radius 0) gets recall near 0 where coverage can
  still count the windows near the one pose, and a spread-out set gets wide balls. recall is the better
  detector of mode collapse; coverage is easier to read (its radius is in pixels of this clip) and does
  not depend on N. Precision and recall do not detect copying: copied windows score 1 and high.

Bootstrap: precision's rows are per-sample 0/1 (inside or not). Recall needs the samples' radii among
themselves, which change with the set: its rows hold each sample's index, its distances to every real
window and to every original sample, so a resample only gathers; a sample drawn twice counts once
(its copy at distance 0 would otherwise shrink its radius to 0). With fewer than k + 1 distinct samples
a radius is the distance to the farthest other sample (0 for one).
"""
from __future__ import annotations

import numpy as np

from motionlab.evaluation.measure import Measure, mean_of_rows
from motionlab.evaluation.smoothness import as_clips, joints_xy, same_layout

K = 3
BINS = 8
_HASH = np.random.default_rng(20190606).integers(1, 2 ** 63, size=4096, dtype=np.uint64) | np.uint64(1)


def _bin_edges(n: int, bins: int) -> np.ndarray:
    return np.round(np.linspace(0, n, min(bins, n) + 1)).astype(int)


def _bin_means(a: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(N, T, ...) -> (N, bins, ...) means over contiguous frame bins (edges strictly increasing)."""
    counts = np.diff(edges).astype(np.float64).reshape((1, -1) + (1,) * (a.ndim - 2))
    return np.add.reduceat(a, edges[:-1], axis=1) / counts


def raw_features(clips) -> tuple[np.ndarray, np.ndarray]:
    """(positions (N, B*2J), speeds (N, B*J)) before scaling: see the module docstring."""
    a = as_clips(clips, min_frames=2)
    p = joints_xy(a)
    p = p - p.mean(axis=(1, 2), keepdims=True)
    pos = _bin_means(p.reshape(len(a), a.shape[1], -1), _bin_edges(a.shape[1], BINS))
    d = np.diff(p, axis=1)
    sp = np.sqrt(_bin_means((d * d).sum(-1), _bin_edges(a.shape[1] - 1, BINS)))
    return pos.reshape(len(a), -1), sp.reshape(len(a), -1)


def _scaled(pos, sp, scales) -> np.ndarray:
    return np.concatenate([pos / scales[0], sp / scales[1]], axis=1)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances by |a|² + |b|² - 2ab, clipped at 0."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def overlapping_windows(ref) -> np.ndarray:
    """(M, M) bool: True where two reference windows share a frame (a window overlaps itself).

    Frames are identified by their bytes (a 64-bit hash of the float64 values); two contiguous windows
    share a frame exactly when one holds the other's first frame. Cached per Reference.
    """
    def make():
        w = as_clips(ref.windows, 1, "reference windows")
        m, t, c = w.shape
        bits = np.ascontiguousarray(w.reshape(m * t, c)).view(np.uint64)
        keys = np.resize(_HASH, c)
        with np.errstate(over="ignore"):
            h = (bits * keys).sum(axis=1, dtype=np.uint64)
        ids = np.unique(h, return_inverse=True)[1].reshape(m, t)
        starts = np.full(ids.max() + 1, -1)
        starts[ids[:, 0]] = np.arange(m)
        other = starts[ids.ravel()]
        mine = np.repeat(np.arange(m), t)
        hit = other >= 0
        out = np.eye(m, dtype=bool)
        out[mine[hit], other[hit]] = True
        return out | out.T
    return ref.cached("windows.overlap", make)


def _real(ref) -> dict:
    """Scaled real features and their k-NN radii (non-overlapping neighbours), once per Reference."""
    def make():
        w = as_clips(ref.windows, 2, "reference windows")
        if len(w) < K + 1:
            raise ValueError(f"precision/recall need at least {K + 1} reference windows, got {len(w)}")
        pos, sp = raw_features(w)
        scales = np.array([np.sqrt(pos.var(0).sum()), np.sqrt(sp.var(0).sum())])
        scales[~(scales > 0)] = 1.0                       # a still reference: leave the block unscaled
        f = _scaled(pos, sp, scales)
        d = _distances(f, f)
        far = np.where(overlapping_windows(ref), np.inf, d)
        enough = np.isfinite(far).sum(1) >= K
        np.fill_diagonal(d, np.inf)
        pick = np.where(enough[:, None], far, d)
        return {"scales": scales, "features": f, "radii": np.partition(pick, K - 1, axis=1)[:, K - 1]}
    return ref.cached("manifold.real", make)


def features(clips, ref) -> np.ndarray:
    """(N, B*3J) scaled window features of the samples (positions block, speeds block)."""
    a = as_clips(clips, min_frames=2)
    same_layout(a, ref, "precision/recall")
    return _scaled(*raw_features(a), _real(ref)["scales"])


def precision_rows(clips, ref) -> np.ndarray:
    """(N,) 1.0 where the sample lies inside some real window's k-NN ball, else 0.0."""
    r = _real(ref)
    return (_distances(features(clips, ref), r["features"]) <= r["radii"][None]).any(1).astype(np.float64)


def precision(clips, ref) -> float:
    """Share of samples inside the real manifold: d(sample, real_j) <= radius_j for some real window j,
    radius_j = distance from real_j to its 3rd nearest real window that shares no frame with it."""
    return float(precision_rows(clips, ref).mean())


def recall_rows(clips, ref) -> np.ndarray:
    """(N, 1 + M + N): [index, distances to the M real windows, distances to the N samples]."""
    f = features(clips, ref)
    return np.concatenate([np.arange(len(f), dtype=np.float64)[:, None],
                           _distances(f, _real(ref)["features"]), _distances(f, f)], axis=1)


def _recall_stat(rows, ref) -> float:
    m = len(_real(ref)["radii"])
    idx, first = np.unique(rows[:, 0].astype(np.int64), return_index=True)
    to_real = rows[first, 1:1 + m]
    among = rows[first][:, 1 + m + idx]                  # distances among the distinct samples
    np.fill_diagonal(among, np.inf)
    n = len(idx)
    if n == 1:
        radii = np.zeros(1)
    else:
        kk = min(K, n - 1)
        radii = np.partition(among, kk - 1, axis=1)[:, kk - 1]
    return float((to_real <= radii[:, None]).any(0).mean())


def recall(clips, ref) -> float:
    """Share of real windows inside the samples' manifold: d(real_j, sample_i) <= radius_i for some
    sample i, radius_i = distance from sample i to its 3rd nearest other sample."""
    return _recall_stat(recall_rows(clips, ref), ref)


MEASURES = (
    Measure("precision", "precision (k-NN)", "", precision, "clips", precision_rows, mean_of_rows,
            doc="share of samples inside the real windows' 3-NN balls (Kynkäänniemi et al. 2019)", bounds=Measure.SHARE),
    Measure("recall", "recall (k-NN)", "", recall, "clips", recall_rows, _recall_stat,
            doc="share of real windows inside the samples' 3-NN balls (Kynkäänniemi et al. 2019)", bounds=Measure.SHARE),
)
