"""A run folder is held by the one trainer writing it: a second trainer there is refused in one line.

The lock is an flock on OUT/.trainer.lock, taken by the trainer process itself (whoever started it: the
command line, torchrun's rank 0, the lab), so it goes away with the process however that ends, and no
stale lock outlives a crash. The file holds the holder's pid, for the message. Within one process the
lock is counted, so the train tool can hold it across resume and run while Trainer.run takes it again.
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from motionlab.errors import MotionlabError

LOCK_FILE = ".trainer.lock"
_held: dict[str, list] = {}  # resolved folder -> [fd, count]
_lock = threading.Lock()


def holder(folder) -> int | None:
    """The pid of the process training in folder, or None when no trainer holds it."""
    p = Path(folder) / LOCK_FILE
    key = str(Path(folder).resolve())
    with _lock:
        if key in _held:
            return os.getpid()
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(os.pread(fd, 32, 0).decode().strip() or 0) or -1
        except (OSError, ValueError):
            return -1
    finally:
        os.close(fd)  # closing drops our probe lock too
    return None


def acquire(folder) -> None:
    folder = Path(folder)
    key = str(folder.resolve())
    with _lock:
        if key in _held:
            _held[key][1] += 1
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise MotionlabError(f"output folder {folder} is not writable: {e.strerror or e}") from None
        if not _try_lock(fd):
            try:
                pid = os.pread(fd, 32, 0).decode().strip()
            except OSError:
                pid = ""
            os.close(fd)
            raise MotionlabError(f"{folder} is in use by another trainer{f' (pid {pid})' if pid else ''}: "
                                 "stop it first or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[key] = [fd, 1]


def _try_lock(fd: int, patience: float = 1.0) -> bool:
    """LOCK_EX, retried for a moment: holder() probes with a shared lock held for microseconds."""
    end = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > end:
                return False
            time.sleep(0.02)


def release(folder) -> None:
    key = str(Path(folder).resolve())
    with _lock:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[key]
            os.close(entry[0])


@contextmanager
def held(folder):
    acquire(folder)
    try:
        yield
    finally:
        release(folder)
