"""Seconds per training step (batch 16, window 256, 40 channels), fp32 vs bf16 autocast; prints JSON.

    python bench/train_step.py [--device cuda] [--steps 10] [--cuda-graph]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from motionlab.diffusion import DiffusionConfig, GaussianDiffusion, autocast  # noqa: E402
from motionlab.model import ModelConfig, PositionalUNet1D, count_parameters  # noqa: E402


def time_steps(model, diffusion, opt, x, precision, steps, device):
    def one():
        with autocast(device, precision):
            loss = diffusion.training_losses(model, x)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    for _ in range(2):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--window", type=int, default=256)
    a = p.parse_args()
    device = torch.device(a.device)
    torch.manual_seed(0)
    model = PositionalUNet1D(ModelConfig()).to(device).train()
    diffusion = GaussianDiffusion(DiffusionConfig())
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    x = torch.randn(a.batch_size, 40, a.window, device=device)
    res = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "params": count_parameters(model), "batch_size": a.batch_size, "window": a.window}
    for prec in ("fp32", "bf16"):
        res[f"{prec}_s_per_step"] = round(time_steps(model, diffusion, opt, x, prec, a.steps, device), 4)
    res["bf16_speedup"] = round(res["fp32_s_per_step"] / res["bf16_s_per_step"], 2)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
