"""Background jobs: work on a thread of its own that the page polls, with progress and cancel."""
from __future__ import annotations

import threading
import time
from typing import Callable, MutableMapping

import numpy as np

from motionlab.errors import MotionlabError
from motionlab.lab.keys import JOBS

ProgressFn = Callable[[int, int, "np.ndarray | None"], None]  # run_sampling's on_progress(done, total, preview)


class Cancelled(Exception):
    """Raised inside a job's progress callback after cancel()."""


Report = Callable[..., None]  # report(fraction, text, preview=None)


class Job:
    """Work (sampling) on a thread of its own, so widget changes and page switches do not abort it.

    fn(report) does the work and returns its result; report(fraction, text, preview=None) records
    progress and raises Cancelled once cancel() was called. The job touches no Streamlit API: the
    page polls it (a fragment with run_every) and takes the result when it is done.
    """

    def __init__(self, fn: Callable[[Report], object], label: str = "", meta: dict | None = None):
        self.label = label
        self.meta = dict(meta or {})
        self.fraction, self.text, self.preview = 0.0, "starting…", None
        self.result, self.error, self.cancelled = None, "", False
        self.started, self.finished = time.time(), None
        self._cancel = threading.Event()
        self._fn = fn
        self._thread = threading.Thread(target=self._run, name=f"motionlab-job-{label}", daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

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
            self.result = self._fn(self._report)
            self.fraction = 1.0
        except Cancelled:
            self.cancelled = True
        except MotionlabError as e:
            self.error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        except Exception as e:  # one line for the page, never a traceback
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            self.error = f"{self.label or 'job'} failed: {type(e).__name__}" + (f": {first}" if first else "")
        finally:
            self.finished = time.time()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self.finished is None

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.running


def start_job(state: MutableMapping, name: str, fn: Callable[[Report], object], label: str = "",
              meta: dict | None = None) -> Job:
    jobs = state.setdefault(JOBS, {})
    old = jobs.get(name)
    if isinstance(old, Job) and old.running:
        raise MotionlabError(f"a {name} job is already running; wait for it or cancel it")
    job = jobs[name] = Job(fn, label or name, meta)
    return job.start()


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
