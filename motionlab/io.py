"""Atomic file writes: a crash leaves either the old file or the new one, never half.

Temporaries are hidden files named ``.<name>.<pid>.<random>.tmp`` beside the target, so that a write cut
by SIGKILL can be recognized later as stale (its pid is gone) and removed by remove_stale_temps.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

# .<name>.<pid>.<mkstemp's 8 random chars>.tmp; the older form had no pid
TEMP_RE = re.compile(r"^\..+\.tmp$")
_PID_RE = re.compile(r"\.(\d+)\.[a-z0-9_]{8}\.tmp$")
LEGACY_MIN_AGE_S = 60.0  # a temp without a pid: writers finish in seconds, so an older one is abandoned


def _mkstemp(dir, name: str) -> tuple[int, str]:
    return tempfile.mkstemp(dir=dir, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")


def atomic_write_json(path, doc) -> None:
    """A committed JSON record (evaluation.json, docs/FIDELITY.json): sorted keys, one-space indent, newline."""
    import json
    atomic_write_bytes(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())


def atomic_write_bytes(path, data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp(p.parent, p.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary data files
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not e.filename:
            e.filename = str(p)  # say which file could not be written (write/fsync errors name none)
        raise


def check_writable_dir(path) -> None:
    """Raise OSError early when a directory cannot be created or written."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp(p, "probe")
    os.close(fd)
    os.unlink(tmp)


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _pid_owns(pid: int, mtime: float) -> bool:
    """Whether process pid may still be writing a temp file last modified at mtime."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return True  # no /proc: alive is all we know
    if fields[0] == "Z":
        return False
    boot = _boot_time()
    if boot is None or len(fields) <= 19:
        return True
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    # a process that started after the file was last written is a recycled pid, not its writer
    # (btime has 1 s resolution, hence the margin)
    return started <= mtime + 2.0


def _open_anywhere(path: Path) -> bool:
    """Whether any process we can inspect has path open (Linux /proc); False where unknown."""
    target = str(path.resolve())
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            for fd in (d / "fd").iterdir():
                try:
                    if os.readlink(fd) == target:
                        return True
                except OSError:
                    continue
        except OSError:
            continue
    return False


def stale_temps(folder) -> list[Path]:
    """Hidden ``.*.tmp`` files in folder (not below it) that no live process is writing any more."""
    folder = Path(folder)
    try:
        cands = [p for p in folder.iterdir() if TEMP_RE.match(p.name)]
    except OSError:
        return []
    out = []
    for p in sorted(cands):
        try:
            st = p.lstat()
        except OSError:
            continue
        if not p.is_file() or p.is_symlink():
            continue
        m = _PID_RE.search(p.name)
        if m:
            if _pid_owns(int(m.group(1)), st.st_mtime):
                continue
        elif time.time() - st.st_mtime < LEGACY_MIN_AGE_S or _open_anywhere(p):
            continue
        out.append(p)
    return out


def remove_stale_temps(folder) -> list[Path]:
    """Delete the stale temporaries of folder (see stale_temps); returns what was removed."""
    removed = []
    for p in stale_temps(folder):
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed
