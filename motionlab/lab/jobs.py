"""Background jobs and the lab's one door for model work.

A job is work (sampling, evaluating, editing) on a thread of its own that the page polls, with progress
and cancel, so widget changes and page switches do not abort it. Every job of every session enters
through `submit`, which checks its cost (model passes: clips x sampler steps x repeats) against a
per-job ceiling and admits it to a fixed number of slots sized to the CPUs; the rest wait in one queue
in order, and the page shows their place. A watchdog cancels the jobs of sessions that are gone (a
closed tab), queued or running. The CLIs keep their own flags and none of this.
"""
from __future__ import annotations

import atexit
import collections
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, MutableMapping

import numpy as np

from motionlab.errors import MotionlabError, one_line
from motionlab.lab.keys import JOBS

ProgressFn = Callable[[int, int, "np.ndarray | None"], None]  # run_sampling's on_progress(done, total, preview)
Report = Callable[..., None]  # report(fraction, text, preview=None)
GONE_AFTER_S = 10.0           # a session disconnected this long has left (a reload makes a new one)


class Cancelled(Exception):
    """Raised inside a job's progress callback after cancel()."""


def slots() -> int:
    """Jobs that run at once: one per two CPUs (each samples on two threads), at least one."""
    env = os.environ.get("MOTIONLAB_MAX_JOBS", "")
    return int(env) if env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 2) // 2)


def max_passes() -> int:
    """The per-job ceiling in model passes (one network call on one clip window): about ten minutes here."""
    env = os.environ.get("MOTIONLAB_MAX_JOB_PASSES", "")
    return int(env) if env.isdigit() and int(env) > 0 else 60_000


@dataclass
class JobSpec:
    """What a page asks the door to run: work(report) -> result, and what it costs."""
    work: Callable[[Report], object]
    label: str
    passes: int                         # clips x sampler steps x repeats (x windows for long edits)
    meta: dict = field(default_factory=dict)


class Job:
    """fn(report) does the work and returns its result; report(fraction, text, preview=None) records
    progress and raises Cancelled once cancel() was called. The job touches no Streamlit API: the
    page polls it (a fragment with run_every) and takes the result when it is done."""

    def __init__(self, fn: Callable[[Report], object], label: str = "", meta: dict | None = None,
                 passes: int = 0, session: str | None = None):
        self.label, self.meta, self.passes, self.session = label, dict(meta or {}), passes, session
        self.fraction, self.text, self.preview = 0.0, "waiting for a free slot…", None
        self.result, self.error, self.cancelled = None, "", False
        self.submitted, self.started, self.finished = time.time(), None, None
        self._cancel = threading.Event()
        self._fn = fn
        self._thread = threading.Thread(target=self._run, name=f"motionlab-job-{label}", daemon=True)

    def _report(self, fraction: float, text: str = "", preview=None) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        self.fraction = float(min(max(fraction, 0.0), 1.0))
        if text:
            self.text = text
        if preview is not None:
            self.preview = preview

    def _run(self) -> None:
        try:
            self._report(0.0, "starting…")
            self.result = self._fn(self._report)
            self.fraction = 1.0
        except Cancelled:
            self.cancelled = True
        except MotionlabError as e:
            self.error = one_line(e)
        except Exception as e:  # one line for the page, never a traceback
            self.error = f"{self.label or 'job'} failed: {type(e).__name__}: {one_line(e, 200)}"
        finally:
            self.finished = time.time()
            DOOR.done(self)

    def cancel(self) -> None:
        self._cancel.set()
        DOOR.withdraw(self)

    @property
    def running(self) -> bool:
        """Not finished yet: queued or working."""
        return self.finished is None

    @property
    def queued(self) -> bool:
        return self.started is None and self.finished is None

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.time() + timeout
        while self.queued and (end is None or time.time() < end):
            time.sleep(0.01)
        if self.started is not None:
            self._thread.join(None if end is None else max(0.0, end - time.time()))
        return not self.running


class Door:
    """Admits jobs to a fixed number of slots, first come first served; the rest wait in one queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self.working: list[Job] = []
        self.waiting: collections.deque[Job] = collections.deque()
        self._watchdog: threading.Thread | None = None

    def admit(self, job: Job) -> None:
        with self._lock:
            self.waiting.append(job)
            self._fill()
        self._watch()

    def _fill(self) -> None:
        while self.waiting and len(self.working) < slots():
            job = self.waiting.popleft()
            job.started = time.time()
            self.working.append(job)
            job._thread.start()

    def done(self, job: Job) -> None:
        with self._lock:
            if job in self.working:
                self.working.remove(job)
            self._fill()

    def withdraw(self, job: Job) -> None:
        """A cancelled job that has not started leaves the queue at once."""
        with self._lock:
            if job in self.waiting:
                self.waiting.remove(job)
                job.cancelled, job.finished = True, time.time()

    def position(self, job: Job) -> tuple[int, int]:
        """(place in the queue, 1-based, or 0 when not waiting; queue length)."""
        with self._lock:
            q = list(self.waiting)
        return (q.index(job) + 1 if job in q else 0), len(q)

    def _watch(self) -> None:
        if self._watchdog is None or not self._watchdog.is_alive():
            self._watchdog = threading.Thread(target=self._reap, name="motionlab-job-watchdog", daemon=True)
            self._watchdog.start()

    def _reap(self) -> None:
        gone_since: dict[int, float] = {}
        while True:
            time.sleep(1.0)
            with self._lock:
                jobs = [*self.working, *self.waiting]
            if not jobs:
                return
            now = time.time()
            for job in jobs:
                if job.session is None or session_alive(job.session):
                    gone_since.pop(id(job), None)
                elif now - gone_since.setdefault(id(job), now) > GONE_AFTER_S:
                    job.cancel()


DOOR = Door()


@atexit.register
def _cancel_at_exit() -> None:
    """A job's torch op still running on its daemon thread at interpreter teardown aborts the process
    (exit 134): cancel every job and give each its current step to finish."""
    with DOOR._lock:
        jobs = [*DOOR.working, *DOOR.waiting]
    for job in jobs:
        job._cancel.set()
    for job in jobs:
        if job.started is not None:
            job._thread.join(timeout=10)


def session_alive(session_id: str) -> bool:
    """Whether a browser still holds this Streamlit session (always True outside a running server)."""
    try:
        from streamlit.runtime import Runtime
        return not Runtime.exists() or Runtime.instance().is_active_session(session_id)
    except Exception:  # noqa: BLE001  (a Streamlit without this API: never cancel on its account)
        return True


def current_session() -> str | None:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        ctx = get_script_run_ctx()
        return ctx.session_id if ctx is not None else None
    except Exception:  # noqa: BLE001
        return None


def submit(state: MutableMapping, name: str, spec: JobSpec) -> Job:
    """The one door: a session's `name` job, if its cost is under the ceiling and none is running."""
    ceiling = max_passes()
    if spec.passes > ceiling:
        raise MotionlabError(f"{spec.label} asks for {spec.passes:,} model passes; the lab runs at most {ceiling:,} "
                             "per job (about ten minutes here): use fewer samples or steps, or the command line")
    jobs = state.setdefault(JOBS, {})
    old = jobs.get(name)
    if isinstance(old, Job) and old.running:
        raise MotionlabError(f"a {name} job is already running; wait for it or cancel it")
    job = jobs[name] = Job(spec.work, spec.label or name, spec.meta, spec.passes, current_session())
    DOOR.admit(job)
    return job


def start_job(state: MutableMapping, name: str, fn: Callable[[Report], object], label: str = "",
              meta: dict | None = None, passes: int = 0) -> Job:
    return submit(state, name, JobSpec(fn, label or name, passes, dict(meta or {})))


def get_job(state: MutableMapping, name: str) -> Job | None:
    j = state.get(JOBS, {}).get(name)
    return j if isinstance(j, Job) else None


def pop_job(state: MutableMapping, name: str) -> Job | None:
    return state.get(JOBS, {}).pop(name, None)


def step_reporter(report: Report, text: str = "", part: int = 0, parts: int = 1) -> ProgressFn:
    """An on_progress for run_sampling that reports part `part` of `parts` to a job."""
    def on_progress(done: int, total: int, preview) -> None:
        report((part + done / total) / parts, f"{text}: step {total - done} of {total} left" if text
               else f"step {total - done} of {total} left", preview)
    return on_progress
