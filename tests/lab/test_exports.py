"""motionlab.lab.exports: GIF and MP4 of clips side by side, and clips as JSON (one file, or a zip of several
with unique names)."""
from __future__ import annotations

import io
import zipfile

import pytest

from motionlab.data.clip import loads_clip
from motionlab.data.demo import demo_clip
from motionlab.lab import exports


def test_exports_video_and_json():
    c = demo_clip(12)
    assert exports.video([c], "gif", ["a"])[:6] == b"GIF89a"
    mp4 = exports.video([c, c], "mp4", ["a", "b"])
    assert mp4[4:8] == b"ftyp"
    data, ext, mime = exports.clips_json([c], ["x"])
    assert ext == "json" and loads_clip(data).num_frames == 12
    data, ext, mime = exports.clips_json([c, c, c], ["a #0", "a #0", "real @5"])
    assert ext == "zip" and mime == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert names == ["a_0.json", "a_0_.json", "real_5.json"]
        assert all(loads_clip(z.read(n)).num_frames == 12 for n in names)
    with pytest.raises(ValueError):
        exports.video([], "gif")
