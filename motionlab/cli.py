"""Shared command-line plumbing: one-line errors and exit code 2 for bad input."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from .errors import MotionlabError


def run_main(prog: str, main, argv=None) -> int:
    try:
        return main(argv) or 0
    except MotionlabError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""  # ENOSPC from write()/fsync() names no file
        print(f"{prog}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


TOOLS = ("train", "sample", "evaluate", "report", "convert", "sampler_study", "edit")


def entry(argv=None) -> int:
    """`motionlab TOOL ARGS...`: the console command; `python -m motionlab.TOOL ARGS...` is the same."""
    import importlib

    argv = sys.argv[1:] if argv is None else list(argv)
    names = [t for t in TOOLS if importlib.util.find_spec(f"motionlab.{t}") is not None]
    if not argv or argv[0] not in [n.replace("_", "-") for n in names] + names:
        print(f"usage: motionlab {{{','.join(n.replace('_', '-') for n in names)}}} [ARGS...]", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    tool = argv[0].replace("-", "_")
    module = importlib.import_module(f"motionlab.{tool}")
    sys.exit(run_main(f"motionlab {argv[0]}", module.main, argv[1:]))


def resolve_clip(spec: str | None, min_frames: int = 1, quiet: bool = False):
    """'demo' -> the procedural clip; a path -> that clip; None -> the real clip, else the demo."""
    from .clip import default_clip_path, load_clip
    from .demo import demo_clip

    if spec == "demo":
        return demo_clip(), "demo"
    if spec is None:
        p = default_clip_path()
        if p is None:
            if not quiet:
                print("note: data/uptown_funk.json not found (copy it from ../shared/data/); using the demo clip",
                      file=sys.stderr)
            clip = demo_clip()
        else:
            clip, spec = load_clip(p), str(p)
    else:
        clip = load_clip(Path(spec))
    if clip.num_frames < min_frames:
        from .errors import ClipError
        raise ClipError(f"{spec or 'demo'}: {clip.num_frames} frames is shorter than the window of {min_frames} frames")
    return clip, spec or "demo"



def resolve_clips(spec, min_frames: int = 1, quiet: bool = False):
    """resolve_clip for a dataset: spec is None, 'demo', a path or a list of paths (files, folders,
    manifests; see motionlab.clipset). Returns ([NamedClip, ...], the spec to record: a string or a list)."""
    from .clip import default_clip_path
    from .clipset import check_clips, load_clip_set, named
    from .demo import demo_clip

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
