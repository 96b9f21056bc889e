"""Foot skating and physical foot contact, for 2D keypoints (image x horizontal, image y pointing down).

Sources: Karunratanakul et al., "Guided Motion Diffusion" (ICCV 2023), repository
korrawe/guided-motion-diffusion, data_loaders/humanml/utils/metrics.py (calculate_skating_ratio); Tseng et
al., "EDGE: Editable Dance Generation from Music" (CVPR 2023), repository Stanford-TML/EDGE,
eval/eval_pfc.py (calc_physical_score). GMD issue #8: real data skates too (about 0.05 there), so a model's
value is read beside the real windows' own (scripts/clip_rhythm.py prints the real clip's).

Body scale L (per clip): the median over frames and both sides of thigh + shin, |hip - knee| + |knee -
ankle| in pixels (about 145 px on the real clip); unlike the straight hip-to-ankle distance it does not
shrink when the knee bends. Thresholds are in L, so they do not depend on image size. An adult's thigh +
shin is about 0.86 m (0.49 x 1.75 m), so 1 L is read as 0.86 m below.

The feet: per side, the points ankle, heel and foot_index that the clip has (the ankle is required).
A foot's image height is floor - (its lowest point's y), floor = the lowest foot point (largest y) of the
clip over all its frames and both sides, in pixels, divided by L. Its horizontal position is the mean x of
its points (the clip's foot_mean).

Limits of 2D, visible on the real clip: a step toward the camera puts a planted foot lower in the image,
so "height above the window's lowest foot" reads a planted foot behind it as lifted, and the dancer
drifts toward the camera (the lowest foot sits 0.10 L lower in the last third of the 64-frame windows than
in the first). Contact is undercounted where the dance travels in depth, the more the longer the window
(35.6 % of foot-frames read higher than 0.3 L in 256-frame windows, 16.8 % in 64-frame ones), for samples
and real windows alike: compare a model with real windows of its own length.
"""
from __future__ import annotations

import numpy as np

from motionlab.evaluation.measure import Measure, mean_of_rows
from motionlab.evaluation.smoothness import as_clips, frame_rate, joints_xy

# GMD: 0.05 m height, 0.5 m/s speed at 20 fps, 5-frame mean; 0.05 m / 0.86 m = 0.058 L and 0.5 m/s =
# 0.58 L/s, rounded. The real clip agrees (scripts/clip_rhythm.py, 64-frame windows): 59 % of foot-frames
# lie under 0.06 L and the share per 0.02 L falls from 15 % to 7 % past it; feet in contact move at
# 0.13 L/s median, 0.44 L/s at the 90th percentile (detector jitter), free feet at 1.03 L/s median.
CONTACT_HEIGHT = 0.06        # L
SKATE_SPEED = 0.6            # L per second
SPEED_WINDOW = 5             # frames, GMD's uniform_filter1d size (zeros beyond the clip, as mode='constant')
PFC_SCALE = 1e4              # EDGE's
SIDES = ("left", "right")
FOOT_POINTS = ("ankle", "heel", "foot_index")


def _index(ref, measure: str) -> dict:
    """Joint indices: per side hip, knee and foot points; ValueError naming what is missing."""
    names = {n: i for i, n in enumerate(ref.joints)}
    need = [f"{s}_{p}" for s in SIDES for p in ("hip", "knee", "ankle")]
    missing = [n for n in need if n not in names]
    if missing:
        raise ValueError(f"{measure} needs the joints {', '.join(missing)}; the reference names "
                         f"{len(names)} joints without them")
    out = {s: {p: names[f"{s}_{p}"] for p in ("hip", "knee")} for s in SIDES}
    for s in SIDES:
        out[s]["foot"] = [names[f"{s}_{p}"] for p in FOOT_POINTS if f"{s}_{p}" in names]
        out[s]["toe"] = names.get(f"{s}_foot_index", names[f"{s}_ankle"])
    return out


def _checked(clips, ref, measure: str, min_frames: int):
    a = as_clips(clips, min_frames=min_frames)
    if a.shape[2] != 2 * len(ref.joints):
        raise ValueError(f"{measure}: clips have {a.shape[2] // 2} joints, the reference names {len(ref.joints)}")
    return joints_xy(a), _index(ref, measure)


def body_scale(p: np.ndarray, idx: dict) -> np.ndarray:
    """(N,) L: median over frames and sides of |hip - knee| + |knee - ankle|, px (at least 1e-6)."""
    legs = [np.linalg.norm(p[:, :, idx[s]["hip"]] - p[:, :, idx[s]["knee"]], axis=-1)
            + np.linalg.norm(p[:, :, idx[s]["knee"]] - p[:, :, idx[s]["foot"][0]], axis=-1) for s in SIDES]
    return np.maximum(np.median(np.concatenate(legs, axis=1), axis=1), 1e-6)


def _running_mean(v: np.ndarray, size: int) -> np.ndarray:
    """Centred mean over `size` frames along axis 1, zeros beyond the ends (GMD's uniform_filter1d,
    mode='constant', origin 0: for an even size the extra frame is on the left, as scipy's)."""
    left = size // 2
    right = size - 1 - left
    padded = np.pad(v, [(0, 0), (left, right)] + [(0, 0)] * (v.ndim - 2))
    cs = np.concatenate([np.zeros_like(padded[:, :1]), np.cumsum(padded, axis=1)], axis=1)
    return (cs[:, size:] - cs[:, :-size]) / size


def skating_rows(clips, ref) -> np.ndarray:
    """(N,) each clip's skating ratio (see skating)."""
    p, idx = _checked(clips, ref, "skating", 2)
    scale = body_scale(p, idx)[:, None, None]
    low = np.stack([p[:, :, idx[s]["foot"], 1].max(2) for s in SIDES], axis=2)      # (N, W, 2) lowest point y
    x = np.stack([p[:, :, idx[s]["foot"], 0].mean(2) for s in SIDES], axis=2)       # (N, W, 2) foot x
    floor = low.max(axis=(1, 2), keepdims=True)
    height = (floor - low) / scale
    speed = np.abs(np.diff(x, axis=1)) * frame_rate(ref) / scale                     # (N, W-1, 2) L/s
    contact = (height[:, :-1] < CONTACT_HEIGHT) & (height[:, 1:] < CONTACT_HEIGHT)
    skate = contact & (speed > SKATE_SPEED) & (_running_mean(speed, SPEED_WINDOW) > SKATE_SPEED)
    return skate.any(axis=2).mean(axis=1)


def skating(clips, ref) -> float:
    """Foot-skating ratio (GMD calculate_skating_ratio, 2D): per clip, the share of its W-1 frame steps in
    which either foot is in contact (height < 0.06 L in both frames of the step) and moves horizontally
    faster than 0.6 L/s, both in that step and in the 5-step centred mean (zeros beyond the clip);
    mean over clips."""
    return float(skating_rows(clips, ref).mean())


def pfc_rows(clips, ref) -> np.ndarray:
    """(N,) each clip's mean over frames of min-left-speed x min-right-speed x root acceleration (no x 1e4)."""
    p, idx = _checked(clips, ref, "pfc", 3)
    fps = frame_rate(ref)
    scale = body_scale(p, idx)[:, None]
    root = (p[:, :, idx["left"]["hip"]] + p[:, :, idx["right"]["hip"]]) / 2
    acc = np.diff(root, n=2, axis=1) * fps * fps                                     # (N, W-2, 2) px/s²
    up = np.maximum(-acc[..., 1], 0.0)                                               # y points down
    a = np.sqrt(acc[..., 0] ** 2 + up ** 2)
    top = a.max(axis=1, keepdims=True)
    a = np.divide(a, top, out=np.zeros_like(a), where=top > 0)
    mins = []
    for s in SIDES:
        pts = [idx[s]["foot"][0], idx[s]["toe"]]                                        # ankle, toe
        v = np.abs(p[:, 2:, pts, 0] - p[:, 1:-1, pts, 0]) / scale[..., None]          # L per frame
        mins.append(v.min(axis=2))
    return (mins[0] * mins[1] * a).mean(axis=1)


def pfc(clips, ref) -> float:
    """Physical foot contact (EDGE eval_pfc.py, 2D), lower is more physical: per clip, the mean over frames
    t = 2 .. W-1 of  min(left ankle, left toe horizontal speed) x min(right ankle, right toe speed) x
    |root acceleration| / its max over the clip; mean over clips x 10^4.

    2D: the root is the mid-hips; its acceleration is (a_x, max(-a_y, 0)), the image's one horizontal
    axis and the upward part of the vertical one (y points down; EDGE clamps its up axis at 0 the same
    way); foot speeds are |x[t] - x[t-1]| in leg lengths L per frame (EDGE: metres per frame at 30 fps,
    1 L is about 0.86 m), the toe being foot_index (the ankle alone when the clip has no foot_index).
    """
    return float(pfc_rows(clips, ref).mean() * PFC_SCALE)


def _pfc_stat(rows, ref) -> float:
    return float(np.mean(rows) * PFC_SCALE)


MEASURES = (
    Measure("skating", "foot skating", "", skating, "clips", skating_rows, mean_of_rows,
            doc="share of frames a foot in contact slides faster than 0.6 leg/s (GMD, 2D)", bounds=Measure.SHARE),
    Measure("pfc", "physical foot contact", "", pfc, "clips", pfc_rows, _pfc_stat,
            doc="feet speeds x upward root acceleration, x 10^4 (EDGE PFC, 2D; lower is better)"),
)
