"""Skeleton rasterizing with PIL, and GIF / MP4 writing (imageio-ffmpeg's bundled ffmpeg).

A grid is drawn once per frame into one palette ("P") image: the drawing uses a handful of colours,
so GIF needs no per-frame quantization and MP4 gets RGB by a palette lookup. The last grid drawn is
kept, so a GIF and then an MP4 of the same clips draw them once (docs/SPEED.md, "Exports").
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from motionlab.data.clip import Clip
from motionlab.data.skeleton import bones_for, side
from motionlab.io import atomic_write_bytes

COLORS = {"left": (230, 97, 0), "right": (40, 110, 220), "center": (90, 90, 90)}
BACKGROUND = (255, 255, 255)
INK = {"left": 1, "right": 2, "center": 3}
TEXT_LEVELS = 15  # steps of the titles' antialiasing: black ink at alpha k/15 over each colour
_BASE = np.array([BACKGROUND, COLORS["left"], COLORS["right"], COLORS["center"]], np.float64)
PALETTE = np.concatenate([_BASE] + [np.rint(_BASE * (1 - k / TEXT_LEVELS)) for k in range(1, TEXT_LEVELS + 1)]
                         ).astype(np.uint8)  # index 4 * k + base: ink at level k over base
MP4_PRESET = "veryfast"  # about half of x264's default time at the same file size
CACHE_BYTES = 160 * 2**20  # 16 clips at 192 px; a bigger grid is drawn again rather than kept


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


@dataclass(frozen=True)
class Frames:
    """(T, H, W) uint8 indices into PALETTE: a drawn grid, before any encoding."""
    index: np.ndarray

    def rgb(self) -> np.ndarray:
        return np.take(PALETTE, self.index, axis=0)

    def image(self, t: int) -> Image.Image:
        im = Image.fromarray(self.index[t], "P")
        im.putpalette(PALETTE.tobytes())
        return im


def _title_pixels(title: str, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ys, xs, level) of a title's antialiased pixels in its tile, as drawing it on RGB blended them."""
    alpha = Image.new("L", (size, size), 0)
    ImageDraw.Draw(alpha).text((4, 2), title, fill=255)
    level = np.rint(np.asarray(alpha, np.float32) * TEXT_LEVELS / 255).astype(np.uint8)
    ys, xs = np.nonzero(level)
    return ys, xs, 4 * level[ys, xs]


def draw_grid(clips: list[Clip], size: int = 256, cols: int | None = None, titles=None,
              shared_bounds: bool = True, bounds=None) -> Frames:
    """Clips side by side in rows of `cols` (default up to 4); shorter clips hold their last frame."""
    if not clips:
        raise ValueError("no clips to render")
    cols = cols or min(len(clips), 4)
    rows = -(-len(clips) // cols)
    shared = bounds or (clip_bounds(clips) if shared_bounds else None)
    r = max(1.5, size / 128)
    width = max(2, size // 96)
    panels, text = [], []
    for i, c in enumerate(clips):
        x0, y0, x1, y1 = shared or clip_bounds([c])
        scale = (size - 1) / max(x1 - x0, y1 - y0)
        pts = (c.xy - np.array([x0, y0], np.float32)) * scale  # float32 as before, so the same pixels
        oy, ox = divmod(i, cols)
        oy, ox = oy * size, ox * size
        ok = np.isfinite(pts).all(-1).tolist()
        xy = (pts.astype(np.float64) + [ox, oy]).tolist()
        bones = [(a, b, INK[s]) for a, b, s in bones_for(c.joints)]
        panels.append((xy, ok, bones, [INK[side(n)] for n in c.joints], c.num_frames))
        if titles and titles[i]:
            ys, xs, v = _title_pixels(str(titles[i]), size)
            text.append((ys + oy, xs + ox, v))
    T = max(c.num_frames for c in clips)
    out = np.empty((T, rows * size, cols * size), np.uint8)
    for t in range(T):
        im = Image.new("P", (cols * size, rows * size), 0)
        d = ImageDraw.Draw(im)
        for xy, ok, bones, inks, n in panels:
            if n == 0:
                continue
            k = min(t, n - 1)
            p, o = xy[k], ok[k]
            for a, b, ink in bones:
                if o[a] and o[b]:
                    d.line([tuple(p[a]), tuple(p[b])], fill=ink, width=width)
            for j, (x, y) in enumerate(p):
                if o[j]:
                    d.ellipse([x - r, y - r, x + r, y + r], fill=inks[j])
        out[t] = np.asarray(im)
    for ys, xs, v in text:  # titles last, blended over the figure, as before
        out[:, ys, xs] = v + out[:, ys, xs]
    return Frames(out)


def render_clip(clip: Clip, size: int = 256, bounds=None, title: str | None = None) -> np.ndarray:
    """(T, size, size, 3) uint8 frames; y points down as in the data."""
    return draw_grid([clip], size, 1, [title] if title else None, bounds=bounds).rgb()


def render_grid(clips: list[Clip], size: int = 256, cols: int | None = None, titles=None,
                shared_bounds: bool = True) -> np.ndarray:
    """Several clips side by side, (T, rows*size, cols*size, 3); shorter clips hold their last frame."""
    return draw_grid(clips, size, cols, titles, shared_bounds).rgb()


_last: list = [None, None]  # [key, Frames] of the last grid drawn
_lock = threading.Lock()


def _key(clips, size, titles) -> bytes:
    h = hashlib.blake2b(repr((size, list(titles or []), [(c.joints, c.xy.shape) for c in clips])).encode())
    for c in clips:
        h.update(np.ascontiguousarray(c.xy).tobytes())
    return h.digest()


def grid_frames(clips: list[Clip], size: int = 256, titles=None) -> Frames:
    """draw_grid with shared bounds, reusing the last grid when the clips, size and titles are the same."""
    key = _key(clips, size, titles)
    with _lock:
        if _last[0] == key:
            return _last[1]
    frames = draw_grid(clips, size, titles=titles)
    if frames.index.nbytes <= CACHE_BYTES:
        with _lock:
            _last[:] = [key, frames]
    return frames


def forget() -> None:
    with _lock:
        _last[:] = [None, None]


def _gif(frames, fps: int) -> bytes:
    if isinstance(frames, Frames):
        ims = [frames.image(t) for t in range(len(frames.index))]  # one palette: nothing to quantize
    else:  # any RGB frames: one palette from a sample of them, not one per frame
        sample = Image.fromarray(np.concatenate(list(frames[::max(1, len(frames) // 8)]), 0))
        pal = sample.quantize(255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        ims = [Image.fromarray(f).quantize(palette=pal, dither=Image.Dither.NONE) for f in frames]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=round(1000 / fps), loop=0)
    return buf.getvalue()


def _mp4(frames, fps: int) -> bytes:
    import imageio_ffmpeg
    shape = frames.index.shape if isinstance(frames, Frames) else frames.shape[:3]
    fd, tmp = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        w = imageio_ffmpeg.write_frames(tmp, (shape[2], shape[1]), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                        macro_block_size=16, ffmpeg_log_level="error",
                                        output_params=["-preset", MP4_PRESET])
        w.send(None)
        try:
            for t in range(shape[0]):
                w.send(frames.image(t).convert("RGB").tobytes() if isinstance(frames, Frames)
                       else np.ascontiguousarray(frames[t]).tobytes())
        finally:
            w.close()
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def encode_video(frames, fmt: str, fps: int = 30) -> bytes:
    """Encode Frames or (T, H, W, 3) uint8 RGB frames as 'gif' or 'mp4' bytes."""
    if fmt == "gif":
        return _gif(frames, fps)
    if fmt == "mp4":
        return _mp4(frames, fps)
    raise ValueError(f"unknown video format {fmt!r}; use gif or mp4")


def video_bytes(clips: list[Clip], fmt: str, fps: int = 30, size: int = 256, titles=None) -> bytes:
    if fmt not in ("gif", "mp4"):
        raise ValueError(f"unknown video format {fmt!r}; use gif or mp4")
    return encode_video(grid_frames(clips, size, titles), fmt, fps)


def write_video(path, clips: list[Clip], fps: int = 30, size: int = 256, titles=None) -> None:
    """GIF or MP4 by the path's suffix; several clips become one side-by-side grid."""
    fmt = Path(path).suffix.lower().lstrip(".")
    atomic_write_bytes(path, video_bytes(clips, fmt, fps, size, titles))
