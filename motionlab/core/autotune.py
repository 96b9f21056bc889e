"""Precision and thread count for CPU sampling, chosen by timing the actual model where it runs.

bf16 autocast is ~1.7x faster than fp32 on CPUs with AVX-512 bf16 and ~18x slower on AVX2-only
ones, and on a 2-vCPU machine torch's 2 threads were 4x slower than 1: no fixed choice is right,
so the first sampling call in a process measures, and the choice is cached for the process.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field

import torch

from motionlab.core.steps import autocast

log = logging.getLogger("motionlab.core.autotune")
PRECISIONS = ("auto", "fp32", "bf16")
# bf16 must win by this much at the screening shape before it is timed at the real one
BF16_SCREEN_MARGIN = 0.9


@dataclass(frozen=True)
class Choice:
    precision: str
    threads: int
    source: str = "given"            # "given", "measured" or "cached"
    timings: dict = field(default_factory=dict, compare=False)  # "fp32/1t" -> seconds per forward pass

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


def _seconds(model, x, t, precision: str, threads: int, reps: int) -> float:
    torch.set_num_threads(threads)
    with torch.inference_mode(), autocast(x.device, precision):
        model(x, t)  # first call: kernel selection and allocation
        best = math.inf
        for _ in range(reps):
            t0 = time.perf_counter()
            model(x, t)
            best = min(best, time.perf_counter() - t0)
    return best


def _measure(model, shape: tuple, device, thread_options: list[int], precision: str, reps: int) -> Choice:
    x = torch.randn(shape, device=device)
    t = torch.full((shape[0],), 1, device=device, dtype=torch.long)
    base = "fp32" if precision == "auto" else precision
    timings = {f"{base}/{n}t": _seconds(model, x, t, base, n, reps) for n in thread_options}
    threads = min(thread_options, key=lambda n: timings[f"{base}/{n}t"])
    chosen = base
    if precision == "auto":
        # screen on one item first: where bf16 is emulated, one full-shape pass costs seconds
        x1, t1 = x[:1], t[:1]
        timings["fp32/screen"] = _seconds(model, x1, t1, "fp32", threads, 1)
        timings["bf16/screen"] = _seconds(model, x1, t1, "bf16", threads, 1)
        if timings["bf16/screen"] < BF16_SCREEN_MARGIN * timings["fp32/screen"]:
            timings[f"bf16/{threads}t"] = _seconds(model, x, t, "bf16", threads, reps)
            if timings[f"bf16/{threads}t"] < timings[f"fp32/{threads}t"]:
                chosen = "bf16"
    return Choice(chosen, threads, "measured", timings)


def choose(model, shape: tuple, device="cpu", precision: str = "auto", threads="auto", reps: int = 2) -> Choice:
    """The precision and thread count to sample `model` at `shape` with; sets torch's thread count.

    Explicit values are honoured as given. 'auto' times fp32 on 1..N threads (N = the CPUs this
    process may use) and bf16 on the fastest of them, and keeps the fastest; bf16 is taken only
    where it measured faster. On a GPU nothing is timed: 'auto' means fp32.
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
            return Choice(c.precision, c.threads, "cached", c.timings)
        options = [threads] if threads != "auto" else list(range(1, max_threads() + 1))
        c = _measure(model, shape, device, options, precision, reps)
        _cache[key] = c
        torch.set_num_threads(c.threads)
    log.info("sampling at %s: %s (%s)", shape, c.describe(),
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
            or not _warming.acquire(blocking=False):
        return None

    def measure():
        try:
            choose(model, shape, "cpu", precision, threads)
        finally:
            _warming.release()

    th = threading.Thread(target=measure, daemon=True, name="motionlab-autotune")
    th.start()
    return th


def forget() -> None:
    """Drop cached choices (tests; a machine whose load changed)."""
    with _lock:
        _cache.clear()
