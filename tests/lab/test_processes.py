"""Training runs from the lab (issue 23, items 4 and 7): simultaneous starts never exceed what is allowed, a folder
held by any trainer is refused in one line, Stop signals only the checked process's own group, and reading a run's
state writes nothing (the server that started it records its end, once)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from motionlab.errors import MotionlabError
from motionlab.lab import access, processes
from motionlab.lab.processes import TrainOptions

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # the CPUs are shared
TINY = dict(data="demo", window=32, stride=16, limit=0, base_channels=16, channel_mults="1,2", time_dim=32,
            timesteps=10)


def _trainers(folder: Path) -> list[int]:
    """pids of live motionlab.train processes whose command line names a folder under `folder`."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            cmd = processes._cmdline(int(p.name))
            if "motionlab.train" in cmd and str(folder) in cmd and processes._proc_start(int(p.name)):
                out.append(int(p.name))
    return out


@pytest.fixture
def launches(monkeypatch):
    """Every process start_run launches, each launch slowed by 0.3 s (as on a loaded machine: the window between
    the checks and the record); all killed at the end."""
    started = []
    real = subprocess.Popen

    def slow_popen(*a, **kw):
        time.sleep(0.3)
        p = real(*a, **kw)
        started.append(p)
        return p
    monkeypatch.setattr(processes.subprocess, "Popen", slow_popen)
    yield started
    for p in started:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        with processes._lock:
            processes._children.pop(p.pid, None)


def _at_once(n: int, start) -> list:
    """start(i) in n threads released together; each result or the MotionlabError it raised."""
    gate = threading.Barrier(n)
    out = [None] * n

    def run(i):
        gate.wait()
        try:
            out[i] = start(i)
        except MotionlabError as e:
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


@pytest.mark.parametrize("n", [2, 4])
def test_simultaneous_starts_of_one_name_launch_one_trainer(tmp_path, launches, n):
    res = _at_once(n, lambda i: processes.start_run(tmp_path, "same", TrainOptions(epochs=100000, **TINY),
                                                    max_running=n, env=ONE_THREAD))
    ok = [r for r in res if isinstance(r, dict)]
    refused = [r for r in res if isinstance(r, MotionlabError)]
    assert len(ok) == 1 and len(refused) == n - 1, res
    assert all(str(e) == f"run 'same' is already running (pid {ok[0]['pid']})" for e in refused)
    assert len(launches) == 1 and _trainers(tmp_path) == [ok[0]["pid"]]
    assert processes.read_record(tmp_path / "same")["pid"] == ok[0]["pid"]  # the one running is the one recorded


def test_four_simultaneous_starts_with_a_limit_of_two_leave_two_trainers(tmp_path, launches):
    res = _at_once(4, lambda i: processes.start_run(tmp_path, f"r{i}", TrainOptions(epochs=100000, **TINY),
                                                    max_running=2, env=ONE_THREAD))
    ok = [r for r in res if isinstance(r, dict)]
    refused = [r for r in res if isinstance(r, MotionlabError)]
    assert len(ok) == 2 and len(refused) == 2, res
    assert all("2 training run(s) already running" in str(e) for e in refused)
    assert len(launches) == 2 and sorted(_trainers(tmp_path)) == sorted(r["pid"] for r in ok)
    assert len(processes.running_runs(tmp_path)) == 2


HOLD = "import sys, time; from motionlab.pipeline import runlock; runlock.acquire(sys.argv[1]); print('held', flush=True); time.sleep(120)"


@pytest.fixture
def cli_trainer(tmp_path):
    """A process holding runs/cli's trainer lock as `python -m motionlab.train --out runs/cli` does."""
    folder = tmp_path / "cli"
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    yield folder, p
    p.kill()
    p.wait()


def test_a_folder_held_by_a_trainer_from_the_command_line_is_refused(tmp_path, cli_trainer, launches):
    folder, p = cli_trainer
    for resume in (False, True):
        with pytest.raises(MotionlabError) as e:
            processes.start_run(tmp_path, "cli", TrainOptions(epochs=2, resume=resume, **TINY), env=ONE_THREAD)
        assert str(e.value) == (f"{folder} is in use by another trainer (pid {p.pid}): stop it first or pick "
                                "another name")
    assert launches == [] and not (folder / processes.PROCESS_FILE).exists()
    # it counts as a running run: the CPUs are as busy
    assert processes.running_runs(tmp_path) == [folder]
    with pytest.raises(MotionlabError, match=r"1 training run\(s\) already running"):
        processes.start_run(tmp_path, "other", TrainOptions(epochs=2, **TINY), max_running=1, env=ONE_THREAD)
    assert launches == []


@pytest.mark.slow
def test_a_real_command_line_trainer_holds_its_folder_against_the_lab(tmp_path):
    folder = tmp_path / "cli"
    cmd = processes.build_command(TrainOptions(epochs=100000, **TINY), folder)
    p = subprocess.Popen(cmd, env=ONE_THREAD, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        from motionlab.pipeline import runlock
        t = time.time()
        while runlock.holder(folder) is None and time.time() - t < 120:
            assert p.poll() is None, "the trainer exited"
            time.sleep(0.2)
        with pytest.raises(MotionlabError, match=rf"in use by another trainer \(pid {p.pid}\)"):
            processes.start_run(tmp_path, "cli", TrainOptions(epochs=2, resume=True, **TINY), env=ONE_THREAD)
        assert _trainers(tmp_path) == [p.pid] and not (folder / processes.PROCESS_FILE).exists()
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


# -- Stop and reading the state -------------------------------------------------------------------

def _train_like(session: bool = True) -> subprocess.Popen:
    """A live process the lab takes for a trainer (its command line names motionlab.train)."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "motionlab.train"],
                         start_new_session=session)
    for _ in range(200):
        if processes._proc_start(p.pid) and "motionlab.train" in processes._cmdline(p.pid):
            break
        time.sleep(0.02)
    return p


def _record(run_dir: Path, p, **kw) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    rec = {"pid": p.pid, "pgid": p.pid, "proc_start": processes._proc_start(p.pid), "started": time.time(),
           "command": ["python", "-m", "motionlab.train"], "options": {"epochs": 5}, "log": "train.log",
           "state": "running", **kw}
    (run_dir / processes.PROCESS_FILE).write_text(json.dumps(rec))
    return rec


def test_stop_signals_only_the_checked_process_own_group(tmp_path):
    trainer, victim = _train_like(), _train_like()  # each in a session (group) of its own
    try:
        _record(tmp_path / "r", trainer, pgid=victim.pid)  # an edited or stale record
        with pytest.raises(MotionlabError) as e:
            processes.stop_run(tmp_path / "r")
        assert str(e.value) == (f"cannot stop pid {trainer.pid}: {tmp_path / 'r' / processes.PROCESS_FILE} names "
                                f"process group {victim.pid}, but the process is in group {trainer.pid}")
        time.sleep(0.2)
        assert victim.poll() is None and trainer.poll() is None  # nobody was signalled
        _record(tmp_path / "r", trainer)
        assert processes.stop_run(tmp_path / "r")
        assert trainer.wait(10) == -signal.SIGTERM and victim.poll() is None
    finally:
        for p in (trainer, victim):
            p.kill()
            p.wait()


def test_reading_the_state_writes_nothing(tmp_path):
    """A page view of any visitor: the state is derived from the record, the process and the log."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    cases = {"ended": {}, "stopped": {"stop_requested": 1.0}, "finished": {}}
    for state, extra in cases.items():
        run = tmp_path / state
        rec = _record(run, dead, **extra)
        rec["proc_start"] = "1"
        (run / processes.PROCESS_FILE).write_text(json.dumps(rec))
        if state == "finished":
            (run / processes.LOG_FILE).write_text('epoch 2\n{"best_loss": 0.5, "epochs": 2}\n')
        before = (run / processes.PROCESS_FILE).read_bytes(), (run / processes.PROCESS_FILE).stat().st_mtime_ns
        for _ in range(3):
            s = processes.status(run)
            assert s["state"] == state and s["returncode"] is None
            assert processes.run_summary(run / "metrics.jsonl").state_label == state
        after = (run / processes.PROCESS_FILE).read_bytes(), (run / processes.PROCESS_FILE).stat().st_mtime_ns
        assert after == before, state


def test_the_server_that_started_a_run_records_its_end_once(tmp_path, monkeypatch):
    p = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(0.5); sys.exit(3)", "motionlab.train"],
                         start_new_session=True)
    run = tmp_path / "r"
    _record(run, p)
    with processes._lock:
        processes._children[p.pid] = p
    assert processes.status(run)["state"] == "running"
    assert processes.stop_run(run)  # Stop meanwhile: its mark must survive the final write
    p.wait()
    writes = []
    real = processes._write_record
    monkeypatch.setattr(processes, "_write_record", lambda d, r: writes.append(r) or real(d, r))
    got = [None] * 8

    def view(i):
        got[i] = processes.status(run)
    threads = [threading.Thread(target=view, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(writes) == 1
    assert all(g["state"] == "stopped" for g in got)
    rec = json.loads((run / processes.PROCESS_FILE).read_text())
    assert rec["state"] == "stopped" and rec["returncode"] == -signal.SIGTERM and rec["stop_requested"]
    assert processes.status(run)["returncode"] == -signal.SIGTERM and len(writes) == 1


def test_start_run_refuses_below_the_floor_and_writes_nothing(tmp_path):
    floor = access.free_bytes(tmp_path) + 2**40
    with pytest.raises(MotionlabError, match="below the lab's floor"):
        processes.start_run(tmp_path, "r", processes.TrainOptions(data="demo"), min_free_bytes=floor)
    assert list(tmp_path.iterdir()) == []
