"""The Dataset page's clip upload (motionlab.lab.uploads): a file is validated once (its size before it is read),
and a bad one keeps the good clip; a file over the clip limits is refused from its structure, in a small multiple
of its size and at once, through the same call the page makes (issue 23, item 6).

Then in the app (AppTest, on lab_support's app_tree): invalid and oversized clip uploads on the Dataset page
show one st.error line, never an exception, and a valid upload after bad ones is used."""
from __future__ import annotations

import json
import re
import time
import tracemalloc

import numpy as np

from lab_support import PAGES, app_env, app_tree, no_exception, open_locked  # noqa: F401  (fixtures)
from motionlab.data.clip import MAX_FILE_BYTES, MAX_FRAMES
from motionlab.lab import keys, uploads


def test_accept_upload_validates_once_per_file_and_checks_size_before_reading():
    import json as _json

    from motionlab.data.demo import demo_clip
    state, reads = {}, []

    def reader(data):
        return lambda: reads.append(1) or data

    good = _json.dumps(demo_clip(frames=20).to_dict()).encode()
    assert uploads.accept_upload(state, "a.json", "f1", len(good), reader(good), 2**20) == ""
    assert state[keys.UPLOADED_CLIP]["clip"].num_frames == 20 and len(reads) == 1
    assert uploads.accept_upload(state, "a.json", "f1", len(good), reader(good), 2**20) == ""
    assert len(reads) == 1  # the same file is not parsed again on a rerun
    err = uploads.accept_upload(state, "big.json", "f2", 2**21, reader(b"never read"), 2**20)
    assert "exceeds the 1 MB limit" in err and len(reads) == 1
    err = uploads.accept_upload(state, "bad.json", "f3", 5, reader(b"[1,2]"), 2**20)
    assert err.startswith("bad.json:") and "\n" not in err
    assert state[keys.UPLOADED_CLIP]["name"] == "upload:a.json"  # a bad file keeps the good clip


def test_a_long_single_joint_upload_is_refused_small_and_fast():
    n = (MAX_FILE_BYTES - 16) // 6 - 1  # {"a": [[1,2],[1,2],...]} just under the upload limit: ~8.7M frames
    data = b'{"a": [' + b"[1,2]," * n + b"[1,2]]}"
    assert len(data) <= MAX_FILE_BYTES
    state = {}
    tracemalloc.start()
    t = time.perf_counter()
    err = uploads.accept_upload(state, "long.json", "f1", len(data), lambda: data, MAX_FILE_BYTES)
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert err == f"long.json: {n + 1} frames exceeds the limit of {MAX_FRAMES} frames"
    assert keys.UPLOADED_CLIP not in state and state[keys.UPLOAD_CHECK] == {"file_id": "f1", "error": err}
    # the text decoded once beside the caller's bytes, plus a chunk: json.loads took ~870 MB and ~5 s here
    assert peak < 1.2 * len(data) + 16 * 2**20, peak / 2**20
    assert dt < 10, dt


# -- the Dataset page's upload in the app --------------------------------------------------------------

def _bad_uploads() -> dict:
    from clip_files import CORPUS
    pick = ["empty", "not_json", "top_level_list", "unequal_lengths", "nan", "null_coordinate", "triple",
            "bool_coordinate", "huge_int_5000_digits", "one_frame", "frames_50000", "duplicate_keys",
            "nested_lists_100k", "binary", "utf16", "lone_surrogate_name", "too_many_joints"]
    return {f"{k}.json": (CORPUS[k][0], CORPUS[k][1]) for k in pick}


def test_invalid_uploads_show_one_error_line(app_env):
    at = open_locked(f"{PAGES}/dataset.py")
    caption = [c.value for c in at.caption if c.value.startswith("Clip **")]
    uploads = _bad_uploads()
    assert len(uploads) >= 15
    for name, (data, pattern) in uploads.items():
        at.file_uploader(key="dataset.upload").set_value((name, data, "application/json"))
        at.run()
        no_exception(at)
        errors = [e.value for e in at.error]
        assert len(errors) == 1, (name, errors)
        assert "\n" not in errors[0] and errors[0].startswith(f"{name}: "), errors
        # the 'shorter than the window' cases: the page asks for >= 8 frames
        assert re.search(pattern, errors[0]) or "shorter than the window" in errors[0], (name, errors[0])
        assert "lab.uploaded_clip" not in at.session_state
        # the page keeps working on the clip it had
        assert [c.value for c in at.caption if c.value.startswith("Clip **")] == caption


def test_oversized_upload_is_refused_before_parsing(app_env):
    at = open_locked(f"{PAGES}/dataset.py")
    data = b"{" + b" " * (MAX_FILE_BYTES + 10) + b"}"
    at.file_uploader(key="dataset.upload").set_value(("big.json", data, "application/json"))
    at.run()
    no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "exceeds the 50 MB limit" in errors[0], errors
    assert "lab.uploaded_clip" not in at.session_state


def test_a_valid_upload_after_bad_ones_is_used_and_a_bad_one_keeps_it(app_env):
    at = open_locked(f"{PAGES}/dataset.py")
    up = at.file_uploader(key="dataset.upload")
    up.set_value(("bad.json", b"[1, 2]", "application/json"))
    at.run()
    assert len(at.error) == 1
    rng = np.random.default_rng(0)
    names = ["h\u00fcfte", "\u624b", "left_hand", "\U0001f57a"]  # names in any script are valid
    clip = {n: rng.uniform(100, 400, (120, 2)).round(2).tolist() for n in names}
    at.file_uploader(key="dataset.upload").set_value(("dancer.json", json.dumps(clip, ensure_ascii=False).encode(),
                                                      "application/json"))
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert any("Loaded upload:dancer.json: 120 frames, 4 joints" in s.value for s in at.success)
    at.file_uploader(key="dataset.upload").set_value(("worse.json", b"\xff\xfe", "application/json"))
    at.run()
    no_exception(at)
    assert len(at.error) == 1 and "not UTF-8" in at.error[0].value
    assert at.session_state["lab.uploaded_clip"]["name"] == "upload:dancer.json"
