"""A procedural dancer of our own making, in the 20-joint format of the real clip.

Used when data/uptown_funk.json is absent, and by tests. Forward kinematics on a
2D stick figure (pixels, y down) with beat-locked bounce, arm swings and side steps.
"""
from __future__ import annotations

import numpy as np

from motionlab.data.clip import Clip
from motionlab.data.skeleton import JOINTS_20


def _polar(origin, length, angle):
    # angle 0 points down the image (+y); positive turns towards +x
    return origin + length * np.stack([np.sin(angle), np.cos(angle)], -1)


def demo_clip(frames: int = 480, fps: float = 30.0, bpm: float = 115.0, seed: int = 0) -> Clip:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    beat = 2 * np.pi * bpm / 60.0 * t
    bar = beat / 4
    jitter = lambda s: s * rng.standard_normal(frames).cumsum() / np.sqrt(frames)  # slow drift

    hip_c = np.stack([256 + 60 * np.sin(bar / 2) + jitter(8), 300 + 10 * np.abs(np.sin(beat)) + jitter(3)], -1)
    lean = 0.12 * np.sin(bar)
    up = np.stack([np.sin(lean + np.pi), np.cos(lean + np.pi)], -1)  # torso direction (up)
    neck = hip_c + 105 * up
    nose = neck + 38 * np.stack([np.sin(lean + np.pi + 0.15 * np.sin(beat)), np.cos(lean + np.pi)], -1)
    across = np.stack([np.cos(lean), -np.sin(lean)], -1)
    j = {"neck_mid": neck, "nose": nose}
    for s, sign in (("left", 1.0), ("right", -1.0)):
        phase = 0.0 if s == "left" else np.pi
        sh = neck + sign * 34 * across
        hip = hip_c + sign * 22 * across
        a_up = sign * (0.5 + 0.9 * (0.5 + 0.5 * np.sin(beat / 2 + phase))) + lean
        el = _polar(sh, 52, a_up)
        hand = _polar(el, 48, a_up + sign * (0.3 + 0.8 * (0.5 + 0.5 * np.sin(beat + phase))))
        step = 0.18 * np.sin(beat / 2 + phase) * sign
        kn = _polar(hip, 70, step + sign * 0.05)
        bend = 0.25 * (0.5 + 0.5 * np.sin(beat + phase))
        an = _polar(kn, 68, step - sign * bend * 0.5)
        heel = an + np.stack([-sign * 4 + 0 * t, 7 + 0 * t], -1)
        toe = an + np.stack([sign * 22 + 0 * t, 12 + 0 * t], -1)
        j.update({f"{s}_shoulder": sh, f"{s}_elbow": el, f"{s}_hand": hand, f"{s}_hip": hip,
                  f"{s}_knee": kn, f"{s}_ankle": an, f"{s}_heel": heel, f"{s}_foot_index": toe,
                  f"{s}_foot_mean": (an + heel + toe) / 3})
    xy = np.stack([j[n] for n in JOINTS_20], axis=1).astype(np.float32)
    xy += rng.normal(0, 0.6, xy.shape).astype(np.float32)  # keypoint detector noise
    return Clip(JOINTS_20, xy)
