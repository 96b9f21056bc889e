"""Seeded sampling from a checkpoint, with any sampler and an optional denoising trajectory.

    python -m motionlab.sample --checkpoint checkpoints/long_10000/model.pt --num-samples 8 --seed 42 --out samples/ --gif
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from motionlab.core import autotune
from motionlab.formats.checkpoints import LoadedModel, load_model
from motionlab.cli import run_main
from motionlab.data.clip import clip_from_channels, save_clip
from motionlab.errors import MotionlabError
from motionlab.core.samplers import SAMPLERS, Sampler, make_sampler

MAX_SAMPLES = 64
TRAJECTORY_BUDGET_BYTES = 96 * 2**20  # the slider's kept states, x_t and x0-hat together


@dataclass(frozen=True)
class SamplerChoice:
    """Which sampler and how many steps: a sampling-time choice, never stored in a checkpoint."""
    name: str = "ddpm"
    steps: int | None = None  # None: the schedule's full chain
    eta: float = 0.0          # DDIM only

    def __post_init__(self):
        if self.name not in SAMPLERS:
            raise MotionlabError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.name!r}")
        if self.steps is not None and (isinstance(self.steps, bool) or int(self.steps) != self.steps
                                       or self.steps < 1):
            raise MotionlabError(f"steps must be a positive integer, got {self.steps!r}")
        if not 0.0 <= self.eta <= 1.0 or (self.eta and self.name != "ddim"):
            raise MotionlabError(f"eta must be in [0, 1] and is for ddim only, got {self.eta} for {self.name}")

    def steps_for(self, num_timesteps: int) -> int:
        """Steps taken on a schedule of this length: a chain shorter than `steps` is walked whole."""
        return min(self.steps or num_timesteps, num_timesteps)

    def build(self, diffusion) -> Sampler:
        return make_sampler(self.name, diffusion, self.steps_for(diffusion.num_timesteps), self.eta)

    def label(self, num_timesteps: int) -> str:
        """e.g. 'ddpm-400', 'dpmpp-20', 'ddim-50 eta 0.5': what every table row and caption names."""
        return f"{self.name}-{self.steps_for(num_timesteps)}" + (f" eta {self.eta:g}" if self.eta else "")

    @classmethod
    def from_label(cls, label: str, num_timesteps: int) -> "SamplerChoice":
        """The inverse of label(): 'ddim-50 eta 0.5' -> SamplerChoice('ddim', 50, 0.5)."""
        try:
            head, *rest = label.split(" eta ")
            name, steps = head.rsplit("-", 1)
            n, eta = int(steps), float(rest[0]) if rest else 0.0
        except (ValueError, AttributeError):
            raise MotionlabError(f"not a sampler label: {label!r} (expected e.g. ddpm-400 or dpmpp-20)") from None
        return cls(name, None if n == num_timesteps else n, eta)

    @property
    def is_spec(self) -> bool:
        return self.name == "ddpm" and self.steps is None


SPEC_SAMPLER = SamplerChoice("ddpm")          # the spec's: ancestral, every one of the 400 steps
# the lab's and sample CLI's default: the spec's ancestral sampler on a 20-step respaced schedule; the
# deterministic samplers come out more damped at any step count (docs/SAMPLERS.md)
DEFAULT_SAMPLER = SamplerChoice("ddpm", 20)


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
                                 torch.get_num_threads() if threads is None else threads)
    except ValueError as e:
        raise MotionlabError(str(e)) from None
    gen = torch.Generator().manual_seed(int(seed))
    k = trajectory_stride(steps_sampler.num_steps, shape, budget) if keep_trajectory else 0
    levels, xs, x0s = [], [], []
    out = None
    t0 = time.perf_counter()
    for i, out in enumerate(diffusion.sample_steps(model, shape, generator=gen, device=device,
                                                   precision=choice.precision, sampler=steps_sampler,
                                                   known=known, mask=mask, resample=resample)):
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


def add_sampling_args(p: argparse.ArgumentParser, default: SamplerChoice, precision_default: str = "auto") -> None:
    """--sampler/--steps/--eta/--precision/--threads, shared by sample, evaluate and report."""
    p.add_argument("--sampler", choices=SAMPLERS, default=default.name,
                   help=f"default {default.name}" + (" (the spec's)" if default.is_spec else ""))
    p.add_argument("--steps", type=int, default=default.steps,
                   help="sampling steps (default: " + (f"{default.steps})" if default.steps else "the full chain)"))
    p.add_argument("--eta", type=float, default=0.0, help="DDIM's eta (0: deterministic)")
    p.add_argument("--precision", choices=autotune.PRECISIONS, default=precision_default,
                   help="auto: the faster of fp32 and bf16 on this machine, measured")
    p.add_argument("--threads", default="auto", help="torch threads: auto (measured) or a number")


def sampling_from_args(a) -> SamplerChoice:
    try:
        autotune.parse_threads(a.threads)
    except ValueError as e:
        raise MotionlabError(str(e)) from None
    return SamplerChoice(a.sampler, a.steps, a.eta)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.sample", description="Sample motion clips from a checkpoint.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True)
    add_sampling_args(p, DEFAULT_SAMPLER)
    p.add_argument("--gif", action="store_true")
    p.add_argument("--mp4", action="store_true")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--grid", action="store_true", help="also one side-by-side video of all samples (samples.gif/.mp4)")
    a = p.parse_args(argv)
    choice = sampling_from_args(a)
    if not 1 <= a.fps <= 120:
        raise MotionlabError(f"--fps must be 1..120, got {a.fps}")
    lm = load_model(a.checkpoint)
    out = Path(a.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MotionlabError(f"cannot create output folder {out}: {e.strerror}") from None
    run = sample_checkpoint(lm, a.num_samples, a.seed, sampler=choice, precision=a.precision, threads=a.threads)
    px = run.pixels
    if not np.isfinite(px).all():  # such files would not load back as clips
        raise MotionlabError(f"{a.checkpoint}: samples contain NaN or inf; nothing written")
    from motionlab.formats.render import write_video
    exts = [e for e, on in (("gif", a.gif), ("mp4", a.mp4)) if on]
    written, clips = [], []
    for i, s in enumerate(px):
        clip = clip_from_channels(s, lm.joints)
        clips.append(clip)
        save_clip(clip, out / f"sample_{i:02d}.json")
        written.append(str(out / f"sample_{i:02d}.json"))
        for ext in exts:
            write_video(out / f"sample_{i:02d}.{ext}", [clip], fps=a.fps)
            written.append(str(out / f"sample_{i:02d}.{ext}"))
    for ext in exts if a.grid else []:
        write_video(out / f"samples.{ext}", clips, fps=a.fps, titles=[f"#{i}" for i in range(len(clips))])
        written.append(str(out / f"samples.{ext}"))
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, "sampler": run.sampler,
                      "precision": run.precision, "threads": run.threads, "seconds": round(run.seconds, 2),
                      "files": written}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.sample", main))
