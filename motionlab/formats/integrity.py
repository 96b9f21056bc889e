"""sha256 records beside checkpoint files: ``model.pt.sha256`` holds ``<hex>  model.pt`` (sha256sum's format).

torch does not check the zip CRCs of a checkpoint, so a flipped bit in a weight tensor would load
silently. Release folders ship a record for model.pt; training writes one for best.pt and last.pt.
A file with a record is refused when its bytes do not match; a file without one has every zip entry's
CRC-32 checked instead (check_crcs), which catches the same flipped byte.

Before any of that, check_archive reads only the zip directory: torch.save writes stored (uncompressed)
entries, so a compressed entry is foreign, and a directory that claims more bytes than the file holds
would make torch allocate them (a 390 KB file of deflated entries expanded to 384 MB before).

Digests are cached per (path, mtime, size): the lab lists checkpoints on every page run.
"""
from __future__ import annotations

import hashlib
import re
import threading
import zipfile
from pathlib import Path

from motionlab.errors import CheckpointError, one_line
from motionlab.io import atomic_write_bytes

SUFFIX = ".sha256"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_cache: dict[tuple, str] = {}
_lock = threading.Lock()
_CACHE_MAX = 512


def sidecar(path) -> Path:
    p = Path(path)
    return p.with_name(p.name + SUFFIX)


def _key(p: Path, st) -> tuple:
    return (str(p.resolve()), st.st_mtime_ns, st.st_size)


def file_sha256(path) -> str:
    """Hex sha256 of a file, computed once per (path, mtime, size) in this process."""
    p = Path(path)
    key = _key(p, p.stat())
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    with open(p, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    _remember(key, digest)
    return digest


def _remember(key: tuple, digest: str) -> None:
    with _lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = digest


def recorded(path) -> list[str] | None:
    """The digests recorded for path (None when it has no record); CheckpointError for a malformed record."""
    p = Path(path)
    s = sidecar(p)
    try:
        text = s.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{p}: its sha256 record {s.name} cannot be read ({getattr(e, 'strerror', None) or e})") from None
    out = []
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not line.strip():
            continue
        if m is None or m.group(2) != p.name:
            raise CheckpointError(f"{p}: its sha256 record {s.name} is malformed (want '<64 hex>  {p.name}' lines)")
        out.append(m.group(1))
    if not out:
        raise CheckpointError(f"{p}: its sha256 record {s.name} is empty")
    return out


def verify(path) -> bool:
    """Check path against its record: True when it matches, False when it has none; CheckpointError on a mismatch."""
    p = Path(path)
    want = recorded(p)
    if want is None:
        return False
    got = file_sha256(p)
    if got not in want:
        raise CheckpointError(f"{p}: sha256 {got[:16]}… does not match its record in {sidecar(p).name} "
                              f"({want[0][:16]}…): the file is corrupt or was changed")
    return True


def _record(name: str, digests: list[str]) -> bytes:
    return "".join(f"{d}  {name}\n" for d in digests).encode()


def write_verified(path, data: bytes) -> str:
    """Atomically write data to path and its sha256 record so that a crash at any point leaves a pair that verifies.

    While the file is replaced, its record lists both the new and the old digests; afterwards only the new one.
    Returns the new digest.
    """
    p = Path(path)
    digest = hashlib.sha256(data).hexdigest()
    try:
        old = recorded(p) or []
    except CheckpointError:
        old = []
    if old:
        atomic_write_bytes(sidecar(p), _record(p.name, [digest, *[d for d in old if d != digest]]))
    atomic_write_bytes(p, data)
    atomic_write_bytes(sidecar(p), _record(p.name, [digest]))
    try:
        _remember(_key(p, p.stat()), digest)
    except OSError:
        pass
    return digest


def write_record(path) -> str:
    """Record the sha256 of an existing file (for files made before records existed)."""
    p = Path(path)
    digest = file_sha256(p)
    atomic_write_bytes(sidecar(p), _record(p.name, [digest]))
    return digest


MAX_ENTRIES = 10_000   # a torch checkpoint of our network has about a hundred


def check_archive(path) -> None:
    """Refuse a zip whose directory asks for more than the file holds; reads the directory only."""
    p = Path(path)
    size = p.stat().st_size
    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise CheckpointError(f"{p}: not a readable checkpoint (truncated or corrupt zip: {type(e).__name__})") from None
    if len(infos) > MAX_ENTRIES:
        raise CheckpointError(f"{p}: refused: {len(infos)} zip entries (a checkpoint has about a hundred)")
    packed = [i for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise CheckpointError(f"{p}: refused: compressed zip entry {packed[0].filename!r} (torch.save writes none; "
                              "such entries can expand far beyond the file's size)")
    total = sum(i.file_size for i in infos)
    if total > size:
        raise CheckpointError(f"{p}: refused: its entries claim {total / 2**20:.0f} MB in a {size / 2**20:.1f} MB file")


_crc_cache: dict[tuple, bool] = {}


def check_crcs(path) -> None:
    """Every zip entry against its CRC-32 (a file without a sha256 record); cached per (path, mtime, size)."""
    p = Path(path)
    key = _key(p, p.stat())
    with _lock:
        if key in _crc_cache:
            return
    try:
        with zipfile.ZipFile(p) as z:
            for info in z.infolist():
                with z.open(info) as f:  # zipfile checks the CRC-32 when an entry is read to its end
                    while f.read(1 << 20):
                        pass
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CheckpointError(f"{p}: fails the zip's own checks ({one_line(e, 120)}): the file is corrupt or was "
                              "changed (it has no sha256 record to say more)") from None
    with _lock:
        if len(_crc_cache) >= _CACHE_MAX:
            _crc_cache.clear()
        _crc_cache[key] = True
