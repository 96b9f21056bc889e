"""Clip files: a JSON dict of joint name -> [[x, y], ...] in pixels, y pointing down.

A clip is held as a float32 array (T, J, 2) plus its joint names in sorted order.
Channels interleave coordinates per joint: (j0.x, j0.y, j1.x, ...).
"""
from __future__ import annotations

import json
import json.decoder
import json.scanner
import math
import os
import unicodedata
from contextlib import contextmanager
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


@contextmanager
def _json_errors(source: str, error=ClipError):
    """Every failure of decoding JSON as one `error` line, `source: why`: one a hook raised (an `error`),
    nesting too deep for the parser, or not JSON at all."""
    try:
        yield
    except error as e:
        raise error(f"{source}: {e}") from None
    except RecursionError:
        raise error(f"{source}: JSON is nested too deeply") from None
    except ValueError as e:
        raise error(f"{source}: not valid JSON ({e.args[0].splitlines()[0]})") from None


def loads_json(text: str, source: str, error=ClipError, **hooks):
    """json.loads with every failure as one `error` line (see _json_errors)."""
    with _json_errors(source, error):
        return json.loads(text, **hooks)


def _reject_constant(token: str):
    raise ClipError(f"clip contains {token}, which is not a finite number")


@dataclass
class _Joint:
    """One joint's value, checked and compacted as soon as it is decoded: its frames as float32, or
    the first bad frame. The file's Python lists never exist for more than one joint at a time."""
    kind: str                      # type name of the value: 'list' for frames
    length: int = 0
    xy: np.ndarray | None = None   # (T, 2) float32 when every frame is a finite [x, y]
    error: str = ""                # 'frame i: why' of the first bad frame

    @classmethod
    def of(cls, seq) -> _Joint:
        if not isinstance(seq, list):
            return cls(type(seq).__name__)
        t = len(seq)
        if t == 0 or t > MAX_FRAMES:
            return cls("list", t)  # refused by length; nothing to convert
        fast = _pairs(seq)
        if fast is not None:
            return cls("list", t, fast)
        xy = np.empty((t, 2), dtype=np.float32)
        for i, p in enumerate(seq):
            if not isinstance(p, list) or len(p) != 2:
                return cls("list", t, error=f"frame {i}: expected an [x, y] pair, got {_short(p)}")
            for v in p:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return cls("list", t, error=f"frame {i}: coordinate {_short(v)} is not a number")
                # magnitude first: math.isfinite overflows on a huge JSON integer
                if abs(v) > 1e7 or not math.isfinite(v):
                    return cls("list", t, error=f"frame {i}: coordinate {_short(v)} is not a finite pixel value")
            xy[i] = p
        return cls("list", t, xy)


def _pairs(seq: list) -> np.ndarray | None:
    """(T, 2) float32 of a list of [x, y] number pairs within the pixel range, or None (the slow path
    then finds the first bad frame and says why)."""
    try:
        a = np.array(seq, dtype=np.float64)
    except (OverflowError, TypeError, ValueError):
        return None
    # a (T, 2) shape means T lists of two; numpy also takes bools and numeric strings, JSON's clips do not
    if a.shape != (len(seq), 2) or not {type(v) for p in seq for v in p} <= {int, float}:
        return None
    if not (np.isfinite(a).all() and np.abs(a).max() <= 1e7):
        return None
    return a.astype(np.float32)


def parse_clip(data, min_frames: int = 1, source: str = "clip") -> Clip:
    """Validate a decoded JSON object and build a Clip; ClipError names the first problem."""
    if not isinstance(data, dict):
        raise ClipError(f"{source}: expected a JSON object of joint name -> [[x, y], ...], got {type(data).__name__}")
    _check_count(len(data), source)
    return _assemble({n: _Joint.of(v) for n, v in data.items()}, min_frames, source)


def _check_count(joints: int, source: str) -> None:
    if not joints:
        raise ClipError(f"{source}: the clip has no joints")
    if joints > MAX_JOINTS:
        raise ClipError(f"{source}: {joints} joints exceeds the limit of {MAX_JOINTS}")


def _assemble(joints: dict, min_frames: int, source: str) -> Clip:
    """The Clip of checked joints (name -> _Joint); the problems in the order parse_clip has always named them."""
    _check_count(len(joints), source)
    names = sorted(joints)
    for n in names:
        if not isinstance(n, str) or not n.strip():
            raise ClipError(f"{source}: joint names must be non-empty strings")
        if not _printable_name(n):
            raise ClipError(f"{source}: joint name {_short(n)} must be printable Unicode text "
                            f"of at most {MAX_NAME_CHARS} characters")
        if joints[n].kind != "list":
            raise ClipError(f"{source}: joint {n!r} must map to a list of [x, y] pairs, got {joints[n].kind}")
    lengths = {n: joints[n].length for n in names}
    if len(set(lengths.values())) != 1:
        lo = min(lengths, key=lengths.get)
        hi = max(lengths, key=lengths.get)
        raise ClipError(f"{source}: joints have unequal lengths ({lo!r}: {lengths[lo]} frames, {hi!r}: {lengths[hi]} frames)")
    t = lengths[names[0]]
    if t == 0:
        raise ClipError(f"{source}: the clip has 0 frames")
    if t > MAX_FRAMES:
        raise ClipError(f"{source}: {t} frames exceeds the limit of {MAX_FRAMES} frames")
    for n in names:
        if joints[n].error:
            raise ClipError(f"{source}: joint {n!r} {joints[n].error}")
    xy = np.empty((t, len(names), 2), dtype=np.float32)
    for j, n in enumerate(names):
        xy[:, j] = joints[n].xy
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


# -- the limits, from the brackets alone --------------------------------------------------------------
# json.loads builds a Python object for every number and list before anything can be checked (~90 bytes
# a number: a 50 MB single-joint file took 870 MB and 5 s to be refused). So the document's structure is
# counted first, in C-speed chunks, and each joint is decoded and compacted on its own.

_WS = json.decoder.WHITESPACE.match
_CHUNK = 1 << 16
MAX_DEPTH = 500              # json's own parser gives up near Python's recursion limit (1000)
MAX_JOINT_VALUES = 4 * MAX_FRAMES + 16  # lists and numbers in one joint's value: a clip's frame has 3
_DELTA = np.zeros(256, np.int8)  # nesting change of each byte: [ { open, ] } close
_DELTA[[91, 123]], _DELTA[[93, 125]] = 1, -1


def _structure_limits(text: str, source: str) -> None:
    """ClipError when the document's brackets alone show it is over the clip limits (joints, frames of
    a joint, values in a joint, nesting), before anything is decoded; memory stays one chunk's."""
    start = _WS(text, 0).end()
    top = text[start:start + 1]
    if top not in ("{", "["):
        return  # a scalar or not JSON: the decoder builds at most one value before it stops
    depth = quotes = backslashes = member = total = 0
    frames, values, objects = (np.zeros(MAX_JOINTS + 1, np.int64) for _ in range(3))
    for i in range(start, len(text), _CHUNK):
        a = np.frombuffer(text[i:i + _CHUNK].encode("utf-8", "surrogatepass"), np.uint8)
        q = a == 34  # '"'
        bs = a == 92  # '\\'
        if backslashes or bs.any():  # a quote after an odd run of backslashes is escaped
            pos = np.arange(a.size)
            last = np.maximum.accumulate(np.where(bs, -1, pos))
            run = np.where(last < 0, pos + 1 + backslashes, pos - last)  # backslashes ending at each char
            q &= np.concatenate(([backslashes], run[:-1])) % 2 == 0
            backslashes = int(run[-1])
        if q.any():
            qc = np.cumsum(q, dtype=np.int32) + (quotes & 1)
            a = np.where((qc - q) & 1, 0, a)  # characters inside strings are no structure
            quotes = int(qc[-1])
        elif quotes & 1:
            continue  # the whole chunk is inside one string
        delta = _DELTA[a]
        d = depth + np.cumsum(delta, dtype=np.int32)
        depth = int(d[-1])
        if d.max() > MAX_DEPTH:
            raise ClipError(f"{source}: JSON is nested too deeply")
        commas = a == 44
        opens = delta == 1
        if top == "[":
            total += int(np.count_nonzero(opens)) + int(np.count_nonzero(commas))
            if total > MAX_JOINT_VALUES:  # not a clip whatever it holds; too big to decode for the message
                raise ClipError(f"{source}: expected a JSON object of joint name -> [[x, y], ...], got list")
            continue
        sep = commas & (d == 1)  # between members of the top object
        counted = ((opens | commas) & (d >= 2), commas & (d == 2), (a == 123) & (d == 2))
        if sep.any():
            m = np.minimum(member + np.cumsum(sep, dtype=np.int32), MAX_JOINTS)  # which member each char is in
            for acc, mask in zip((values, frames, objects), counted):
                acc += np.bincount(m[mask], minlength=MAX_JOINTS + 1)
            member += int(np.count_nonzero(sep))
        else:
            for acc, mask in zip((values, frames, objects), counted):
                acc[min(member, MAX_JOINTS)] += int(np.count_nonzero(mask))
    if top == "[":
        return
    if member + 1 > MAX_JOINTS:
        raise ClipError(f"{source}: {member + 1} joints exceeds the limit of {MAX_JOINTS}")
    for k in range(member + 1):
        if frames[k] + 1 > MAX_FRAMES and not objects[k]:
            raise ClipError(f"{source}: {frames[k] + 1} frames exceeds the limit of {MAX_FRAMES} frames")
        if values[k] > MAX_JOINT_VALUES:
            raise ClipError(f"{source}: joint {k + 1} in file order holds {values[k]} lists and numbers, more "
                            f"than {MAX_FRAMES} frames of [x, y] can ({3 * MAX_FRAMES})")


def _decode_joints(text: str, start: int, source: str) -> dict:
    """The top-level object of text (at start) as name -> _Joint, each joint compacted as it is decoded.
    JSON errors and their positions are json.loads's own: its object parser and scanner do the work."""
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    scan = json.scanner.make_scanner(decoder)

    def joint(s, idx):
        value, end = scan(s, idx)
        return _Joint.of(value), end

    with _json_errors(source):
        joints, end = json.decoder.JSONObject((text, start + 1), True, joint, None, _no_duplicates)
        end = _WS(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return joints


def loads_clip(text: str | bytes, min_frames: int = 1, source: str = "clip") -> Clip:
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ClipError(f"{source}: {len(text) / 1e6:.1f} MB exceeds the {MAX_FILE_BYTES // 2**20} MB limit for clip files")
        try:
            text = text.decode("utf-8-sig")  # Windows editors prefix a byte-order mark; it is not content
        except UnicodeDecodeError:
            raise ClipError(f"{source}: not UTF-8 text") from None
    if not text or text.isspace():
        raise ClipError(f"{source}: the file is empty")
    _structure_limits(text, source)
    start = _WS(text, 0).end()
    if text[start:start + 1] != "{":  # not a clip: json.loads says why (a BOM in text, a list, ...)
        data = loads_json(text, source, ClipError, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
        return parse_clip(data, min_frames=min_frames, source=source)
    return _assemble(_decode_joints(text, start, source), min_frames, source)


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
