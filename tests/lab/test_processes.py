"""Training runs from the lab (motionlab.lab.processes): run names and the training command, the training form's
data option, metrics read past a half-written line, a run's summary; a run started in the background is tracked
on disk, survives a reload of the server and stops, and a recycled pid is not taken for it.

Issue 23, items 4 and 7: simultaneous starts never exceed what is allowed, a folder held by any trainer is
refused in one line, Stop signals only the checked process's own group, and reading a run's state writes
nothing (the server that started it records its end, once)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from motionlab.data.clip import load_clip
from motionlab.data.demo import demo_clip
from motionlab.errors import MotionlabError
from motionlab.lab import access, processes
from motionlab.lab.processes import TrainOptions

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # the CPUs are shared
TINY = dict(data="demo", window=32, stride=16, limit=0, base_channels=16, channel_mults="1,2", time_dim=32,
            timesteps=10)
TINY_MONITORED = {**TINY, "monitor_every": 1, "monitor_samples": 2, "save_every": 1}  # metrics and a .pt every epoch


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
    # alive until Stop: a child that exited on its own first (it slept 0.5 s) made the test flaky on a loaded machine
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "motionlab.train"],
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


# -- names, commands, metrics and a run's summary --------------------------------------------------------

def test_run_names_and_commands(tmp_path):
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65, "sp ace"):
        with pytest.raises(MotionlabError):
            processes.validate_name(bad)
    assert processes.validate_name(" ok_run-1.2 ") == "ok_run-1.2"
    cmd = processes.build_command(processes.TrainOptions(data="demo", epochs=3), tmp_path / "r1", python="py")
    assert cmd[:3] == ["py", "-m", "motionlab.train"] and cmd[cmd.index("--out") + 1] == str(tmp_path / "r1")
    assert cmd[cmd.index("--tag") + 1] == "r1" and "--no-progress" in cmd
    with pytest.raises(MotionlabError):
        processes.build_command(processes.TrainOptions(channel_mults="1;2"), tmp_path)


def test_build_command_passes_several_data_paths(tmp_path):
    opts = processes.TrainOptions(data=["clips/a.json", "clips/b.json"])
    cmd = processes.build_command(opts, tmp_path / "run")
    i = cmd.index("--data")
    assert cmd[i:i + 4] == ["--data", "clips/a.json", "clips/b.json", "--window"]


def test_training_form_data_option():
    refs = [Path("data/a.json"), Path("data/b")]
    assert processes.data_option("reference", refs, True) == ["data/a.json", "data/b"]
    assert processes.data_option("reference", refs, False) == "demo"  # missing files: the demo clip instead
    assert processes.data_option("demo", refs, True) == "demo"
    assert processes.data_option("uploaded", refs, True) == "demo"  # start_run's clip overrides it


def test_read_metrics_skips_a_half_written_line(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"epoch": 1, "loss": 1.0}\n\n{"epoch": 2, "loss": 0.5}\n{"epoch": 3, "lo')
    assert [r["epoch"] for r in processes.read_metrics(p)] == [1, 2]
    assert processes.read_metrics(tmp_path / "none") == []


def test_run_summary_of_a_run_started_elsewhere_and_of_a_live_one(tmp_path):
    p = tmp_path / "r" / "metrics.jsonl"
    p.parent.mkdir()
    p.write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": 0.25}\n{"epoch": 3, "loss": 0.375}\n')
    s = processes.run_summary(p)  # no lab_process.json: not started by the lab
    assert s.run_dir == p.parent and s.state == "none" and s.state_label == "external" and not s.live
    assert (s.done, s.planned, s.epochs_text) == (3, None, "3")
    assert (s.loss_text("best"), s.loss_text("last"), s.progress) == ("0.25", "0.375", None)
    live = processes.RunSummary(p.parent, {"state": "running", "options": {"epochs": 4}, "pid": 7, "started": 0},
                                s.records)
    assert live.live and live.epochs_text == "3 / 4" and live.progress == 0.75
    assert live.process_text.startswith("pid 7 · started ") and "exit status" not in live.process_text
    ended = processes.RunSummary(p.parent, {"state": "failed", "returncode": 1, "pid": 7}, [])
    assert ended.loss_text("best") == "–" and ended.done == 0 and ended.progress is None
    assert ended.process_text.endswith(" · exit status 1")


# -- a run in the background ----------------------------------------------------------------------------

def _wait_state(run_dir, states, timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        s = processes.status(run_dir)
        if s["state"] in states:
            return s
        time.sleep(0.2)
    raise AssertionError(f"{run_dir}: still {processes.status(run_dir)['state']}")


@pytest.mark.slow
def test_background_run_finishes_and_is_tracked_on_disk(tmp_path):
    upload = demo_clip(64, seed=3)
    rec = processes.start_run(tmp_path, "t1", processes.TrainOptions(epochs=2, **TINY_MONITORED), env=ONE_THREAD,
                              clip=upload)
    run = tmp_path / "t1"
    saved = (run / processes.UPLOADED_CLIP).read_bytes()
    assert str((run / processes.UPLOADED_CLIP).resolve()) in rec["command"]
    np.testing.assert_allclose(load_clip(run / processes.UPLOADED_CLIP).xy, upload.xy, atol=1e-3)
    assert json.loads((run / "lab_process.json").read_text())["pid"] == rec["pid"]
    s = _wait_state(run, ("finished", "failed"))
    assert s["state"] == "finished" and s["returncode"] == 0, processes.log_tail(run)
    assert [r["epoch"] for r in processes.read_metrics(run / "metrics.jsonl")] == [1, 2]
    assert (run / "best.pt").is_file() and "motionlab.train" in processes.log_tail(run)
    assert json.loads((run / "lab_process.json").read_text())["state"] == "finished"
    with pytest.raises(MotionlabError, match="already holds a run"):
        processes.start_run(tmp_path, "t1", processes.TrainOptions(epochs=2, **TINY_MONITORED),
                            clip=demo_clip(32, seed=4))
    assert (run / processes.UPLOADED_CLIP).read_bytes() == saved  # a refused start keeps the run's clip
    assert run / "metrics.jsonl" in processes.list_metric_files(tmp_path)


@pytest.mark.slow
def test_background_run_survives_a_reload_and_stops(tmp_path):
    processes.start_run(tmp_path, "long", processes.TrainOptions(epochs=100000, **TINY_MONITORED), env=ONE_THREAD)
    run = tmp_path / "long"
    with processes._lock:  # a fresh server process knows only lab_process.json
        child = processes._children.pop(json.loads((run / "lab_process.json").read_text())["pid"])
    try:
        assert processes.status(run)["state"] == "running"
        assert processes.running_runs(tmp_path) == [run]
        with pytest.raises(MotionlabError, match="already running"):
            processes.start_run(tmp_path, "other", processes.TrainOptions(epochs=1, **TINY_MONITORED), max_running=1)
        t = time.time()
        while not processes.read_metrics(run / "metrics.jsonl") and time.time() - t < 60:
            time.sleep(0.2)
        assert processes.stop_run(run)
        assert processes.status(run)["state"] in ("stopping", "stopped")
        child.wait(30)
        s = _wait_state(run, ("stopped",))
        assert s["returncode"] is None  # not our child any more: exit status unknown
        assert "stopped by SIGTERM" in processes.log_tail(run)
        assert processes.stop_run(run) is False
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def test_a_recycled_pid_is_not_our_run(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        (tmp_path / "r").mkdir()
        rec = {"pid": p.pid, "pgid": p.pid, "proc_start": "1", "started": 0, "state": "running"}
        (tmp_path / "r" / "lab_process.json").write_text(json.dumps(rec))
        assert not processes.is_alive(rec)
        assert processes.stop_run(tmp_path / "r") is False
        assert p.poll() is None  # untouched
        assert processes.status(tmp_path / "r")["state"] == "ended"
    finally:
        p.kill()
        p.wait()
