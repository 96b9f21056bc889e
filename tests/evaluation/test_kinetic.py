"""Kinetic features, FID_k, Div_k and the real-vs-real floor."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import REAL_CLIP, needs_real_clip

from motionlab.data.clip import load_clip
from motionlab.data.demo import demo_clip
from motionlab.data.skeleton import JOINTS_20
from motionlab.evaluation import kinetic as kn
from motionlab.evaluation.measure import Reference


def windows(x: np.ndarray, w: int, stride: int = 1) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, w, axis=0).transpose(0, 2, 1)[::stride].copy()


@pytest.fixture(scope="module")
def demo_ref():
    x = demo_clip(frames=600, seed=3).channels.astype(np.float64)
    return Reference(windows(x, 48, 2), JOINTS_20, 30.0)


def source_features(pos: np.ndarray, fps: float) -> np.ndarray:
    """The aistplusplus_api / Bailando loops, read literally (acceleration's precedence slip fixed), 2D."""
    t, dt, out = len(pos), 1.0 / fps, []
    for j in range(pos.shape[1]):
        kh = kv = acc = 0.0
        for i in range(1, t):
            v, c = np.zeros(2), 0
            for k in range(-2, 3):
                if i + k - 1 < 0 or i + k >= t:
                    continue
                v, c = v + pos[i + k, j] - pos[i + k - 1, j], c + 1
            v = v / (c * dt)
            kh, kv = kh + v[0] ** 2, kv + v[1] ** 2
            a, c = np.zeros(2), 0
            for k in range(-2, 3):
                if i + k - 1 < 0 or i + k + 1 >= t:
                    continue
                v2 = (pos[i + k + 1, j] - pos[i + k, j]) / dt
                v1 = (pos[i + k, j] - pos[i + k - 1, j]) / dt
                a, c = a + (v2 - v1) / dt, c + 1
            acc += np.linalg.norm(a / c)
        out += [kh / (t - 1), kv / (t - 1), acc / (t - 1)]
    return np.array(out)


def test_features_are_the_sources_per_frame_definition():
    clip = np.random.default_rng(0).normal(0, 5, (2, 11, 6)).cumsum(1)
    got = kn.kinetic_features(clip, 24.0)
    for c in range(2):
        assert got[c] == pytest.approx(source_features(clip[c].reshape(11, 3, 2), 24.0), rel=1e-12)


def test_frechet_distance_matches_closed_forms_and_an_eigenvalue_square_root():
    # 1D: (m1 - m2)² + (s1 - s2)²
    assert kn.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) \
        == pytest.approx(4 + 1)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    tr_sqrt = np.sqrt(np.linalg.eigvals(s1 @ s2).real).sum()     # S1 S2 has real positive eigenvalues
    expected = np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert kn.frechet_distance(np.zeros(5), s1, np.zeros(5), s2) == pytest.approx(expected, rel=1e-9)
    assert kn.frechet_distance(np.zeros(5), s1, np.zeros(5), s1) == pytest.approx(0.0, abs=1e-9)


def test_copies_of_one_window_raise_fid_k_and_a_frozen_set_lowers_div_k(demo_ref):
    w = demo_ref.windows
    real = w[np.random.default_rng(2).choice(len(w), 64, replace=False)]
    copies = np.repeat(w[:1], 64, 0) + np.random.default_rng(3).normal(0, 0.05, (64,) + w.shape[1:])
    frozen = np.repeat(real[:, :1], w.shape[1], 1)               # every sample stands still
    assert kn.fid_k(copies, demo_ref) > 20 * kn.fid_k(real, demo_ref)
    assert kn.fid_k(copies, demo_ref) > kn.fid_k_floor(demo_ref, "time")
    assert kn.div_k(frozen, demo_ref) < 0.1 * kn.div_k(real, demo_ref)
    assert kn.div_k(copies, demo_ref) < 0.1 * kn.div_k(real, demo_ref)


def test_rows_and_statistic_give_the_measures(demo_ref):
    clips = demo_ref.windows[::7] + np.random.default_rng(4).normal(0, 0.5, demo_ref.windows[::7].shape)
    fid, div = kn.MEASURES
    rows = fid.features(clips, demo_ref)
    assert fid.stat(rows, demo_ref) == pytest.approx(fid(clips, demo_ref), rel=1e-9)
    d = div.stat(rows, demo_ref)
    assert d[np.triu_indices(len(d), 1)].mean() == pytest.approx(div(clips, demo_ref), rel=1e-9)
    again = [0, 3, 3, 5, 8, 1]
    assert fid.stat(rows[again], demo_ref) == pytest.approx(fid(clips[again], demo_ref), rel=1e-9)


def test_the_random_floor_is_low_and_the_time_floor_higher(demo_ref):
    random = [kn.fid_k_floor(demo_ref, "random", seed) for seed in range(3)]
    assert max(random) < kn.fid_k_floor(demo_ref, "time")


def test_bad_input_is_one_clear_value_error(demo_ref):
    with pytest.raises(ValueError, match=r"samples are \(40, 40\)"):
        kn.fid_k(demo_ref.windows[:4, :40], demo_ref)
    with pytest.raises(ValueError, match="at least 2 clips"):
        kn.fid_k(demo_ref.windows[:1], demo_ref)
    with pytest.raises(ValueError, match="split"):
        kn.fid_k_floor(demo_ref, "halves")


@needs_real_clip
def test_real_windows_score_at_the_real_floor_and_copies_far_above_it():
    x = load_clip(REAL_CLIP).channels.astype(np.float64)
    ref = Reference(windows(x, 64), JOINTS_20, 30.0)
    m = len(ref.windows)
    half = ref.windows[np.random.default_rng(5).choice(m, m // 2, replace=False)]
    floors = [kn.fid_k_floor(ref, "random", seed) for seed in range(5)]
    assert kn.fid_k(half, ref) < np.median(floors)              # inside the reference: at most its noise
    copies = np.repeat(ref.windows[100:101], m // 2, 0)
    assert kn.fid_k(copies, ref) > max(kn.fid_k_floor(ref, "time"), 50 * np.median(floors))
