"""Cost of checking the shipped checkpoints against their sha256 records; prints JSON.

    python bench/checksum.py [--repeats 3]

sha256_ms: hashing one shipped model.pt (18.9 MiB), median over files and repeats (cache cleared).
read_checkpoint_ms / read_checkpoint_unverified_ms: loading and validating one file with its record
    checked (first time in the process) and without a record (the same bytes, copied without one).
discover_cold_ms / discover_warm_ms: catalog.discover over checkpoints/ (what each page run lists)
    in a fresh process state, then again: the warm call neither hashes nor loads.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from motionlab.formats import integrity
from motionlab.formats.checkpoints import read_checkpoint
from motionlab.lab import catalog

ROOT = Path(__file__).resolve().parent.parent


def ms(f) -> float:
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1e3


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    files = sorted((ROOT / "checkpoints").glob("*/model.pt"))
    sha, verified, bare = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            copy = Path(tmp) / f"{f.parent.name}.pt"  # no record beside it
            shutil.copy(f, copy)
            for _ in range(a.repeats):
                integrity._cache.clear()
                sha.append(ms(lambda: integrity.file_sha256(f)))
                integrity._cache.clear()
                verified.append(ms(lambda: read_checkpoint(f)))
                bare.append(ms(lambda: read_checkpoint(copy)))
    integrity._cache.clear()
    catalog._cache.clear()
    cold = ms(lambda: catalog.discover([ROOT / "checkpoints"]))
    warm = ms(lambda: catalog.discover([ROOT / "checkpoints"]))
    print(json.dumps({"files": len(files), "file_mib": round(files[0].stat().st_size / 2**20, 1),
                      "sha256_ms": round(statistics.median(sha), 1),
                      "read_checkpoint_ms": round(statistics.median(verified), 1),
                      "read_checkpoint_unverified_ms": round(statistics.median(bare), 1),
                      "discover_cold_ms": round(cold, 1), "discover_warm_ms": round(warm, 2)}))


if __name__ == "__main__":
    main()
