"""Jerk and acceleration (GENEA calc_jerk.py in 2D)."""
from __future__ import annotations

import numpy as np
import pytest

from motionlab.evaluation import smoothness as sm
from motionlab.evaluation.measure import Reference

JOINTS = tuple(f"j{i}" for i in range(20))


def smooth_clips(n=4, frames=90, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 40))
    return 250 + 40 * np.sin(2 * np.pi * t / 45 + phase)


def test_a_cubic_path_has_the_exact_jerk_and_a_parabola_the_exact_acceleration():
    t = np.arange(20, dtype=np.float64)[None, :, None]
    ref = Reference(np.zeros((1, 20, 40)), JOINTS, fps=25.0)
    cubic = np.broadcast_to(0.5 * t ** 3, (2, 20, 40))
    parabola = np.broadcast_to(0.5 * t ** 2, (2, 20, 40))
    # third difference of 0.5 t³ is 3 per coordinate: |(3, 3)| per joint
    assert sm.jerk(cubic, ref) == pytest.approx(3 * np.sqrt(2) * 25.0 ** 3)
    assert sm.accel(parabola, ref) == pytest.approx(np.sqrt(2) * 25.0 ** 2)
    assert sm.jerk(parabola, ref) == pytest.approx(0.0, abs=1e-9)


def test_high_frequency_noise_raises_jerk_and_acceleration():
    ref = Reference(np.zeros((1, 90, 40)), JOINTS)
    clean = smooth_clips()
    noisy = clean + np.random.default_rng(1).normal(0, 1.0, clean.shape)
    assert sm.jerk(noisy, ref) > 10 * sm.jerk(clean, ref)
    assert sm.accel(noisy, ref) > 3 * sm.accel(clean, ref)


def test_the_frame_rate_scales_them_by_its_cube_and_square():
    clips = smooth_clips()
    a, b = Reference(clips, JOINTS, fps=30.0), Reference(clips, JOINTS, fps=60.0)
    assert sm.jerk(clips, b) == pytest.approx(8 * sm.jerk(clips, a))
    assert sm.accel(clips, b) == pytest.approx(4 * sm.accel(clips, a))


def test_rows_and_statistic_give_the_measures():
    clips = smooth_clips(6) + np.random.default_rng(2).normal(0, 0.5, (6, 90, 40))
    ref = Reference(clips, JOINTS)
    for m in sm.MEASURES:
        assert m.stat(m.features(clips, ref), ref) == pytest.approx(m(clips, ref), rel=1e-12)


def test_bad_input_is_one_clear_value_error():
    ref = Reference(np.zeros((1, 3, 40)), JOINTS)
    with pytest.raises(ValueError, match="W>=4"):
        sm.jerk(np.zeros((2, 3, 40)), ref)
    with pytest.raises(ValueError, match="NaN"):
        sm.accel(np.full((2, 8, 40), np.inf), ref)
    with pytest.raises(ValueError, match="fps"):
        sm.jerk(smooth_clips(), Reference(np.zeros((1, 3, 40)), JOINTS, fps=0.0))
