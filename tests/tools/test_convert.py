"""python -m motionlab.convert: a folder of OpenPose files becomes one clip; errors are one line and keep
existing files."""
import json
import subprocess
import sys

import pytest

from conftest import REPO
from motionlab.convert import main as convert_main
from motionlab.data.clip import load_clip
from motionlab.data.skeleton import JOINTS_20

import pose_files as pf
from pose_files import check_same


def test_cli_converts_a_folder_of_openpose_files(demo, tmp_path, capsys):
    d = tmp_path / "openpose"
    d.mkdir()
    for t, b in enumerate(pf.openpose_frames(pf.keypoints(demo, "openpose_body25")[:40])):
        (d / f"dance_{t:012d}_keypoints.json").write_bytes(b)
    out = tmp_path / "clip.json"
    assert convert_main([str(d), "--out", str(out)]) == 0
    clip = load_clip(out)
    assert clip.joints == tuple(sorted(JOINTS_20)) and clip.num_frames == 40
    check_same(clip, type(demo)(demo.joints, demo.xy[:40]))
    printed = capsys.readouterr().out
    assert "OpenPose JSON, OpenPose BODY_25, 40 frames -> 20 joints" in printed
    assert f"wrote {out}: 40 frames, 20 joints" in printed


@pytest.mark.slow
def test_cli_errors_are_one_line_and_keep_existing_files(demo, tmp_path):
    out = tmp_path / "clip.json"
    out.write_text("precious")
    good = tmp_path / "mp.csv"
    good.write_bytes(pf.mediapipe_csv(pf.keypoints(demo, "mediapipe33")[:20]))
    bad = tmp_path / "bad.json"
    bad.write_bytes(json.dumps([[{"x": 1.0, "y": 2.0}] * 25]).encode())

    def run(*args):
        return subprocess.run([sys.executable, "-m", "motionlab.convert", *args], cwd=REPO,
                              capture_output=True, text=True)

    r = run(str(good), "--out", str(out))
    assert r.returncode == 2 and r.stderr == f"motionlab.convert: error: {out} exists; pass --force to overwrite it\n"
    r = run(str(bad), "--out", str(out), "--force")
    assert r.returncode == 2 and r.stderr == (f"motionlab.convert: error: {bad}: frame 0: 25 landmarks; "
                                              "MediaPipe Pose has 33\n")
    assert out.read_text() == "precious"
    r = run(str(good), "--out", str(out), "--size", "1920by1080")
    assert r.returncode == 2 and "must be WIDTHxHEIGHT" in r.stderr and r.stderr.count("\n") == 1
    r = run(str(good), "--out", str(out), "--force", "--quiet")
    assert r.returncode == 0 and r.stdout == "" and load_clip(out).num_frames == 20
