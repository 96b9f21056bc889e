"""Exports: OpenPose keypoint JSON read back by a reader written from OpenPose's published output
format (doc/02_output.md), pose images in ControlNet's openpose colours, CSV / NPY, frame rates."""
import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from motionlab.formats import export as ex
from motionlab.data.clip import Clip
from motionlab.data.skeleton import JOINTS_20


def read_openpose_folder(folder: Path, num_keypoints: int) -> np.ndarray:
    """A reader that knows only OpenPose's documented layout: files <name>_<12-digit frame>_keypoints.json,
    each {"version", "people": [{"pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...]}]}; (0, 0, 0) = not detected."""
    files = sorted(folder.glob("*_keypoints.json"))
    frames = []
    for f in files:
        stem = f.name[:-len("_keypoints.json")]
        assert len(stem.rsplit("_", 1)[1]) == 12 and stem.rsplit("_", 1)[1].isdigit(), f.name
        d = json.loads(f.read_text())
        assert isinstance(d["version"], float) and len(d["people"]) == 1
        flat = d["people"][0]["pose_keypoints_2d"]
        assert len(flat) == 3 * num_keypoints
        frames.append(np.asarray(flat, np.float64).reshape(num_keypoints, 3))
    return np.stack(frames)


def t_pose(frames: int = 3) -> Clip:
    """A standing figure with arms out, drifting right 2 px a frame; y points down."""
    p = {"nose": (0, -90), "neck_mid": (0, -70), "left_shoulder": (25, -70), "right_shoulder": (-25, -70),
         "left_elbow": (60, -70), "right_elbow": (-60, -70), "left_hand": (95, -70), "right_hand": (-95, -70),
         "left_hip": (15, 0), "right_hip": (-15, 0), "left_knee": (18, 50), "right_knee": (-18, 50),
         "left_ankle": (20, 100), "right_ankle": (-20, 100), "left_heel": (15, 108), "right_heel": (-15, 108),
         "left_foot_index": (35, 110), "right_foot_index": (-35, 110), "left_foot_mean": (25, 108),
         "right_foot_mean": (-25, 108)}
    xy = np.array([[p[j] for j in JOINTS_20]] * frames, np.float32) + [200, 200]
    xy[:, :, 0] += 2 * np.arange(frames)[:, None]
    return Clip(JOINTS_20, xy)


@pytest.mark.parametrize("layout,k", [("BODY_25", 25), ("COCO_18", 18)])
def test_openpose_json_loads_back_through_the_published_layout(tmp_path, layout, k):
    clip = t_pose(4)
    files = ex.files_for(clip, "dance", "openpose", fps=30, layout=layout, canvas=512)
    ex.write_files(tmp_path, files)
    folder = tmp_path / "dance_30fps_openpose"
    kp = read_openpose_folder(folder, k)
    assert kp.shape == (4, k, 3)
    names = ex.BODY_25 if layout == "BODY_25" else ex.COCO_18
    fitted = ex.fit_canvas(clip.xy, 512)
    jidx = {j: i for i, j in enumerate(JOINTS_20)}
    for point, ours in (("Nose", "nose"), ("Neck", "neck_mid"), ("RWrist", "right_hand"), ("LAnkle", "left_ankle"),
                        ("RHip", "right_hip")):
        np.testing.assert_allclose(kp[:, names.index(point), :2], fitted[:, jidx[ours]], atol=1e-3)
        assert (kp[:, names.index(point), 2] == 1).all()
    for missing in ("REye", "LEye", "REar", "LEar") + (("LSmallToe", "RSmallToe") if layout == "BODY_25" else ()):
        assert (kp[:, names.index(missing)] == 0).all()
    if layout == "BODY_25":
        mid = (fitted[:, jidx["left_hip"]] + fitted[:, jidx["right_hip"]]) / 2
        np.testing.assert_allclose(kp[:, names.index("MidHip"), :2], mid, atol=1e-3)
        np.testing.assert_allclose(kp[:, names.index("LBigToe"), :2], fitted[:, jidx["left_foot_index"]], atol=1e-3)
    assert (kp[:, :, :2] >= 0).all() and (kp[:, :, :2] <= 511).all()  # on the canvas
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["fps"] == 30 and meta["layout"] == layout and meta["keypoints"] == list(names)
    assert meta["from_motionlab_joints"]["RWrist"] == "right_hand"
    assert meta["from_motionlab_joints"]["LEar"] is None
    first = json.loads(sorted(folder.glob("*_keypoints.json"))[0].read_text())
    assert first["canvas_width"] == first["canvas_height"] == 512


def test_points_outside_the_skeleton_or_nan_are_not_detected():
    xy = t_pose(2).xy.copy()
    xy[1, JOINTS_20.index("nose")] = np.nan
    kp = ex.keypoints(xy, JOINTS_20, "COCO_18")
    assert kp[0, 0, 2] == 1 and (kp[1, 0] == 0).all()
    other = ex.keypoints(xy[:, :3], JOINTS_20[:3], "BODY_25")   # left_ankle, left_elbow, left_foot_index only
    assert [ex.BODY_25[k] for k in np.nonzero(other[0, :, 2])[0]] == ["LElbow", "LAnkle", "LBigToe"]


def test_pose_images_use_controlnet_openpose_colours():
    clip = t_pose(2)
    ims = ex.pose_images(clip, size=256)
    assert ims.shape == (2, 256, 256, 3) and ims.dtype == np.uint8
    assert (ims[:, 0, 0] == 0).all()   # black background
    kp = ex.keypoints(ex.fit_canvas(clip.xy, 256), clip.joints, "COCO_18")
    for k in (0, 2, 8, 13):            # keypoint discs in POINT_COLORS[k]
        x, y = np.round(kp[0, k, :2]).astype(int)
        assert tuple(ims[0, y, x]) == ex.POINT_COLORS[k], k
    a, b = kp[0, 8, :2], kp[0, 9, :2]  # RHip-RKnee, limb 7: its colour at 60 %
    x, y = np.round((a + b) / 2).astype(int)
    assert tuple(ims[0, y, x]) == tuple(int(c * ex.LIMB_DIM) for c in ex.LIMB_COLORS[7])


def test_csv_and_npy_carry_the_frame_rate():
    clip = t_pose(5)
    files = ex.files_for(clip, "d", "csv", fps=30)
    (name, data), = files.items()
    assert name == "d_30fps.csv"
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0][:4] == ["frame", "time_s", f"{JOINTS_20[0]}_x", f"{JOINTS_20[0]}_y"] and len(rows) == 6
    assert float(rows[2][1]) == pytest.approx(1 / 30, abs=1e-6)
    np.testing.assert_allclose(np.array(rows[3][2:], float).reshape(20, 2), clip.xy[2], atol=1e-3)
    (name, data), = ex.files_for(clip, "d", "npy", fps=10).items()
    assert name == "d_10fps.npy"
    assert np.load(io.BytesIO(data)).shape == (2, 20, 2)  # 5 frames = 4/30 s at 10 fps: frames 0 and 0.1 s


def test_resample_fps_is_linear_in_time_over_the_same_span():
    xy = np.arange(31, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)  # x = frame index
    half = ex.resample_fps(xy, 30, 15)
    np.testing.assert_allclose(half[:, 0, 0], np.arange(0, 31, 2))
    double = ex.resample_fps(xy, 30, 60)
    assert double.shape[0] == 61
    np.testing.assert_allclose(double[:, 0, 0], np.arange(61) / 2)
    odd = ex.resample_fps(xy, 30, 24)
    assert odd.shape[0] == 25 and odd[-1, 0, 0] == pytest.approx(30)
    with pytest.raises(Exception, match="fps must be"):
        ex.resample_fps(xy, 30, 0)


def test_export_zip_holds_every_clip_and_format():
    clips = [t_pose(3), t_pose(3)]
    z = zipfile.ZipFile(io.BytesIO(ex.export_zip(clips, ["a b", "a b"], "pose_png", fps=30, canvas=64)))
    names = z.namelist()
    assert "a_b_30fps_pose/a_b_000002.png" in names and "a_b__30fps_pose/a_b__000000.png" in names
    assert len(names) == 6
