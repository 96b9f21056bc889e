"""Kinetic features, FID_k and Div_k: the dance-generation field's "does it move like the data" pair.

Sources: Li et al., "AI Choreographer" (ICCV 2021), repository google-research/mint, tools/calculate_scores.py
(calculate_frechet_feature_distance, calculate_frechet_distance) with the features of google/aistplusplus_api
aist_plusplus/features/kinetic.py; Li et al., "Bailando" (CVPR 2022), repository lisiyao21/Bailando,
utils/metrics_new.py (normalize, calc_fid, calculate_avg_distance) with its utils/features/kinetic.py.

Kinetic features of one clip (per joint, in joint order, three numbers each; 3J in all):

- v_i, for i = 1 .. W-1: the mean of the frame differences p[k+1] - p[k] for k = i-3 .. i+1 that exist
  (k in 0 .. W-2), divided by the frame time 1/fps: the source's sliding window of +-2 differences.
- mean horizontal kinetic energy = mean over i of v_i,x²  (px²/s²);
- mean vertical kinetic energy = mean over i of v_i,y²  (px²/s²);
- mean acceleration magnitude ("energy expenditure") = mean over i of |a_i|, a_i the mean of the second
  differences p[k+2] - 2p[k+1] + p[k] for k = i-3 .. i+1 that exist (k in 0 .. W-3), times fps²  (px/s²).

What changed for 2D: the horizontal plane is the image x axis alone and the vertical is image y (its sign
does not matter, the energy squares it); positions are image pixels including the dancer's travel (the
sources use world positions, root included). The frame time is 1/ref.fps (the sources hard-code 1/60 or
1/30). The source's acceleration has an operator-precedence slip (v1 = p[i] - p[i-1] / frame_time); we
compute the second difference it means.

Normalization: as Bailando, every feature is standardized by the real windows' mean and std (ddof 0,
std + 1e-10), computed once per Reference (`ref.cached`); samples and real windows both use it.
"""
from __future__ import annotations

import numpy as np

from motionlab.evaluation.manifold import overlapping_windows
from motionlab.evaluation.measure import Measure
from motionlab.evaluation.smoothness import as_clips, frame_rate, joints_xy, same_layout

_STD_EPS = 1e-10   # Bailando's normalize()


def kinetic_features(clips, fps: float) -> np.ndarray:
    """(N, 3J) raw kinetic features: per joint [horizontal energy, vertical energy, acceleration]."""
    a = as_clips(clips, min_frames=3)
    p = joints_xy(a)
    w = p.shape[1]
    frames = np.arange(1, w)                                   # i = 1 .. W-1
    v = _window_means(p, frames) * fps                         # of first differences of p
    acc = _window_means(np.diff(p, axis=1), frames) * fps * fps  # of second differences
    feats = np.stack([(v[..., 0] ** 2).mean(1), (v[..., 1] ** 2).mean(1),
                      np.sqrt((acc * acc).sum(-1)).mean(1)], axis=-1)   # (N, J, 3)
    return feats.reshape(len(a), -1)


def _window_means(q: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """For each frame i, the mean of the differences d[k] = q[k+1] - q[k] over k = i-3 .. i+1 within
    0 .. len(q)-2. The sum telescopes to q[hi+1] - q[lo], so no cumulative sum is needed."""
    last = q.shape[1] - 2
    lo = np.clip(frames - 3, 0, last)
    hi = np.clip(frames + 1, 0, last)
    count = (hi - lo + 1).astype(np.float64)[None, :, None, None]
    return (q[:, hi + 1] - q[:, lo]) / count


def _real(ref) -> dict:
    """The real windows' normalization and Gaussian, once per Reference."""
    def make():
        raw = kinetic_features(as_clips(ref.windows, 3, "reference windows"), frame_rate(ref))
        mean, std = raw.mean(0), raw.std(0) + _STD_EPS
        z = (raw - mean) / std
        if len(z) < 2:
            raise ValueError("fid_k needs at least 2 reference windows")
        mu, sigma = z.mean(0), np.cov(z, rowvar=False)
        return {"mean": mean, "std": std, "z": z, "mu": mu, "sigma": sigma, "sqrt_sigma": _psd_sqrt(sigma)}
    return ref.cached("kinetic.real", make)


def normalized_features(clips, ref) -> np.ndarray:
    """(N, 3J) kinetic features standardized by the real windows' statistics (the rows of fid_k and div_k)."""
    a = as_clips(clips, min_frames=3)
    same_layout(a, ref, "kinetic features")
    r = _real(ref)
    return (kinetic_features(a, frame_rate(ref)) - r["mean"]) / r["std"]


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigh (negative rounding clipped to 0)."""
    lam, vec = np.linalg.eigh((s + s.T) / 2)
    return (vec * np.sqrt(np.clip(lam, 0, None))) @ vec.T


def frechet_distance(mu1, sigma1, mu2, sigma2, sqrt_sigma2=None) -> float:
    """|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), the Fréchet distance of two Gaussians.

    Without scipy's sqrtm: S1 S2 has the eigenvalues of the symmetric PSD matrix R S1 R, R = S2^(1/2)
    (similar matrices), so tr((S1 S2)^(1/2)) is the sum of their square roots (eigvalsh, negatives from
    rounding clipped to 0). That is the value the sources compute with sqrtm's real part, without its
    singular-product retry: a singular covariance (fewer clips than features) needs no epsilon here.
    """
    r = _psd_sqrt(sigma2) if sqrt_sigma2 is None else sqrt_sigma2
    m = r @ sigma1 @ r
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(np.clip(lam, 0, None)).sum())


def _fid_rows(rows, ref) -> float:
    rows = np.asarray(rows, np.float64)
    if len(rows) < 2:
        raise ValueError("fid_k needs at least 2 clips (a covariance)")
    r = _real(ref)
    return frechet_distance(rows.mean(0), np.cov(rows, rowvar=False), r["mu"], r["sigma"], r["sqrt_sigma"])


def fid_k(clips, ref) -> float:
    """FID_k: Fréchet distance between the Gaussians (mean, covariance with ddof 1) of the samples' and the
    real windows' normalized kinetic features (mint calculate_scores.py, Bailando metrics_new.py calc_fid).
    0 for a set distributed like the real windows up to its sampling noise; see fid_k_floor."""
    return _fid_rows(normalized_features(clips, ref), ref)


def _pair_distances(rows, ref=None) -> np.ndarray:
    """(n, n) Euclidean distances between rows, by |a|² + |b|² - 2ab (one matmul: a bootstrap calls it
    a thousand times); rounding below 0 is clipped."""
    rows = np.asarray(rows, np.float64)
    sq = (rows * rows).sum(1)
    return np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * rows @ rows.T, 0.0))


def div_k(clips, ref) -> float:
    """Div_k: mean Euclidean distance over pairs of distinct samples of their normalized kinetic features
    (Bailando metrics_new.py calculate_avg_distance; the real windows only set the normalization).
    0.0 for a single clip."""
    d = _pair_distances(normalized_features(clips, ref))
    n = len(d)
    return float(d[np.triu_indices(n, 1)].mean()) if n > 1 else 0.0


def fid_k_floor(ref, split: str = "random", seed: int = 0) -> float:
    """The real-vs-real FID_k: Fréchet distance between two disjoint halves of the real windows.

    split="random": a seeded random half of the windows against the other half: what a set of real
    windows of that size gets from sampling noise alone. Overlapping windows (one clip at stride 1) fall
    on both sides, so this is the lowest floor: a model that copies the clip evenly reaches it.
    split="time": the windows in stored order (the clip's time) cut into a first group and a later group
    that share no frame, as equal in size as the cut allows: how far one part of the dance is from
    another. A model whose FID_k lies above this floor differs from the data more than the dance
    differs from itself.
    """
    z = _real(ref)["z"]
    m = len(z)
    if m < 4:
        raise ValueError(f"the real-vs-real floor needs at least 4 reference windows, got {m}")
    if split == "random":
        order = np.random.default_rng(seed).permutation(m)
        a, b = z[order[:m // 2]], z[order[m // 2:]]
    elif split == "time":
        ov = overlapping_windows(ref)
        reach = np.maximum.accumulate(np.where(ov, np.arange(m)[None], -1).max(1))  # last window touched by 0..c
        cut = np.arange(1, m + 1)
        size = np.minimum(cut, m - 1 - reach)                  # first cut windows vs those after reach
        c = int(np.argmax(size)) + 1
        if size[c - 1] < 2:
            raise ValueError("the reference windows overlap too much for two frame-disjoint halves")
        a, b = z[:c], z[reach[c - 1] + 1:]
    else:
        raise ValueError(f"split must be 'random' or 'time', got {split!r}")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


MEASURES = (
    Measure("fid_k", "FID (kinetic)", "", fid_k, "clips", normalized_features, _fid_rows,
            doc="Fréchet distance of normalized kinetic features to the real windows' (mint, Bailando; 2D)"),
    Measure("div_k", "diversity (kinetic)", "", div_k, "pairs", normalized_features, _pair_distances,
            doc="mean pairwise distance of the samples' normalized kinetic features (Bailando; 2D)"),
)
