"""Seeded sampling from a model or a checkpoint, with any sampler and an optional denoising trajectory."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from motionlab.core import autotune
from motionlab.core.loop import sample_steps
from motionlab.core.samplers import SPEC_SAMPLER, SamplerChoice
from motionlab.errors import MotionlabError
from motionlab.formats.checkpoints import LoadedModel

MAX_SAMPLES = 64
TRAJECTORY_BUDGET_BYTES = 96 * 2**20  # the slider's kept states, x_t and x0-hat together


@dataclass
class Trajectory:
    """Kept denoising states for a slider: index k holds x at noise level steps[k].

    Levels count 1-based from the clean end: a state at 0-based timestep t has level t + 1, T is
    pure noise and 0 the final sample. They are the sampler's own timesteps (every k-th of them
    when the budget asks). States are float16 arrays (K, N, C, W) in normalized units.
    """
    steps: np.ndarray
    x_t: np.ndarray
    pred_x0: np.ndarray

    def nearest(self, step: int) -> int:
        return int(np.abs(self.steps - step).argmin())

    @property
    def nbytes(self) -> int:
        return self.x_t.nbytes + self.pred_x0.nbytes


@dataclass
class SampleRun:
    """What one sampling call made: (N, C, W) normalized samples, and how they were made."""
    x: torch.Tensor
    sampler: str                   # e.g. "ddpm-400"
    precision: str
    threads: int
    seconds: float
    tuning: str = ""               # how precision and threads were picked (autotune.Choice.describe)
    trajectory: Trajectory | None = None
    pixels: np.ndarray | None = None  # (N, W, C) pixels, when sampled from a checkpoint


def trajectory_stride(num_steps: int, shape: tuple, budget: int = TRAJECTORY_BUDGET_BYTES) -> int:
    """Smallest k such that keeping every k-th state (and both ends) fits the budget."""
    per_state = 2 * 2 * int(np.prod(shape))  # x_t and x0-hat, float16
    k = 1
    while (num_steps // k + 2) * per_state > budget and k < num_steps:
        k += 1
    return k


def generate(model, diffusion, num_samples: int, window: int, seed: int = 42, *,
             sampler: SamplerChoice = SPEC_SAMPLER, device="cpu", precision: str = "fp32", threads=None,
             keep_trajectory: bool = False, on_step: Callable | None = None,
             budget: int = TRAJECTORY_BUDGET_BYTES,
             known: torch.Tensor | None = None, mask: torch.Tensor | None = None, resample: int = 1) -> SampleRun:
    """Sample (N, C, W) normalized clips; same seed and settings, same samples.

    The noise comes from a CPU torch.Generator so results do not depend on the device.
    precision and threads may be 'auto' (motionlab.core.autotune); threads None keeps torch's setting.
    on_step(step_output) is called after each step (for progress and live previews).
    known/mask/resample: masked sampling (GaussianDiffusion.sample_steps; motionlab.edit builds them).
    """
    if not 1 <= num_samples <= MAX_SAMPLES:
        raise MotionlabError(f"number of samples must be 1..{MAX_SAMPLES}, got {num_samples}")
    if window < 8:
        raise MotionlabError(f"window must be at least 8 frames, got {window}")
    if not -2**63 <= int(seed) < 2**64:  # what torch.Generator.manual_seed accepts
        raise MotionlabError(f"seed must be a 64-bit integer, got {seed}")
    shape = (num_samples, model.cfg.in_channels, window)
    steps_sampler = sampler.build(diffusion)
    try:
        choice = autotune.choose(model, shape, device, precision,
                                 torch.get_num_threads() if threads is None else threads,
                                 passes=steps_sampler.num_steps * resample)  # what measuring may cost is judged against this
    except ValueError as e:
        raise MotionlabError(str(e)) from None
    gen = torch.Generator().manual_seed(int(seed))
    k = trajectory_stride(steps_sampler.num_steps, shape, budget) if keep_trajectory else 0
    levels, xs, x0s = [], [], []
    out = None
    t0 = time.perf_counter()
    for i, out in enumerate(sample_steps(diffusion, model, shape, gen, sampler=steps_sampler, device=device,
                                         precision=choice.precision, known=known, mask=mask, resample=resample)):
        if keep_trajectory and i % k == 0:
            levels.append(out.t + 1)
            xs.append(out.x_t.half().cpu().numpy())
            x0s.append(out.pred_x0.half().cpu().numpy())
        if on_step is not None:
            on_step(out)
    final = out.prev_sample.float()
    traj = None
    if keep_trajectory:
        levels.append(0)
        xs.append(final.half().cpu().numpy())
        x0s.append(final.half().cpu().numpy())
        traj = Trajectory(np.array(levels), np.stack(xs), np.stack(x0s))
    return SampleRun(final, sampler.label(diffusion.num_timesteps), choice.precision, choice.threads,
                     time.perf_counter() - t0, choice.describe(), traj)


def sample_checkpoint(lm: LoadedModel, num_samples: int = 8, seed: int = 42, *,
                      sampler: SamplerChoice = SPEC_SAMPLER, precision: str = "fp32", threads=None,
                      device="cpu", **kw) -> SampleRun:
    """Samples from a loaded checkpoint; the run's .pixels are (N, W, C)."""
    run = generate(lm.model, lm.diffusion, num_samples, lm.window, seed=seed, sampler=sampler,
                   device=device, precision=precision, threads=threads, **kw)
    run.pixels = lm.unnormalize(run.x)
    return run
