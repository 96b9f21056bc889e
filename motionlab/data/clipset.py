"""The clips one dataset is made of: one clip, several files, a folder of them or a manifest.

`--data` takes one or more of:

    data/a.json          a clip file
    data/clips/          a folder: every *.json in it (not recursive), sorted by name
    data/clips.txt       a manifest: one clip path per line, relative to the manifest's folder;
                         blank lines and text after '#' are ignored
    demo                 the procedural dancer (only on its own)

Every clip must have the same joint set. A clip is named by its path as given; its sha256 is
that of the file's bytes (`sha256sum` prints the same), so a checkpoint can say what it saw.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionlab.data.clip import Clip, clip_bytes, default_clip_path, loads_clip, read_clip_bytes
from motionlab.errors import ClipError
from motionlab.data.demo import demo_clip

MANIFEST_SUFFIX = ".txt"
MAX_CLIPS = 1000  # a folder of stray files must not load without end


@dataclass(frozen=True)
class NamedClip:
    name: str
    clip: Clip
    sha256: str

    def record(self) -> dict:
        """What a checkpoint keeps about the clip."""
        return {"name": self.name, "frames": self.clip.num_frames, "sha256": self.sha256}


def clip_sha256(clip: Clip) -> str:
    """For a clip held in memory: the sha256 of the JSON file save_clip would write."""
    return hashlib.sha256(clip_bytes(clip)).hexdigest()


def named(clip: Clip, name: str) -> NamedClip:
    return NamedClip(str(name), clip, clip_sha256(clip))


def load_named(path) -> NamedClip:
    data = read_clip_bytes(path)
    return NamedClip(str(path), loads_clip(data, source=str(path)), hashlib.sha256(data).hexdigest())


def is_manifest(path) -> bool:
    return Path(path).suffix.lower() == MANIFEST_SUFFIX and Path(path).is_file()


def expand(specs) -> list[Path]:
    """Clip file paths named by `specs` (files, folders, manifests), in the order given."""
    out: list[Path] = []
    for spec in [specs] if isinstance(specs, (str, Path)) else list(specs):
        p = Path(spec)
        if str(spec) == "demo":
            raise ClipError("'demo' cannot be combined with other clips; save it to a file first")
        if p.is_dir():
            found = sorted(q for q in p.glob("*.json") if q.is_file() and not q.name.startswith("."))
            if not found:
                raise ClipError(f"{p}: the folder holds no *.json clip files")
            out += found
        elif is_manifest(p):
            out += _read_manifest(p)
        else:
            out.append(p)  # a missing file is reported by the loader, with its name
        if len(out) > MAX_CLIPS:
            raise ClipError(f"{spec}: more than {MAX_CLIPS} clips")
    seen = set()
    for p in out:
        key = p.resolve()
        if key in seen:
            raise ClipError(f"{p}: the clip is listed twice")
        seen.add(key)
    return out


def _read_manifest(p: Path) -> list[Path]:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ClipError(f"{p}: the manifest is not UTF-8 text") from None
    out = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            q = Path(entry)
            out.append(q if q.is_absolute() else p.parent / q)
    if not out:
        raise ClipError(f"{p}: the manifest lists no clips")
    return out


def load_clip_set(specs, min_frames: int = 1) -> list[NamedClip]:
    """Load and check every clip that `specs` names (see the module docstring)."""
    clips = [load_named(p) for p in expand(specs)]
    check_clips(clips, min_frames)
    return clips


def check_clips(clips: list[NamedClip], min_frames: int = 1) -> list[NamedClip]:
    """Same joint set everywhere (one line naming the clip and the first joint that differs) and
    at least `min_frames` frames each. Returns the clips with joints in the first clip's order."""
    if not clips:
        raise ClipError("no clips given")
    ref = clips[0]
    out = []
    for c in clips:
        if set(c.clip.joints) != set(ref.clip.joints):
            a, b = set(ref.clip.joints), set(c.clip.joints)
            j = sorted(a ^ b)[0]
            what = f"lacks joint {j!r}" if j in a else f"has joint {j!r}, which {ref.name} lacks"
            raise ClipError(f"{c.name}: its joint set differs from {ref.name}'s: it {what}")
        if c.clip.joints != ref.clip.joints:  # same names in another order (an in-memory clip)
            idx = [c.clip.joints.index(j) for j in ref.clip.joints]
            c = NamedClip(c.name, Clip(ref.clip.joints, np.ascontiguousarray(c.clip.xy[:, idx])), c.sha256)
        if c.clip.num_frames < min_frames:
            raise ClipError(f"{c.name}: {c.clip.num_frames} frames is shorter than the window of {min_frames} frames")
        out.append(c)
    names = [c.name for c in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ClipError(f"two clips are named {dup!r}")
    return out


def resolve_clips(spec, min_frames: int = 1, quiet: bool = False):
    """The clips of a --data spec: None (the real clip, else the demo with a note), 'demo', a path or
    a list of paths (files, folders, manifests). Returns ([NamedClip, ...], the spec to record: a
    string or a list)."""

    if isinstance(spec, (list, tuple)) and len(spec) == 1:
        spec = spec[0]
    if spec is None:
        p = default_clip_path()
        if p is None and not quiet:
            print("note: data/uptown_funk.json not found (copy it from ../shared/data/); using the demo clip",
                  file=sys.stderr)
        spec = "demo" if p is None else str(p)
    if spec == "demo":
        return check_clips([named(demo_clip(), "demo")], min_frames), "demo"
    clips = load_clip_set(spec, min_frames=min_frames)
    return clips, (str(spec) if isinstance(spec, (str, Path)) else [str(s) for s in spec])


def resolve_clip(spec, min_frames: int = 1, quiet: bool = False):
    """(clip, name) of a spec that names one clip (edits and novelty work against a single clip)."""
    clips, name = resolve_clips(spec, min_frames=min_frames, quiet=quiet)
    if len(clips) != 1:
        raise ClipError(f"{name} holds {len(clips)} clips; one clip is needed here")
    return clips[0].clip, str(name)
