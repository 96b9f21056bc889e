"""Clip files: parsing, validation errors, channel layout; the skeleton and the demo dancer."""
import json

import numpy as np
import pytest

from conftest import REAL_CLIP, needs_real_clip
from motionlab import ClipError, MotionlabError
from motionlab.data.clip import (MAX_FRAMES, Clip, clip_from_channels, default_clip_path, load_clip, loads_clip,
                            parse_clip, save_clip)
from motionlab.data.demo import demo_clip
from motionlab.data.skeleton import BONES, JOINTS_20, bones_for, mirror_permutation, side


def _clip_json(frames=3, joints=("b_joint", "a_joint")):
    return {n: [[float(10 * j + t), float(100 + t)] for t in range(frames)] for j, n in enumerate(joints)}


def test_parse_sorts_joints_and_keeps_coordinates():
    clip = parse_clip(_clip_json())
    assert clip.joints == ("a_joint", "b_joint")
    assert clip.xy.shape == (3, 2, 2) and clip.xy.dtype == np.float32
    # b_joint was index 0 in the dict (x = t), a_joint index 1 (x = 10 + t)
    assert clip.xy[2, 0].tolist() == [12.0, 102.0]
    assert clip.xy[2, 1].tolist() == [2.0, 102.0]


def test_channels_interleave_x_and_y_per_joint():
    clip = parse_clip(_clip_json(frames=4))
    ch = clip.channels
    assert ch.shape == (4, 4)
    np.testing.assert_array_equal(ch[:, 0], clip.xy[:, 0, 0])
    np.testing.assert_array_equal(ch[:, 1], clip.xy[:, 0, 1])
    np.testing.assert_array_equal(ch[:, 2], clip.xy[:, 1, 0])


def test_clip_from_channels_takes_frames_first_only():
    clip = demo_clip(frames=12)
    np.testing.assert_array_equal(clip_from_channels(clip.channels, clip.joints).xy, clip.xy)
    for bad in (clip.channels.T, np.zeros((12, 7))):  # channels first is not guessed
        with pytest.raises(ClipError, match="expected a"):
            clip_from_channels(bad, clip.joints)
    square = demo_clip(frames=40)  # T == 2J: the one shape a guess would get wrong half the time
    np.testing.assert_array_equal(clip_from_channels(square.channels, square.joints).xy, square.xy)


def test_save_and_load_round_trip(tmp_path):
    clip = demo_clip(frames=20)
    p = tmp_path / "sub" / "c.json"
    save_clip(clip, p)
    back = load_clip(p)
    assert back.joints == clip.joints
    np.testing.assert_allclose(back.xy, clip.xy, atol=1e-3)  # saved to 3 decimals
    assert not list(p.parent.glob(".*tmp"))  # the atomic write left no temp file


def test_loads_accepts_bytes_and_text():
    text = json.dumps(_clip_json())
    assert loads_clip(text).num_frames == 3
    assert loads_clip(text.encode()).num_frames == 3


BAD_CLIPS = [
    ("[1, 2]", "expected a JSON object"),
    ("{}", "no joints"),
    ('{"a": [[1, 2]], "b": [[1, 2], [3, 4]]}', "unequal lengths"),
    ('{"a": []}', "0 frames"),
    ('{"a": [[1, 2, 3]]}', "expected an \\[x, y\\] pair"),
    ('{"a": [[1, "2"]]}', "is not a number"),
    ('{"a": [[true, 2]]}', "is not a number"),
    ('{"a": {"x": 1}}', "must map to a list"),
    ('{"a": [[NaN, 2]]}', "not a finite number"),
    ('{"a": [[Infinity, 2]]}', "not a finite number"),
    ('{"a": [[1e400, 2]]}', "not a finite pixel value"),
    ('{"a": [[1' + "0" * 400 + ', 2]]}', "not a finite pixel value"),  # a huge JSON integer
    ('{"a": [[1, 2]], "a": [[3, 4]]}', "duplicate joint name"),
    ('{"a": [[1, 2]', "not valid JSON"),
    ("   ", "empty"),
    ("", "empty"),
]


@pytest.mark.parametrize("text,match", BAD_CLIPS)
def test_bad_clip_text_gives_one_line_clip_error(text, match):
    with pytest.raises(ClipError, match=match) as ei:
        loads_clip(text, source="upload.json")
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith("upload.json: ")
    assert len(msg) < 300


def test_non_utf8_bytes():
    with pytest.raises(ClipError, match="not UTF-8"):
        loads_clip(b"\xff\xfe{", source="x")


def test_too_many_frames_is_refused_cheaply():
    data = {"a": [[0, 0]] * (MAX_FRAMES + 1)}
    with pytest.raises(ClipError, match=f"exceeds the limit of {MAX_FRAMES} frames"):
        parse_clip(data)
    assert parse_clip({"a": [[0, 0]] * 50}).num_frames == 50


def test_min_frames():
    with pytest.raises(ClipError, match="shorter than the window of 8 frames"):
        loads_clip(json.dumps(_clip_json(frames=5)), min_frames=8)
    assert loads_clip(json.dumps(_clip_json(frames=8)), min_frames=8).num_frames == 8


def test_missing_file(tmp_path):
    with pytest.raises(ClipError, match="no such clip file"):
        load_clip(tmp_path / "nope.json")


def test_error_hierarchy():
    assert issubclass(ClipError, MotionlabError) and issubclass(MotionlabError, ValueError)


def test_default_clip_path_matches_the_data_folder():
    p = default_clip_path()
    assert (p is not None) == REAL_CLIP.is_file()
    if p is not None:
        assert p.resolve() == REAL_CLIP.resolve()


@needs_real_clip
def test_real_clip_has_the_documented_shape():
    clip = load_clip(REAL_CLIP, min_frames=256)
    assert clip.joints == JOINTS_20
    assert clip.num_frames == 895
    assert np.isfinite(clip.xy).all()
    # pixels in a frame of roughly 512 x 512
    assert clip.xy.min() > -100 and clip.xy.max() < 700


def test_demo_clip_is_deterministic_and_in_the_real_format():
    a, b = demo_clip(frames=64), demo_clip(frames=64)
    assert isinstance(a, Clip) and a.joints == JOINTS_20
    assert a.xy.shape == (64, 20, 2) and a.xy.dtype == np.float32
    np.testing.assert_array_equal(a.xy, b.xy)
    assert not np.array_equal(a.xy, demo_clip(frames=64, seed=1).xy)
    assert demo_clip().num_frames == 480
    # the dancer moves: frame-to-frame motion is non-zero, but smooth (no teleporting joints)
    step = np.abs(np.diff(a.xy, axis=0))
    assert step.mean() > 0.5 and step.max() < 60


def test_skeleton_mirror_permutation_is_an_involution_swapping_sides():
    perm = mirror_permutation(JOINTS_20)
    assert sorted(perm) == list(range(20))
    assert [perm[p] for p in perm] == list(range(20))
    for i, n in enumerate(JOINTS_20):
        twin = JOINTS_20[perm[i]]
        if side(n) == "center":
            assert twin == n
        else:
            assert side(twin) != side(n) and twin.split("_", 1)[1] == n.split("_", 1)[1]
    # a joint without a twin maps to itself
    assert mirror_permutation(["left_hand", "nose"]) == [0, 1]


def test_bones_for_only_uses_present_joints():
    full = bones_for(JOINTS_20)
    assert len(full) == len(BONES)
    assert all(0 <= a < 20 and 0 <= b < 20 for a, b, _ in full)
    part = bones_for(["nose", "neck_mid", "left_hand"])
    assert part == [(0, 1, "center")]
    sides = {s for _, _, s in full}
    assert sides == {"left", "right", "center"}
