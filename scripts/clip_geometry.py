"""How the clip's derived joints relate to the others (the figures in docs/POSE_FORMATS.md).

    .venv/bin/python scripts/clip_geometry.py [data/uptown_funk.json]

Prints JSON: for each derived joint of motionlab.formats.poseformats.DERIVED, the largest and mean distance
(pixels) between the clip's joint and the mean of its parts, and the least-squares weights of the
parts; the median forearm / upper-arm length ratio (is 'hand' the wrist?); and on which side of the
image the left shoulder is (whose left the clip means).
"""
from __future__ import annotations

import json
import sys

import numpy as np

from motionlab.data.clip import load_clip
from motionlab.formats.poseformats import DERIVED, derive_joints


def measure(path) -> dict:
    clip = load_clip(path)
    xy = {n: clip.xy[:, i].astype(np.float64) for i, n in enumerate(clip.joints)}
    out = {"clip": str(path), "frames": clip.num_frames, "derived": {}}
    for name, mean in derive_joints({n: v for n, v in xy.items() if n not in DERIVED}).items():
        d = np.linalg.norm(xy[name] - mean, axis=-1)
        parts = DERIVED[name]
        a = np.stack([xy[p].ravel() for p in parts], axis=1)
        w, *_ = np.linalg.lstsq(a, xy[name].ravel(), rcond=None)
        out["derived"][name] = {"mean_of": list(parts), "max_px": float(d.max()), "mean_px": float(d.mean()),
                                "lstsq_weights": [round(float(v), 6) for v in w]}
    ratio = {}
    for s in ("left", "right"):
        upper = np.linalg.norm(xy[f"{s}_shoulder"] - xy[f"{s}_elbow"], axis=-1)
        fore = np.linalg.norm(xy[f"{s}_elbow"] - xy[f"{s}_hand"], axis=-1)
        ratio[s] = round(float(np.median(fore / upper)), 3)
    out["forearm_over_upper_arm_median"] = ratio
    # > 0: the dancer's left shoulder is on the image's right, i.e. left is the subject's own left
    out["left_minus_right_shoulder_x_median"] = round(float(np.median(xy["left_shoulder"][:, 0]
                                                                       - xy["right_shoulder"][:, 0])), 2)
    return out


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1] if len(sys.argv) > 1 else "data/uptown_funk.json"), indent=1))
