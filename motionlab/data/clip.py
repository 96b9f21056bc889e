"""Clip files: a JSON dict of joint name -> [[x, y], ...] in pixels, y pointing down.

A clip is held as a float32 array (T, J, 2) plus its joint names in sorted order.
Channels interleave coordinates per joint: (j0.x, j0.y, j1.x, ...).
"""
from __future__ import annotations

import json
import math
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionlab.errors import ClipError
from motionlab.paths import DATA
from motionlab.io import atomic_write_bytes

MAX_FRAMES = 20_000       # longer clips are refused: the dataset would not fit a lab's memory
MAX_JOINTS = 256
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class Clip:
    joints: tuple[str, ...]
    xy: np.ndarray  # (T, J, 2) float32

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def channels(self) -> np.ndarray:
        """(T, 2J) array, x and y interleaved per joint."""
        return self.xy.reshape(self.xy.shape[0], -1)

    def to_dict(self) -> dict:
        return {n: self.xy[:, j, :].astype(float).round(3).tolist() for j, n in enumerate(self.joints)}


def clip_from_channels(channels: np.ndarray, joints) -> Clip:
    """(T, 2J) channel array (frames first, as Clip.channels) -> Clip."""
    a = np.asarray(channels, dtype=np.float32)
    j = len(joints)
    if a.ndim != 2 or a.shape[1] != 2 * j:
        raise ClipError(f"expected a (T, {2 * j}) array for {j} joints, got shape {a.shape}")
    return Clip(tuple(joints), np.ascontiguousarray(a.reshape(a.shape[0], j, 2)))


def loads_json(text: str, source: str, error=ClipError, **hooks):
    """json.loads with every failure as one `error` line, `source: why`: one a hook raised (an `error`),
    nesting too deep for the parser, or not JSON at all."""
    try:
        return json.loads(text, **hooks)
    except error as e:
        raise error(f"{source}: {e}") from None
    except RecursionError:
        raise error(f"{source}: JSON is nested too deeply") from None
    except ValueError as e:
        raise error(f"{source}: not valid JSON ({e.args[0].splitlines()[0]})") from None


def _reject_constant(token: str):
    raise ClipError(f"clip contains {token}, which is not a finite number")


def parse_clip(data, min_frames: int = 1, source: str = "clip") -> Clip:
    """Validate a decoded JSON object and build a Clip; ClipError names the first problem."""
    if not isinstance(data, dict):
        raise ClipError(f"{source}: expected a JSON object of joint name -> [[x, y], ...], got {type(data).__name__}")
    if not data:
        raise ClipError(f"{source}: the clip has no joints")
    if len(data) > MAX_JOINTS:
        raise ClipError(f"{source}: {len(data)} joints exceeds the limit of {MAX_JOINTS}")
    names = sorted(data)
    lengths = {}
    for n in names:
        if not isinstance(n, str) or not n.strip():
            raise ClipError(f"{source}: joint names must be non-empty strings")
        if not _printable_name(n):
            raise ClipError(f"{source}: joint name {_short(n)} must be printable Unicode text "
                            f"of at most {MAX_NAME_CHARS} characters")
        seq = data[n]
        if not isinstance(seq, list):
            raise ClipError(f"{source}: joint {n!r} must map to a list of [x, y] pairs, got {type(seq).__name__}")
        lengths[n] = len(seq)
    if len(set(lengths.values())) != 1:
        lo = min(lengths, key=lengths.get)
        hi = max(lengths, key=lengths.get)
        raise ClipError(f"{source}: joints have unequal lengths ({lo!r}: {lengths[lo]} frames, {hi!r}: {lengths[hi]} frames)")
    t = lengths[names[0]]
    if t == 0:
        raise ClipError(f"{source}: the clip has 0 frames")
    if t > MAX_FRAMES:
        raise ClipError(f"{source}: {t} frames exceeds the limit of {MAX_FRAMES} frames")
    xy = np.empty((t, len(names), 2), dtype=np.float32)
    for j, n in enumerate(names):
        for i, p in enumerate(data[n]):
            if not isinstance(p, list) or len(p) != 2:
                raise ClipError(f"{source}: joint {n!r} frame {i}: expected an [x, y] pair, got {_short(p)}")
            for v in p:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ClipError(f"{source}: joint {n!r} frame {i}: coordinate {_short(v)} is not a number")
                # magnitude first: math.isfinite overflows on a huge JSON integer
                if abs(v) > 1e7 or not math.isfinite(v):
                    raise ClipError(f"{source}: joint {n!r} frame {i}: coordinate {_short(v)} is not a finite pixel value")
            xy[i, j, 0], xy[i, j, 1] = p
    if t < min_frames:
        raise ClipError(f"{source}: {t} frames is shorter than the window of {min_frames} frames")
    return Clip(tuple(names), xy)


def _printable_name(n: str) -> bool:
    """Any script is fine (names are shown, written to JSON and checkpoints); control characters and
    lone surrogates are not: the latter cannot be encoded as UTF-8 for a terminal or the browser."""
    if len(n) > MAX_NAME_CHARS or any(unicodedata.category(c) in ("Cc", "Cs") for c in n):
        return False
    return True


def _short(v) -> str:
    s = json.dumps(v) if not isinstance(v, float) else repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ClipError(f"duplicate joint name {k!r}")
        seen[k] = v
    return seen


def loads_clip(text: str | bytes, min_frames: int = 1, source: str = "clip") -> Clip:
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ClipError(f"{source}: {len(text) / 1e6:.1f} MB exceeds the {MAX_FILE_BYTES // 2**20} MB limit for clip files")
        try:
            text = text.decode("utf-8-sig")  # Windows editors prefix a byte-order mark; it is not content
        except UnicodeDecodeError:
            raise ClipError(f"{source}: not UTF-8 text") from None
    if not text.strip():
        raise ClipError(f"{source}: the file is empty")
    data = loads_json(text, source, ClipError, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    return parse_clip(data, min_frames=min_frames, source=source)


def read_clip_bytes(path: str | os.PathLike) -> bytes:
    """A clip file's bytes, after the existence and size checks (callers may hash them)."""
    p = Path(path)
    if not p.is_file():
        raise ClipError(f"{p}: no such clip file")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ClipError(f"{p}: {size / 1e6:.1f} MB exceeds the {MAX_FILE_BYTES // 2**20} MB limit for clip files")
    return p.read_bytes()


def load_clip(path: str | os.PathLike, min_frames: int = 1) -> Clip:
    return loads_clip(read_clip_bytes(path), min_frames=min_frames, source=str(Path(path)))


def clip_bytes(clip: Clip) -> bytes:
    """The clip file's bytes: what save_clip writes, downloads hold and clip records hash."""
    return json.dumps(clip.to_dict()).encode()


def save_clip(clip: Clip, path: str | os.PathLike) -> None:
    atomic_write_bytes(path, clip_bytes(clip))


DEFAULT_CLIP = DATA / "uptown_funk.json"


def default_clip_path() -> Path | None:
    """data/uptown_funk.json when present, else None (callers fall back to the demo clip)."""
    return DEFAULT_CLIP if DEFAULT_CLIP.is_file() else None
