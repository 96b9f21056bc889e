"""Tempo from the joints' speeds and beat alignment in both directions, against a random-beat null."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import REAL_CLIP, needs_real_clip

from motionlab.data.clip import load_clip
from motionlab.data.skeleton import JOINTS_20
from motionlab.evaluation import rhythm as rh
from motionlab.evaluation.measure import Reference

FPS = 30.0


def pulsing(frames: int, period: float, n: int = 8, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """(n, frames, 40): every joint circles with an angular speed 1 + 0.8 cos(2 pi t / period), so each
    joint's speed is a cosine of that period, its minima at t = period/2 + k period (plus a clip phase)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[None, :, None]
    shift = rng.uniform(0, period, (n, 1, 1))
    w = 2 * np.pi / period
    angle = 0.6 * (t + shift) + 0.6 * 0.8 / w * np.sin(w * (t + shift))     # d angle/dt = 0.6 (1 + 0.8 cos)
    centre = rng.uniform(150, 350, (n, 1, 20))
    radius = rng.uniform(10, 30, (1, 1, 20))
    x, y = centre + radius * np.cos(angle), centre + radius * np.sin(angle)
    clip = np.stack([x, y], -1).reshape(n, frames, 40)
    return clip + rng.normal(0, noise, clip.shape)


def ref_for(clips, bpm=None):
    return Reference(clips, JOINTS_20, FPS, bpm)


def test_playing_a_clip_faster_raises_the_tempo_by_the_same_factor():
    clips = pulsing(480, period=40.0)
    ref = ref_for(clips)
    base = rh.tempo(clips, ref)
    assert base == pytest.approx(60 * FPS / 40, rel=0.03)       # 45 BPM: one speed cycle per 40 frames
    for k in (2, 3):
        assert rh.tempo(clips[:, ::k], ref) == pytest.approx(k * base, rel=0.03)


def test_tempo_is_read_at_the_references_frame_rate():
    clips = pulsing(240, period=30.0)
    # the smoothing is in seconds, so it covers twice the frames at 60 fps: equal up to that
    assert rh.tempo(clips, Reference(clips, JOINTS_20, 60.0)) == pytest.approx(2 * rh.tempo(clips, ref_for(clips)),
                                                                               rel=0.01)


def test_motion_beats_are_the_minima_of_the_mean_joint_speed():
    speed = 2 + np.cos(2 * np.pi * np.arange(99) / 20)           # minima at 10, 30, 50, 70, 90
    x = np.concatenate([[0.0], np.cumsum(speed)])
    clip = np.zeros((1, 100, 40))
    clip[0, :, 0] = x                                            # one joint moves right at that speed
    assert np.flatnonzero(rh.motion_beats(clip, FPS)[0]).tolist() == [10, 30, 50, 70, 90]


def test_a_still_set_has_no_tempo():
    still = np.full((3, 64, 40), 100.0)
    assert np.isnan(rh.tempo(still, ref_for(still)))


def test_motion_beats_on_the_grid_score_one_in_both_directions():
    period = 10                                                  # 180 BPM at 30 fps
    beats = np.zeros((2, 100), dtype=bool)
    beats[0, 3::period] = True
    beats[1, 7::period] = True
    assert rh._to_music(beats, period, 1.5).max(1) == pytest.approx([1.0, 1.0])
    assert rh._to_motion(beats, period, 1.5).max(1) == pytest.approx([1.0, 1.0])
    # one beat of ten moved half a period: mint loses most of that motion beat's score, Bailando most
    # of music beat 53's
    beats[0, 53] = False
    beats[0, 58] = True
    off = 0.9 + 0.1 * np.exp(-25 / 4.5)                           # 58 is 5 frames from 53 and from 63
    assert rh._to_music(beats, period, 1.5).max(1)[0] == pytest.approx(off)
    assert rh._to_motion(beats, period, 1.5).max(1)[0] == pytest.approx(off)   # music beat 53: nearest is 58


def test_beat_locked_motion_scores_above_the_random_beat_null_and_unlocked_motion_does_not():
    bpm = 115.0
    period = 60 * FPS / bpm
    locked = pulsing(256, period, n=16, seed=1)
    loose = pulsing(256, 11.0, n=16, seed=2)                     # speed minima every 11 frames
    ref = ref_for(locked, bpm)
    for fn, direction in ((rh.beat_align, "motion"), (rh.beat_align_music, "music")):
        null = rh.beat_null(locked, ref, direction, draws=10)
        assert fn(locked, ref) > null + 0.3
        assert fn(loose, ref) < rh.beat_null(loose, ref, direction, draws=10) + 0.1
        assert fn(loose, ref) < fn(locked, ref) - 0.3


def test_without_a_tempo_the_beat_measures_are_nan():
    clips = pulsing(64, 16.0, n=3)
    ref = ref_for(clips)
    for m in rh.MEASURES[1:]:
        assert np.isnan(m(clips, ref)) and np.isnan(m.stat(m.features(clips, ref), ref))
    assert np.isnan(rh.beat_null(clips, ref))


def test_rows_and_statistic_give_the_measures():
    clips = pulsing(128, 15.0, n=6, seed=3)
    ref = ref_for(clips, 115.0)
    for m in rh.MEASURES:
        rows = m.features(clips, ref)
        assert m.stat(rows, ref) == pytest.approx(m(clips, ref), rel=1e-12)
        assert m.stat(rows[[0, 2, 2, 5]], ref) == pytest.approx(m(clips[[0, 2, 2, 5]], ref), rel=1e-12)


def test_smoothing_keeps_constants_and_sums_to_one():
    s = np.zeros((1, 41))
    s[0, 20] = 1.0
    out = rh.gaussian_smooth(s, 2.5)
    assert out.sum() == pytest.approx(1.0) and out.argmax() == 20
    assert rh.gaussian_smooth(np.full((2, 9), 3.0), 5.0) == pytest.approx(np.full((2, 9), 3.0))


def test_bad_input_is_one_clear_value_error():
    clips = pulsing(64, 16.0, n=2)
    with pytest.raises(ValueError, match="bpm"):
        rh.beat_align(clips, ref_for(clips, -3.0))
    with pytest.raises(ValueError, match="direction"):
        rh.beat_null(clips, ref_for(clips, 115.0), "both")
    with pytest.raises(ValueError, match="W>=3"):
        rh.tempo(clips[:, :2], ref_for(clips))


def test_clips_too_short_for_a_period_have_no_tempo():
    clips = pulsing(16, 10.0, n=2)              # lags up to 7 frames; 240 BPM is 7.5 frames at 30 fps
    assert np.isnan(rh.tempo(clips, ref_for(clips)))
    assert np.isnan(rh.tempo(clips[:, :3], ref_for(clips)))


@needs_real_clip
def test_the_real_clip_moves_near_115_bpm_at_30_fps_and_its_beats_beat_chance():
    x = load_clip(REAL_CLIP).channels.astype(np.float64)
    w = np.lib.stride_tricks.sliding_window_view(x, 256, axis=0).transpose(0, 2, 1)[::4]
    ref = ref_for(w, 115.0)
    assert rh.tempo(w, ref) == pytest.approx(115.0, rel=0.1)
    assert rh.beat_align_music(w, ref) > rh.beat_null(w, ref, "music", draws=5) + 0.05
