"""Bytes for the download buttons: GIF / MP4 of what is shown, and the JSON clip(s)."""
from __future__ import annotations

import io
import re
import zipfile

from motionlab.formats import export
from motionlab.data.clip import Clip, clip_bytes
from motionlab.formats.export import LAYOUTS, fps_tag  # noqa: F401  (the pages' names for them)
from motionlab.formats.render import video_bytes

MIME = {"gif": "image/gif", "mp4": "video/mp4", "json": "application/json", "zip": "application/zip"}


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_") or "clip"


def tile_size(n: int) -> int:
    """Pixel size per clip: large alone, smaller in a big grid."""
    return 320 if n == 1 else 256 if n <= 4 else 192


def video(clips: list[Clip], fmt: str, titles=None, fps: int = 30) -> bytes:
    """One clip, or a side-by-side grid (4 columns) of several, as GIF or MP4 bytes. The frames are
    drawn once: the other format's button reuses them (render.grid_frames), ~0.5 s GIF, ~1 s MP4 for
    8 clips of 256 frames (docs/SPEED.md)."""
    if not clips:
        raise ValueError("nothing to export")
    return video_bytes(clips, fmt, fps=fps, size=tile_size(len(clips)), titles=list(titles) if titles else None)


def clips_json(clips: list[Clip], names: list[str]) -> tuple[bytes, str, str]:
    """(bytes, file extension, mime): one clip as its JSON, several as a zip of JSON files.

    Each JSON file is a clip in the data format (joint -> [[x, y], ...]) that loads_clip reads.
    """
    if not clips:
        raise ValueError("nothing to export")
    if len(clips) == 1:
        return clip_bytes(clips[0]), "json", MIME["json"]
    buf = io.BytesIO()
    used = set()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for c, n in zip(clips, names):
            fn = slug(n)
            while fn in used:
                fn += "_"
            used.add(fn)
            z.writestr(f"{fn}.json", clip_bytes(c))
    return buf.getvalue(), "zip", MIME["zip"]


def at_fps(clips: list[Clip], fps: float, src_fps: float) -> list[Clip]:
    """The clips resampled to fps (unchanged when it is their own)."""
    return list(clips) if float(fps) == float(src_fps) else [export.at_fps(c, fps, src_fps) for c in clips]


def pose_zip(clips: list[Clip], names: list[str], fmt: str, fps: float, src_fps: float = export.CLIP_FPS,
             layout: str = "BODY_25") -> bytes:
    """A zip of one pose-tool format (openpose, pose_png, csv, npy) for every clip, at fps; each file or
    folder name carries the rate (motionlab.formats.export.files_for)."""
    return export.export_zip(list(clips), list(names), fmt, fps=fps, src_fps=src_fps, layout=layout)
