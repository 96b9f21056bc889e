"""What the real clip shows about its frame rate and tempo, and its own values of the 2D motion measures
(the figures in docs/MEASURES.md).

    .venv/bin/python scripts/clip_rhythm.py [data/uptown_funk.json] > /tmp/clip_rhythm.json

Prints JSON:
- periods: autocorrelation peaks (lag in frames, value) of the mean joint speed and of the joint-averaged
  speed tempogram (motionlab.evaluation.rhythm) over the whole clip and over its 256-frame windows, and of
  the mid-hip height (the body's bounce);
- implied_fps: for the tempogram's two highest peaks and the hip height's three, the frame rate that
  would make that period half a beat of 115 BPM (230, double time), one beat, two beats (57.5, half
  time), three beats or a bar of four;
- tempo_bpm_at_30fps: the tempo measure on the whole clip and on its 256- and 64-frame windows;
- free_fall: the trunk's vertical acceleration while both feet are off the floor (jumps), and the frame
  rate that makes it 9.81 m/s² if a leg (thigh + shin) is 0.86 m;
- real_windows: every window of 64 and of 256 frames (stride 1) as the Reference and as the sample set:
  skating, pfc, jerk, accel, tempo, beat scores with their random-beat nulls (at 115 BPM, 30 fps),
  fid_k's floors, div_k, a seeded random half's fid_k, div_k, precision and recall; and the foot figures
  behind foot.py's thresholds (heights and speeds in leg lengths L, the floor's drift over the clip).
"""
from __future__ import annotations

import json
import sys

import numpy as np

from motionlab.data.clip import load_clip
from motionlab.evaluation import foot, kinetic, manifold, rhythm, smoothness
from motionlab.evaluation.measure import Reference

FPS, BPM = 30.0, 115.0
LEG_M = 0.86           # thigh + shin of an adult (about 0.49 x height 1.75 m)
G = 9.81


def windows(x: np.ndarray, w: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, w, axis=0).transpose(0, 2, 1).copy()


def acf(s: np.ndarray) -> np.ndarray:
    s = s - s.mean()
    n = len(s)
    f = np.fft.rfft(s, 2 * n)
    a = np.fft.irfft(f * np.conj(f), 2 * n)[:n]
    return a / a[0] * n / (n - np.arange(n))


def top(curve, lo, hi, k=4):
    return [[round(float(lag), 2), round(v, 3)] for lag, v in rhythm.peaks(curve, lo, hi)[:k]]


def periods(x: np.ndarray, joints) -> dict:
    ref = Reference(x[None], joints, FPS)
    mean_speed = rhythm.joint_speeds(x[None])[0].mean(0)
    hip = (x[:, 2 * joints.index("left_hip") + 1] + x[:, 2 * joints.index("right_hip") + 1]) / 2
    hip = rhythm.gaussian_smooth(hip, 1.0)
    hip = hip - np.convolve(np.pad(hip, 15, mode="edge"), np.ones(31) / 31, "valid")   # minus its 1 s mean
    return {
        "mean_joint_speed_acf": top(acf(mean_speed), 2, 80),
        "joint_tempogram_whole_clip": top(rhythm.tempogram_rows(x[None], ref)[0], 2, 80),
        "joint_tempogram_256_windows": top(rhythm.tempogram_rows(windows(x, 256), ref).mean(0), 2, 80),
        "hip_height_acf": top(acf(hip), 2, 80),
    }


def implied_fps(lag: float) -> dict:
    """The frame rate at which a period of `lag` frames spans half a beat .. a bar of 115 BPM."""
    return {name: round(lag * BPM / beats / 60, 1) for name, beats in
            (("half_beat_230", 0.5), ("one_beat_115", 1), ("two_beats_57.5", 2), ("three_beats", 3),
             ("four_beats_bar", 4))}


def free_fall(x: np.ndarray, joints) -> list:
    """Jumps: runs of >= 6 frames with every foot point more than 0.1 L above the clip's usual floor."""
    p = x.reshape(len(x), -1, 2)
    idx = foot._index(Reference(x[None], joints), "free fall")
    leg = float(foot.body_scale(p[None], idx)[0])
    feet = [i for s in foot.SIDES for i in idx[s]["foot"]]
    lowest = p[:, feet, 1].max(1)
    off = lowest < np.median(lowest) - 0.1 * leg
    trunk = p[:, [joints.index(n) for n in ("nose", "neck_mid", "left_shoulder", "right_shoulder")], 1].mean(1)
    out, t = [], 0
    while t < len(x):
        if not off[t]:
            t += 1
            continue
        end = t
        while end < len(x) and off[end]:
            end += 1
        if end - t >= 6:
            f = np.arange(t, end)
            a = 2 * np.polyfit(f - f.mean(), trunk[t:end], 2)[0]          # px / frame², down positive
            g_px = G * leg / LEG_M                                           # px / s²
            out.append({"frames": [int(t), int(end - 1)], "trunk_accel_px_per_frame2": round(float(a), 3),
                        "fps_if_free_fall": round(float(np.sqrt(g_px / a)), 1) if a > 0 else None,
                        "expected_px_per_frame2": {str(r): round(g_px / r ** 2, 3) for r in (24, 30, 60)}})
        t = end
    return out


def foot_figures(w: np.ndarray, ref) -> dict:
    """Foot heights and speeds over all windows, in L (the thresholds' evidence)."""
    p = smoothness.joints_xy(w)
    idx = foot._index(ref, "skating")
    scale = foot.body_scale(p, idx)[:, None, None]
    low = np.stack([p[:, :, idx[s]["foot"], 1].max(2) for s in foot.SIDES], 2)
    height = (low.max(axis=(1, 2), keepdims=True) - low) / scale
    xs = np.stack([p[:, :, idx[s]["foot"], 0].mean(2) for s in foot.SIDES], 2)
    speed = np.abs(np.diff(xs, axis=1)) * FPS / scale
    contact = (height[:, :-1] < foot.CONTACT_HEIGHT) & (height[:, 1:] < foot.CONTACT_HEIGHT)
    hist = np.histogram(height, bins=np.arange(0, 0.31, 0.02))[0]
    lowest = p[:, :, [i for s in foot.SIDES for i in idx[s]["foot"]], 1].max(2)        # (windows, W)
    first, last = np.median(lowest[: len(w) // 3]), np.median(lowest[-(len(w) // 3):])
    return {"leg_px_median": round(float(np.median(scale)), 1),
            "floor_drift_first_to_last_third_L": round(float((last - first) / np.median(scale)), 3),
            "height_share_per_0.02L_bin_to_0.3": [round(float(v), 3) for v in hist / height.size],
            "height_share_above_0.3L": round(float((height >= 0.3).mean()), 3),
            "contact_share": round(float(contact.mean()), 3),
            "contact_speed_L_per_s_p50_p90_p95": [round(float(v), 3)
                                                  for v in np.percentile(speed[contact], [50, 90, 95])],
            "free_speed_L_per_s_p50": round(float(np.median(speed[~contact])), 3)}


def real_windows(x: np.ndarray, joints, w: int) -> dict:
    win = windows(x, w)
    ref = Reference(win, joints, FPS, BPM)
    floors = [kinetic.fid_k_floor(ref, "random", seed) for seed in range(20)]
    half = win[np.random.default_rng(0).choice(len(win), len(win) // 2, replace=False)]
    out = {"windows": len(win), "skating": foot.skating(win, ref), "pfc": foot.pfc(win, ref),
           "jerk_px_s3": smoothness.jerk(win, ref), "accel_px_s2": smoothness.accel(win, ref),
           "tempo_bpm": rhythm.tempo(win, ref),
           "beat_align": rhythm.beat_align(win, ref), "beat_align_null": rhythm.beat_null(win, ref, "motion"),
           "beat_align_music": rhythm.beat_align_music(win, ref),
           "beat_align_music_null": rhythm.beat_null(win, ref, "music"),
           "motion_beats_per_s": float(rhythm.motion_beats(win, FPS).sum(1).mean() / (w - 1) * FPS),
           "fid_k_floor_random_median_of_20": float(np.median(floors)),
           "fid_k_floor_random_range": [float(min(floors)), float(max(floors))],
           "fid_k_floor_time": kinetic.fid_k_floor(ref, "time"), "div_k": kinetic.div_k(win, ref),
           "random_half": {"fid_k": kinetic.fid_k(half, ref), "div_k": kinetic.div_k(half, ref),
                           "precision": manifold.precision(half, ref), "recall": manifold.recall(half, ref)}}
    out["random_half"] = {k: round(v, 4) for k, v in out["random_half"].items()}
    out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}
    out["feet"] = foot_figures(win, ref)
    return out


def main(path: str) -> dict:
    clip = load_clip(path)
    x, joints = clip.channels.astype(np.float64), clip.joints
    per = periods(x, joints)
    tempogram = per["joint_tempogram_256_windows"]
    ref = Reference(x[None], joints, FPS)
    return {
        "clip": str(path), "frames": clip.num_frames, "assumed_fps": FPS, "song_bpm": BPM,
        "beat_period_frames_at_30fps": round(60 * FPS / BPM, 2),
        "periods": per,
        "implied_fps": {"joint_tempogram_256_windows": {str(lag): implied_fps(lag) for lag, _ in tempogram[:2]},
                        "hip_height_acf": {str(lag): implied_fps(lag) for lag, _ in per["hip_height_acf"][:3]}},
        "tempo_bpm_at_30fps": {"whole_clip": round(rhythm.tempo(x[None], ref), 2),
                               "windows_256": round(rhythm.tempo(windows(x, 256), ref), 2),
                               "windows_64": round(rhythm.tempo(windows(x, 64), ref), 2)},
        "free_fall": free_fall(x, joints),
        "real_windows": {str(w): real_windows(x, joints, w) for w in (64, 256)},
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "data/uptown_funk.json"), indent=1))
