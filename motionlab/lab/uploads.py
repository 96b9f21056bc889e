"""Uploaded clips: validated once per file, kept in the session when good."""
from __future__ import annotations

from typing import Callable, MutableMapping

from motionlab.data.clip import loads_clip
from motionlab.errors import ClipError, MotionlabError, one_line
from motionlab.lab.keys import UPLOAD_CHECK, UPLOADED_CLIP


def accept_upload(state: MutableMapping, name: str, file_id: str, size: int, read: Callable[[], bytes],
                  limit_bytes: int) -> str:
    """Validate an uploaded clip once per file; keep it in `state` when good. Returns the error ('' if none).

    The size is checked before the bytes are read or parsed; `read` returns the file's bytes.
    """
    seen = state.get(UPLOAD_CHECK)
    if isinstance(seen, dict) and seen.get("file_id") == file_id:
        return seen["error"]
    try:
        if size > limit_bytes:
            raise ClipError(f"{name}: {size / 2**20:.1f} MB exceeds the {limit_bytes // 2**20} MB limit for clip files")
        clip = loads_clip(read(), min_frames=8, source=name)
        state[UPLOADED_CLIP] = {"clip": clip, "name": f"upload:{name}", "file_id": file_id, "bytes": size}
        error = ""
    except MotionlabError as e:
        error = one_line(e)
    state[UPLOAD_CHECK] = {"file_id": file_id, "error": error}
    return error
