"""Sample sets of any size for judging a checkpoint, drawn in chunks and kept on disk.

N samples at a seed are chunks of at most 64 (one sampling call each): chunk 0 uses the seed itself,
so N <= 64 is exactly `sample_checkpoint(lm, N, seed)` (the spec's 8 at seed 42 included), and chunk k
uses a seed derived from it. Samples of a batch are independent draws, so any chunk, or the first n
of a set, is a valid smaller set.

Each chunk is cached under runs/sample_cache/<checkpoint sha256>/ keyed by sampler, seed, size and
precision, so a study, the report and the lab share one 400-step run, and a long run killed halfway
resumes at its next chunk.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionlab.core.samplers import SamplerChoice
from motionlab.errors import MotionlabError
from motionlab.formats.checkpoints import LoadedModel
from motionlab.formats.integrity import file_sha256
from motionlab.io import atomic_write_bytes
from motionlab.paths import REPO
from motionlab.pipeline.sampling import MAX_SAMPLES, sample_checkpoint

CACHE = REPO / "runs" / "sample_cache"
MAX_SET = 4096


def chunk_seed(seed: int, k: int) -> int:
    return seed if k == 0 else (seed * 1_000_003 + k * 7_919) % (2**63)


@dataclass
class SampleSet:
    pixels: np.ndarray       # (N, W, C)
    sampler: str             # label, e.g. "ddpm-400"
    seed: int
    precision: str
    seconds: float           # sampling time of the chunks drawn now (0 when all came from the cache)
    cached: int              # chunks read from the cache


def _chunk_path(root: Path, sha: str, label: str, seed: int, n: int, precision: str) -> Path:
    return root / sha[:16] / f"{label.replace(' ', '_')}_s{seed}_n{n}_{precision}.npz"


def sample_set(lm: LoadedModel, n: int, seed: int, sampler: SamplerChoice, *, precision: str = "fp32",
               threads=None, cache: Path | None = CACHE, log=None, on_chunk=None) -> SampleSet:
    """n samples of a loaded checkpoint (see the module docstring for how chunks and the cache work).
    precision 'auto' samples uncached (its chunks are not a precision to file them under);
    on_chunk(done, total) after each chunk."""
    if not 1 <= n <= MAX_SET:
        raise MotionlabError(f"a sample set holds 1..{MAX_SET} samples, got {n}")
    if precision == "auto":
        cache = None
    label = sampler.label(lm.diffusion.num_timesteps)
    sha = file_sha256(lm.path) if cache is not None else ""
    parts, seconds, hits = [], 0.0, 0
    chunks = -(-n // MAX_SAMPLES)
    for k, start in enumerate(range(0, n, MAX_SAMPLES)):
        if on_chunk is not None:
            on_chunk(k, chunks)
        size, s = min(MAX_SAMPLES, n - start), chunk_seed(seed, k)
        path = _chunk_path(cache, sha, label, s, size, precision) if cache is not None else None
        if path is not None and path.is_file():
            with np.load(path) as z:
                parts.append(z["pixels"])
            hits += 1
            continue
        t0 = time.perf_counter()
        run = sample_checkpoint(lm, size, s, sampler=sampler, precision=precision, threads=threads)
        seconds += time.perf_counter() - t0
        px = run.pixels.astype(np.float32)
        parts.append(px)
        if path is not None:
            _save(path, px, {"checkpoint": lm.path, "sampler": label, "seed": s, "n": size, "precision": precision,
                             "threads": run.threads, "seconds": round(run.seconds, 2)})
        if log:
            log(f"{Path(lm.path).parent.name} {label}: chunk {k + 1} of {chunks} in {run.seconds:.1f} s")
    return SampleSet(np.concatenate(parts), label, seed, precision, seconds, hits)


def _save(path: Path, pixels: np.ndarray, meta: dict) -> None:
    import io
    buf = io.BytesIO()
    np.savez(buf, pixels=pixels, meta=np.array(json.dumps(meta)))
    atomic_write_bytes(path, buf.getvalue())
