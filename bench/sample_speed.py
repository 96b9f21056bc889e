"""Seconds for N samples of 400 DDPM steps at window 256 (default model), fp32 and bf16; prints JSON.

    python bench/sample_speed.py [--checkpoint checkpoints/long_1000/model.pt] [--num-samples 8]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from motionlab.diffusion import DiffusionConfig, GaussianDiffusion  # noqa: E402
from motionlab.model import ModelConfig, PositionalUNet1D  # noqa: E402
from motionlab.sample import generate  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--timesteps", type=int, default=400)
    a = p.parse_args()
    if a.checkpoint:
        from motionlab.checkpoints import load_model
        lm = load_model(a.checkpoint)
        model, diffusion, window = lm.model, lm.diffusion, lm.window
    else:
        torch.manual_seed(0)
        model = PositionalUNet1D(ModelConfig()).eval()
        diffusion, window = GaussianDiffusion(DiffusionConfig(timesteps=a.timesteps)), a.window
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(), "num_samples": a.num_samples,
           "window": window, "steps": diffusion.num_timesteps}
    for prec in ("fp32", "bf16"):
        t = time.perf_counter()
        generate(model, diffusion, a.num_samples, window, 40, seed=42, precision=prec)
        res[f"{prec}_seconds"] = round(time.perf_counter() - t, 2)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
