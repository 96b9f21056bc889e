"""Judging sample sets the way a reviewer would: every measure with its interval, against the real data's
own range at the same N (motionlab.evaluation.judge), for a checkpoint, a folder of clips or two of them.

The real data is the checkpoint's training clip(s): every stride-1 window at the samples' length (the
pool random real sets are drawn from, and the reference the measures compare with). Frame rate and tempo
default to what the shipped clip shows (docs/MEASURES.md: 30 fps, 115 BPM).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motionlab.core.samplers import SamplerChoice
from motionlab.data.clip import Clip, load_clip, read_clip_bytes
from motionlab.data.clipset import resolve_clips
from motionlab.errors import ClipError, MotionlabError, PoseFileError, one_line
from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import real_pool
from motionlab.evaluation.judge import compare, judge_set, results_doc
from motionlab.evaluation.measure import Reference
from motionlab.formats.checkpoints import LoadedModel, load_model
from motionlab.formats.integrity import file_sha256
from motionlab.formats.poseformats import convert_files
from motionlab.pipeline.evaluating import checkpoint_windows, machine_info
from motionlab.pipeline.defaults import faithful_default
from motionlab.pipeline.sample_sets import CACHE, sample_set

FPS, BPM = 30.0, 115.0
N_BOOT, DRAWS = 1000, 300


@dataclass
class RealData:
    """What sample sets of one window length are judged against."""
    pool: Reference          # every stride-1 window of the training clip(s)
    baseline: dict           # the spec's dataset baseline, for the ±10% band ({} when unknown)
    name: str                # the clip(s), for captions
    stride: int = 0          # the training windows' stride (cards record it)


def real_data(clips, joints, window: int, baseline: dict | None = None, name: str = "", stride: int = 0,
              fps: float = FPS, bpm: float | None = BPM) -> RealData:
    pool = Reference(real_pool(clips, window), tuple(joints), fps, bpm)
    return RealData(pool, dict(baseline or {}), name, stride)


_pools: dict[tuple, Reference] = {}  # the pool and the features its measures computed, per clips and window
_POOLS_MAX = 4


def real_data_for(lm: LoadedModel, data=None, fps: float = FPS, bpm: float | None = BPM) -> RealData:
    """The training clip(s) of a loaded checkpoint (from `data`, else the clips it records). The pool is
    kept per process (clips' sha256, window, fps, bpm): judging several checkpoints of one clip, or one
    again, computes the real windows' features once."""
    ck = lm.checkpoint
    ds = checkpoint_windows({"data_config": ck.data_config, "clips": ck.clips}, data)
    name = ", ".join(Path(c.name).name for c in ds.clips)
    key = (tuple(c.sha256 for c in ds.clips), tuple(lm.joints), lm.window, fps, bpm)
    pool = _pools.get(key)
    if pool is None:
        if len(_pools) >= _POOLS_MAX:
            _pools.clear()
        pool = _pools[key] = Reference(real_pool(ds.clips, lm.window), tuple(lm.joints), fps, bpm)
    return RealData(pool, dict(ck.baseline or {}), name, ds.cfg.stride)


def forget() -> None:
    """Drop the kept real pools (benches that time a first evaluation; tests)."""
    _pools.clear()


def judge_pixels(pixels, real: RealData, n_boot: int = N_BOOT, draws: int = DRAWS, seed: int = 0) -> dict:
    """results_doc of a sample set: {"n", "metrics": {name: value, interval, real_range, ...}}."""
    px = np.asarray(pixels, np.float64)
    if not np.isfinite(px).all():
        raise MotionlabError("samples contain NaN or inf: nothing to judge (a diverged model?)")
    res = judge_set(px, real.pool, real.pool, catalog.ALL, n_boot, draws, seed, real.baseline or None)
    return results_doc(res)


def judge_checkpoint(path, n: int = 64, seed: int = 42, sampler: SamplerChoice | None = None,
                     precision: str = "fp32", threads=None, data=None, fps: float = FPS, bpm: float | None = BPM,
                     n_boot: int = N_BOOT, draws: int = DRAWS, log=None, cache=CACHE) -> dict:
    """Sample n clips (cached unless cache=None: motionlab.pipeline.sample_sets) and judge them; the
    record a card keeps. sampler None: the checkpoint's faithful default (motionlab.pipeline.defaults)."""
    lm = load_model(path)
    choice = sampler or faithful_default(path).choice
    s = sample_set(lm, n, seed, choice, precision=precision, threads=threads, cache=cache, log=log)
    real = real_data_for(lm, data, fps, bpm)
    doc = judge_pixels(s.pixels, real, n_boot, draws)
    return {"checkpoint": str(path), "sha256": file_sha256(path), "tag": lm.checkpoint.tag or Path(path).parent.name,
            "sampler": s.sampler, "steps": choice.steps_for(lm.diffusion.num_timesteps), "seed": seed,
            "precision": precision, "window": lm.window, "stride": real.stride, "fps": fps, "bpm": bpm,
            "real": real.name, "weights": lm.weights, "machine": machine_info(), **doc,
            "pixels": s.pixels}


def read_clip_file(f: Path) -> Clip:
    """A motionlab clip JSON, or a pose file motionlab.convert reads (MediaPipe, COCO, OpenPose, ...)."""
    try:
        return load_clip(f)
    except ClipError as first:
        try:
            return convert_files([(f.name, read_clip_bytes(f))])[0]
        except PoseFileError:
            raise ClipError(f"{f}: neither a motionlab clip nor a pose file motionlab.convert reads "
                            f"({one_line(first, 120)})") from None


def clips_from_folder(folder, joints, window: int) -> np.ndarray:
    """Clip files of a folder (motionlab JSON, or any pose format motionlab.convert reads) cut into
    non-overlapping windows of `window` frames, joints in `joints` order: (N, window, C) pixels."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
    if not files:
        raise ClipError(f"{folder}: no clip files in this folder")
    out = []
    for f in files:
        clip = read_clip_file(f)
        missing = [j for j in joints if j not in clip.joints]
        if missing:
            raise ClipError(f"{f}: lacks joint {missing[0]} of the dataset ({len(missing)} of {len(joints)} missing)")
        cols = [2 * clip.joints.index(j) + k for j in joints for k in (0, 1)]
        ch = clip.channels[:, cols]
        out += [ch[s:s + window] for s in range(0, len(ch) - window + 1, window)]
    if not out:
        raise ClipError(f"{folder}: no clip has {window} frames (the window judged at)")
    return np.stack(out).astype(np.float64)


def judge_folder(folder, data=None, window: int = 256, fps: float = FPS, bpm: float | None = BPM,
                 n_boot: int = N_BOOT, draws: int = DRAWS) -> dict:
    """Samples from another system, or held-out footage, judged against the dataset (`data`: the clips)."""
    clips, spec = resolve_clips(data, min_frames=window, quiet=True)
    joints = clips[0].clip.joints
    px = clips_from_folder(folder, joints, window)
    real = real_data(clips, joints, window, name=", ".join(Path(c.name).name for c in clips), fps=fps, bpm=bpm)
    return {"samples": str(folder), "window": window, "fps": fps, "bpm": bpm, "real": real.name,
            "machine": machine_info(), **judge_pixels(px, real, n_boot, draws), "pixels": px}


def compare_pixels(a, b, real: RealData, n_boot: int = N_BOOT, draws: int = DRAWS, seed: int = 0) -> dict:
    """For each measure: the difference in distance to the data (A − B) with its interval and a verdict."""
    res = compare(np.asarray(a, np.float64), np.asarray(b, np.float64), real.pool, real.pool, catalog.ALL,
                  n_boot, draws, seed)
    return {"n": [len(a), len(b)], "metrics": res, "torch": torch.__version__}
