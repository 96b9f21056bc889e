"""Pose files -> clips: every reader, the joint mapping, gap filling, scaling, and bad input (one line each, also
as the lab's import shows it). The command: tools/test_convert.py; the lab's import: lab/test_imports.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, needs_real_clip, tiny_trainer
from motionlab.data.clip import load_clip
from motionlab.errors import MotionlabError, PoseFileError
from motionlab.formats.poseformats import (COCO_17, DERIVED, LAYOUTS, MEDIAPIPE_33, convert_files, parse_size,
                                           read_pose_files)
from motionlab.data.skeleton import JOINTS_20
from motionlab.lab import imports, keys

import pose_files as pf
from pose_files import check_same, direct

REDUCED = tuple(j for j in JOINTS_20 if "heel" not in j and "foot" not in j)


def test_layouts_map_onto_the_project_joints():
    assert LAYOUTS["mediapipe33"].joints() == tuple(sorted(JOINTS_20))
    assert LAYOUTS["openpose_body25"].joints() == tuple(sorted(JOINTS_20))
    assert LAYOUTS["halpe26"].joints() == tuple(sorted(JOINTS_20))
    # COCO has no heel or toe: the reduced skeleton keeps the other 14 joints, neck_mid included
    assert LAYOUTS["coco17"].joints() == tuple(sorted(REDUCED)) and len(REDUCED) == 14
    assert LAYOUTS["openpose_coco18"].joints() == tuple(sorted(REDUCED))
    assert LAYOUTS["mediapipe33"].sources()["left_hand"] == "left_wrist"
    assert LAYOUTS["openpose_body25"].sources()["right_foot_index"] == "right_big_toe"


@pytest.mark.slow
@needs_real_clip
def test_derived_joints_reproduce_the_real_clip(real_clip_path):
    """neck_mid and the foot means are defined as the real clip has them: converting its own
    keypoints gives back every one of its 20 joints."""
    clip = load_clip(real_clip_path)
    seg = type(clip)(clip.joints, clip.xy[100:300])
    out, rep = convert_files([("mp.json", pf.mediapipe_json(pf.keypoints(seg, "mediapipe33")))])
    assert out.joints == clip.joints
    np.testing.assert_allclose(out.xy, seg.xy, atol=1e-3)
    geo = subprocess.run([sys.executable, str(REPO / "scripts" / "clip_geometry.py"), str(real_clip_path)],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    derived = json.loads(geo.stdout)["derived"]
    assert set(derived) == set(DERIVED) and all(d["max_px"] < 1e-3 for d in derived.values())


MEDIAPIPE_WRITERS = {
    "tasks.json": lambda kp, **kw: pf.mediapipe_json(kp, style="tasks", **kw),
    "dict.json": lambda kp, **kw: pf.mediapipe_json(kp, style="dict", **kw),
    "lists.json": lambda kp, **kw: pf.mediapipe_json(kp, style="lists", **kw),
    "named.csv": lambda kp, **kw: pf.mediapipe_csv(kp, style="named", **kw),
    "numbered.csv": lambda kp, **kw: pf.mediapipe_csv(kp, style="numbered", **kw),
    "long.csv": lambda kp, **kw: pf.mediapipe_csv(kp, style="long", **kw),
}


@pytest.mark.parametrize("name", MEDIAPIPE_WRITERS)
def test_mediapipe_files_convert_to_the_20_joints(demo, name):
    raw = MEDIAPIPE_WRITERS[name](pf.keypoints(demo, "mediapipe33"))
    out, rep = convert_files([(name, raw)])
    assert out.joints == tuple(sorted(JOINTS_20)) and out.num_frames == demo.num_frames
    check_same(out, demo)
    assert rep.filled_total == 0 and rep.dropped == () and rep.format.startswith("MediaPipe")


KEYPOINT_WRITERS = {
    "openpose": lambda kp, **kw: [(f"v_{t:012d}_keypoints.json", b) for t, b in enumerate(pf.openpose_frames(kp, **kw))],
    "mmpose": lambda kp, **kw: [("pred.json", pf.mmpose_json(kp, **kw))],
    "detectron2": lambda kp, **kw: [("coco_instances_results.json", pf.coco_results(kp, **kw))],
}


@pytest.mark.parametrize("layout", ["coco17", "openpose_coco18", "openpose_body25", "halpe26"])
@pytest.mark.parametrize("writer", KEYPOINT_WRITERS)
def test_keypoint_files_convert(demo, layout, writer):
    files = KEYPOINT_WRITERS[writer](pf.keypoints(demo, layout))
    out, rep = convert_files(files)
    full = layout in ("openpose_body25", "halpe26")
    assert out.joints == tuple(sorted(JOINTS_20 if full else REDUCED))
    assert rep.dropped == (() if full else tuple(j for j in JOINTS_20 if j not in REDUCED))
    check_same(out, demo)
    assert rep.layout == LAYOUTS[layout].title


def test_coco_annotation_files_use_the_visibility_flag(demo):
    kp = pf.keypoints(demo, "coco17")[:20]
    anns, images = [], []
    for t in range(20):
        v = np.full(17, 2)
        if t == 5:
            v[COCO_17.index("left_wrist")] = 0  # not labelled: filled
        images.append({"id": 100 + t, "file_name": f"{t}.jpg", "width": 512, "height": 512})
        flat = np.concatenate([kp[t], v[:, None]], axis=1)
        flat[v == 0] = 0
        anns.append({"id": t, "image_id": 100 + t, "category_id": 1, "num_keypoints": int((v > 0).sum()),
                     "keypoints": [float(a) for a in flat.ravel()]})
    anns.append({"id": 99, "image_id": 100, "category_id": 2, "bbox": [0, 0, 1, 1]})  # not a person: ignored
    out, rep = convert_files([("ann.json", json.dumps({"images": images, "annotations": anns,
                                                       "categories": []}).encode())])
    assert rep.filled == {**{j: 0 for j in direct(REDUCED)}, "left_hand": 1}
    i = out.joints.index("left_hand")
    np.testing.assert_allclose(out.xy[5, i], (kp[4, 9] + kp[6, 9]) / 2, atol=1e-3)


def test_converted_clips_train(demo, tmp_path):
    """A MediaPipe clip (20 joints) and a COCO-17 clip (14) train a tiny model for an epoch."""
    for name, files in (("mp", [("mp.json", pf.mediapipe_json(pf.keypoints(demo, "mediapipe33")))]),
                        ("coco", [("c.json", pf.coco_results(pf.keypoints(demo, "coco17")))])):
        clip, _ = convert_files(files)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(clip.to_dict()))
        loaded = load_clip(path, min_frames=16)
        tr = tiny_trainer(tmp_path / f"run_{name}", loaded, window=16, stride=8, epochs=1, batch_size=4)
        tr.run(progress=False)
        rows = [json.loads(s) for s in (tmp_path / f"run_{name}" / "metrics.jsonl").read_text().splitlines()]
        assert rows and np.isfinite(rows[-1]["loss"])
        assert tr.model_cfg.in_channels == 2 * len(loaded.joints)


# -- missing detections -------------------------------------------------------------------------

def test_low_confidence_and_missing_points_are_interpolated_and_counted(demo):
    kp = pf.keypoints(demo, "mediapipe33")
    vis = np.full(kp.shape[:2], 0.9)
    lw, rh = MEDIAPIPE_33.index("left_wrist"), MEDIAPIPE_33.index("right_heel")
    vis[10:14, lw] = 0.1          # 4 low-visibility frames
    vis[0:2, rh] = 0.05           # at the start: held from the first detection
    raw = pf.mediapipe_json(kp, vis, missing_frames={40})   # frame 40: nobody detected
    out, rep = convert_files([("mp.json", raw)], max_gap=4)
    assert rep.filled["left_hand"] == 5 and rep.filled["right_heel"] == 3 and rep.filled["nose"] == 1
    assert rep.filled_total == 5 + 3 + 15 * 1 + 0 and rep.filled_frames == 7 and rep.empty_frames == 1
    assert any("filled 23 missing or low-confidence points" in s for s in rep.lines())
    h = out.joints.index("left_hand")
    t = np.arange(10, 14)
    want = kp[9, lw] + (kp[14, lw] - kp[9, lw]) * ((t - 9) / 5)[:, None]
    np.testing.assert_allclose(out.xy[10:14, h], want, atol=1e-3)
    np.testing.assert_allclose(out.xy[0:2, out.joints.index("right_heel")], kp[[2, 2], rh], atol=1e-3)
    # a derived joint follows its filled parts
    fm = out.joints.index("right_foot_mean")
    parts = [out.joints.index(p) for p in DERIVED["right_foot_mean"]]
    np.testing.assert_allclose(out.xy[0, fm], out.xy[0, parts].mean(0), atol=1e-3)
    with pytest.raises(PoseFileError, match=r"left_hand is missing or below confidence 0.3 for 4 frames in a row "
                                            r"\(frames 10-13\); at most 3 are filled"):
        convert_files([("mp.json", raw)], max_gap=3)


def test_openpose_zero_keypoints_are_missing_and_the_confident_person_is_kept(demo):
    kp = pf.keypoints(demo, "openpose_body25")[:30]
    conf = np.full(kp.shape[:2], 0.8)
    conf[7, 4] = 0  # right wrist not found: OpenPose writes 0, 0, 0
    ghost = np.concatenate([kp[3] + 200, np.full((25, 1), 0.2)], axis=1)  # a second, faint person
    files = [(f"{t:03d}.json", b) for t, b in enumerate(pf.openpose_frames(kp, conf, {3: ghost}))]
    out, rep = convert_files(files)
    assert rep.filled["right_hand"] == 1 and rep.multi_person_frames == 1
    np.testing.assert_allclose(out.xy[3, out.joints.index("nose")], kp[3, 0], atol=1e-3)
    assert np.abs(out.xy[7, out.joints.index("right_hand")]).min() > 1  # not the (0, 0) OpenPose wrote


# -- normalized coordinates -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tasks.json", "named.csv"])
def test_normalized_coordinates_scale_by_the_frame_size(demo, name):
    w, h = 640, 480
    kp = pf.keypoints(demo, "mediapipe33") / np.array([w, h])
    raw = MEDIAPIPE_WRITERS[name](kp)
    out, rep = convert_files([(name, raw)], size=(w, h))
    check_same(out, demo, tol=0.02)  # the writers keep 4 decimals of normalized values
    assert rep.size == (w, h) and "(scaled by 640x480)" in rep.lines()[0]
    with pytest.raises(PoseFileError, match="look normalized; give the video's frame size"):
        convert_files([(name, raw)])
    with pytest.raises(PoseFileError, match="are pixels, not normalized 0..1 values; leave out the frame size"):
        convert_files([(name, MEDIAPIPE_WRITERS[name](pf.keypoints(demo, "mediapipe33")))], size=(w, h))


def test_parse_size():
    assert parse_size("1920x1080") == (1920, 1080) and parse_size(" 640 X 480 ") == (640, 480)
    for bad in ("1920", "0x10", "-5x5", "10x200001", "axb"):
        with pytest.raises(PoseFileError, match="frame size"):
            parse_size(bad)


# -- bad files: one line each ---------------------------------------------------------------------

def _kp33(demo, t=3):
    return pf.keypoints(demo, "mediapipe33")[:t]


BAD = {
    "wrong landmark count": (lambda d: json.dumps([[{"x": 1.0, "y": 2.0}] * 25]).encode(),
                             "bad.json: frame 0: 25 landmarks; MediaPipe Pose has 33"),
    "wrong keypoint count": (lambda d: json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.9] * 20}]}).encode(),
                             "bad.json: 20 keypoints; expected 17 (COCO-17), 18 (OpenPose COCO-18), "
                             "25 (OpenPose BODY_25) or 26 (Halpe-26)"),
    "not triples": (lambda d: json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0] * 17}]}).encode(),
                    "bad.json: person 0: keypoints must be a flat list of x, y, confidence triples, got 34 values"),
    "NaN in JSON": (lambda d: pf.mediapipe_json(_kp33(d)).replace(b'"x": ', b'"x": NaN, "q": ', 1),
                    "bad.json: contains NaN, which is not a number (mark a missing detection with null or confidence 0)"),
    "NaN in CSV": (lambda d: _csv_with(d, "nan"),
                   "bad.json: row 2 column nose_x: \"nan\" is not a finite number (leave the cell empty for a "
                   "missing detection)"),
    "text in CSV": (lambda d: _csv_with(d, "abc"), 'bad.json: row 2 column nose_x: "abc" is not a number'),
    "string coordinate": (lambda d: json.dumps([[{"x": "1", "y": 2.0}] * 33]).encode(),
                          'bad.json: frame 0 landmark 0 (nose): "1" is not a number'),
    "all-missing joint": (lambda d: _missing_heel(d), "bad.json: never detected with confidence >= 0.3 in any of "
                                                      "the 3 frames: left_heel"),
    "nobody anywhere": (lambda d: json.dumps([[], None, {"pose_landmarks": []}]).encode(),
                        "bad.json: nobody is detected in any of the 3 frames"),
    "no frames": (lambda d: b"[]", "bad.json: no frames"),
    "empty": (lambda d: b"  \n", "bad.json: the file is empty"),
    "not JSON": (lambda d: b"[1, 2", "bad.json: not valid JSON (Expecting ',' delimiter: line 1 column 6 (char 5))"),
    "foreign JSON": (lambda d: json.dumps({"fps": 30, "people_count": [1]}).encode(),
                     "bad.json: frame 0: expected a list of 33 landmarks or an object with 'pose_landmarks' or "
                     "'landmarks', got keys [\"fps\", \"people_count\"]"),
    "a clip file": (lambda d: json.dumps(d.to_dict()).encode(),
                    "bad.json: this is already a clip (joint name -> [[x, y], ...]); use it as a clip, it needs "
                    "no converting"),
    "CSV without landmarks": (lambda d: b"a,b\n1,2\n", "bad.json: no landmark columns found: expected a header such "
                              "as nose_x, nose_y, ... or x0, y0, ... (one row per frame), or frame, landmark, x, y "
                              "(one row per landmark)"),
    "CSV with 25 landmarks": (lambda d: b",".join(f"x{i},y{i}".encode() for i in range(25)) + b"\n"
                              + b",".join(b"1" for _ in range(50)) + b"\n",
                              "bad.json: x and y columns for 25 landmarks; MediaPipe Pose has 33"),
    "ragged CSV": (lambda d: pf.mediapipe_csv(_kp33(d)) + b"1,2\n", "bad.json: row 5 has 2 cells, the header has 133"),
    "huge number": (lambda d: json.dumps([[{"x": 1e300, "y": 2.0}] * 33]).encode(),
                    "bad.json: frame 0 landmark 0 (nose): 1e+300 is not a finite coordinate"),
}


def _csv_with(demo, cell: str) -> bytes:
    lines = pf.mediapipe_csv(_kp33(demo)).decode().splitlines()
    row = lines[1].split(",")
    row[1] = cell
    return "\n".join([lines[0], ",".join(row)] + lines[2:]).encode()


def _missing_heel(demo) -> bytes:
    kp = _kp33(demo)
    vis = np.ones(kp.shape[:2])
    vis[:, MEDIAPIPE_33.index("left_heel")] = 0.01
    return pf.mediapipe_json(kp, vis)


@pytest.mark.parametrize("case", BAD)
def test_bad_pose_files_get_one_line_errors(demo, case):
    make, message = BAD[case]
    with pytest.raises(PoseFileError) as e:
        convert_files([("bad.json", make(demo))])
    assert str(e.value) == message and "\n" not in str(e.value)


def test_mixed_layouts_and_options_are_refused(demo):
    a = pf.openpose_frames(pf.keypoints(demo, "coco17")[:2])
    b = pf.openpose_frames(pf.keypoints(demo, "openpose_body25")[:2])
    with pytest.raises(PoseFileError, match=r"^2.json: 25 keypoints \(OpenPose BODY_25\), but earlier frames have "
                                            r"17 \(COCO-17\)$"):
        read_pose_files([("0.json", a[0]), ("1.json", a[1]), ("2.json", b[0])])
    mp = [("m.json", pf.mediapipe_json(_kp33(demo)))]
    with pytest.raises(PoseFileError, match="the files mix formats"):
        read_pose_files(mp + [("0.json", a[0])])
    for kw, msg in (({"min_confidence": 0}, "minimum confidence"), ({"max_gap": -1}, "largest gap"),
                    ({"size": (0, 5)}, "frame size 0x5")):
        with pytest.raises(PoseFileError, match=msg):
            convert_files(mp, **kw)
    with pytest.raises(MotionlabError, match="3 frames is shorter than the window of 8 frames"):
        convert_files(mp, min_frames=8)


# -- pose files that ended in a traceback on the Dataset page (issue 23, item 6): one line each ----------

COCO17 = [1.0, 2.0, 0.9] * 17


def _mediapipe_csv(demo) -> list[str]:
    return pf.mediapipe_csv(pf.keypoints(demo, "mediapipe33")[:10]).decode().splitlines()


def _csv_cell(demo, cell: str) -> bytes:
    lines = _mediapipe_csv(demo)
    row = lines[2].split(",")
    row[1] = cell
    return "\n".join(lines[:2] + [",".join(row)] + lines[3:]).encode()


BAD_INPUTS = {
    "CSV cell over 128 KiB": (lambda d: _csv_cell(d, "1" * (200 * 1024)),
                              "bad.csv: line 3: a cell is longer than 128 KiB"),
    "CSV carriage return in a cell": (lambda d: _csv_cell(d, "1\r2"),
                                      "bad.csv: line 3: a carriage return inside a cell"),
    "COCO result with a list image_id": (
        lambda d: json.dumps([{"image_id": 0, "keypoints": COCO17}, {"image_id": [1], "keypoints": COCO17}]).encode(),
        "bad.csv: entry 1: image_id [1] is not a number or text"),
    "COCO result with an object image_id": (
        lambda d: json.dumps([{"image_id": {"n": 1}, "keypoints": COCO17}]).encode(),
        'bad.csv: entry 0: image_id {"n": 1} is not a number or text'),
    "COCO images entry with a list id": (
        lambda d: json.dumps({"images": [{"id": 1}, {"id": [2, 3]}], "annotations": []}).encode(),
        "bad.csv: images entry 1: id [2, 3] is not a number or text"),
    "COCO annotation with a list image_id": (
        lambda d: json.dumps({"images": [{"id": 1}],
                              "annotations": [{"image_id": [1], "keypoints": COCO17}]}).encode(),
        "bad.csv: annotation 0: image_id [1] is not a number or text"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_pose_input_is_one_line_pose_file_error(demo, case):
    make, message = BAD_INPUTS[case]
    data = make(demo)
    with pytest.raises(PoseFileError) as e:
        convert_files([("bad.csv", data)])
    assert str(e.value) == message
    # what the Dataset page shows: the error line, the session's clip untouched
    state = {keys.UPLOADED_CLIP: "before"}
    err = imports.import_pose_files(state, [("bad.csv", len(data), lambda: data)], imports.ImportOptions(), 2**30)
    assert err == message and state[keys.UPLOADED_CLIP] == "before"


def test_text_and_number_ids_still_convert(demo):
    kp = pf.keypoints(demo, "coco17")[:12]
    res = json.loads(pf.coco_results(kp))
    for r in res:
        r["image_id"] = f"frame_{r['image_id']:03d}"  # text ids, ordered as text
    clip, _ = convert_files([("r.json", json.dumps(res).encode())])
    assert clip.num_frames == 12
