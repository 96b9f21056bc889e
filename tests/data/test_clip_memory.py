"""Clip files that cost more than their size (issue 23, item 6): the limits are checked from the brackets before
anything is decoded, each joint is compacted as it is decoded, and the messages stay json.loads' and parse_clip's."""
from __future__ import annotations

import json
import random
import time
import tracemalloc

import numpy as np
import pytest

from motionlab import ClipError
from motionlab.data import clip as clip_mod
from motionlab.data.clip import MAX_FRAMES, MAX_JOINTS, loads_clip, loads_json, parse_clip


def _peak(fn) -> tuple[int, float, object]:
    """(peak bytes Python and numpy allocated, seconds, fn's result or exception) while fn runs."""
    tracemalloc.start()
    t = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - handed back to the test
        out = e
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, dt, out


def _joint(frames: int, pair: str = "[1,2]") -> str:
    return "[" + ",".join([pair] * frames) + "]"


# ~17 MB each: json.loads alone would take ~15x that before any limit could be checked
OVER_LIMITS = {
    "one joint, 2.9M frames": ('{"a": ' + _joint(2_900_000) + "}", f"2900000 frames exceeds the limit of {MAX_FRAMES}"),
    "300 joints": ("{" + ",".join(f'"j{i}": {_joint(9_500)}' for i in range(300)) + "}",
                   f"300 joints exceeds the limit of {MAX_JOINTS}"),
    "one frame of 8.5M numbers": ('{"a": [[' + ",".join(["1"] * 8_500_000) + "]]}",
                                  "joint 1 in file order holds 8500001 lists and numbers"),
    "a top-level list": ("[" + ",".join(["[1,2]"] * 2_900_000) + "]", "expected a JSON object .* got list"),
}


@pytest.mark.parametrize("name", sorted(OVER_LIMITS))
def test_a_file_over_the_limits_is_refused_before_it_is_decoded(name):
    text, match = OVER_LIMITS[name]
    for arg in (text, text.encode()):  # the CLIs read text from bytes, the lab's upload path hands bytes
        peak, dt, out = _peak(lambda: loads_clip(arg, source="up.json"))
        assert isinstance(out, ClipError), out
        msg = str(out)
        assert msg.startswith("up.json: ") and "\n" not in msg
        import re
        assert re.search(match, msg), msg
        # the decoded text (the bytes are the caller's) and a chunk's arrays; json.loads took ~15x the size
        assert peak < len(text) + 16 * 2**20, (peak / 2**20, len(text) / 2**20)
        assert dt < 10, dt


@pytest.mark.slow  # builds and parses a 29 MB clip: 3-9 s
def test_the_largest_clip_within_the_limits_loads_in_a_small_multiple_of_its_size():
    frames = _joint(MAX_FRAMES, "[1,2.5]")
    text = "{" + ",".join(f'"j{i:02d}": {frames}' for i in range(64)) + "}"  # 64 joints x 20000 frames, 10 MB
    peak, dt, clip = _peak(lambda: loads_clip(text))
    assert not isinstance(clip, Exception), clip
    assert clip.xy.shape == (MAX_FRAMES, 64, 2) and clip.xy.dtype == np.float32
    assert np.all(clip.xy[:, :, 0] == 1) and np.all(clip.xy[:, :, 1] == 2.5)
    assert peak < 2 * len(text) + 16 * 2**20, (peak / 2**20, len(text) / 2**20)  # json.loads alone took ~20x


def _reference(text: str, min_frames: int = 1):
    """What loads_clip said before it streamed: json.loads of the whole text, then parse_clip."""
    if not text.strip():
        raise ClipError("s: the file is empty")
    data = loads_json(text, "s", ClipError, object_pairs_hook=clip_mod._no_duplicates,
                      parse_constant=clip_mod._reject_constant)
    return parse_clip(data, min_frames=min_frames, source="s")


def _verdict(fn, text):
    try:
        c = fn(text)
    except ClipError as e:
        return str(e)
    return (c.joints, c.xy.tobytes())


BASES = [
    '{"a": [[1, 2], [3, 4.5]], "b": [[5, 6], [7, 8]]}',
    '{"x\\"y": [[1, 2]], "[,{": [[-1e3, 2E2]], "tab\\\\": [[0, 0]]}',
    '{"h\u00fcfte": [[1, 2], [3, 4]], "\\u00e9": [[5, 6], [7, 8]]}',
    ' \n{ "a" : [ [ 1 , 2 ] , [ 3 , 4 ] ] , "b" : [ [ 5 , 6 ] , [ 7 , 8 ] ] } \n',
    '{"a": [[1, 2]], "b": {"c": [1, 2]}}',
]


def test_streamed_decoding_says_what_json_loads_and_parse_clip_said():
    """Every base and ~3000 random edits of them (a character deleted, inserted or doubled): the same clip or
    the same message, word for word, as decoding the whole text with json.loads and checking it after."""
    rng = random.Random(23)
    alphabet = list('[]{},:"\\ 0123456789.-eaEtnNI') + ["NaN", "true", "null", "1e999", "\\u", "}}", "]]"]
    cases = list(BASES)
    for _ in range(3000):
        s = rng.choice(BASES)
        i = rng.randrange(len(s) + 1)
        op = rng.random()
        if op < 0.35:
            s = s[:i] + s[i + 1:]
        elif op < 0.8:
            s = s[:i] + rng.choice(alphabet) + s[i:]
        else:
            j = rng.randrange(i, len(s) + 1)
            s = s[:j] + s[i:j] + s[j:]
        cases.append(s)
    differ = [(c, _verdict(_reference, c), _verdict(lambda t: loads_clip(t, source="s"), c)) for c in cases]
    differ = [d for d in differ if d[1] != d[2]]
    assert not differ, differ[:5]


def test_strings_holding_brackets_quotes_and_backslashes_are_not_structure(monkeypatch):
    """Escapes across chunk boundaries: with 7-character chunks every escape and quote lands on some boundary."""
    monkeypatch.setattr(clip_mod, "_CHUNK", 7)
    names = ['a\\"b[', "c\\\\", "d,{}", '\\\\\\"', "]]]"]
    text = "{" + ",".join(f"{json.dumps(n)}: {_joint(MAX_FRAMES)}" for n in names) + "}"
    c = loads_clip(text)
    assert c.num_frames == MAX_FRAMES and c.joints == tuple(sorted(names))
    lengths = [MAX_FRAMES, MAX_FRAMES + 1, MAX_FRAMES, MAX_FRAMES, MAX_FRAMES]
    over = "{" + ",".join(f"{json.dumps(n)}: {_joint(t)}" for n, t in zip(names, lengths)) + "}"
    with pytest.raises(ClipError, match=f"{MAX_FRAMES + 1} frames exceeds the limit"):
        loads_clip(over)
    with pytest.raises(ClipError, match="nested too deeply"):
        loads_clip('{"a": ' + "[" * 600 + "]" * 600 + "}")
