"""Pose files that ended in a traceback on the Dataset page (issue 23, item 6): a CSV cell over csv's 128 KiB
field limit, a carriage return inside a cell, and COCO image ids that are lists or objects. One line each."""
from __future__ import annotations

import json

import pytest

from motionlab.errors import PoseFileError
from motionlab.formats.poseformats import convert_files
from motionlab.lab import imports, keys

import pose_files as pf

COCO17 = [1.0, 2.0, 0.9] * 17


def _mediapipe_csv(demo) -> list[str]:
    return pf.mediapipe_csv(pf.keypoints(demo, "mediapipe33")[:10]).decode().splitlines()


def _csv_cell(demo, cell: str) -> bytes:
    lines = _mediapipe_csv(demo)
    row = lines[2].split(",")
    row[1] = cell
    return "\n".join(lines[:2] + [",".join(row)] + lines[3:]).encode()


BAD = {
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


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_pose_input_is_one_line_pose_file_error(demo, case):
    make, message = BAD[case]
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
