"""Pose-file import for the Dataset page: MediaPipe / COCO-17 / OpenPose / MMPose files -> the session's clip.

Takes a plain mutable mapping (st.session_state in the app, a dict in tests). A converted clip takes the
place of an uploaded one (keys.UPLOADED_CLIP), so every page and the Training form use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, MutableMapping

from motionlab.errors import MotionlabError, PoseFileError, one_line
from motionlab.formats.poseformats import check_size, convert_files
from motionlab.lab.keys import IMPORT_REPORT, UPLOADED_CLIP

MIN_FRAMES = 8                        # as for uploaded clips: the smallest training window


@dataclass(frozen=True)
class ImportOptions:
    width: int = 0           # frame size for normalized (0..1) coordinates; 0 x 0 = they are pixels
    height: int = 0
    min_confidence: float = 0.3
    max_gap: int = 10

    def size(self) -> tuple[int, int] | None:
        if self.width == 0 and self.height == 0:
            return None
        if self.width <= 0 or self.height <= 0:
            raise PoseFileError(f"give both the frame width and height (got {self.width} x {self.height}), "
                                f"or 0 for both when the coordinates are pixels")
        check_size((self.width, self.height))
        return self.width, self.height


def import_pose_files(state: MutableMapping, files: list[tuple[str, int, Callable[[], bytes]]],
                      opts: ImportOptions, limit_bytes: int) -> str:
    """Convert (name, size, read) files, read in name order (OpenPose writes one numbered file per frame).

    On success the clip becomes the session's uploaded clip and the report is kept; returns the error
    ('' if none). Sizes are checked before anything is read; a failed import keeps the clip there was.
    """
    try:
        if not files:
            raise PoseFileError("choose one or more pose files first")
        total = sum(size for _, size, _ in files)
        if total > limit_bytes:
            raise PoseFileError(f"{total / 2**20:.1f} MB of pose files exceeds the {limit_bytes // 2**20} MB "
                                f"limit for one import")
        size = opts.size()
        files = sorted(files, key=lambda f: f[0])
        clip, report = convert_files([(name, read()) for name, _, read in files], size=size,
                                     min_confidence=opts.min_confidence, max_gap=opts.max_gap,
                                     min_frames=MIN_FRAMES)
    except MotionlabError as e:
        return one_line(e)
    name = f"import:{files[0][0]}" + (f" (+{len(files) - 1} files)" if len(files) > 1 else "")
    state[UPLOADED_CLIP] = {"clip": clip, "name": name, "file_id": name, "bytes": total}
    state[IMPORT_REPORT] = {"name": name, "lines": report.lines()}
    return ""
