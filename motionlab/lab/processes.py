"""Background training runs started from the lab: `python -m motionlab.train ... --out runs/NAME`.

The process runs in its own session (process group) with stdout and stderr in runs/NAME/train.log.
runs/NAME/lab_process.json records pid, start time and command, so a page reload, another browser
tab or a restarted server still finds, shows and stops the run. Before signalling, the pid is
checked against the recorded process start time and command line, and the group against the pid's own,
so a recycled pid or an edited record is never hit.

One trainer per folder: the trainer holds the folder's lock (motionlab.pipeline.runlock), whoever
started it, so the lab refuses a folder held by a run from the command line too. Starting is one step
under a lock (this process's, and runs/.lab.lock for other servers on the same folder): check, count,
launch and record, so simultaneous starts never exceed the limit. Reading the state writes nothing;
the server that started a run records its exit status once.
"""
from __future__ import annotations

import fcntl
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
from motionlab.pipeline import runlock
from motionlab.pipeline.training import CONFIGS, build_configs
from motionlab.io import atomic_write_bytes
from motionlab.lab.access import low_disk
from motionlab.lab.config import ROOT

PROCESS_FILE = "lab_process.json"
LOG_FILE = "train.log"
UPLOADED_CLIP = "uploaded_clip.json"  # an uploaded clip, kept with the run it trained
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

START_LOCK = ".lab.lock"  # in the runs folder: starts by other servers on the same folder wait for ours
_children: dict[int, subprocess.Popen] = {}  # started by this server process: poll() reaps them
_lock = threading.Lock()       # _children
_runs_lock = threading.RLock()  # start (check, launch, record), stop, and the owner's one final write


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
    """Run folders with a live trainer: one the lab started, or any trainer holding the folder's lock."""
    d = Path(runs_dir)
    if not d.is_dir():
        return []
    out = []
    for sub in sorted(d.iterdir()):
        if not sub.is_dir():
            continue
        rec = read_record(sub)
        if (rec and is_alive(rec)) or runlock.holder(sub) is not None:
            out.append(sub)
    return out


class _FolderLock:
    """flock on runs/.lab.lock: another lab server starting runs in the same folder waits for this one."""

    def __init__(self, runs_dir: Path):
        self.path = Path(runs_dir) / START_LOCK

    def __enter__(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise MotionlabError(f"cannot use the runs folder {self.path.parent}: {e.strerror or e}") from None
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # drops the lock


def start_run(runs_dir, name: str, opts: TrainOptions, max_running: int = 2, python: str | None = None,
              env: dict | None = None, clip: Clip | None = None, min_free_bytes: int = 0) -> dict:
    """Launch a training run in the background; returns the process record.

    A clip given here (an upload) is saved in the run folder as its data, once the run may start.
    Refused when the runs volume has less than min_free_bytes free.
    """
    name = validate_name(name)
    runs_dir = Path(runs_dir)
    low = low_disk(runs_dir, min_free_bytes, "start a training run")
    if low:
        raise MotionlabError(low)
    # one step: a start that checked and one that launched in between would both launch
    with _runs_lock, _FolderLock(runs_dir):
        return _start(runs_dir, name, opts, max_running, python, env, clip)


def _start(runs_dir: Path, name: str, opts: TrainOptions, max_running: int, python, env, clip) -> dict:
    out = runs_dir / name
    rec = read_record(out)
    if rec and is_alive(rec):
        raise MotionlabError(f"run {name!r} is already running (pid {rec['pid']})")
    holder = runlock.holder(out)
    if holder is not None:  # a trainer the lab did not start (the command line, another lab's record lost)
        who = f"pid {holder}" if holder > 0 else "pid unknown"
        raise MotionlabError(f"{out} is in use by another trainer ({who}): stop it first or pick another name")
    if len(running_runs(runs_dir)) >= max_running:
        raise MotionlabError(f"{max_running} training run(s) already running; stop one first (the CPUs are shared)")
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
    try:
        _write_record(out, rec)
    except OSError as err:  # a run the lab cannot see or stop must not go on
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        with _lock:
            _children.pop(proc.pid, None)
        raise MotionlabError(f"cannot record the run in {out / PROCESS_FILE}: {err.strerror or err}") from None
    return rec


def status(run_dir) -> dict:
    """{'state': none|running|stopping|finished|failed|stopped|ended, ...record, 'returncode'?}.

    Derived on every read, written by nobody who reads: only the server that started the run records
    its exit status, once, under the lock Stop takes. 'ended' means the process is gone and no exit
    status is known (started by another server process); the log's last line tells more.
    """
    run_dir = Path(run_dir)
    rec = read_record(run_dir)
    if rec is None:
        return {"state": "none"}
    if is_alive(rec):
        return {**rec, "state": "stopping" if rec.get("stop_requested") else "running"}
    if rec.get("state") != "running":
        return rec  # final, recorded by the server that owned the child
    with _lock:
        child = _children.get(rec["pid"])
    rc = child.poll() if child is not None else None
    if rc is None and child is not None:
        try:
            rc = child.wait(timeout=1)
        except subprocess.TimeoutExpired:
            rc = None
    out = _final(run_dir, rec, rc)
    if child is not None and rc is not None:
        _record_exit(run_dir, child, rc)
    return out


def _final(run_dir: Path, rec: dict, rc: int | None) -> dict:
    if rec.get("stop_requested"):
        state = "stopped"
    elif rc is None:
        state = "finished" if _log_has_summary(run_dir) else "ended"
    else:
        state = "finished" if rc == 0 else "failed"
    try:
        ended = (run_dir / LOG_FILE).stat().st_mtime  # the trainer's last word
    except OSError:
        ended = None
    return {**rec, "state": state, "returncode": rc, "ended": ended}


def _record_exit(run_dir: Path, child: subprocess.Popen, rc: int) -> None:
    """The owner's one write of a run's end: re-read under the lock, so a Stop recorded meanwhile is kept."""
    with _runs_lock:
        with _lock:
            if _children.get(child.pid) is not child:
                return  # recorded already
            del _children[child.pid]
        rec = read_record(run_dir)
        if rec is None or rec.get("pid") != child.pid or rec.get("state") != "running":
            return
        try:
            _write_record(run_dir, _final(run_dir, rec, rc))
        except OSError:
            pass


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
    with _runs_lock:
        rec = read_record(run_dir)
        if rec is None or not is_alive(rec):
            return False
        pid, pgid = rec["pid"], rec.get("pgid") or rec["pid"]
        try:
            own = os.getpgid(pid)
        except ProcessLookupError:
            return False
        if not isinstance(pgid, int) or pgid != own:  # the group must be the checked process's own
            raise MotionlabError(f"cannot stop pid {pid}: {run_dir / PROCESS_FILE} names process group {pgid!r}, "
                                 f"but the process is in group {own}")
        sig = signal.SIGKILL if force else signal.SIGTERM
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return False
        except PermissionError as e:
            raise MotionlabError(f"cannot stop pid {pid}: {e.strerror}") from None
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


def default_metric_file(files: list[Path], runs_dir) -> Path | None:
    """What the Training page opens on: the user's newest run, else the shipped curve with most epochs."""
    runs = [f for f in files if Path(runs_dir) in f.parents]

    def mtime(f: Path) -> float:
        try:
            return max(p.stat().st_mtime for p in (f, f.with_name(PROCESS_FILE)) if p.exists())
        except ValueError:
            return 0.0
    if runs:
        return max(runs, key=mtime)

    def epochs(f: Path) -> int:
        try:
            with open(f, "rb") as fh:
                return sum(1 for line in fh if line.strip())
        except OSError:
            return 0
    return max(files, key=epochs, default=None)
