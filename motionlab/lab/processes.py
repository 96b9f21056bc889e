"""Background training runs started from the lab: `python -m motionlab.train ... --out runs/NAME`.

The process runs in its own session (process group) with stdout and stderr in runs/NAME/train.log.
runs/NAME/lab_process.json records pid, start time and command, so a page reload, another browser
tab or a restarted server still finds, shows and stops the run. Before signalling, the pid is
checked against the recorded process start time and command line, so a recycled pid is never hit.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from motionlab.data.clip import Clip, save_clip
from motionlab import settings
from motionlab.errors import ConfigError, MotionlabError
from motionlab.pipeline.training import CONFIGS, build_configs
from motionlab.io import atomic_write_bytes
from motionlab.lab.access import low_disk
from motionlab.lab.config import ROOT

PROCESS_FILE = "lab_process.json"
LOG_FILE = "train.log"
UPLOADED_CLIP = "uploaded_clip.json"  # an uploaded clip, kept with the run it trained
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_children: dict[int, subprocess.Popen] = {}  # started by this server process: poll() reaps them
_lock = threading.Lock()


FORM = settings.form_fields(*CONFIGS)  # what the Training page offers, with the lab's (small-model) defaults


class TrainOptions:
    """What the Training page asks motionlab.train for: declared settings by name (the form's defaults
    for the rest), the data (a path, a list of them, "demo"; "" = the default clip) and resume."""

    def __init__(self, data: str | list = "", resume: bool = False, **values):
        unknown = sorted(set(values) - set(settings.SETTINGS))
        if unknown:
            raise MotionlabError(f"not a training setting: {', '.join(unknown)}")
        self.data, self.resume = data, resume
        self.values = {**{f.name: f.default for f in FORM}, **values}

    def typed(self) -> dict:
        """The values as the configs take them (channel_mults '1,2' -> (1, 2)), in the form's words on error."""
        try:
            return {k: settings.parse(k, v) for k, v in self.values.items()}
        except ConfigError as e:
            raise MotionlabError(settings.in_words(e)) from None

    def validate(self) -> None:
        """The library's own checks (motionlab.pipeline.training.build_configs), in the form's words."""
        try:
            build_configs({**self.typed(), "data": self.data or None})
        except ConfigError as e:
            raise MotionlabError(settings.in_words(e)) from None


def validate_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise MotionlabError("run name: 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
    return name


def build_command(opts: TrainOptions, out_dir: Path, python: str | None = None) -> list[str]:
    opts.validate()
    cmd = [python or sys.executable, "-m", "motionlab.train"]
    if opts.data:
        cmd += ["--data", *([opts.data] if isinstance(opts.data, str) else opts.data)]
    cmd += settings.argv(**opts.typed())
    cmd += ["--tag", Path(out_dir).name, "--out", str(out_dir), "--no-progress"] + (["--resume"] if opts.resume else [])
    return [str(c) for c in cmd]


def _proc_start(pid: int) -> str | None:
    """The kernel's start time of pid (clock ticks since boot), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] == "Z":  # a zombie has finished
        return None
    return fields[19] if len(fields) > 19 else None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_record(run_dir) -> dict | None:
    p = Path(run_dir) / PROCESS_FILE
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("pid"), int) else None


def _write_record(run_dir, rec: dict) -> None:
    atomic_write_bytes(Path(run_dir) / PROCESS_FILE, (json.dumps(rec, indent=1) + "\n").encode())


def is_alive(rec: dict) -> bool:
    """True while the recorded process (same pid, start time and command) is running."""
    pid = rec.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    with _lock:
        child = _children.get(pid)
    if child is not None and child.poll() is not None:
        return False
    if Path("/proc").is_dir():
        start = _proc_start(pid)
        if start is None or (rec.get("proc_start") and start != rec["proc_start"]):
            return False
        return "motionlab.train" in _cmdline(pid)
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def running_runs(runs_dir) -> list[Path]:
    d = Path(runs_dir)
    if not d.is_dir():
        return []
    out = []
    for sub in sorted(d.iterdir()):
        rec = read_record(sub) if sub.is_dir() else None
        if rec and is_alive(rec):
            out.append(sub)
    return out


def start_run(runs_dir, name: str, opts: TrainOptions, max_running: int = 2, python: str | None = None,
              env: dict | None = None, clip: Clip | None = None, min_free_bytes: int = 0) -> dict:
    """Launch a training run in the background; returns the process record.

    A clip given here (an upload) is saved in the run folder as its data, once the run may start.
    Refused when the runs volume has less than min_free_bytes free.
    """
    name = validate_name(name)
    runs_dir = Path(runs_dir)
    out = runs_dir / name
    low = low_disk(runs_dir, min_free_bytes, "start a training run")
    if low:
        raise MotionlabError(low)
    if len(running_runs(runs_dir)) >= max_running:
        raise MotionlabError(f"{max_running} training run(s) already running; stop one first (the CPUs are shared)")
    rec = read_record(out)
    if rec and is_alive(rec):
        raise MotionlabError(f"run {name!r} is already running (pid {rec['pid']})")
    if (out / "last.pt").exists() and not opts.resume:
        raise MotionlabError(f"{out} already holds a run; pick another name or tick 'resume'")
    if clip is not None:
        opts = TrainOptions(str((out / UPLOADED_CLIP).resolve()), opts.resume, **opts.values)
    cmd = build_command(opts, out.resolve(), python)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if clip is not None:
            save_clip(clip, out / UPLOADED_CLIP)
        log = open(out / LOG_FILE, "ab")
    except OSError as e:
        raise MotionlabError(f"cannot create run folder {out}: {e.strerror or e}") from None
    e = dict(os.environ if env is None else env)
    e["PYTHONUNBUFFERED"] = "1"
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([e["PYTHONPATH"]] if e.get("PYTHONPATH") else [])])
    try:
        with log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, env=e)
    except OSError as err:
        raise MotionlabError(f"could not start training: {err.strerror or err}") from None
    with _lock:
        _children[proc.pid] = proc
    rec = {"pid": proc.pid, "pgid": proc.pid, "proc_start": _proc_start(proc.pid), "started": time.time(),
           "command": cmd, "options": {"data": opts.data, "resume": opts.resume, **opts.typed()}, "log": LOG_FILE, "state": "running"}
    _write_record(out, rec)
    return rec


def status(run_dir) -> dict:
    """{'state': none|running|finished|failed|stopped|ended, ...record, 'returncode'?}.

    'ended' means the process is gone and no exit status is known (started by another server
    process); the log's last line tells more.
    """
    run_dir = Path(run_dir)
    rec = read_record(run_dir)
    if rec is None:
        return {"state": "none"}
    if is_alive(rec):
        return {**rec, "state": "stopping" if rec.get("stop_requested") else "running"}
    if rec.get("state") != "running":
        return rec
    with _lock:
        child = _children.pop(rec["pid"], None)
    rc = child.poll() if child is not None else None
    if rc is None and child is not None:
        try:
            rc = child.wait(timeout=1)
        except subprocess.TimeoutExpired:
            rc = None
    if rec.get("stop_requested"):
        state = "stopped"
    elif rc is None:
        state = "finished" if _log_has_summary(run_dir) else "ended"
    else:
        state = "finished" if rc == 0 else "failed"
    rec.update(state=state, returncode=rc, ended=time.time())
    try:
        _write_record(run_dir, rec)
    except OSError:
        pass
    return rec


def _log_has_summary(run_dir) -> bool:
    tail = log_tail(run_dir, 3)
    for line in reversed(tail.splitlines()):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and "best_loss" in d:
            return True
    return False


def stop_run(run_dir, force: bool = False) -> bool:
    """SIGTERM (the trainer saves last.pt and exits after its epoch) or SIGKILL with force.

    Signals only the recorded process group, and only after checking it is still our run.
    Returns False when there was nothing running.
    """
    rec = read_record(run_dir)
    if rec is None or not is_alive(rec):
        return False
    sig = signal.SIGKILL if force else signal.SIGTERM
    try:
        os.killpg(int(rec.get("pgid") or rec["pid"]), sig)
    except ProcessLookupError:
        return False
    except PermissionError as e:
        raise MotionlabError(f"cannot stop pid {rec['pid']}: {e.strerror}") from None
    rec["stop_requested"] = time.time()
    _write_record(run_dir, rec)
    return True


def log_tail(run_dir, lines: int = 40, max_bytes: int = 64 * 1024) -> str:
    p = Path(run_dir) / LOG_FILE
    try:
        with open(p, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace").replace("\r", "\n")
    return "\n".join(text.splitlines()[-lines:])


def read_metrics(path) -> list[dict]:
    """Records of a metrics.jsonl; a half-written last line (a run in progress) is skipped."""
    out = []
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and isinstance(d.get("epoch"), (int, float)):
            out.append(d)
    return out


def list_metric_files(runs_dir, checkpoint_dirs=()) -> list[Path]:
    """metrics.jsonl of every run folder and shipped checkpoint folder, plus lab runs without one yet."""
    out = []
    for base in [runs_dir, *checkpoint_dirs]:
        b = Path(base)
        if not b.is_dir():
            continue
        try:
            subs = sorted(p for p in b.iterdir() if p.is_dir())
        except OSError:
            continue
        for sub in subs:
            if (sub / "metrics.jsonl").is_file() or (sub / PROCESS_FILE).is_file():
                out.append(sub / "metrics.jsonl")
    return out


LIVE_STATES = ("running", "stopping")


@dataclass
class RunSummary:
    """What the Training page shows about one run: its state and its logged epochs."""
    run_dir: Path
    status: dict          # status(run_dir)
    records: list[dict]   # read_metrics(path)

    @property
    def state(self) -> str:
        return self.status["state"]

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def state_label(self) -> str:
        return {"none": "external"}.get(self.state, self.state)  # no lab_process.json: not started here

    @property
    def planned(self) -> int | None:
        return (self.status.get("options") or {}).get("epochs")

    @property
    def done(self) -> int:
        return self.records[-1]["epoch"] if self.records else 0

    @property
    def losses(self) -> list[float]:
        return [r["loss"] for r in self.records if isinstance(r.get("loss"), (int, float))]

    @property
    def epochs_text(self) -> str:
        return f"{self.done}" + (f" / {self.planned}" if self.planned else "")

    def loss_text(self, which: str) -> str:
        """'best' or 'last' loss, 4 significant digits, or a dash before the first epoch."""
        ls = self.losses
        return f"{(min(ls) if which == 'best' else ls[-1]):.4g}" if ls else "–"

    @property
    def progress(self) -> float | None:
        """Fraction of planned epochs done while the run is alive, else None."""
        return min(1.0, self.done / self.planned) if self.live and self.planned else None

    @property
    def process_text(self) -> str:
        rc = self.status.get("returncode")
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.status.get("started", 0)))
        return f"pid {self.status.get('pid')} · started {started}" + (f" · exit status {rc}" if rc is not None else "")


def run_summary(path) -> RunSummary:
    """The summary of the run whose metrics.jsonl is `path`."""
    run_dir = Path(path).parent
    return RunSummary(run_dir, status(run_dir), read_metrics(path))


def data_option(source: str, refs, reference_ok: bool) -> str | list[str]:
    """TrainOptions.data for the form's Data choice: the reference files when they exist, else the demo clip.

    An uploaded clip is passed to start_run itself and overrides this.
    """
    return [str(p) for p in refs] if source == "reference" and reference_ok else "demo"
