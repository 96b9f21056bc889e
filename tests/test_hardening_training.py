"""Hardening: training killed at random moments loses nothing; unwritable outputs fail fast.

A training subprocess is SIGKILLed at seeded random moments (once during start-up, then while
it saves every epoch). After every kill best.pt and last.pt (when present) still load, last.pt
never goes backwards, and `--resume` continues from it; the final run reaches the requested
epoch count with one metrics line per epoch and the same weights as an uninterrupted run.
"""
from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO, TINY_MODEL_FLAGS
from motionlab import train as train_mod
from motionlab.formats.checkpoints import list_checkpoints, read_checkpoint
from motionlab.cli import run_main

ARGS = ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "8", "--batch-size", "8",
        "--timesteps", "10", "--save-every", "1", "--seed", "7", "--no-progress", *TINY_MODEL_FLAGS]
READY = "windows of 16 frames"  # logged right before the first epoch
KILLS = 6


def _start(out, epochs, log):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "motionlab.train", *ARGS, "--epochs", str(epochs), "--out", str(out), "--resume"]
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def _wait_for(p, log, text, timeout=60.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if text in log.read_text():
            return True
        if p.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError(f"no {text!r} in {timeout}s: {log.read_text()}")


def _wait_until(p, cond, timeout=60.0):
    t0 = time.monotonic()
    while not cond():
        assert p.poll() is None, "the run ended before the condition"
        assert time.monotonic() - t0 < timeout
        time.sleep(0.005)


def _metrics_epochs(out):
    p = out / "metrics.jsonl"
    if not p.exists():
        return []
    epochs = []
    for line in p.read_text().splitlines():
        try:
            epochs.append(json.loads(line)["epoch"])
        except (ValueError, KeyError):
            epochs.append(None)  # a line cut by the kill: resume drops it
    return epochs


def _check_after_kill(out, last_epoch_before) -> int:
    """best.pt / last.pt load; last.pt did not go backwards; returns last.pt's epoch (0 if absent)."""
    last_epoch = 0
    for name in ("best.pt", "last.pt"):
        p = out / name
        if p.exists():
            ck = read_checkpoint(p)  # raises on a torn file
            assert ck["epoch"] >= 1
            if name == "last.pt":
                last_epoch = ck["epoch"]
                assert "optimizer_state" in ck
    if (out / "last.pt").exists():
        assert (out / "best.pt").exists(), "best.pt is written before last.pt"
    assert last_epoch >= last_epoch_before, "a saved epoch was lost"
    assert all(r["ok"] for r in list_checkpoints(out)), list_checkpoints(out)  # temp files are not listed
    return last_epoch


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_loses_nothing(tmp_path):
    rng = random.Random(20240607)
    out = tmp_path / "run"
    last = 0
    resumed_from = []
    kills = 0
    for i in range(KILLS):
        log = tmp_path / f"seg{i}.log"
        p = _start(out, 10_000, log)  # never finishes on its own
        try:
            if i == 0:
                time.sleep(rng.uniform(0.05, 0.5))  # during imports / set-up: before anything is saved
            elif i % 2:
                # from the start of training: the first (slow, warming-up) epoch or its save
                assert _wait_for(p, log, READY), log.read_text()
                time.sleep(rng.uniform(0.0, 1.5))
            else:
                # once this segment has logged an epoch: its save, or the epochs and saves after it
                n = len(_metrics_epochs(out))
                _wait_until(p, lambda: len(_metrics_epochs(out)) > n)
                time.sleep(rng.uniform(0.0, 0.8))
            assert p.poll() is None, f"segment {i} ended by itself: {log.read_text()}"
            p.send_signal(signal.SIGKILL)
            kills += 1
        finally:
            p.kill()
            p.wait(30)
        text = log.read_text()
        assert "Traceback" not in text, text
        if "resumed from" in text:
            resumed_from.append(int(text.split("at epoch ")[1].split()[0]))
            assert resumed_from[-1] == last, (resumed_from, last)
        last = _check_after_kill(out, last)
    assert kills >= 5
    assert last >= 1, "no kill landed after a save: the test did not exercise resume"
    assert resumed_from, "no segment resumed"

    # the final run resumes and reaches the requested count
    target = last + 3
    log = tmp_path / "final.log"
    p = _start(out, target, log)
    assert p.wait(120) == 0, log.read_text()
    assert f"resumed from {out}/last.pt at epoch {last}" in log.read_text()
    final = read_checkpoint(out / "last.pt")
    assert final["epoch"] == target and final["step"] == target
    # one metrics line per epoch: nothing lost, nothing duplicated by the replays
    assert _metrics_epochs(out) == list(range(1, target + 1))
    leftovers = [f.name for f in out.iterdir() if f.name.endswith(".tmp")]
    assert not leftovers, leftovers  # temps of writes cut by SIGKILL are removed when the next run starts

    # the interrupted chain ends on the same weights as one uninterrupted run
    ref = tmp_path / "ref"
    assert run_main("motionlab.train", train_mod.main,
                    [*_args_without_save_every(), "--save-every", "1000", "--epochs", str(target),
                     "--out", str(ref)]) == 0
    want = read_checkpoint(ref / "last.pt")
    assert want["epoch"] == target
    for k, v in want["model_state"].items():
        torch.testing.assert_close(final["model_state"][k], v, rtol=1e-5, atol=1e-6)
    assert final["best_loss"] == pytest.approx(want["best_loss"], rel=1e-5)
    print(f"kills={kills} last={last} resumed_from={resumed_from}")


def _args_without_save_every():
    a = list(ARGS)
    i = a.index("--save-every")
    del a[i:i + 2]
    return a


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_saves_and_stops_cleanly(tmp_path, sig):
    out = tmp_path / "run"
    log = tmp_path / "term.log"
    p = _start(out, 10_000, log)
    try:
        assert _wait_for(p, log, READY)
        time.sleep(0.4)
        p.send_signal(sig)
        assert p.wait(60) == 0, log.read_text()
    finally:
        p.kill()
    text = log.read_text()
    said = f"stopped by {sig.name} at epoch "
    assert said in text and "Traceback" not in text
    stopped = int(text.split(said)[1].split(";")[0])
    assert read_checkpoint(out / "last.pt")["epoch"] == stopped
    assert _metrics_epochs(out)[-1] == stopped


# ---- unwritable output folders -------------------------------------------------------------------------

def _train(out, capsys, extra=()):
    t0 = time.monotonic()
    rc = run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "1", "--out", str(out), *extra])
    return rc, capsys.readouterr(), time.monotonic() - t0


def test_out_under_a_regular_file_is_reported_before_training(tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    for out in (blocker / "run", blocker / "deeper" / "run", blocker):
        rc, cap, secs = _train(out, capsys)
        assert rc == 2 and "Traceback" not in cap.err
        lines = cap.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"motionlab.train: error: output folder {out} is not writable")
        assert "windows of" not in cap.err  # nothing was set up or trained
        assert secs < 5
    assert blocker.read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_is_reported_before_training(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        rc, cap, _ = _train(ro / "run", capsys)
        assert rc == 2 and "not writable" in cap.err and len(cap.err.splitlines()) == 1
    finally:
        ro.chmod(0o700)


@pytest.mark.slow
def test_unwritable_out_as_a_real_subprocess_is_quick(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "motionlab.train", *ARGS, "--epochs", "50", "--out", str(blocker / "o")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    secs = time.monotonic() - t0
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [f"motionlab.train: error: output folder {blocker / 'o'} is not writable: "
                                     "Not a directory"]
    assert secs < 20  # start-up only: 50 epochs with a save each would take far longer


def test_disk_full_during_a_save_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    """ENOSPC on the 4th checkpoint write: exit 2, one line, the earlier files still load, no temp left."""
    import motionlab.io as io_mod
    real_fsync = io_mod.os.fsync
    calls = {"n": 0}

    def fsync(fd):
        if re.search(r"\.pt\.\d+\.\w{8}\.tmp$", os.readlink(f"/proc/self/fd/{fd}")):  # a .pt's temp, not its record's
            calls["n"] += 1
            if calls["n"] == 4:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)
    out = tmp_path / "run"
    monkeypatch.setattr(io_mod.os, "fsync", fsync)
    rc = run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "5", "--out", str(out)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"motionlab.train: error: {out}/") and "No space left" in err
    assert err.splitlines()[-1].endswith(".pt: No space left on device")
    assert read_checkpoint(out / "last.pt")["epoch"] >= 1
    read_checkpoint(out / "best.pt")
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]
    # and the run resumes from what was kept
    rc = run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "4", "--out", str(out), "--resume"])
    assert rc == 0 and read_checkpoint(out / "last.pt")["epoch"] == 4
    assert _metrics_epochs(out) == [1, 2, 3, 4]


def test_a_fresh_run_into_a_finished_run_folder_is_refused(tmp_path, capsys):
    """Forgetting --resume must not overwrite the folder's best.pt or mix two runs in metrics.jsonl."""
    import hashlib
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "2", "--out", str(out)]) == 0
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir()}
    capsys.readouterr()
    rc = run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "3", "--seed", "8", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.splitlines() == [
        f"motionlab.train: error: {out} already holds a run (last.pt); pass --resume to continue it "
        "or choose another --out"]
    assert {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir()} == before
    # with --resume it continues
    assert run_main("motionlab.train", train_mod.main, [*ARGS, "--epochs", "3", "--out", str(out), "--resume"]) == 0
    assert _metrics_epochs(out) == [1, 2, 3]
