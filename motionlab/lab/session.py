"""Per-session sampling results: pixels, the kept denoising trajectory and small caches.

Everything here takes a plain mutable mapping (st.session_state in the app, a dict in tests).
Results never go into shared caches: two sessions sampling the same checkpoint keep their own.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Callable, MutableMapping

import numpy as np

from ..checkpoints import LoadedModel
from ..clip import Clip, clip_from_channels, loads_clip
from ..errors import ClipError, MotionlabError
from ..normalize import Normalizer
from ..sample import SPEC_SAMPLER, SamplerChoice, Trajectory, generate
from . import config

SAMPLE_RESULT = "lab.sample.result"
PIXEL_CACHE = "lab.pixel_cache"
METRIC_ROWS = "lab.metrics.rows"
METRIC_RECOMPUTE = "lab.metrics.recompute"  # keys whose precomputed rows the user asked to sample afresh
JOBS = "lab.jobs"
UPLOADED_CLIP = "lab.uploaded_clip"
UPLOAD_CHECK = "lab.upload_check"   # the last uploaded file id and its validation error, if any
PIXEL_CACHE_BYTES = 256 * 2**20


@dataclass
class SampleResult:
    """One sampling run: (N, W, C) pixels and, optionally, the kept float16 trajectory."""
    path: str
    name: str
    tag: str
    seed: int
    precision: str                 # what ran (auto resolves to fp32 or bf16)
    timesteps: int                 # the checkpoint's diffusion timesteps
    joints: tuple
    mean: np.ndarray
    std: np.ndarray
    pixels: np.ndarray
    trajectory: Trajectory | None = None
    seconds: float = 0.0
    mtime_ns: int = 0
    sampler: str = ""              # e.g. "dpmpp-20"
    settings: str = ""             # the requested sampler and precision: part of the cache key
    tuning: str = ""               # how precision and threads were chosen

    @property
    def key(self) -> tuple:
        return pixel_key(self.path, self.mtime_ns, self.seed, self.num_samples, self.settings)
    weights: str = "raw"  # LoadedModel.weights: "ema" or "raw"

    @property
    def num_samples(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def window(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def steps(self) -> list[int]:
        """Kept noise levels, T first, 0 last (the slider's options)."""
        return [int(s) for s in self.trajectory.steps] if self.trajectory is not None else []

    def clip(self, i: int) -> Clip:
        return clip_from_channels(self.pixels[i], self.joints)

    def clips(self, idx=None) -> list[Clip]:
        return [self.clip(i) for i in (range(self.num_samples) if idx is None else idx)]

    def titles(self, idx=None) -> list[str]:
        return [f"{self.tag} #{i}" for i in (range(self.num_samples) if idx is None else idx)]

    def xy(self, i: int) -> np.ndarray:
        return self.pixels[i].reshape(self.window, len(self.joints), 2)

    def denoise_state(self, step: int, sample: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(kept step nearest to `step`, x_t, x0-hat) for one sample, as (W, J, 2) pixels. No model call."""
        if self.trajectory is None:
            raise MotionlabError("this result kept no denoising trajectory")
        if not 0 <= sample < self.num_samples:
            raise MotionlabError(f"sample {sample} is out of range 0..{self.num_samples - 1}")
        k = self.trajectory.nearest(step)
        j = len(self.joints)

        def px(a):  # (C, W) float16 normalized -> (W, J, 2) pixels
            return Normalizer(self.mean, self.std).unnormalize(a).reshape(-1, j, 2)

        return int(self.trajectory.steps[k]), px(self.trajectory.x_t[k, sample]), px(self.trajectory.pred_x0[k, sample])

    @property
    def nbytes(self) -> int:
        return self.pixels.nbytes + (self.trajectory.nbytes if self.trajectory is not None else 0)


ProgressFn = Callable[[int, int, "np.ndarray | None"], None]


def settings_key(sampler: SamplerChoice, precision: str, num_timesteps: int) -> str:
    return f"{sampler.label(num_timesteps)}/{precision}"


def run_sampling(lm: LoadedModel, num_samples: int, seed: int = 42, precision: str = "auto",
                 keep_trajectory: bool = True, budget: int = 64 * 2**20, on_progress: ProgressFn | None = None,
                 preview_samples: int = 4, preview_interval_s: float = 0.5, name: str = "", tag: str = "",
                 mtime_ns: int = 0, sampler: SamplerChoice = SPEC_SAMPLER, threads=None) -> SampleResult:
    """Sampling with progress, any sampler.

    on_progress(done, total, preview) runs after every step; preview is the current x0-hat of the
    first `preview_samples` samples as (n, W, J, 2) pixels at most every `preview_interval_s`
    seconds (and at the last step), else None.
    """
    total = sampler.build(lm.diffusion).num_steps
    threads = threads or config.torch_threads() or "auto"
    state = {"done": 0, "last": 0.0}

    def step(out):
        state["done"] += 1
        if on_progress is None:
            return
        now = time.perf_counter()
        preview = None
        if state["done"] == total or now - state["last"] >= preview_interval_s:
            state["last"] = now
            x0 = out.pred_x0[:preview_samples]
            preview = lm.unnormalize(x0).reshape(x0.shape[0], -1, len(lm.joints), 2)
        on_progress(state["done"], total, preview)

    t0 = time.perf_counter()
    run = generate(lm.model, lm.diffusion, num_samples, lm.window, seed=seed, sampler=sampler, precision=precision,
                   threads=threads, keep_trajectory=keep_trajectory, on_step=step, budget=budget)
    px = lm.unnormalize(run.x).astype(np.float32)
    T = lm.diffusion.num_timesteps
    return SampleResult(lm.path, name or lm.path, tag or str(lm.meta["train_config"].get("tag") or ""), int(seed),
                        run.precision, T, tuple(lm.joints), lm.mean, lm.std, px, run.trajectory,
                        round(time.perf_counter() - t0, 3), mtime_ns, run.sampler,
                        settings_key(sampler, precision, T), run.tuning, weights=lm.weights)


def accept_upload(state: MutableMapping, name: str, file_id: str, size: int, read: Callable[[], bytes],
                  limit_bytes: int) -> str:
    """Validate an uploaded clip once per file; keep it in `state` when good. Returns the error ('' if none).

    The size is checked before the bytes are read or parsed; `read` returns the file's bytes.
    """
    seen = state.get(UPLOAD_CHECK)
    if isinstance(seen, dict) and seen.get("file_id") == file_id:
        return seen["error"]
    try:
        if size > limit_bytes:
            raise ClipError(f"{name}: {size / 2**20:.1f} MB exceeds the {limit_bytes // 2**20} MB limit for clip files")
        clip = loads_clip(read(), min_frames=8, source=name)
        state[UPLOADED_CLIP] = {"clip": clip, "name": f"upload:{name}", "file_id": file_id, "bytes": size}
        error = ""
    except MotionlabError as e:
        error = str(e).strip().splitlines()[0]
    state[UPLOAD_CHECK] = {"file_id": file_id, "error": error}
    return error


def sample_entries(report: "Report", models: list, num_samples: int, seed: int, precision: str,
                   sampler: SamplerChoice = SPEC_SAMPLER) -> list[tuple]:
    """Sample each (catalog entry, LoadedModel) in turn, without trajectories, as one job's progress.

    Returns (pixel_key, SampleResult) pairs, ready for remember_result.
    """
    out = []
    for k, (e, lm) in enumerate(models):
        r = run_sampling(lm, num_samples, seed, precision, keep_trajectory=False,
                         on_progress=step_reporter(report, e.short, k, len(models)),
                         name=e.name, tag=e.tag, mtime_ns=e.mtime_ns, sampler=sampler)
        out.append((r.key, r))
    return out


def store_result(state: MutableMapping, result: SampleResult) -> None:
    state[SAMPLE_RESULT] = result


def get_result(state: MutableMapping) -> SampleResult | None:
    r = state.get(SAMPLE_RESULT)
    return r if isinstance(r, SampleResult) else None


def entry_key(entry, seed: int, num_samples: int, sampler: SamplerChoice, precision: str) -> tuple:
    """The pixel_key a catalog entry's samples get under these settings."""
    return pixel_key(entry.path, entry.mtime_ns, seed, num_samples,
                     settings_key(sampler, precision, entry.timesteps))


def pixel_key(path: str, mtime_ns: int, seed: int, num_samples: int, settings: str) -> tuple:
    """settings: settings_key(sampler, requested precision, T)."""
    return (str(path), int(mtime_ns), int(seed), int(num_samples), str(settings))


def pixel_cache(state: MutableMapping) -> "OrderedDict[tuple, SampleResult]":
    c = state.get(PIXEL_CACHE)
    if not isinstance(c, OrderedDict):
        c = state[PIXEL_CACHE] = OrderedDict()
    return c


def cached_result(state: MutableMapping, key: tuple) -> SampleResult | None:
    """A result this session already drew for (path, mtime, seed, n, settings), if any.

    The sample page's latest result counts too. Only exact keys match: the noise is drawn for
    the whole batch, so the first n of a larger draw differ from a draw of n.
    """
    c = pixel_cache(state)
    if key in c:
        c.move_to_end(key)
        return c[key]
    r = get_result(state)
    if r is not None and r.key == key:
        return r
    return None


def remember_result(state: MutableMapping, key: tuple, result: SampleResult,
                    max_bytes: int = PIXEL_CACHE_BYTES) -> None:
    """Keep a result (without its trajectory) for the compare and metrics pages; oldest go first."""
    if result.trajectory is not None:
        result = replace(result, trajectory=None)
    c = pixel_cache(state)
    c[key] = result
    c.move_to_end(key)
    while len(c) > 1 and sum(v.nbytes for v in c.values()) > max_bytes:
        c.popitem(last=False)


@dataclass
class ComparePanel:
    """One panel of the compare page: a sample of a checkpoint or a window of the real clip."""
    name: str
    xy: np.ndarray       # (T, J, 2)
    joints: tuple
    source: str = ""     # checkpoint path or clip name
    meta: dict = field(default_factory=dict)

    def clip(self) -> Clip:
        return Clip(tuple(self.joints), np.ascontiguousarray(self.xy, dtype=np.float32))


def nearest_panels(panels: list[ComparePanel], clip: Clip | None, clip_name: str = "real") -> dict[str, ComparePanel]:
    """For each sample panel, the clip window nearest to it (motionlab.novelty: stride 1, centred RMS).

    Keys are the sample panel names; meta holds start, distance (pixels per coordinate) and of (the
    sample's name). Samples whose joints or length the clip cannot match get none.
    """
    from ..novelty import NoveltyError, clip_windows

    out: dict[str, ComparePanel] = {}
    if clip is None:
        return out
    by_len: dict[int, list[ComparePanel]] = {}
    for p in panels:
        if "start" not in p.meta and tuple(p.joints) == tuple(clip.joints) and np.isfinite(p.xy).all():
            by_len.setdefault(p.xy.shape[0], []).append(p)
    for w, group in by_len.items():
        try:
            offs, dist = clip_windows(clip.channels, w).nearest(np.stack([p.xy.reshape(w, -1) for p in group]))
        except NoveltyError:  # a clip shorter than the window, or NaN in a sample
            continue
        for p, o, d in zip(group, offs, dist):
            o = int(o)
            out[p.name] = ComparePanel(f"{clip_name} @{o}, nearest to {p.name}", clip.xy[o:o + w], clip.joints,
                                       clip_name, {"start": o, "distance": float(d), "of": p.name})
    return out


def compare_panels(samples: list[tuple[str, np.ndarray, tuple]], clip: Clip | None, real_window: int,
                   real_count: int, real_start: int, clip_name: str = "real") -> list[ComparePanel]:
    """Panels for every sample of every checkpoint, then `real_count` consecutive real windows.

    samples: (tag, (N, W, C) pixels, joints) per checkpoint. Real windows start at real_start and
    follow each other; windows that would run past the clip's end are left out.
    """
    out = []
    tags_seen: dict[str, int] = {}
    for tag, px, joints in samples:
        n = tags_seen[tag] = tags_seen.get(tag, 0) + 1
        label = tag if n == 1 else f"{tag} ({n})"
        j = len(joints)
        for i in range(px.shape[0]):
            out.append(ComparePanel(f"{label} #{i}", px[i].reshape(px.shape[1], j, 2), tuple(joints), tag))
    if clip is not None and real_count > 0:
        for k in range(real_count):
            s = int(real_start) + k * int(real_window)
            if s < 0 or s + real_window > clip.num_frames:
                break
            out.append(ComparePanel(f"{clip_name} @{s}", clip.xy[s:s + real_window], clip.joints, clip_name,
                                    {"start": s}))
    return out


# -- background jobs ---------------------------------------------------------------------------

class Cancelled(Exception):
    """Raised inside a job's progress callback after cancel()."""


Report = Callable[..., None]  # report(fraction, text, preview=None)


class Job:
    """Work (sampling) on a thread of its own, so widget changes and page switches do not abort it.

    fn(report) does the work and returns its result; report(fraction, text, preview=None) records
    progress and raises Cancelled once cancel() was called. The job touches no Streamlit API: the
    page polls it (a fragment with run_every) and takes the result when it is done.
    """

    def __init__(self, fn: Callable[[Report], object], label: str = "", meta: dict | None = None):
        self.label = label
        self.meta = dict(meta or {})
        self.fraction, self.text, self.preview = 0.0, "starting…", None
        self.result, self.error, self.cancelled = None, "", False
        self.started, self.finished = time.time(), None
        self._cancel = threading.Event()
        self._fn = fn
        self._thread = threading.Thread(target=self._run, name=f"motionlab-job-{label}", daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def _report(self, fraction: float, text: str = "", preview=None) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        self.fraction = float(min(max(fraction, 0.0), 1.0))
        if text:
            self.text = text
        if preview is not None:
            self.preview = preview

    def _run(self) -> None:
        try:
            self.result = self._fn(self._report)
            self.fraction = 1.0
        except Cancelled:
            self.cancelled = True
        except MotionlabError as e:
            self.error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        except Exception as e:  # one line for the page, never a traceback
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            self.error = f"{self.label or 'job'} failed: {type(e).__name__}" + (f": {first}" if first else "")
        finally:
            self.finished = time.time()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self.finished is None

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.running


def start_job(state: MutableMapping, name: str, fn: Callable[[Report], object], label: str = "",
              meta: dict | None = None) -> Job:
    jobs = state.setdefault(JOBS, {})
    old = jobs.get(name)
    if isinstance(old, Job) and old.running:
        raise MotionlabError(f"a {name} job is already running; wait for it or cancel it")
    job = jobs[name] = Job(fn, label or name, meta)
    return job.start()


def get_job(state: MutableMapping, name: str) -> Job | None:
    j = state.get(JOBS, {}).get(name)
    return j if isinstance(j, Job) else None


def pop_job(state: MutableMapping, name: str) -> Job | None:
    return state.get(JOBS, {}).pop(name, None)


def step_reporter(report: Report, text: str = "", part: int = 0, parts: int = 1) -> ProgressFn:
    """An on_progress for run_sampling that reports part `part` of `parts` to a job."""
    def on_progress(done: int, total: int, preview) -> None:
        report((part + done / total) / parts, f"{text}: step {total - done} of {total} left" if text
               else f"step {total - done} of {total} left", preview)
    return on_progress
