"""Atomic file writes: a crash leaves either the old file or the new one, never half."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path, data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
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
    fd, tmp = tempfile.mkstemp(dir=p, prefix=".probe.")
    os.close(fd)
    os.unlink(tmp)
