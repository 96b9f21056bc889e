"""Skeleton rasterizing with PIL, and GIF / MP4 writing (imageio-ffmpeg's bundled ffmpeg)."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from motionlab.data.clip import Clip
from motionlab.data.skeleton import bones_for, side
from motionlab.io import atomic_write_bytes

COLORS = {"left": (230, 97, 0), "right": (40, 110, 220), "center": (90, 90, 90)}
BACKGROUND = (255, 255, 255)


def square_bounds(xys, pad: float = 0.08) -> tuple[float, float, float, float]:
    """Square (x0, y0, x1, y1) in image coordinates covering every finite point of the (..., 2) arrays."""
    pts = np.concatenate([np.asarray(a, np.float64).reshape(-1, 2) for a in xys])
    pts = pts[np.isfinite(pts).all(1)]
    if len(pts) == 0:
        return 0.0, 0.0, 512.0, 512.0
    lo, hi = pts.min(0), pts.max(0)
    c, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1.0) * (1 + pad)
    return float(c[0] - half), float(c[1] - half), float(c[0] + half), float(c[1] + half)


def clip_bounds(clips: list[Clip], pad: float = 0.08) -> tuple[float, float, float, float]:
    """Shared square bounds for all clips."""
    return square_bounds([c.xy for c in clips], pad)


def render_clip(clip: Clip, size: int = 256, bounds=None, title: str | None = None) -> np.ndarray:
    """(T, size, size, 3) uint8 frames; y points down as in the data."""
    x0, y0, x1, y1 = bounds or clip_bounds([clip])
    scale = (size - 1) / max(x1 - x0, y1 - y0)
    pts = (clip.xy - np.array([x0, y0], np.float32)) * scale
    bones = bones_for(clip.joints)
    sides = [side(n) for n in clip.joints]
    r = max(1.5, size / 128)
    width = max(2, size // 96)
    frames = np.empty((clip.num_frames, size, size, 3), np.uint8)
    for t in range(clip.num_frames):
        im = Image.new("RGB", (size, size), BACKGROUND)
        d = ImageDraw.Draw(im)
        p = pts[t]
        for a, b, s in bones:
            if np.isfinite(p[[a, b]]).all():
                d.line([tuple(p[a]), tuple(p[b])], fill=COLORS[s], width=width)
        for j, (x, y) in enumerate(p):
            if np.isfinite(x) and np.isfinite(y):
                d.ellipse([x - r, y - r, x + r, y + r], fill=COLORS[sides[j]])
        if title:
            d.text((4, 2), title, fill=(0, 0, 0))
        frames[t] = np.asarray(im)
    return frames


def render_grid(clips: list[Clip], size: int = 256, cols: int | None = None, titles=None,
                shared_bounds: bool = True) -> np.ndarray:
    """Several clips side by side, (T, rows*size, cols*size, 3); shorter clips hold their last frame."""
    if not clips:
        raise ValueError("no clips to render")
    n = len(clips)
    cols = cols or min(n, 4)
    rows = -(-n // cols)
    bounds = clip_bounds(clips) if shared_bounds else None
    tiles = [render_clip(c, size, bounds, titles[i] if titles else None) for i, c in enumerate(clips)]
    T = max(len(t) for t in tiles)
    out = np.full((T, rows * size, cols * size, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        idx = np.minimum(np.arange(T), len(tile) - 1)
        out[:, r * size:(r + 1) * size, c * size:(c + 1) * size] = tile[idx]
    return out


def encode_video(frames: np.ndarray, fmt: str, fps: int = 30) -> bytes:
    """Encode (T, H, W, 3) uint8 frames as 'gif' or 'mp4' bytes."""
    if fmt == "gif":
        buf = io.BytesIO()
        ims = [Image.fromarray(f) for f in frames]
        ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=round(1000 / fps), loop=0)
        return buf.getvalue()
    if fmt == "mp4":
        import imageio.v2 as imageio
        fd, tmp = tempfile.mkstemp(suffix=".mp4")
        os.close(fd)
        try:
            with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p",
                                    macro_block_size=16, ffmpeg_log_level="error") as w:
                for f in frames:
                    w.append_data(f)
            return Path(tmp).read_bytes()
        finally:
            os.unlink(tmp)
    raise ValueError(f"unknown video format {fmt!r}; use gif or mp4")


def video_bytes(clips: list[Clip], fmt: str, fps: int = 30, size: int = 256, titles=None) -> bytes:
    return encode_video(render_grid(clips, size=size, titles=titles), fmt, fps)


def write_video(path, clips: list[Clip], fps: int = 30, size: int = 256, titles=None) -> None:
    """GIF or MP4 by the path's suffix; several clips become one side-by-side grid."""
    fmt = Path(path).suffix.lower().lstrip(".")
    atomic_write_bytes(path, video_bytes(clips, fmt, fps, size, titles))
