"""2D pose files -> clips: MediaPipe Pose (JSON, CSV) and COCO-17 / OpenPose keypoint JSON.

    track = read_pose_files([(name, raw_bytes), ...])    # format and layout are detected
    clip, report = pose_to_clip(track, size=(1920, 1080), min_confidence=0.3, max_gap=10)

A track holds one person per frame, in the layout's own keypoints (NaN = not detected). pose_to_clip
maps them onto the project's joints (docs/POSE_FORMATS.md), fills short gaps of missing or
low-confidence detections by linear interpolation, derives neck_mid and the foot means, and checks
the result with the clip loader. Every problem is one MotionlabError line naming the file and frame.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from motionlab.data.clip import MAX_FRAMES, Clip, clip_bytes, loads_clip, loads_json
from motionlab.errors import PoseFileError as _Err
from motionlab.data.skeleton import JOINTS_20

# -- layouts (keypoint order as the tools write them) -------------------------------------------

MEDIAPIPE_33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index")
COCO_17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle")
OPENPOSE_COCO_18 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear")
OPENPOSE_BODY_25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel")
HALPE_26 = COCO_17 + ("head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe",
                      "right_small_toe", "left_heel", "right_heel")


@dataclass(frozen=True)
class Layout:
    key: str
    title: str
    keypoints: tuple[str, ...]

    def sources(self) -> dict[str, str]:
        """Project joint -> the keypoint it is read from, for the joints this layout has."""
        kp = set(self.keypoints)
        out = {}
        for joint in DIRECT_JOINTS:
            for cand in JOINT_SOURCES[joint]:
                if cand in kp:
                    out[joint] = cand
                    break
        return out

    def joints(self) -> tuple[str, ...]:
        """The project joints a clip from this layout has: direct ones, then derivable ones."""
        have = set(self.sources())
        return tuple(sorted(have | {d for d, parts in DERIVED.items() if set(parts) <= have}))


LAYOUTS = {
    "mediapipe33": Layout("mediapipe33", "MediaPipe Pose (33 landmarks)", MEDIAPIPE_33),
    "coco17": Layout("coco17", "COCO-17", COCO_17),
    "openpose_coco18": Layout("openpose_coco18", "OpenPose COCO-18", OPENPOSE_COCO_18),
    "openpose_body25": Layout("openpose_body25", "OpenPose BODY_25", OPENPOSE_BODY_25),
    "halpe26": Layout("halpe26", "Halpe-26", HALPE_26),
}
# keypoint formats say which layout they use only through the keypoint count
_BY_COUNT = {len(lay.keypoints): lay for k, lay in LAYOUTS.items() if k != "mediapipe33"}
_COUNTS_TEXT = "17 (COCO-17), 18 (OpenPose COCO-18), 25 (OpenPose BODY_25) or 26 (Halpe-26)"

# -- the mapping onto the project's 20 joints ---------------------------------------------------

# Each project joint read straight from a keypoint: the first candidate the layout has.
JOINT_SOURCES = {"nose": ("nose",)}
for _s in ("left", "right"):
    JOINT_SOURCES.update({
        f"{_s}_shoulder": (f"{_s}_shoulder",), f"{_s}_elbow": (f"{_s}_elbow",),
        f"{_s}_hand": (f"{_s}_wrist",),  # the clip's hand is the wrist: docs/POSE_FORMATS.md
        f"{_s}_hip": (f"{_s}_hip",), f"{_s}_knee": (f"{_s}_knee",), f"{_s}_ankle": (f"{_s}_ankle",),
        f"{_s}_heel": (f"{_s}_heel",),
        f"{_s}_foot_index": (f"{_s}_foot_index", f"{_s}_big_toe"),
    })
DIRECT_JOINTS = tuple(JOINT_SOURCES)
# Derived joints are means of other project joints; measured exact on data/uptown_funk.json
# (scripts/clip_geometry.py).
DERIVED = {"neck_mid": ("left_shoulder", "right_shoulder")}
for _s in ("left", "right"):
    DERIVED[f"{_s}_foot_mean"] = (f"{_s}_ankle", f"{_s}_heel", f"{_s}_foot_index")


def derive_joints(xy: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The derived joints computable from `xy` (joint -> (T, 2)), as joint -> (T, 2)."""
    return {d: np.mean([xy[p] for p in parts], axis=0) for d, parts in DERIVED.items()
            if all(p in xy for p in parts)}


# -- tracks -------------------------------------------------------------------------------------

@dataclass
class PoseTrack:
    """One person per frame: xy (T, K, 2) with NaN where nothing was detected, conf (T, K)."""
    layout: Layout
    xy: np.ndarray
    conf: np.ndarray
    source: str
    format: str
    multi_person_frames: int = 0   # frames where several people were found (the most confident is kept)
    empty_frames: int = 0          # frames with nobody detected

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])


@dataclass
class ConvertReport:
    source: str
    format: str
    layout: str
    frames: int
    joints: tuple[str, ...]
    filled: dict[str, int] = field(default_factory=dict)   # direct joint -> frames filled by interpolation
    filled_frames: int = 0
    empty_frames: int = 0
    multi_person_frames: int = 0
    size: tuple[int, int] | None = None

    @property
    def filled_total(self) -> int:
        return sum(self.filled.values())

    @property
    def dropped(self) -> tuple[str, ...]:
        return tuple(j for j in JOINTS_20 if j not in self.joints)

    def lines(self) -> list[str]:
        out = [f"{self.source}: {self.format}, {self.layout}, {self.frames} frames -> {len(self.joints)} joints"
               + (f" (scaled by {self.size[0]}x{self.size[1]})" if self.size else "")]
        if self.dropped:
            out.append(f"not in this layout, left out: {', '.join(self.dropped)}")
        if self.filled_total:
            per = ", ".join(f"{j} {n}" for j, n in sorted(self.filled.items(), key=lambda kv: (-kv[1], kv[0])) if n)
            out.append(f"filled {self.filled_total} missing or low-confidence points by interpolation "
                       f"({self.filled_frames} frames): {per}")
        else:
            out.append("no missing or low-confidence points to fill")
        if self.empty_frames:
            out.append(f"{self.empty_frames} frames had nobody detected")
        if self.multi_person_frames:
            out.append(f"{self.multi_person_frames} frames had several people; the most confident one was kept")
        return out


# -- reading ------------------------------------------------------------------------------------

def _short(v) -> str:
    try:
        s = json.dumps(v)
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _num(v, where: str) -> float:
    """A JSON coordinate or score; None (null) is a missing detection."""
    if v is None:
        return math.nan
    if type(v) is bool or not isinstance(v, (int, float)):
        raise _Err(f"{where}: {_short(v)} is not a number")
    if abs(v) > 1e7:  # magnitude first: a huge JSON integer overflows float()
        raise _Err(f"{where}: {_short(v)} is not a finite coordinate")
    return float(v)


_NUM_TYPES = {int, float, type(None)}


def _floats(vals: list) -> np.ndarray | None:
    """Fast path for a list of JSON numbers/nulls (null -> NaN); None when any value needs the slow,
    value-by-value check that names it."""
    if not set(map(type, vals)) <= _NUM_TYPES:
        return None
    try:
        a = np.array(vals, dtype=np.float64)
    except (OverflowError, ValueError, TypeError):
        return None
    return None if (np.abs(a) > 1e7).any() else a


def _reject_constant(token: str):
    raise _Err(f"contains {token}, which is not a number (mark a missing detection with null or confidence 0)")


# Pose JSON is wordier than a clip (33 landmarks with z and scores): a 20,000-frame MediaPipe file is ~70 MB.
MAX_POSE_FILE_BYTES = 200 * 2**20


def _decode(name: str, raw: bytes) -> str:
    if len(raw) > MAX_POSE_FILE_BYTES:
        raise _Err(f"{name}: {len(raw) / 2**20:.1f} MB exceeds the {MAX_POSE_FILE_BYTES // 2**20} MB limit "
                   f"for pose files")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Err(f"{name}: not UTF-8 text") from None
    if not text.strip():
        raise _Err(f"{name}: the file is empty")
    return text


# A person as read: (xy (K, 2), conf (K,)) in the file's keypoint order.
Person = tuple[np.ndarray, np.ndarray]


@dataclass
class _Frames:
    fmt: str
    layout: Layout | None
    frames: list[list[Person]]


def _landmark(lm, where: str) -> tuple[float, float, float]:
    """One MediaPipe landmark -> (x, y, confidence). {x, y, z?, visibility?, presence?} or [x, y, z?, vis?, pres?]."""
    if isinstance(lm, dict):
        if "x" not in lm or "y" not in lm:
            raise _Err(f"{where}: a landmark needs x and y, got {_short(lm)}")
        x, y = _num(lm["x"], where), _num(lm["y"], where)
        scores = [_num(lm[k], where) for k in ("visibility", "presence") if lm.get(k) is not None]
    elif isinstance(lm, list) and 2 <= len(lm) <= 5:
        x, y = _num(lm[0], where), _num(lm[1], where)
        scores = [_num(v, where) for v in lm[3:5] if v is not None]
    else:
        raise _Err(f"{where}: expected a landmark {{x, y, visibility}} or [x, y, z, visibility], got {_short(lm)}")
    return x, y, (min(scores) if scores else 1.0)


def _mediapipe_pose(pose, where: str) -> Person:
    if isinstance(pose, dict):  # keyed by landmark name, as some exporters write
        names = {str(k).lower(): v for k, v in pose.items()}
        unknown = sorted(set(names) - set(MEDIAPIPE_33))
        if unknown:
            raise _Err(f"{where}: {_short(unknown[0])} is not a MediaPipe Pose landmark name")
        if len(names) != 33:
            raise _Err(f"{where}: {len(names)} landmarks; MediaPipe Pose has 33")
        pose = [names[n] for n in MEDIAPIPE_33]
    if len(pose) != 33:
        raise _Err(f"{where}: {len(pose)} landmarks; MediaPipe Pose has 33")
    vals = []
    for lm in pose:
        if type(lm) is dict and "x" in lm and "y" in lm:
            vals += (lm["x"], lm["y"], lm.get("visibility"), lm.get("presence"))
        elif type(lm) is list and 2 <= len(lm) <= 5:
            vals += (lm[0], lm[1], lm[3] if len(lm) > 3 else None, lm[4] if len(lm) > 4 else None)
        else:
            vals = None
            break
    a = _floats(vals) if vals is not None else None
    if a is None:  # something is off: find and name it
        pts = np.array([_landmark(lm, f"{where} landmark {i} ({MEDIAPIPE_33[i]})") for i, lm in enumerate(pose)])
        return pts[:, :2], pts[:, 2]
    a = a.reshape(33, 4)
    conf = np.fmin(a[:, 2], a[:, 3])  # fmin skips a score that is absent (NaN)
    return a[:, :2], np.where(np.isnan(conf), 1.0, conf)


_MP_KEYS = ("pose_landmarks", "landmarks", "landmark", "poseLandmarks")


def _mediapipe_frame(fr, where: str) -> list[Person]:
    if isinstance(fr, dict):
        key = next((k for k in _MP_KEYS if k in fr), None)
        if key is not None:
            return _mediapipe_frame(fr[key], where)
        if fr and all(str(k).lower() in MEDIAPIPE_33 for k in fr):
            return [_mediapipe_pose(fr, where)]
        if not fr:
            return []
        raise _Err(f"{where}: expected a list of 33 landmarks or an object with "
                   f"'{_MP_KEYS[0]}' or '{_MP_KEYS[1]}', got keys {_short(sorted(map(str, fr))[:4])}")
    if fr is None or fr == []:
        return []
    if not isinstance(fr, list):
        raise _Err(f"{where}: expected a list of 33 landmarks, got {_short(fr)}")
    first = fr[0]
    if isinstance(first, list) and first and isinstance(first[0], (list, dict)) or (
            isinstance(first, dict) and any(k in first for k in _MP_KEYS)):
        # several poses (the Tasks API's pose_landmarks is a list of poses)
        return [p for i, pose in enumerate(fr) for p in _mediapipe_frame(pose, f"{where} pose {i}")]
    return [_mediapipe_pose(fr, where)]


def _mediapipe_json(data, name: str) -> _Frames:
    if isinstance(data, dict):
        if "frames" in data:
            data = data["frames"]
        else:  # one frame on its own
            data = [data]
    if not isinstance(data, list):
        raise _Err(f"{name}: expected a list of frames, got {type(data).__name__}")
    frames = [_mediapipe_frame(fr, f"{name}: frame {i}") for i, fr in enumerate(data)]
    return _Frames("MediaPipe JSON", LAYOUTS["mediapipe33"], frames)


def _flat_person(values, where: str, scale_conf=None) -> Person:
    """[x0, y0, c0, x1, y1, c1, ...] -> (xy, conf). scale_conf maps the third value to a confidence."""
    if not isinstance(values, list) or len(values) % 3:
        n = len(values) if isinstance(values, list) else 0
        raise _Err(f"{where}: keypoints must be a flat list of x, y, confidence triples, got "
                   + (f"{n} values" if isinstance(values, list) else _short(values)))
    a = _floats(values)
    if a is None:
        a = np.array([_num(v, where) for v in values], dtype=np.float64)
    a = a.reshape(-1, 3)
    conf = a[:, 2] if scale_conf is None else scale_conf(a[:, 2])
    return a[:, :2], np.where(np.isnan(conf), 0.0, conf)


def _layout_for(count: int, where: str) -> Layout:
    lay = _BY_COUNT.get(count)
    if lay is None:
        raise _Err(f"{where}: {count} keypoints; expected {_COUNTS_TEXT}")
    return lay


def _openpose(data, name: str) -> _Frames:
    people = data.get("people")
    if not isinstance(people, list):
        raise _Err(f"{name}: 'people' must be a list, got {_short(people)}")
    out = []
    for i, p in enumerate(people):
        if not isinstance(p, dict) or "pose_keypoints_2d" not in p:
            raise _Err(f"{name}: person {i} has no pose_keypoints_2d")
        kp = p["pose_keypoints_2d"]
        if kp == []:
            continue
        out.append(_flat_person(kp, f"{name}: person {i}"))
    return _Frames("OpenPose JSON", None, [out])


def _mmpose_instances(instances, where: str) -> list[Person]:
    if not isinstance(instances, list):
        raise _Err(f"{where}: instances must be a list, got {_short(instances)}")
    out = []
    for i, ins in enumerate(instances):
        w = f"{where} instance {i}"
        if not isinstance(ins, dict) or "keypoints" not in ins:
            raise _Err(f"{w}: expected an object with keypoints and keypoint_scores")
        kp, sc = ins["keypoints"], ins.get("keypoint_scores")
        if not isinstance(kp, list) or not all(isinstance(p, list) and len(p) == 2 for p in kp):
            raise _Err(f"{w}: keypoints must be a list of [x, y] pairs")
        xy = np.array([[_num(v, w) for v in p] for p in kp], dtype=np.float64).reshape(-1, 2)
        if sc is None:
            conf = np.ones(len(kp))
        elif not isinstance(sc, list) or len(sc) != len(kp):
            raise _Err(f"{w}: keypoint_scores must list one score per keypoint ({len(kp)})")
        else:
            conf = np.nan_to_num(np.array([_num(v, w) for v in sc], dtype=np.float64))
        out.append((xy, conf))
    return out


def _mmpose(data, name: str) -> _Frames:
    info = data["instance_info"]
    if not isinstance(info, list):
        raise _Err(f"{name}: instance_info must be a list, got {_short(info)}")
    if info and isinstance(info[0], dict) and "frame_id" in info[0]:  # a video: one entry per frame
        frames = []
        for i, fr in enumerate(info):
            if not isinstance(fr, dict) or "instances" not in fr:
                raise _Err(f"{name}: instance_info entry {i} has no instances")
            frames.append(_mmpose_instances(fr["instances"], f"{name}: frame {i}"))
        return _Frames("MMPose predictions", None, frames)
    return _Frames("MMPose predictions", None, [_mmpose_instances(info, f"{name}: image")])


def _image_id(v, where: str):
    """An image id as COCO writes it, a number or text: the frames are keyed and ordered by it."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise _Err(f"{where} {_short(v)} is not a number or text")
    return v


def _coco_results(data: list, name: str) -> _Frames:
    """Detectron2's / MMPose's COCO results: [{image_id, keypoints: [x, y, score]*K, score}, ...]."""
    by_image: dict = {}
    for i, d in enumerate(data):
        if not isinstance(d, dict) or "image_id" not in d or "keypoints" not in d:
            raise _Err(f"{name}: entry {i} is not a COCO keypoint result (image_id, keypoints)")
        key = _image_id(d["image_id"], f"{name}: entry {i}: image_id")
        by_image.setdefault(key, []).append(_flat_person(d["keypoints"], f"{name}: entry {i}"))
    try:
        order = sorted(by_image)
    except TypeError:
        raise _Err(f"{name}: image_id values mix numbers and text, so frames have no order") from None
    return _Frames("COCO keypoint results", None, [by_image[k] for k in order])


def _coco_annotations(data: dict, name: str) -> _Frames:
    """A COCO keypoint annotation file: frames in the order of 'images'; visibility 0 = not labelled."""
    images, anns = data.get("images"), data.get("annotations")
    if not isinstance(images, list) or not isinstance(anns, list):
        raise _Err(f"{name}: a COCO annotation file needs 'images' and 'annotations' lists")
    ids = []
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im:
            raise _Err(f"{name}: images entry {i} has no id")
        ids.append(_image_id(im["id"], f"{name}: images entry {i}: id"))
    by_image = {k: [] for k in ids}
    for i, a in enumerate(anns):
        if not isinstance(a, dict) or "keypoints" not in a:
            continue  # annotations without keypoints (other categories) are not poses
        if "image_id" in a:
            _image_id(a["image_id"], f"{name}: annotation {i}: image_id")
        if a.get("image_id") not in by_image:
            raise _Err(f"{name}: annotation {i} refers to image {_short(a.get('image_id'))}, which is not in 'images'")
        by_image[a["image_id"]].append(
            _flat_person(a["keypoints"], f"{name}: annotation {i}", lambda v: (v > 0).astype(np.float64)))
    return _Frames("COCO annotations", None, [by_image[k] for k in ids])


def _read_json(name: str, text: str) -> _Frames:
    data = loads_json(text, name, _Err, parse_constant=_reject_constant)
    if isinstance(data, dict):
        if "people" in data:
            return _openpose(data, name)
        if "instance_info" in data:
            return _mmpose(data, name)
        if "annotations" in data:
            return _coco_annotations(data, name)
        if data and all(isinstance(v, list) and v and isinstance(v[0], list) and len(v[0]) == 2
                        for v in data.values()):
            raise _Err(f"{name}: this is already a clip (joint name -> [[x, y], ...]); use it as a clip, "
                       f"it needs no converting")
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        if all("image_id" in d for d in data):
            return _coco_results(data, name)
        if all("keypoint_scores" in d for d in data):  # MMPose on one image: a list of instances
            return _Frames("MMPose predictions", None, [_mmpose_instances(data, f"{name}: image")])
    return _mediapipe_json(data, name)


# -- MediaPipe CSV --------------------------------------------------------------------------------

_FIELDS = {"x": "x", "y": "y", "z": "z", "v": "visibility", "vis": "visibility", "visibility": "visibility",
           "presence": "presence"}
_F = "|".join(sorted(_FIELDS, key=len, reverse=True))
_NUM_FIRST = re.compile(rf"(?:landmark|lm|kp|keypoint|point)?[_ .]?(\d+)[_ .]?({_F})")
_FIELD_FIRST = re.compile(rf"({_F})[_ .]?(\d+)")
_NAMED = re.compile(rf"([a-z_]+?)[_ .]({_F})")
_FRAME_COLS = ("frame", "frame_id", "frame_index", "frame_idx", "frame_number")
_LANDMARK_COLS = ("landmark", "landmark_id", "landmark_index", "landmark_name", "keypoint", "joint", "name", "id",
                  "index")


def _wide_column(h: str):
    """Header -> (landmark number or name, field), or None for a column that is not a landmark's."""
    h = h.strip().lower()
    m = _FIELD_FIRST.fullmatch(h)
    if m:
        return int(m.group(2)), _FIELDS[m.group(1)]
    m = _NUM_FIRST.fullmatch(h)
    if m:
        return int(m.group(1)), _FIELDS[m.group(2)]
    m = _NAMED.fullmatch(h)
    if m and m.group(1) in MEDIAPIPE_33:
        return m.group(1), _FIELDS[m.group(2)]
    return None


def _cell(s: str, where: str) -> float:
    s = s.strip()
    if not s:
        return math.nan  # an empty cell is a missing detection
    try:
        v = float(s)
    except ValueError:
        raise _Err(f"{where}: {_short(s)} is not a number") from None
    if not math.isfinite(v) or abs(v) > 1e7:
        raise _Err(f"{where}: {_short(s)} is not a finite number (leave the cell empty for a missing detection)")
    return v


def _read_csv(name: str, text: str) -> _Frames:
    first = text.lstrip("\ufeff").splitlines()[0]
    delim = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        rows = list(reader)
    except csv.Error as e:  # a cell over csv's field limit (128 KiB), a bare carriage return in a cell
        why = ("a cell is longer than 128 KiB" if "field limit" in str(e) else
               "a carriage return inside a cell" if "new-line character" in str(e) else f"not CSV ({e})")
        raise _Err(f"{name}: line {reader.line_num}: {why}") from None
    rows = [r for r in rows if len(r) > 1 or r and r[0].strip()]  # blank lines are no frames
    header = [h.strip().lower() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise _Err(f"{name}: the CSV has a header but no rows")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise _Err(f"{name}: row {i + 2} has {len(r)} cells, the header has {len(header)}")
    frame_col = next((header.index(c) for c in _FRAME_COLS if c in header), None)
    lm_col = next((header.index(c) for c in _LANDMARK_COLS if c in header), None)
    if "x" in header and "y" in header and lm_col is not None and frame_col is not None:
        return _read_long_csv(name, header, body, frame_col, lm_col)
    cols = {}
    for c, h in enumerate(header):
        key = _wide_column(h)
        if key is not None:
            cols.setdefault(key[0], {})[key[1]] = c
    numbered = sorted(k for k in cols if isinstance(k, int))
    if numbered:
        if any(isinstance(k, str) for k in cols):
            raise _Err(f"{name}: the header mixes numbered and named landmark columns")
        base = 1 if numbered[0] == 1 and 0 not in cols else 0
        cols = {MEDIAPIPE_33[k - base] if 0 <= k - base < 33 else k: v for k, v in cols.items()}
    xy_cols = {k: v for k, v in cols.items() if "x" in v and "y" in v}
    if not xy_cols:
        raise _Err(f"{name}: no landmark columns found: expected a header such as nose_x, nose_y, ... or "
                   f"x0, y0, ... (one row per frame), or frame, landmark, x, y (one row per landmark)")
    if len(xy_cols) != 33 or set(xy_cols) != set(MEDIAPIPE_33):
        raise _Err(f"{name}: x and y columns for {len(xy_cols)} landmarks; MediaPipe Pose has 33")
    n = len(body)
    score_cols = sorted({c[f] for c in xy_cols.values() for f in ("visibility", "presence") if f in c})
    xc, yc = [xy_cols[lm]["x"] for lm in MEDIAPIPE_33], [xy_cols[lm]["y"] for lm in MEDIAPIPE_33]
    v = _cells(name, rows[0], body, xc + yc + score_cols)
    xy = np.stack([v[:, :33], v[:, 33:66]], axis=-1)
    at = {c: 66 + i for i, c in enumerate(score_cols)}
    conf = np.full((n, 33), math.nan)
    for k, lm in enumerate(MEDIAPIPE_33):
        for f in ("visibility", "presence"):
            if f in xy_cols[lm]:
                conf[:, k] = np.fmin(conf[:, k], v[:, at[xy_cols[lm][f]]])
    conf = np.where(np.isnan(conf), 1.0, conf)  # no score given: taken as detected
    frames = [[] if np.isnan(xy[t]).all() else [(xy[t], conf[t])] for t in range(n)]
    return _Frames("MediaPipe CSV", LAYOUTS["mediapipe33"], frames)


def _cells(name: str, header: list[str], body: list[list[str]], cols: list[int]) -> np.ndarray:
    """The given columns of every row as floats (N, len(cols)), NaN for an empty cell."""
    s = np.char.strip(np.array(body, dtype=str)[:, cols])
    empty = s == ""
    try:
        v = np.where(empty, "0", s).astype(np.float64)
        bad = (~empty & ~(np.abs(v) <= 1e7)).any()
    except ValueError:
        bad = True
    if bad:  # name the first bad cell, row by row, as the file reads
        for i, r in enumerate(body):
            for c in sorted(cols):
                _cell(r[c], f"{name}: row {i + 2} column {header[c].strip()}")
    v[empty] = math.nan
    return v


_LM_INDEX = {**{n: i for i, n in enumerate(MEDIAPIPE_33)}, **{str(i): i for i in range(33)}}


def _read_long_csv(name: str, header, body, frame_col: int, lm_col: int) -> _Frames:
    sc = [header.index(c) for c in ("visibility", "presence") if c in header]
    v = _cells(name, header, body, [frame_col, header.index("x"), header.index("y")] + sc)
    f = v[:, 0]
    bad = np.flatnonzero(np.isnan(f) | (f < 0) | (f != np.floor(f)) | (f > 1e7))
    if bad.size:
        i = int(bad[0])
        raise _Err(f"{name}: row {i + 2}: frame {_short(body[i][frame_col])} is not a frame number")
    k = [_LM_INDEX.get(r[lm_col].strip().lower()) for r in body]
    if None in k:
        i = k.index(None)
        raise _Err(f"{name}: row {i + 2}: {_short(body[i][lm_col])} is not a MediaPipe Pose landmark "
                   f"(0-32 or a name such as nose)")
    f = f.astype(np.int64)
    lo, hi = int(f.min()), int(f.max())
    if hi - lo + 1 > MAX_FRAMES:
        raise _Err(f"{name}: frames {lo}-{hi} span more than the limit of {MAX_FRAMES} frames")
    t = f - lo
    k = np.array(k)
    seen = np.zeros((hi - lo + 1, 33), dtype=np.int64)
    np.add.at(seen, (t, k), 1)
    if (seen > 1).any():
        tt, kk = np.argwhere(seen > 1)[0]
        raise _Err(f"{name}: frame {tt + lo} lists landmark {MEDIAPIPE_33[kk]} twice")
    counts = seen.sum(1)
    short = np.flatnonzero((counts > 0) & (counts < 33))
    if short.size:
        raise _Err(f"{name}: frame {short[0] + lo} has {counts[short[0]]} landmarks; MediaPipe Pose has 33")
    xy = np.full((hi - lo + 1, 33, 2), math.nan)
    conf = np.ones((hi - lo + 1, 33))
    xy[t, k] = v[:, 1:3]
    if sc:
        c = np.fmin.reduce(v[:, 3:], axis=1)
        conf[t, k] = np.where(np.isnan(c), 1.0, c)
    frames = [[(xy[i], conf[i])] if counts[i] else [] for i in range(hi - lo + 1)]
    return _Frames("MediaPipe CSV", LAYOUTS["mediapipe33"], frames)


# -- assembling a track ---------------------------------------------------------------------------

def read_pose_files(files: list[tuple[str, bytes]]) -> PoseTrack:
    """Read one pose file, or several per-frame files (OpenPose writes one per frame) in the order given."""
    if not files:
        raise _Err("no pose files given")
    if len(files) > MAX_FRAMES:
        raise _Err(f"{len(files)} files exceeds the limit of {MAX_FRAMES} frames")
    parts = []
    for name, raw in files:
        text = _decode(name, raw)
        is_json = text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")
        parts.append((name, _read_json(name, text) if is_json else _read_csv(name, text)))
    source = parts[0][0] if len(parts) == 1 else f"{parts[0][0]} .. {parts[-1][0]} ({len(parts)} files)"
    fmts = {p.fmt for _, p in parts}
    if len(fmts) > 1:
        raise _Err(f"{source}: the files mix formats ({', '.join(sorted(fmts))})")
    layout, frames = None, []
    for name, p in parts:
        for i, people in enumerate(p.frames):
            where = f"{name}: frame {i}" if len(p.frames) > 1 else name
            for xy, _ in people:
                lay = p.layout or _layout_for(len(xy), where)
                if layout is None:
                    layout = lay
                elif lay is not layout:
                    raise _Err(f"{where}: {len(xy)} keypoints ({lay.title}), but earlier frames have "
                               f"{len(layout.keypoints)} ({layout.title})")
            frames.append(people)
    if not frames:
        raise _Err(f"{source}: no frames")
    if len(frames) > MAX_FRAMES:
        raise _Err(f"{source}: {len(frames)} frames exceeds the limit of {MAX_FRAMES} frames")
    if layout is None:
        raise _Err(f"{source}: nobody is detected in any of the {len(frames)} frames")
    k = len(layout.keypoints)
    xy = np.full((len(frames), k, 2), math.nan)
    conf = np.zeros((len(frames), k))
    multi = empty = 0
    for t, people in enumerate(frames):
        if not people:
            empty += 1
            continue
        multi += len(people) > 1
        # several people: keep the most confident (a dance clip has one dancer)
        best = max(people, key=lambda p: float(np.mean(np.where(np.isnan(p[0]).any(1), 0.0, p[1]))))
        xy[t], conf[t] = best
    return PoseTrack(layout, xy, conf, source, parts[0][1].fmt, multi, empty)


# -- converting -----------------------------------------------------------------------------------

NORMALIZED_MAX = 3.0   # detected coordinates all within +-3 are taken as normalized (0..1) ones
MAX_FRAME_SIDE = 100_000


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not m:
        raise _Err(f"frame size {_short(text)} must be WIDTHxHEIGHT in pixels, e.g. 1920x1080")
    w, h = int(m.group(1)), int(m.group(2))
    check_size((w, h))
    return w, h


def check_size(size) -> None:
    w, h = size
    if not (0 < w <= MAX_FRAME_SIDE and 0 < h <= MAX_FRAME_SIDE):
        raise _Err(f"frame size {w}x{h} must be positive and at most {MAX_FRAME_SIDE} pixels a side")


def _gaps(missing: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (start, length)."""
    d = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends)]


def pose_to_clip(track: PoseTrack, size: tuple[int, int] | None = None, min_confidence: float = 0.3,
                 max_gap: int = 10, min_frames: int = 1) -> tuple[Clip, ConvertReport]:
    """Map a track onto the project's joints, fill gaps up to `max_gap` frames, scale normalized
    coordinates by `size` (width, height), and check the clip as the loader does."""
    src = track.source
    if not 0 < min_confidence <= 1:
        raise _Err(f"minimum confidence must be in (0, 1], got {min_confidence}")
    if max_gap < 0:
        raise _Err(f"the largest gap to fill must be >= 0 frames, got {max_gap}")
    if size is not None:
        check_size(size)
    sources = track.layout.sources()
    kidx = [track.layout.keypoints.index(sources[j]) for j in sources]
    xy = track.xy[:, kidx]                              # (T, J, 2)
    ok = ~np.isnan(xy).any(-1) & (track.conf[:, kidx] >= min_confidence)
    never = [j for j, good in zip(sources, ok.any(0)) if not good]
    if never:
        raise _Err(f"{src}: never detected with confidence >= {min_confidence:g} in any of the "
                   f"{track.num_frames} frames: {', '.join(never)}")
    worst = None
    for j, name in enumerate(sources):
        for start, n in _gaps(~ok[:, j]):
            if n > max_gap and (worst is None or n > worst[2]):
                worst = (name, start, n)
    if worst is not None:
        name, start, n = worst
        raise _Err(f"{src}: {name} is missing or below confidence {min_confidence:g} for {n} frames in a row "
                   f"(frames {start}-{start + n - 1}); at most {max_gap} are filled (raise the gap limit or trim the video)")
    detected = xy[ok]
    biggest = float(np.abs(detected).max())
    if size is None and biggest <= NORMALIZED_MAX:
        raise _Err(f"{src}: coordinates are within 0..1 (largest {biggest:.3g}), so they look normalized; "
                   f"give the video's frame size (WIDTHxHEIGHT) to scale them to pixels")
    if size is not None and biggest > NORMALIZED_MAX:
        raise _Err(f"{src}: coordinates reach {biggest:.6g}, so they are pixels, not normalized 0..1 values; "
                   f"leave out the frame size")
    t = np.arange(track.num_frames)
    out = {}
    filled = {}
    for j, name in enumerate(sources):
        good = ok[:, j]
        col = xy[:, j].copy()
        if not good.all():
            for c in range(2):  # np.interp holds the first/last detection at the clip's ends
                col[~good, c] = np.interp(t[~good], t[good], col[good, c])
        filled[name] = int((~good).sum())
        out[name] = col * (np.asarray(size, dtype=np.float64) if size is not None else 1.0)
    out.update(derive_joints(out))
    joints = tuple(sorted(out))
    clip = Clip(joints, np.stack([out[j] for j in joints], axis=1).astype(np.float32))
    # the bytes a saved clip would have, through the loader's checks
    clip = loads_clip(clip_bytes(clip), min_frames=min_frames, source=src)
    report = ConvertReport(src, track.format, track.layout.title, clip.num_frames, joints, filled,
                           int((~ok).any(1).sum()), track.empty_frames, track.multi_person_frames,
                           tuple(size) if size is not None else None)
    return clip, report


def convert_files(files: list[tuple[str, bytes]], size=None, min_confidence: float = 0.3, max_gap: int = 10,
                  min_frames: int = 1) -> tuple[Clip, ConvertReport]:
    return pose_to_clip(read_pose_files(files), size, min_confidence, max_gap, min_frames)
