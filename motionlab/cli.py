"""Shared command-line plumbing: one-line errors and exit code 2 for bad input."""
from __future__ import annotations

import argparse
import importlib.util
import sys

from motionlab.core import autotune
from motionlab.core.samplers import REGISTRY, SamplerChoice
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
    argv = sys.argv[1:] if argv is None else list(argv)
    names = [t for t in TOOLS if importlib.util.find_spec(f"motionlab.{t}") is not None]
    if not argv or argv[0] not in [n.replace("_", "-") for n in names] + names:
        print(f"usage: motionlab {{{','.join(n.replace('_', '-') for n in names)}}} [ARGS...]", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    tool = argv[0].replace("-", "_")
    module = importlib.import_module(f"motionlab.{tool}")
    sys.exit(run_main(f"motionlab {argv[0]}", module.main, argv[1:]))


def add_sampling_args(p: argparse.ArgumentParser, default: SamplerChoice | None, precision_default: str = "auto") -> None:
    """--sampler/--steps, each sampler's own settings (--eta, ...), --precision/--threads: from the registry.
    default None: each checkpoint's faithful setting (motionlab.pipeline.defaults) unless a flag picks one."""
    p.add_argument("--sampler", choices=tuple(REGISTRY), default=None if default is None else default.name,
                   help="; ".join(f"{n}: {c.about}" for n, c in REGISTRY.items())
                   + ("" if default is not None else " (default: the checkpoint's faithful setting, its sampler.json)"))
    p.add_argument("--steps", type=int, default=None if default is None else default.steps or 0,
                   help="sampling steps, 0 = the full chain" + ("" if default is None else
                        " (default: " + (f"{default.steps})" if default.steps else "0)")))
    seen = {}
    for cls in REGISTRY.values():
        for q in cls.params:
            seen.setdefault(q.name, []).append((cls.name, q))
    for name, owners in seen.items():
        q = owners[0][1]
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=None,
                       help=f"{q.help} (for {', '.join(o for o, _ in owners)}; default {q.default:g})")
    p.add_argument("--precision", choices=autotune.PRECISIONS, default=precision_default,
                   help="auto: the faster of fp32 and bf16 on this machine, measured")
    p.add_argument("--threads", default="auto", help="torch threads: auto (measured) or a number")


def sampling_from_args(a) -> SamplerChoice | None:
    """The sampler the flags pick; None when they pick none (the caller's default applies)."""
    try:
        autotune.parse_threads(a.threads)
    except ValueError as e:
        raise MotionlabError(str(e)) from None
    names = {q.name for cls in REGISTRY.values() for q in cls.params}
    given = {k: getattr(a, k) for k in names if getattr(a, k, None) is not None}
    if a.sampler is None:
        if a.steps is not None or given:
            raise MotionlabError("--steps and a sampler's settings need --sampler")
        return None
    return SamplerChoice.of(a.sampler, a.steps, **given)
