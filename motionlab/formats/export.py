"""Exports for the tools people use next: OpenPose keypoint JSON, pose images, CSV and NPY.

Every export states its frame rate: in its file name (`_30fps`), and in OpenPose folders also in
`meta.json`. `resample_fps` converts a clip to another rate (linear interpolation in time).

OpenPose keypoint JSON (CMU OpenPose's `--write_json` output, doc/02_output.md): one file per frame,
`{"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, ...], ...}]}`
with 25 (BODY_25) or 18 (COCO-18, the layout ControlNet's openpose annotator uses) keypoints.
A keypoint that was not detected is (0, 0, 0). Our 20 joints map as `BODY_25_FROM_OURS` /
`COCO_18_FROM_OURS` say:

    OpenPose point   ours
    Nose             nose
    Neck             neck_mid
    R/LShoulder      right/left_shoulder
    R/LElbow         right/left_elbow
    R/LWrist         right/left_hand (our hand point stands in for the wrist)
    MidHip (BODY_25) midpoint of left_hip and right_hip (derived, confidence 1)
    R/LHip, Knee, Ankle   right/left_hip, _knee, _ankle
    L/RBigToe        left/right_foot_index
    L/RHeel          left/right_heel
    R/LEye, R/LEar, L/RSmallToe   not in our skeleton: (0, 0, 0), not detected
    (left/right_foot_mean have no OpenPose point and are not exported)

Coordinates are pixels of a square canvas (`canvas` x `canvas`, default 512) that the whole clip is
fitted into with the same square bounds the GIFs use, so the JSON and the pose images agree; each
frame file also carries `canvas_width` / `canvas_height`, as ControlNet pose editors write them.

Pose images follow ControlNet's openpose annotator (controlnet_aux `util.draw_bodypose`): black
background, COCO-18 limbs as filled ellipses of half-width 4 px in `LIMB_COLORS` (then the whole
limb layer dimmed to 60 %), and keypoints as radius-4 discs in `POINT_COLORS[k]` for point k.
"""
from __future__ import annotations

import csv
import io
import json
import math
import zipfile

import numpy as np
from PIL import Image, ImageDraw

from motionlab.data.clip import Clip
from motionlab.formats.render import square_bounds
from motionlab.io import atomic_write_bytes
from motionlab.errors import MotionlabError

CLIP_FPS = 30.0  # our clip files carry no frame rate; every tool here plays them at 30 fps
FORMATS = ("openpose", "pose_png", "csv", "npy")

BODY_25 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
           "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
           "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
COCO_18 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip", "RKnee",
           "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar")
_COMMON = {"Nose": "nose", "Neck": "neck_mid", "RShoulder": "right_shoulder", "RElbow": "right_elbow",
           "RWrist": "right_hand", "LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_hand",
           "RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle", "LHip": "left_hip",
           "LKnee": "left_knee", "LAnkle": "left_ankle"}
# point name -> our joint, or a tuple of joints whose mean it is; absent: not detected
BODY_25_FROM_OURS = {**_COMMON, "MidHip": ("left_hip", "right_hip"), "LBigToe": "left_foot_index",
                     "LHeel": "left_heel", "RBigToe": "right_foot_index", "RHeel": "right_heel"}
COCO_18_FROM_OURS = dict(_COMMON)
LAYOUTS = {"BODY_25": (BODY_25, BODY_25_FROM_OURS), "COCO_18": (COCO_18, COCO_18_FROM_OURS)}

# ControlNet's openpose drawing (COCO-18 indices, 0-based): limb i joins LIMBS[i] in LIMB_COLORS[i]
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
POINT_COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
                (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255),
                (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))
LIMB_COLORS = POINT_COLORS[:len(LIMBS)]
STICK_HALF_WIDTH = 4
POINT_RADIUS = 4
LIMB_DIM = 0.6


def check_fps(fps, what: str = "fps") -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 1 <= fps <= 240:
        raise MotionlabError(f"{what} must be a number 1..240, got {fps!r}")
    return float(fps)


def fps_tag(fps: float) -> str:
    """'30fps', '12.5fps': what file names carry."""
    return f"{float(fps):g}fps"


def resample_fps(xy: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """(T, J, 2) at src_fps -> (T', J, 2) at dst_fps over the same time span, linear in time.

    T' = floor((T - 1) * dst / src) + 1, so the first frame is kept and none is extrapolated.
    """
    src_fps, dst_fps = check_fps(src_fps, "source fps"), check_fps(dst_fps)
    a = np.asarray(xy, np.float64)
    if src_fps == dst_fps or a.shape[0] < 2:
        return a.astype(np.float32)
    n = int(math.floor((a.shape[0] - 1) * dst_fps / src_fps + 1e-9)) + 1
    t_src = np.arange(a.shape[0]) / src_fps
    t_dst = np.arange(n) / dst_fps
    flat = a.reshape(a.shape[0], -1)
    out = np.stack([np.interp(t_dst, t_src, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(n, *a.shape[1:]).astype(np.float32)


def at_fps(clip: Clip, fps: float, src_fps: float = CLIP_FPS) -> Clip:
    return Clip(clip.joints, np.ascontiguousarray(resample_fps(clip.xy, src_fps, fps)))


def keypoints(xy: np.ndarray, joints, layout: str = "BODY_25") -> np.ndarray:
    """(T, J, 2) -> (T, K, 3) OpenPose keypoints (x, y, confidence); missing points are (0, 0, 0)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    names, mapping = LAYOUTS[layout]
    idx = {n: i for i, n in enumerate(joints)}
    xy = np.asarray(xy, np.float64)
    out = np.zeros((xy.shape[0], len(names), 3))
    for k, name in enumerate(names):
        src = mapping.get(name)
        parts = (src,) if isinstance(src, str) else (src or ())
        if not parts or any(p not in idx for p in parts):
            continue
        p = xy[:, [idx[q] for q in parts]].mean(1)
        ok = np.isfinite(p).all(1)
        out[ok, k, :2] = p[ok]
        out[ok, k, 2] = 1.0
    return out


def fit_canvas(xy: np.ndarray, size: int = 512) -> np.ndarray:
    """(T, J, 2) pixels -> the same motion fitted into a size x size canvas (square bounds over all frames)."""
    x0, y0, x1, y1 = square_bounds([xy])
    scale = (size - 1) / max(x1 - x0, y1 - y0)
    return (np.asarray(xy, np.float64) - [x0, y0]) * scale


def openpose_frames(clip: Clip, layout: str = "BODY_25", canvas: int = 512) -> list[dict]:
    """One OpenPose JSON object per frame (one person), coordinates on the fitted canvas."""
    kp = keypoints(fit_canvas(clip.xy, canvas), clip.joints, layout)
    frames = []
    for f in kp:
        flat = [round(float(v), 3) for v in f.reshape(-1)]
        frames.append({"version": 1.3, "canvas_width": canvas, "canvas_height": canvas,
                       "people": [{"person_id": [-1], "pose_keypoints_2d": flat, "face_keypoints_2d": [],
                                   "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
                                   "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
                                   "hand_right_keypoints_3d": []}]})
    return frames


def _ellipse_polygon(a, b, half_width: float, n: int = 36) -> list[tuple[float, float]]:
    (xa, ya), (xb, yb) = a, b
    cx, cy, half_len = (xa + xb) / 2, (ya + yb) / 2, math.hypot(xb - xa, yb - ya) / 2
    ang = math.atan2(yb - ya, xb - xa)
    c, s = math.cos(ang), math.sin(ang)
    pts = []
    for i in range(n):
        th = 2 * math.pi * i / n
        u, v = half_len * math.cos(th), half_width * math.sin(th)
        pts.append((cx + u * c - v * s, cy + u * s + v * c))
    return pts


def pose_images(clip: Clip, size: int = 512) -> np.ndarray:
    """(T, size, size, 3) uint8: ControlNet-openpose-style COCO-18 drawings on black."""
    kp = keypoints(fit_canvas(clip.xy, size), clip.joints, "COCO_18")
    out = np.empty((len(kp), size, size, 3), np.uint8)
    for t, f in enumerate(kp):
        limbs = Image.new("RGB", (size, size), (0, 0, 0))
        d = ImageDraw.Draw(limbs)
        for (a, b), color in zip(LIMBS, LIMB_COLORS):
            if f[a, 2] > 0 and f[b, 2] > 0:
                d.polygon(_ellipse_polygon(f[a, :2], f[b, :2], STICK_HALF_WIDTH), fill=color)
        im = Image.fromarray((np.asarray(limbs) * LIMB_DIM).astype(np.uint8))
        d = ImageDraw.Draw(im)
        r = POINT_RADIUS
        for k, color in enumerate(POINT_COLORS):
            if f[k, 2] > 0:
                x, y = f[k, :2]
                d.ellipse([x - r, y - r, x + r, y + r], fill=color)
        out[t] = np.asarray(im)
    return out


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def csv_text(clip: Clip, fps: float) -> str:
    """frame, time_s, then <joint>_x, <joint>_y for every joint (pixels, y down)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["frame", "time_s"] + [f"{j}_{c}" for j in clip.joints for c in ("x", "y")])
    for t, row in enumerate(clip.channels):
        w.writerow([t, f"{t / fps:.6f}"] + [f"{v:.3f}" for v in row])
    return buf.getvalue()


def npy_bytes(clip: Clip) -> bytes:
    """(T, J, 2) float32 pixels, joints in the clip's (sorted) order."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(clip.xy, np.float32))
    return buf.getvalue()


def files_for(clip: Clip, name: str, fmt: str, fps: float = CLIP_FPS, src_fps: float = CLIP_FPS,
              layout: str = "BODY_25", canvas: int = 512) -> dict[str, bytes]:
    """{relative path: bytes} of one clip in one format, at `fps` (converted from src_fps)."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    fps = check_fps(fps)
    c = at_fps(clip, fps, src_fps)
    tag = f"{name}_{fps_tag(fps)}"
    if fmt == "csv":
        return {f"{tag}.csv": csv_text(c, fps).encode()}
    if fmt == "npy":
        return {f"{tag}.npy": npy_bytes(c)}
    if fmt == "pose_png":
        return {f"{tag}_pose/{name}_{t:06d}.png": _png(im) for t, im in enumerate(pose_images(c, canvas))}
    frames = openpose_frames(c, layout, canvas)
    files = {f"{tag}_openpose/{name}_{t:012d}_keypoints.json": json.dumps(f).encode() for t, f in enumerate(frames)}
    names, mapping = LAYOUTS[layout]
    meta = {"fps": fps, "frames": len(frames), "layout": layout, "keypoints": list(names),
            "canvas": [canvas, canvas], "source_fps": src_fps,
            "from_motionlab_joints": {k: (v if isinstance(v, str) else {"mean_of": list(v)}) if v else None
                                      for k, v in ((n, mapping.get(n)) for n in names)}}
    files[f"{tag}_openpose/meta.json"] = json.dumps(meta, indent=1).encode()
    return files


def export_zip(clips: list[Clip], names: list[str], fmt: str, **kw) -> bytes:
    """Several clips (or one) in one format as a zip of the files_for() layout."""
    if not clips:
        raise ValueError("nothing to export")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for c, n in zip(clips, unique_names(names)):
            for path, data in files_for(c, n, fmt, **kw).items():
                z.writestr(path, data)
    return buf.getvalue()


def unique_names(names: list[str]) -> list[str]:
    import re
    out, used = [], set()
    for n in names:
        fn = re.sub(r"[^A-Za-z0-9_.-]+", "_", n).strip("_") or "clip"
        while fn in used:
            fn += "_"
        used.add(fn)
        out.append(fn)
    return out


def write_files(out_dir, files: dict[str, bytes]) -> list[str]:
    from pathlib import Path

    written = []
    for rel, data in files.items():
        p = Path(out_dir) / rel
        atomic_write_bytes(p, data)
        written.append(str(p))
    return written
