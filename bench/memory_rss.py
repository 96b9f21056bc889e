"""Resident memory across repeated sampling with the denoising trajectory kept; prints JSON.

    python bench/memory_rss.py                       # trains a tiny checkpoint in a temp folder first
    python bench/memory_rss.py --checkpoint runs/baseline_1epoch/best.pt --runs 20 --num-samples 8

Reports RSS (VmRSS from /proc/self/status) after loading, after each of --runs calls of
sample_checkpoint(keep_trajectory=True), and the growth after the first run (a leak shows as
steady growth; the first run pays for allocator pools and lazy torch init). Then it samples
8 x 256 frames x 400 steps once with the same network and reports how many bytes the kept
trajectory holds against sample.TRAJECTORY_BUDGET_BYTES, next to what keeping every step
would take.
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from motionlab.formats.checkpoints import load_model
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.pipeline.sampling import TRAJECTORY_BUDGET_BYTES, generate, sample_checkpoint, trajectory_stride
from motionlab.testing import tiny_run

MB = 2**20


def rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak, where /proc is missing


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="default: a tiny checkpoint trained on the demo clip")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--window", type=int, default=64, help="window of the tiny checkpoint")
    p.add_argument("--timesteps", type=int, default=50, help="steps of the tiny checkpoint")
    p.add_argument("--cap-samples", type=int, default=8)
    p.add_argument("--cap-frames", type=int, default=256)
    p.add_argument("--cap-steps", type=int, default=400)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: on a shared 2-core box, 2 OpenMP threads under load run ~100x slower)")
    a = p.parse_args()
    torch.set_num_threads(max(1, a.threads))

    with tempfile.TemporaryDirectory() as tmp:
        ck = Path(a.checkpoint) if a.checkpoint else tiny_run(Path(tmp), window=a.window, stride=16, limit=8, epochs=1,
                                                              timesteps=a.timesteps, frames=480) / "best.pt"
        lm = load_model(ck)
        gc.collect()
        before = rss_bytes()
        after_each, traj_bytes = [], []
        t0 = time.perf_counter()
        for i in range(a.runs):
            run = sample_checkpoint(lm, a.num_samples, seed=i, keep_trajectory=True)
            px, traj = run.pixels, run.trajectory
            traj_bytes.append(traj.nbytes)
            assert traj.nbytes <= TRAJECTORY_BUDGET_BYTES and np.isfinite(px).all()
            del px, traj, run
            gc.collect()
            after_each.append(rss_bytes())
        seconds = time.perf_counter() - t0

        # the cap: same network, a 400-step schedule, 8 x 256 frames
        C = 2 * len(lm.joints)
        shape = (a.cap_samples, C, a.cap_frames)
        diffusion = GaussianDiffusion(DiffusionConfig(timesteps=a.cap_steps))
        per_state = 2 * 2 * int(np.prod(shape))  # x_t and x0-hat in float16
        gc.collect()
        before_cap = rss_bytes()
        t1 = time.perf_counter()
        traj = generate(lm.model, diffusion, a.cap_samples, a.cap_frames, seed=0, keep_trajectory=True).trajectory
        cap = {
            "shape": {"samples": a.cap_samples, "channels": C, "frames": a.cap_frames, "steps": a.cap_steps},
            "budget_bytes": TRAJECTORY_BUDGET_BYTES,
            "every_step_would_be_bytes": (a.cap_steps + 1) * per_state,
            "kept_bytes": int(traj.nbytes),
            "kept_states": int(len(traj.steps)),
            "stride": trajectory_stride(a.cap_steps, shape),
            "within_budget": bool(traj.nbytes <= TRAJECTORY_BUDGET_BYTES),
            "rss_growth_mb": round((rss_bytes() - before_cap) / MB, 1),
            "seconds": round(time.perf_counter() - t1, 2),
        }
        del traj
        gc.collect()

    print(json.dumps({
        "checkpoint": str(a.checkpoint or f"tiny (window {a.window}, {a.timesteps} steps, demo clip)"),
        "window": lm.window, "timesteps": lm.diffusion.num_timesteps, "num_samples": a.num_samples,
        "runs": a.runs, "threads": torch.get_num_threads(), "seconds": round(seconds, 2),
        "rss_before_mb": round(before / MB, 1),
        "rss_after_mb": round(after_each[-1] / MB, 1),
        "rss_after_first_run_mb": round(after_each[0] / MB, 1),
        "rss_growth_after_first_run_mb": round((after_each[-1] - after_each[0]) / MB, 1),
        "rss_after_each_mb": [round(v / MB, 1) for v in after_each],
        "trajectory_bytes_per_run": traj_bytes[0],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trajectory_cap": cap,
    }, indent=1))


if __name__ == "__main__":
    main()
