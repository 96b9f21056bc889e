"""k-NN precision and recall of sample windows against the real windows."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import REAL_CLIP, needs_real_clip

from motionlab.data.clip import load_clip
from motionlab.data.demo import demo_clip
from motionlab.data.skeleton import JOINTS_20
from motionlab.evaluation import manifold as mf
from motionlab.evaluation.measure import Reference


def windows(x: np.ndarray, w: int, stride: int = 1) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, w, axis=0).transpose(0, 2, 1)[::stride].copy()


@pytest.fixture(scope="module")
def demo_ref():
    x = demo_clip(frames=600, seed=4).channels.astype(np.float64)
    return Reference(windows(x, 48, 2), JOINTS_20, 30.0)


def test_overlap_is_found_from_frame_content_at_any_stride():
    x = np.random.default_rng(0).normal(size=(100, 4))
    for stride in (1, 3):
        w = windows(x, 10, stride)
        offsets = np.arange(len(w)) * stride
        expected = np.abs(offsets[:, None] - offsets[None]) < 10
        assert (mf.overlapping_windows(Reference(w, ("a", "b"))) == expected).all()


def test_a_real_radius_is_the_distance_to_the_third_nearest_window_sharing_no_frame():
    x = demo_clip(frames=200, seed=6).channels.astype(np.float64)
    ref = Reference(windows(x, 40), JOINTS_20, 30.0)
    f = mf.features(ref.windows, ref)
    d = np.sqrt(((f[:, None] - f[None]) ** 2).sum(-1))
    offsets = np.arange(len(f))
    d[np.abs(offsets[:, None] - offsets[None]) < 40] = np.inf    # overlapping windows (and itself) left out
    assert mf._real(ref)["radii"] == pytest.approx(np.sort(d, 1)[:, 2], rel=1e-6)


def test_real_windows_are_precise_and_recalled(demo_ref):
    w = demo_ref.windows
    half = w[np.random.default_rng(1).choice(len(w), len(w) // 2, replace=False)]
    assert mf.precision(half, demo_ref) == 1.0                  # each lies in its own ball
    assert mf.recall(half, demo_ref) > 0.9


def test_a_dance_moved_on_screen_is_the_same_dance(demo_ref):
    w = demo_ref.windows
    real = w[np.random.default_rng(6).choice(len(w), 48, replace=False)]
    moved = real + np.tile([80.0, -40.0], 20)                     # every x + 80 px, every y - 40 px
    assert mf.precision(moved, demo_ref) == mf.precision(real, demo_ref) == 1.0
    assert mf.recall(moved, demo_ref) == pytest.approx(mf.recall(real, demo_ref))


def test_a_frozen_set_and_copies_of_one_window_lose_recall(demo_ref):
    w = demo_ref.windows
    real = w[np.random.default_rng(2).choice(len(w), 64, replace=False)]
    frozen = np.repeat(real[:, :1], w.shape[1], 1)               # every sample holds its first pose
    copies = np.repeat(w[10:11], 64, 0)
    assert mf.recall(frozen, demo_ref) < 0.1 < mf.recall(real, demo_ref) - 0.5
    assert mf.precision(frozen, demo_ref) < 0.1
    assert mf.recall(copies, demo_ref) <= 1 / len(w)             # radius 0: only the copied window
    assert mf.precision(copies, demo_ref) == 1.0                 # copies are real: precision cannot tell


def test_rows_and_statistic_give_the_measures_and_a_repeated_draw_counts_once(demo_ref):
    clips = demo_ref.windows[::5] + np.random.default_rng(3).normal(0, 2.0, demo_ref.windows[::5].shape)
    prec, rec = mf.MEASURES
    for m in (prec, rec):
        assert m.stat(m.features(clips, demo_ref), demo_ref) == pytest.approx(m(clips, demo_ref), rel=1e-12)
    rows = rec.features(clips, demo_ref)
    draw = [4, 0, 4, 9, 0, 17, 4]
    distinct = sorted(set(draw))
    assert rec.stat(rows[draw], demo_ref) == pytest.approx(rec(clips[distinct], demo_ref))
    assert prec.stat(prec.features(clips, demo_ref)[draw], demo_ref) == prec(clips[draw], demo_ref)


def test_bad_input_is_one_clear_value_error(demo_ref):
    with pytest.raises(ValueError, match=r"samples are \(40, 40\)"):
        mf.precision(demo_ref.windows[:5, :40], demo_ref)
    with pytest.raises(ValueError, match="at least 4 reference windows"):
        mf.recall(demo_ref.windows[:5], Reference(demo_ref.windows[:3], JOINTS_20))


@needs_real_clip
def test_real_windows_of_the_real_clip_are_precise_and_recalled_and_jitter_is_not():
    x = load_clip(REAL_CLIP).channels.astype(np.float64)
    ref = Reference(windows(x, 64), JOINTS_20, 30.0)
    pick = np.random.default_rng(4).choice(len(ref.windows), 256, replace=False)
    real = ref.windows[pick]
    assert mf.precision(real, ref) == 1.0 and mf.recall(real, ref) > 0.9
    shaky = real + np.random.default_rng(5).normal(0, 6.0, real.shape)   # detector noise x 10
    assert mf.recall(shaky, ref) < 0.5
