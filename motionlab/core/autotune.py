"""Precision and thread count for CPU sampling, chosen by timing the actual model where it runs.

No fixed choice is right: bf16 autocast is ~18x slower than fp32 on AVX2-only CPUs, ~1.7x faster
with AVX-512 bf16, and with AMX 2x faster at 8 clips but no faster at one; 2 threads were 4x slower
than 1 on one 2-core machine (another process on the other core) and 1.8x faster on another. So
'auto' times every precision x thread count at the shape it will sample (docs/SPEED.md):

1. screen: a pass each at one clip drops settings over SCREEN_DROP x the best twice running
   (emulated bf16, a thread count fighting another process); one clip can rank settings up to 2x
   differently from the batch (AMX), so only a larger gap is trusted there;
2. race: the rest at the real shape in interleaved rounds, the first pass of each also its warm-up.
   After one pass each, a setting FIRST_DROP x slower than the leader leaves; later, one whose
   fastest pass is CLEAR over the leader's median. Rounds stop when one is left, when all left are
   within TIE, or when measuring would pass BUDGET of the expected sampling time (passes x the
   leader's pass time); the second round is always run: one noisy pass decides nothing close.

A pass is stopped once it is past the point where it would drop its setting, so a loser by far (2
threads against another process: ~1 s a pass here) costs a few times the best pass, not its own.

The choice is cached per (model, shape, precision, threads) for the process.
"""
from __future__ import annotations

import atexit
import copy
import itertools
import logging
import math
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from motionlab.core.samplers import DEFAULT_SAMPLER
from motionlab.core.steps import autocast

log = logging.getLogger("motionlab.core.autotune")
PRECISIONS = ("auto", "fp32", "bf16")
DEFAULT_PASSES = DEFAULT_SAMPLER.steps or 1000  # network passes of one sampling call, when not given
BUDGET = 0.1        # measuring beyond the first two rounds stays under this share of the sampling
SCREEN_DROP = 3.0   # one clip vs the batch moved the bf16/fp32 ratio by 2x (AMX); 3x is a loser anywhere
FIRST_DROP = 1.5    # after one pass each, a gap this large is not noise
CLEAR = 0.1         # later: a setting whose fastest pass is 10% over the leader's median is out
TIE = 0.03          # settings this close are equal; fp32 and fewer threads are preferred among them
MAX_ROUNDS = 7

# seconds of one forward pass at (precision, threads, shape[, limit]), stopped once past the limit;
# tests pass fake ones
Timer = Callable[..., float]


@dataclass(frozen=True)
class Choice:
    precision: str
    threads: int
    source: str = "given"            # "given", "measured" or "cached"
    timings: dict = field(default_factory=dict, compare=False)  # "fp32/1t" -> seconds per pass at the shape
    spent: float = field(default=0.0, compare=False)            # seconds spent timing

    def describe(self) -> str:
        how = {"measured": "auto, measured", "cached": "auto"}.get(self.source, "as set")
        return f"{self.precision}, {self.threads} thread{'s' * (self.threads != 1)} ({how})"


_cache: dict[tuple, Choice] = {}
_lock = threading.Lock()
_warming = threading.Lock()  # held while a background measurement runs


def _key(model, shape: tuple, precision: str, threads) -> tuple:
    return (type(model).__name__, sum(p.numel() for p in model.parameters()), tuple(shape), precision, threads)


def max_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def thread_options(n: int) -> list[int]:
    """1, 2, 4, ... and n itself: every count on small machines, a ladder on big ones."""
    return sorted({min(2 ** k, n) for k in range(n.bit_length() + 1)})


def parse_threads(v) -> int | str:
    """'auto' or a positive integer (the CLI's and lab's --threads)."""
    if v in (None, "auto"):
        return "auto"
    try:
        n = int(v)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ValueError(f"threads must be 'auto' or a positive integer, got {v!r}")
    return n


class _Late(Exception):
    """A timed pass went past its limit: it has lost, so it is not finished."""


class _Exiting(Exception):
    """The interpreter is exiting: a background measurement stops at its next layer."""


# A torch op still running on a daemon thread when the interpreter tears down aborts the process
# ("terminate called without an active exception", exit 134): at exit, measurements stop and are joined.
_exiting = threading.Event()
_background: list[threading.Thread] = []


@atexit.register
def _stop_background() -> None:
    _exiting.set()
    for th in list(_background):
        th.join(timeout=10)


def pass_timer(model, device) -> Timer:
    """Times one forward pass of `model`, as sampling runs it (inference mode, autocast); a pass with a
    limit stops once past it. Runs a copy that shares the weights: the hooks that stop it never touch
    the model another thread may be sampling with."""
    probe = copy.deepcopy(model, {id(t): t for t in itertools.chain(model.parameters(), model.buffers())})
    deadline = [math.inf]

    def late(*_):
        if _exiting.is_set():
            raise _Exiting
        if time.perf_counter() > deadline[0]:
            raise _Late
    for m in probe.modules():
        if next(m.children(), None) is None:
            m.register_forward_hook(late)
    inputs = {}

    def seconds(precision: str, threads: int, shape: tuple, limit: float | None = None) -> float:
        if shape not in inputs:
            g = torch.Generator().manual_seed(0)
            inputs[shape] = (torch.randn(shape, generator=g).to(device),
                             torch.full((shape[0],), 1, device=device, dtype=torch.long))
        x, t = inputs[shape]
        torch.set_num_threads(threads)
        with torch.inference_mode(), autocast(device, precision):
            t0 = time.perf_counter()
            deadline[0] = math.inf if limit is None else t0 + limit
            try:
                probe(x, t)
            except _Late:
                pass
            return time.perf_counter() - t0
    return seconds


def _estimate(samples: list[float]) -> float:
    return statistics.median(samples[1:]) if len(samples) > 1 else samples[0]  # the first also warmed up


def measure(timer: Timer, shape: tuple, candidates: list[tuple[str, int]], passes: int = DEFAULT_PASSES,
            budget: float = BUDGET) -> tuple[tuple[str, int], dict, float]:
    """(fastest candidate, timings, seconds spent) by the screen and race in the module docstring.
    A pass that would drop its setting anyway is stopped at that point (timer's limit)."""
    timings, spent = {}, 0.0
    alive = list(candidates)
    if shape[0] > 1 and len(alive) > 1:
        one = (1, *shape[1:])
        spent += timer(*alive[0], one)  # the process's first pass is slower: not the screen's yardstick
        screen = {}
        for c in alive:
            s = timer(*c, one, SCREEN_DROP * min(screen.values()) if screen else None)
            spent += s
            screen[c] = timings[f"{c[0]}/{c[1]}t/1clip"] = s
        best = min(screen.values())
        for c in [c for c in alive if screen[c] >= SCREEN_DROP * best]:  # spikes of 7x happen: a second try
            s = timer(*c, one, SCREEN_DROP * best)
            spent += s
            screen[c] = timings[f"{c[0]}/{c[1]}t/1clip"] = min(s, screen[c])
        alive = sorted((c for c in alive if screen[c] < SCREEN_DROP * best), key=screen.get)  # likely leader first
    samples = {c: [] for c in alive}
    for r in range(MAX_ROUNDS):
        drop = FIRST_DROP if r == 0 else 1 + CLEAR
        for c in alive[r % len(alive):] + alive[:r % len(alive)]:  # rotate: no setting always goes first
            done = [v[0] for v in samples.values() if v] if r == 0 else []
            s = timer(*c, shape, drop * min(done) if done else None)
            spent += s
            samples[c].append(s)
        est = {c: _estimate(samples[c]) for c in alive}
        lead = min(est.values())
        alive = [c for c in alive if min(samples[c]) < drop * lead]
        if len(alive) == 1 or (r >= 2 and all(est[c] <= (1 + TIE) * lead for c in alive)):
            break
        if r >= 1 and spent + sum(est[c] for c in alive) > budget * passes * lead:
            break
    timings.update({f"{p}/{n}t": _estimate(v) for (p, n), v in samples.items()})
    est = {c: _estimate(samples[c]) for c in alive}
    lead = min(est.values())
    return next(c for c in candidates if c in est and est[c] <= (1 + TIE) * lead), timings, spent


def choose(model, shape: tuple, device="cpu", precision: str = "auto", threads="auto", *,
           passes: int | None = None, timer: Timer | None = None) -> Choice:
    """The precision and thread count to sample `model` at `shape` with; sets torch's thread count.

    Explicit values are honoured as given. 'auto' times the settings it may choose from (fp32 and
    bf16; 1..N threads, N = the CPUs this process may use) at `shape` and keeps the fastest; passes:
    the sampling call's network passes (default: the default sampler's), which sizes the measuring
    budget. On a GPU nothing is timed: 'auto' means fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    threads = parse_threads(threads)
    device = torch.device(device)
    if device.type != "cpu":
        return Choice("fp32" if precision == "auto" else precision, torch.get_num_threads(), "given")
    if precision != "auto" and threads != "auto":
        torch.set_num_threads(threads)
        return Choice(precision, threads, "given")
    key = _key(model, shape, precision, threads)
    with _lock:
        if key in _cache:
            c = _cache[key]
            torch.set_num_threads(c.threads)
            return Choice(c.precision, c.threads, "cached", c.timings, c.spent)
        precisions = ["fp32", "bf16"] if precision == "auto" else [precision]
        counts = [threads] if threads != "auto" else thread_options(max_threads())
        (p, n), timings, spent = measure(timer or pass_timer(model, device), tuple(shape),
                                         [(p, n) for n in counts for p in precisions], passes or DEFAULT_PASSES)
        c = _cache[key] = Choice(p, n, "measured", timings, spent)
        torch.set_num_threads(c.threads)
    log.info("sampling at %s: %s after %.0f ms of timing (%s)", shape, c.describe(), spent * 1000,
             ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in c.timings.items()))
    return c


def is_cached(model, shape: tuple, precision: str = "auto", threads="auto") -> bool:
    return _key(model, shape, precision, parse_threads(threads)) in _cache


def warm_async(model, shape: tuple, precision: str = "auto", threads="auto") -> threading.Thread | None:
    """Measure in the background (e.g. while a page waits for its user), so the first sampling call
    finds the choice cached; a call that arrives meanwhile waits on the lock instead of measuring twice.
    One at a time: while one runs, later calls (a page rerun, another sample count) start nothing, so a
    press never waits behind a queue of measurements for shapes the user has left."""
    if (precision != "auto" and threads != "auto") or is_cached(model, shape, precision, threads) \
            or _exiting.is_set() or not _warming.acquire(blocking=False):
        return None

    def run():
        try:
            choose(model, shape, "cpu", precision, threads)
        except _Exiting:
            pass
        finally:
            _warming.release()
            _background.remove(threading.current_thread())

    th = threading.Thread(target=run, daemon=True, name="motionlab-autotune")
    _background.append(th)
    th.start()
    return th


def forget() -> None:
    """Drop cached choices (tests; a machine whose load changed)."""
    with _lock:
        _cache.clear()
