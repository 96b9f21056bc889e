"""Per-session sampling results: pixels, the kept denoising trajectory and the pixel cache.

Everything here takes a plain mutable mapping (st.session_state in the app, a dict in tests).
Results never go into shared caches: two sessions sampling the same checkpoint keep their own.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import MutableMapping

import numpy as np

from motionlab.formats.checkpoints import LoadedModel
from motionlab.data.clip import Clip, clip_from_channels
from motionlab.errors import MotionlabError
from motionlab.data.normalize import Normalizer
from motionlab.core.samplers import SPEC_SAMPLER, SamplerChoice
from motionlab.pipeline.defaults import faithful_default
from motionlab.pipeline.sampling import Trajectory, generate
from motionlab.lab import config
from motionlab.lab.jobs import ProgressFn, Report, step_reporter
from motionlab.lab.keys import PIXEL_CACHE, SAMPLE_RESULT

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
    sampler: str = ""              # e.g. "ddpm-20"
    settings: str = ""             # the requested sampler and precision: part of the cache key
    tuning: str = ""               # how precision and threads were chosen
    weights: str = "raw"           # LoadedModel.weights: "ema" or "raw"
    # the denoising view's payloads, built once per sample and reused by later reruns (scrubber.payload)
    scrub_payloads: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def key(self) -> tuple:
        return pixel_key(self.path, self.mtime_ns, self.seed, self.num_samples, self.settings)

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

    @property
    def normalizer(self) -> Normalizer:
        return Normalizer(self.mean, self.std)

    def check_trajectory_sample(self, sample: int) -> None:
        """MotionlabError unless this result kept a trajectory and `sample` is one of its samples."""
        if self.trajectory is None:
            raise MotionlabError("this result kept no denoising trajectory")
        if not 0 <= sample < self.num_samples:
            raise MotionlabError(f"sample {sample} is out of range 0..{self.num_samples - 1}")

    def denoise_state(self, step: int, sample: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(kept step nearest to `step`, x_t, x0-hat) for one sample, as (W, J, 2) pixels. No model call."""
        self.check_trajectory_sample(sample)
        k = self.trajectory.nearest(step)
        j = len(self.joints)

        def px(a):  # (C, W) float16 normalized -> (W, J, 2) pixels
            return self.normalizer.unnormalize(a).reshape(-1, j, 2)

        return int(self.trajectory.steps[k]), px(self.trajectory.x_t[k, sample]), px(self.trajectory.pred_x0[k, sample])

    @property
    def nbytes(self) -> int:
        return self.pixels.nbytes + (self.trajectory.nbytes if self.trajectory is not None else 0)

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
    total = sampler.steps_for(lm.diffusion.num_timesteps)
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
    return SampleResult(lm.path, name or lm.path, tag or lm.checkpoint.tag, int(seed),
                        run.precision, T, tuple(lm.joints), lm.mean, lm.std, px, run.trajectory,
                        round(time.perf_counter() - t0, 3), mtime_ns, run.sampler,
                        settings_key(sampler, precision, T), run.tuning, weights=lm.weights)


def choice_for(entry, sampler: SamplerChoice | None) -> SamplerChoice:
    """The page's sampler, or (None) the entry's own faithful setting (motionlab.pipeline.defaults)."""
    return sampler if sampler is not None else faithful_default(entry.path).choice


def sample_entries(report: "Report", models: list, num_samples: int, seed: int, precision: str,
                   sampler: SamplerChoice | None = SPEC_SAMPLER) -> list[tuple]:
    """Sample each (catalog entry, LoadedModel) in turn, without trajectories, as one job's progress;
    sampler None: each entry with its own faithful setting.

    Returns (pixel_key, SampleResult) pairs, ready for remember_result.
    """
    out = []
    for k, (e, lm) in enumerate(models):
        r = run_sampling(lm, num_samples, seed, precision, keep_trajectory=False,
                         on_progress=step_reporter(report, e.short, k, len(models)),
                         name=e.name, tag=e.tag, mtime_ns=e.mtime_ns, sampler=choice_for(e, sampler))
        out.append((r.key, r))
    return out


def store_result(state: MutableMapping, result: SampleResult) -> None:
    state[SAMPLE_RESULT] = result


def kept(state: MutableMapping, key: str, cls: type):
    """A lab-owned object in the session, or None when absent or of another class (a stale session)."""
    v = state.get(key)
    return v if isinstance(v, cls) else None


def get_result(state: MutableMapping) -> SampleResult | None:
    return kept(state, SAMPLE_RESULT, SampleResult)


def entry_key(entry, seed: int, num_samples: int, sampler: SamplerChoice | None, precision: str) -> tuple:
    """The pixel_key a catalog entry's samples get under these settings (sampler None: its own default)."""
    return pixel_key(entry.path, entry.mtime_ns, seed, num_samples,
                     settings_key(choice_for(entry, sampler), precision, entry.timesteps))


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
