"""Clip files: parsing, validation errors, channel layout, the real clip; property tests of the loader on any
input, and a corpus of malformed and odd but valid clip files (clip_files.py)."""
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clip_files import ALL_CASES, CORPUS, VALID, WINDOW, expected
from conftest import REAL_CLIP, needs_real_clip
from hypothesis_support import SETTINGS, valid_clips
from motionlab import ClipError
from motionlab.data.clip import (MAX_FRAMES, MAX_JOINTS, Clip, clip_from_channels, default_clip_path, load_clip,
                                 loads_clip, parse_clip, save_clip)
from motionlab.data.demo import demo_clip
from motionlab.data.skeleton import JOINTS_20


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


# -- property tests (hypothesis): any JSON, text or bytes gives a valid Clip or a one-line ClipError -----

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=8))


any_json = st.recursive(scalars, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=6), kids,
                                                                                              max_size=5),
                        max_leaves=40)


# closer to a clip, so examples get past the first checks: name -> list of "frames"
frame = st.lists(scalars | st.lists(scalars, max_size=3), min_size=0, max_size=3) | scalars


clip_like = st.dictionaries(st.text(max_size=6), st.lists(frame, max_size=6) | scalars, max_size=4)


def _check_result(clip, min_frames=1):
    assert isinstance(clip, Clip)
    t, j, two = clip.xy.shape
    assert two == 2 and j == len(clip.joints) >= 1 and min_frames <= t <= MAX_FRAMES and j <= MAX_JOINTS
    assert clip.xy.dtype == np.float32 and np.isfinite(clip.xy).all()
    assert list(clip.joints) == sorted(clip.joints)


def _load(arg, **kw):
    try:
        clip = loads_clip(arg, **kw)
    except ClipError as e:
        assert "\n" not in str(e)
        return None
    _check_result(clip, kw.get("min_frames", 1))
    return clip


@SETTINGS
@given(any_json)
def test_loads_clip_on_any_json_value(value):
    _load(json.dumps(value))  # allow_nan: NaN / Infinity tokens too
    _load(json.dumps(value).encode())


@SETTINGS
@given(clip_like, st.integers(-3, 8))
def test_loads_clip_on_clip_shaped_json(value, min_frames):
    _load(json.dumps(value), min_frames=min_frames)
    try:
        parse_clip(value, min_frames=min_frames)
    except ClipError:
        pass


@SETTINGS
@given(st.text(max_size=200))
def test_loads_clip_on_any_text(text):
    _load(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_loads_clip_on_any_bytes(data):
    _load(data)


@SETTINGS
@given(st.binary(max_size=40), st.integers(0, 80))
def test_loads_clip_on_corrupted_valid_files(junk, at):
    """A real clip file with bytes spliced in at some point."""
    good = json.dumps({"a": [[1.5, 2.0], [3.0, 4.0]], "b": [[5.0, 6.0], [7.0, 8.0]]}).encode()
    at = min(at, len(good))
    _load(good[:at] + junk + good[at:])
    _load(good[:at])


@SETTINGS
@given(valid_clips())
def test_valid_clips_load_exactly(data):
    clip = loads_clip(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    _check_result(clip)
    assert clip.joints == tuple(sorted(data))
    for j, n in enumerate(clip.joints):
        np.testing.assert_array_equal(clip.xy[:, j], np.asarray(data[n], np.float32))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(valid_clips(max_frames=12))
def test_save_load_round_trip(tmp_path, data):
    clip = parse_clip(data)
    p = tmp_path / "c.json"
    save_clip(clip, p)
    back = load_clip(p)
    assert back.joints == clip.joints  # names in any script survive
    np.testing.assert_allclose(back.xy, clip.xy, rtol=0, atol=5e-4 + 1e-6 * np.abs(clip.xy).max())


def test_loads_clip_never_leaks_recursion_or_memory_errors_on_deep_input():
    for depth in (1_000, 10_000, 100_000, 1_000_000):
        for opener, closer in ((b"[", b"]"), (b'{"a":', b"}")):
            doc = opener * depth + (b"1" if opener != b"[" else b"") + closer * depth
            with pytest.raises(ClipError):
                loads_clip(doc)


# -- a corpus of malformed and odd clip files (clip_files.py) --------------------------------------------

@pytest.mark.parametrize("name", ALL_CASES)
def test_loader_refuses_with_one_line_clip_error(corpus, name):
    with pytest.raises(ClipError) as e:
        load_clip(corpus[name], min_frames=WINDOW)
    msg = str(e.value)
    assert "\n" not in msg
    import re
    assert re.search(expected(name), msg), msg


@pytest.mark.parametrize("name", sorted(VALID))
def test_odd_but_valid_files_load(tmp_path, name):
    p = tmp_path / f"{name}.json"
    p.write_bytes(VALID[name])
    clip = load_clip(p, min_frames=WINDOW)
    assert clip.num_frames >= WINDOW and np.isfinite(clip.xy).all()


def test_loads_clip_text_and_bytes_agree_on_the_corpus():
    """The upload path (bytes) and the text path give the same verdict."""
    for name, (data, pattern) in CORPUS.items():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        for arg in (data, text):
            try:
                loads_clip(arg, min_frames=WINDOW)
            except ClipError:
                continue
            pytest.fail(f"{name} loaded from {type(arg).__name__}")
