"""Shared command-line plumbing: one-line errors and exit code 2 for bad input."""
from __future__ import annotations

import importlib.util
import sys

from motionlab.data.clipset import resolve_clip, resolve_clips  # noqa: F401  (re-exported: the tools' --data)
from motionlab.errors import MotionlabError


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
