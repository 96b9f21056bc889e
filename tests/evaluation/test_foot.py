"""Foot skating and physical foot contact in 2D: each responds to the failure it names."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import REAL_CLIP, needs_real_clip

from motionlab.data.clip import load_clip
from motionlab.data.skeleton import JOINTS_20
from motionlab.evaluation import foot
from motionlab.evaluation.measure import Reference

FPS = 30.0
LEG = 140.0          # px, thigh + shin of the figure below
FLOOR = 460.0


def standing(frames: int = 60, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """(frames, 40) a figure standing still, feet flat on the floor (y down), detector noise added."""
    j = {"nose": (250, 150), "neck_mid": (250, 190), "left_shoulder": (280, 190), "right_shoulder": (220, 190),
         "left_elbow": (290, 240), "right_elbow": (210, 240), "left_hand": (295, 290), "right_hand": (205, 290),
         "left_hip": (270, 300), "right_hip": (230, 300), "left_knee": (272, 370), "right_knee": (228, 370),
         "left_ankle": (272, 440), "right_ankle": (228, 440), "left_heel": (268, FLOOR), "right_heel": (232, FLOOR),
         "left_foot_index": (292, FLOOR), "right_foot_index": (208, FLOOR)}
    for s in ("left", "right"):
        j[f"{s}_foot_mean"] = tuple(np.mean([j[f"{s}_{p}"] for p in ("ankle", "heel", "foot_index")], 0))
    pose = np.array([j[n] for n in JOINTS_20], np.float64)
    clip = np.repeat(pose[None], frames, 0)
    return (clip + np.random.default_rng(seed).normal(0, noise, clip.shape)).reshape(frames, -1)


def move_foot(clip: np.ndarray, side: str, dx_per_frame: float, lift: float = 0.0, frames=slice(None)):
    """Shift one foot (ankle, heel, toe, foot_mean) by dx per frame over `frames`, raised by `lift` px."""
    out = clip.reshape(len(clip), -1, 2).copy()
    t = np.arange(len(clip))[frames]
    for p in ("ankle", "heel", "foot_index", "foot_mean"):
        i = JOINTS_20.index(f"{side}_{p}")
        out[t, i, 0] += dx_per_frame * (t - t[0])
        out[t, i, 1] -= lift
    return out.reshape(len(clip), -1)


def ref_for(clips=None):
    return Reference(np.zeros((2, 60, 40)) if clips is None else clips, JOINTS_20, FPS)


def test_a_foot_sliding_on_the_floor_skates_and_a_planted_or_lifted_foot_does_not():
    ref = ref_for()
    still = standing()
    fast = 1.5 * LEG / FPS                                       # 1.5 L/s, well above 0.6
    slide = move_foot(still, "left", fast)
    lifted = move_foot(still, "left", fast, lift=0.3 * LEG)     # a step through the air
    slow = move_foot(still, "left", 0.3 * LEG / FPS)             # under the speed threshold
    assert foot.skating(still[None], ref) == 0.0
    assert foot.skating(slide[None], ref) > 0.9
    assert foot.skating(lifted[None], ref) == 0.0
    assert foot.skating(slow[None], ref) == 0.0


def test_a_one_frame_detector_glitch_of_a_planted_foot_is_not_skating():
    # GMD's 5-step mean: a foot jumping out and back in one frame moves 1.2 L/s in two steps, 0.48 L/s
    # on average over five; a sustained slide at that speed would count
    ref = ref_for()
    clip = standing(noise=0.0).reshape(60, -1, 2)
    for p in ("ankle", "heel", "foot_index", "foot_mean"):
        clip[30, JOINTS_20.index(f"left_{p}"), 0] += 1.2 * LEG / FPS
    assert foot.skating(clip.reshape(60, -1)[None], ref) == 0.0
    assert foot.skating(move_foot(standing(noise=0.0), "left", 1.2 * LEG / FPS)[None], ref) > 0.9


def test_skating_counts_the_share_of_frame_steps_that_slide():
    ref = ref_for()
    clip = move_foot(standing(noise=0.0), "right", 2 * LEG / FPS, frames=slice(30, None))   # slides from frame 30
    # steps 30..58 slide (29 of 59); GMD's 5-step mean (zeros beyond the clip) lowers only the first step
    # in: (0+0+v+v+v)/5 > 0.6 L/s holds for v = 2 L/s, so every sliding step counts
    assert foot.skating(clip[None], ref) == pytest.approx(29 / 59)


def test_skating_and_pfc_do_not_depend_on_image_size():
    ref = ref_for()
    clip = move_foot(standing(), "left", 1.2 * LEG / FPS, frames=slice(10, 40))
    big = clip * 2.5
    assert foot.skating(big[None], ref) == pytest.approx(foot.skating(clip[None], ref))
    assert foot.pfc(big[None], ref) == pytest.approx(foot.pfc(clip[None], ref))


def bouncing(frames=60, slide=0.0):
    """The figure bouncing up and down (root accelerating up), feet planted or both sliding sideways."""
    clip = standing(frames, noise=0.0).reshape(frames, -1, 2)
    t = np.arange(frames)
    upper = [JOINTS_20.index(n) for n in JOINTS_20 if not any(k in n for k in ("ankle", "heel", "foot"))]
    clip[:, upper, 1] -= 15 * np.abs(np.sin(2 * np.pi * t / 20))[:, None]
    for side in ("left", "right"):
        for p in ("ankle", "heel", "foot_index", "foot_mean"):
            clip[:, JOINTS_20.index(f"{side}_{p}"), 0] += slide * np.sin(2 * np.pi * t / 15)
    return clip.reshape(frames, -1)


def test_pfc_is_zero_for_planted_feet_and_grows_when_feet_slide_under_an_accelerating_root():
    ref = ref_for()
    planted, sliding = bouncing(), bouncing(slide=20.0)
    assert foot.pfc(planted[None], ref) == pytest.approx(0.0, abs=1e-9)
    assert foot.pfc(sliding[None], ref) > 0.5                 # the real clip's windows: about 0.7


def test_pfc_counts_only_upward_root_acceleration():
    # the root moves with a constant downward pull in image y (accelerating towards +y): not upward
    ref = ref_for()
    clip = move_foot(move_foot(standing(noise=0.0), "left", 3.0), "right", 3.0).reshape(60, -1, 2)
    t = np.arange(60)
    for s in ("left", "right"):
        clip[:, JOINTS_20.index(f"{s}_hip"), 1] += 0.05 * t ** 2
    down = foot.pfc(clip.reshape(60, -1)[None], ref)
    clip[:, [JOINTS_20.index("left_hip"), JOINTS_20.index("right_hip")], 1] -= 2 * 0.05 * t[:, None] ** 2
    up = foot.pfc(clip.reshape(60, -1)[None], ref)
    assert down == pytest.approx(0.0, abs=1e-9)
    assert up > 1.0


def test_rows_and_statistic_give_the_measures():
    ref = ref_for()
    clips = np.stack([standing(seed=1), move_foot(standing(seed=2), "left", 6.0), bouncing(slide=10.0)])
    for m in foot.MEASURES:
        assert m.stat(m.features(clips, ref), ref) == pytest.approx(m(clips, ref), rel=1e-12)
        twice = m.features(clips, ref)[[0, 1, 1, 2]]           # a resample with a repeated clip
        assert m.stat(twice, ref) == pytest.approx(m(clips[[0, 1, 1, 2]], ref), rel=1e-12)


def test_bad_input_is_one_clear_value_error():
    with pytest.raises(ValueError, match="needs the joints left_hip"):
        foot.skating(standing()[None], Reference(np.zeros((1, 60, 40)), tuple(f"j{i}" for i in range(20))))
    with pytest.raises(ValueError, match="clips have 19 joints"):
        foot.pfc(np.zeros((1, 60, 38)), ref_for())
    with pytest.raises(ValueError, match="NaN"):
        foot.skating(np.full((1, 60, 40), np.nan), ref_for())


@needs_real_clip
def test_real_windows_skate_a_little_as_real_data_does():
    x = load_clip(REAL_CLIP).channels.astype(np.float64)
    w = np.lib.stride_tricks.sliding_window_view(x, 64, axis=0).transpose(0, 2, 1)[::4]
    ref = Reference(w, JOINTS_20, FPS)
    s = foot.skating(w, ref)
    assert 0.005 < s < 0.15                                      # GMD #8: real motion is not 0
    assert 0.0 < foot.pfc(w, ref) < 5.0
