"""Times the lab server's press path for bench/lab_sample_latency.py, without touching the app's code.

On PYTHONPATH with MOTIONLAB_BENCH_TRACE=<file>, it wraps a few lab functions when their modules are
first imported and appends one JSON line per call: {"ev", "t0", "t1"} (epoch seconds) plus details.
"""
import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
import time

PATH = os.environ.get("MOTIONLAB_BENCH_TRACE", "")
_lock = threading.Lock()


def record(ev, t0, t1, **kw):
    with _lock, open(PATH, "a") as f:
        f.write(json.dumps({"ev": ev, "t0": t0, "t1": t1, **kw}) + "\n")


def timed(mod, name, details=None):
    fn = getattr(mod, name, None)
    if fn is None or getattr(fn, "_traced", False):
        return

    def wrapper(*a, **kw):
        t0 = time.time()
        out = fn(*a, **kw)
        record(f"{mod.__name__.rsplit('.', 1)[-1]}.{name}", t0, time.time(),
               **(details(a, kw, out) if details else {}))
        return out
    wrapper._traced = True
    setattr(mod, name, wrapper)


def _jobs(m):
    done = m.Door.done

    def traced_done(self, job):  # job.finished is set just before
        record("job", job.submitted, job.finished, label=job.label, started=job.started,
               error=job.error, cancelled=job.cancelled)
        return done(self, job)
    m.Door.done = traced_done
    timed(m, "pop_job", details=lambda a, kw, out: {"job": bool(out)})


def _runner(m):
    run = m.ScriptRunner._run_script

    def traced(self, rerun_data):
        t0 = time.time()
        try:
            return run(self, rerun_data)
        finally:
            record("script_run", t0, time.time(), fragment=bool(rerun_data.fragment_id_queue))
    m.ScriptRunner._run_script = traced


def _key(a, kw, out):
    key = kw.get("key", a[1] if len(a) > 1 else None)
    return {"key": key if isinstance(key, str) else None}


PATCHES = {
    "motionlab.lab.jobs": _jobs,
    "motionlab.lab.results": lambda m: timed(m, "run_sampling", details=lambda a, kw, r: {"seconds": r.seconds}),
    "motionlab.core.autotune": lambda m: timed(m, "choose"),
    "motionlab.lab.scrubber": lambda m: timed(m, "payload"),
    "motionlab.lab.ui": lambda m: [timed(m, n, details=_key) for n in (
        "plotly", "denoise_scrubber")],
    "motionlab.lab.player": lambda m: [timed(m, n, details=_key) for n in ("show", "encode")],
    "streamlit.runtime.scriptrunner.script_runner": _runner,
}


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            PATCHES[name](module)
        spec.loader.exec_module = patched
        return spec


if PATH:
    sys.meta_path.insert(0, _Finder())
