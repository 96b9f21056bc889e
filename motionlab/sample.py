"""Seeded DDPM sampling from a checkpoint, with an optional denoising trajectory.

    python -m motionlab.sample --checkpoint checkpoints/long_1000.pt --num-samples 8 --seed 42 --out samples/ --gif
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .checkpoints import LoadedModel, load_model
from .cli import run_main
from .clip import clip_from_channels, save_clip
from .errors import MotionlabError

MAX_SAMPLES = 64
TRAJECTORY_BUDGET_BYTES = 96 * 2**20  # the slider's kept states, x_t and x0-hat together


@dataclass
class Trajectory:
    """Kept denoising states for a slider: index k holds x at noise level steps[k].

    steps runs from T (pure noise) down to 0 (the final sample); states are float16
    arrays (K, N, C, W) in normalized units.
    """
    steps: np.ndarray
    x_t: np.ndarray
    pred_x0: np.ndarray

    def nearest(self, step: int) -> int:
        return int(np.abs(self.steps - step).argmin())

    @property
    def nbytes(self) -> int:
        return self.x_t.nbytes + self.pred_x0.nbytes


def trajectory_stride(timesteps: int, shape: tuple, budget: int = TRAJECTORY_BUDGET_BYTES) -> int:
    """Smallest k such that keeping every k-th state (and both ends) fits the budget."""
    per_state = 2 * 2 * int(np.prod(shape))  # x_t and x0-hat, float16
    k = 1
    while (timesteps // k + 2) * per_state > budget and k < timesteps:
        k += 1
    return k


def generate(model, diffusion, num_samples: int, window: int, channels: int, seed: int = 42,
             device="cpu", precision: str = "fp32", keep_trajectory: bool = False,
             on_step: Callable | None = None, budget: int = TRAJECTORY_BUDGET_BYTES):
    """Sample (N, C, W) normalized clips; same seed, same samples.

    The noise comes from a CPU torch.Generator so results do not depend on the device.
    on_step(step_output) is called after each step (for progress and live previews).
    Returns the samples, or (samples, Trajectory) with keep_trajectory.
    """
    if not 1 <= num_samples <= MAX_SAMPLES:
        raise MotionlabError(f"number of samples must be 1..{MAX_SAMPLES}, got {num_samples}")
    if window < 8:
        raise MotionlabError(f"window must be at least 8 frames, got {window}")
    if not -2**63 <= int(seed) < 2**64:  # what torch.Generator.manual_seed accepts
        raise MotionlabError(f"seed must be a 64-bit integer, got {seed}")
    gen = torch.Generator().manual_seed(int(seed))
    shape = (num_samples, channels, window)
    T = diffusion.num_timesteps
    k = trajectory_stride(T, shape, budget) if keep_trajectory else 0
    steps, xs, x0s = [], [], []
    out = None
    for out in diffusion.sample_steps(model, shape, generator=gen, device=device,
                                      precision=precision):
        level = out.t + 1  # x_t is the state at noise level t+1 in 1-based terms (T = pure noise)
        if keep_trajectory and (level == T or level % k == 0):
            steps.append(level)
            xs.append(out.x_t.half().cpu().numpy())
            x0s.append(out.pred_x0.half().cpu().numpy())
        if on_step is not None:
            on_step(out)
    final = out.prev_sample.float()
    if not keep_trajectory:
        return final
    steps.append(0)
    xs.append(final.half().cpu().numpy())
    x0s.append(final.half().cpu().numpy())
    return final, Trajectory(np.array(steps), np.stack(xs), np.stack(x0s))


def sample_checkpoint(lm: LoadedModel, num_samples: int = 8, seed: int = 42, precision: str = "fp32",
                      device="cpu", **kw):
    """Samples from a loaded checkpoint, returned as (N, W, C) pixels (and the trajectory if asked)."""
    res = generate(lm.model, lm.diffusion, num_samples, lm.window, 2 * len(lm.joints), seed=seed,
                   device=device, precision=precision, **kw)
    if isinstance(res, tuple):
        return lm.unnormalize(res[0]), res[1]
    return lm.unnormalize(res)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.sample", description="Sample motion clips from a checkpoint.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--gif", action="store_true")
    p.add_argument("--mp4", action="store_true")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--grid", action="store_true", help="also one side-by-side video of all samples (samples.gif/.mp4)")
    a = p.parse_args(argv)
    if not 1 <= a.fps <= 120:
        raise MotionlabError(f"--fps must be 1..120, got {a.fps}")
    lm = load_model(a.checkpoint)
    out = Path(a.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MotionlabError(f"cannot create output folder {out}: {e.strerror}") from None
    px = sample_checkpoint(lm, a.num_samples, a.seed, a.precision)
    if not np.isfinite(px).all():  # such files would not load back as clips
        raise MotionlabError(f"{a.checkpoint}: samples contain NaN or inf; nothing written")
    from .render import write_video
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
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, "files": written}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.sample", main))
