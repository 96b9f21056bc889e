"""motionlab.io: temporary files carry their writer's pid, and the stale ones of a killed save are removed when a
run starts in the folder, live ones never."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import TRAIN_ARGS
from motionlab import io as io_mod
from motionlab import train as train_mod
from motionlab.cli import run_main


def _temp(folder: Path, name: str, age_s: float = 0.0) -> Path:
    p = folder / name
    p.write_bytes(b"partial")
    if age_s:
        t = time.time() - age_s
        os.utime(p, (t, t))
    return p


def test_stale_temps_are_removed_at_the_next_start_and_live_ones_kept(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # can never be a live process
    held = _temp(out, ".best.pt.abcd1234.tmp", age_s=3600)  # old naming (no pid), held open by a live process
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'rb'); time.sleep(60)",
                              str(held)])
    try:
        for _ in range(250):
            if io_mod._open_anywhere(held):
                break
            time.sleep(0.02)
        stale = [_temp(out, f".last.pt.{dead_pid}.k2j4h5g6.tmp"),                 # its writer was killed
                 _temp(out, f".best.pt.{child.pid}.q9w8e7r6.tmp", age_s=3600),   # pid recycled since the write
                 _temp(out, ".metrics.jsonl.zx12cv34.tmp", age_s=3600)]          # old naming, nobody has it open
        live = [_temp(out, f".last.pt.{os.getpid()}.a1b2c3d4.tmp"),               # a writer in this process
                _temp(out, f".best.pt.{child.pid}.m5n6b7v8.tmp"),                 # a live writer's
                held,
                _temp(out, ".last.pt.p0o9i8u7.tmp")]                              # old naming, just written
        assert sorted(io_mod.stale_temps(out)) == sorted(stale)
        other = out / "notes.tmp"  # not hidden: not ours
        other.write_text("x")
        assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "1", "--out", str(out)]) == 0
        assert not any(p.exists() for p in stale)
        assert all(p.exists() for p in live) and other.exists()
        err = capsys.readouterr().err
        assert all(f"removed stale temporary file {p}" in err for p in stale)
    finally:
        child.kill()
        child.wait()


def test_temp_files_carry_their_writers_pid(tmp_path, monkeypatch):
    seen = []
    real = io_mod.os.replace
    monkeypatch.setattr(io_mod.os, "replace", lambda a, b: seen.append(Path(a).name) or real(a, b))
    io_mod.atomic_write_bytes(tmp_path / "x.pt", b"1")
    assert re.fullmatch(rf"\.x\.pt\.{os.getpid()}\.[a-z0-9_]{{8}}\.tmp", seen[0])
