"""Seconds per training step (batch 16, window 256, 40 channels), fp32 vs bf16 autocast; prints JSON.

    python bench/train_step.py [--device cuda] [--steps 10] [--cuda-graph]

--cuda-graph times the captured step that `motionlab.train --cuda-graph` replays.
"""
import argparse
import json
import time

import torch

from motionlab.core.cuda_graphs import GraphStep, fast_cuda_backends
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.core.steps import autocast
from motionlab.core.model import ModelConfig, PositionalUNet1D, count_parameters
from motionlab.pipeline.training import TrainConfig


def time_steps(model, diffusion, opt, x, precision, steps, device, graph=False):
    def eager():
        with autocast(device, precision):
            loss = diffusion.training_losses(model, x)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    if graph:
        step = GraphStep(model, opt, diffusion, TrainConfig(precision=precision), tuple(x.shape), device)
        one = lambda: step(x)  # noqa: E731
    else:
        one = eager
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
    p.add_argument("--cuda-graph", action="store_true", help="time the captured step (CUDA only)")
    a = p.parse_args()
    device = torch.device(a.device)
    if a.cuda_graph and device.type != "cuda":
        p.error("--cuda-graph needs --device cuda")
    if device.type == "cuda":
        fast_cuda_backends()  # as the trainer runs
    torch.manual_seed(0)
    model = PositionalUNet1D(ModelConfig()).to(device).train()
    diffusion = GaussianDiffusion(DiffusionConfig()).to(device)
    x = torch.randn(a.batch_size, 40, a.window, device=device)
    res = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "params": count_parameters(model), "batch_size": a.batch_size, "window": a.window,
           "cuda_graph": a.cuda_graph}
    for prec in ("fp32", "bf16"):  # a fresh optimizer each, as a run starts
        opt = torch.optim.Adam(model.parameters(), lr=2e-4, capturable=a.cuda_graph)
        res[f"{prec}_s_per_step"] = round(time_steps(model, diffusion, opt, x, prec, a.steps, device,
                                                     a.cuda_graph), 4)
    res["bf16_speedup"] = round(res["fp32_s_per_step"] / res["bf16_s_per_step"], 2)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
