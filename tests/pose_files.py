"""Pose files as MediaPipe, OpenPose, MMPose and Detectron2 write them, made from a 20-joint clip.

The keypoints the project has no joint for (eyes, ears, fingers, small toes, ...) are placed at
fixed offsets from a related joint: the converter must ignore them.
"""
from __future__ import annotations

import csv
import io
import json

import numpy as np

from motionlab.data.clip import Clip
from motionlab.formats.poseformats import DERIVED, LAYOUTS, MEDIAPIPE_33

# keypoint -> (project joint it sits beside, offset in pixels)
_EXTRA = {"eye": ("nose", (-6, -8)), "ear": ("nose", (-14, -2)), "mouth": ("nose", (-4, 8)),
          "pinky": ("hand", (4, 10)), "index": ("hand", (0, 12)), "thumb": ("hand", (-5, 8)),
          "small_toe": ("foot_index", (-6, 2)), "head": ("nose", (0, -30))}


def keypoints(clip: Clip, layout_key: str) -> np.ndarray:
    """(T, K, 2) pixels in the layout's keypoint order."""
    lay = LAYOUTS[layout_key]
    inv = {src: joint for joint, src in lay.sources().items()}
    j = {n: clip.xy[:, i].astype(np.float64) for i, n in enumerate(clip.joints)}
    out = []
    for kp in lay.keypoints:
        if kp in inv:
            out.append(j[inv[kp]])
        elif kp == "neck":
            out.append((j["left_shoulder"] + j["right_shoulder"]) / 2 + [0, 3])
        elif kp in ("mid_hip", "hip"):
            out.append((j["left_hip"] + j["right_hip"]) / 2)
        elif kp.endswith("big_toe"):  # only when the layout reads foot_index from elsewhere
            out.append(j[kp.split("_")[0] + "_foot_index"])
        else:
            side = "left" if kp.startswith("left") else "right" if kp.startswith("right") else ""
            part = next(p for p in _EXTRA if p in kp)
            anchor, off = _EXTRA[part]
            base = j[f"{side}_{anchor}"] if anchor != "nose" and side else j["nose"]
            out.append(base + np.array(off) * (1 if side != "right" else -1))
    return np.stack(out, axis=1)


def _round(a):
    return [round(float(v), 4) for v in a]


# -- MediaPipe ----------------------------------------------------------------------------------

def mediapipe_json(lm: np.ndarray, vis: np.ndarray | None = None, style: str = "tasks",
                   missing_frames=()) -> bytes:
    """lm (T, 33, 2) -> JSON. style 'tasks': [{"frame": i, "pose_landmarks": [[{x, y, z, visibility, presence}]]}];
    'dict': [{"landmark": [{x, y, z, visibility}]}] (protobuf MessageToDict); 'lists': [[[x, y, z, v], ...], ...]."""
    vis = np.ones(lm.shape[:2]) if vis is None else vis
    frames = []
    for t in range(lm.shape[0]):
        pts = [{"x": float(x), "y": float(y), "z": -0.1, "visibility": float(v), "presence": 0.99}
               for (x, y), v in zip(lm[t], vis[t])]
        if t in missing_frames:
            frames.append({"frame": t, "pose_landmarks": []} if style == "tasks" else None)
        elif style == "tasks":
            frames.append({"frame": t, "pose_landmarks": [pts]})
        elif style == "dict":
            frames.append({"landmark": [{k: p[k] for k in ("x", "y", "z", "visibility")} for p in pts]})
        else:
            frames.append([[p["x"], p["y"], p["z"], p["visibility"]] for p in pts])
    return json.dumps(frames).encode()


def mediapipe_csv(lm: np.ndarray, vis: np.ndarray | None = None, style: str = "named", missing=()) -> bytes:
    """'named': frame, nose_x, nose_y, nose_z, nose_visibility, ...; 'numbered': class, x1, y1, z1, v1, ... x33
    (1-based, as in the common tutorial); 'long': frame, landmark, x, y, z, visibility.
    `missing` holds (frame, landmark index) pairs written as empty cells."""
    vis = np.ones(lm.shape[:2]) if vis is None else vis
    buf = io.StringIO()
    w = csv.writer(buf)
    T = lm.shape[0]
    if style == "long":
        w.writerow(["frame", "landmark", "x", "y", "z", "visibility"])
        for t in range(T):
            for k in range(33):
                x, y = ("", "") if (t, k) in missing else lm[t, k]
                w.writerow([t, MEDIAPIPE_33[k], x, y, -0.1, vis[t, k]])
        return buf.getvalue().encode()
    if style == "named":
        w.writerow(["frame"] + [f"{n}_{f}" for n in MEDIAPIPE_33 for f in ("x", "y", "z", "visibility")])
    else:
        w.writerow(["class"] + [f"{f}{k + 1}" for k in range(33) for f in ("x", "y", "z", "v")])
    for t in range(T):
        row = [t if style == "named" else "dance"]
        for k in range(33):
            x, y = ("", "") if (t, k) in missing else lm[t, k]
            row += [x, y, -0.1, vis[t, k]]
        w.writerow(row)
    return buf.getvalue().encode()


# -- keypoint formats ---------------------------------------------------------------------------

def openpose_frames(kp: np.ndarray, conf: np.ndarray | None = None, extra_people: dict | None = None) -> list[bytes]:
    """One OpenPose JSON per frame: {"version": 1.3, "people": [{"pose_keypoints_2d": [x, y, c, ...]}]}.
    A missing keypoint is written as 0, 0, 0, as OpenPose does. extra_people: frame -> (K, 3) array."""
    conf = np.ones(kp.shape[:2]) if conf is None else conf
    out = []
    for t in range(kp.shape[0]):
        a = np.concatenate([kp[t], conf[t][:, None]], axis=1)
        a[conf[t] == 0] = 0
        people = [{"person_id": [-1], "pose_keypoints_2d": _round(a.ravel()), "face_keypoints_2d": [],
                   "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}]
        if extra_people and t in extra_people:
            people.append({"person_id": [-1], "pose_keypoints_2d": _round(np.asarray(extra_people[t]).ravel())})
        out.append(json.dumps({"version": 1.3, "people": people}).encode())
    return out


def mmpose_json(kp: np.ndarray, conf: np.ndarray | None = None) -> bytes:
    """MMPose's demo --save-predictions on a video: {meta_info, instance_info: [{frame_id, instances}]}."""
    conf = np.ones(kp.shape[:2]) if conf is None else conf
    info = [{"frame_id": t + 1, "instances": [{"keypoints": [_round(p) for p in kp[t]],
                                                "keypoint_scores": _round(conf[t]),
                                                "bbox": [[0.0, 0.0, 10.0, 10.0]], "bbox_score": 0.9}]}
            for t in range(kp.shape[0])]
    return json.dumps({"meta_info": {"dataset_name": "coco"}, "instance_info": info}).encode()


def coco_results(kp: np.ndarray, conf: np.ndarray | None = None) -> bytes:
    """Detectron2's COCOEvaluator coco_instances_results.json: [{image_id, category_id, keypoints, score}]."""
    conf = np.ones(kp.shape[:2]) if conf is None else conf
    res = [{"image_id": t, "category_id": 1, "score": 0.99,
            "keypoints": _round(np.concatenate([kp[t], conf[t][:, None]], axis=1).ravel())}
           for t in range(kp.shape[0])]
    return json.dumps(res).encode()


# -- checking a converted clip against the one the files were made from ----------------------------------

def sub(clip, joints):
    return clip.xy[:, [clip.joints.index(j) for j in joints]]


def direct(joints):
    return [j for j in joints if j not in DERIVED]


def check_same(out, clip, tol=1e-3):
    """Direct joints come back as written; derived ones are the means of the converted parts."""
    d = direct(out.joints)
    np.testing.assert_allclose(sub(out, d), sub(clip, d), atol=tol)
    for name, parts in DERIVED.items():
        if name in out.joints:
            np.testing.assert_allclose(sub(out, [name])[:, 0], sub(out, parts).mean(1), atol=tol)
