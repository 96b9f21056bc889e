"""What a sampling step returns, and the dtype and noise helpers that the diffusion and every sampler share."""
from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch


class StepOutput(NamedTuple):
    t: int                   # the timestep this step denoised (0-based, T-1 ... 0)
    t_prev: int              # the timestep it stepped to; -1 means clean data
    x_t: torch.Tensor        # input of the step
    pred_x0: torch.Tensor    # the x0 estimate from x_t
    prev_sample: torch.Tensor  # x at t_prev; after the last step, the final sample


def autocast(device: torch.device | str, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    return contextlib.nullcontext()


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Noise shaped like x, drawn on the generator's device (a CPU generator gives device-independent samples)."""
    if generator is None or generator.device == x.device:
        return torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    return torch.randn(x.shape, device=generator.device, dtype=x.dtype, generator=generator).to(x.device)


def f32(v) -> torch.Tensor:
    """float64 coefficients are rounded once to float32, as the network's tensors are."""
    return torch.tensor(v, dtype=torch.float32)
