"""The Dataset page's clip upload (issue 23, item 6): a file over the clip limits is refused from its structure,
in a small multiple of its size and at once, through the same call the page makes."""
from __future__ import annotations

import time
import tracemalloc

from motionlab.data.clip import MAX_FILE_BYTES, MAX_FRAMES
from motionlab.lab import keys, uploads


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
