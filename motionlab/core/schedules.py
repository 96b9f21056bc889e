"""Noise schedules: betas built by name, and the cumulative quantities that training and samplers read.

All arrays are float64 numpy, indexed by the 0-based timestep t = 0..T-1 (as in
openai/improved-diffusion). Index -1 in `alpha_bar` means clean data: alpha_bar(-1) = 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

SCHEDULES = ("linear", "cosine", "linear_zero_snr")


def linear_betas(timesteps: int, beta_start: float, beta_end: float) -> np.ndarray:
    """Ho et al. 2020: betas evenly spaced from beta_start to beta_end (the spec's schedule)."""
    return np.linspace(beta_start, beta_end, timesteps, dtype=np.float64)


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Nichol & Dhariwal 2021, eq. 17: alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), betas capped."""
    f = lambda t: math.cos((t / timesteps + s) / (1 + s) * math.pi / 2) ** 2
    return np.array([min(1 - f(i + 1) / f(i), max_beta) for i in range(timesteps)], dtype=np.float64)


def rescale_zero_terminal_snr(betas: np.ndarray) -> np.ndarray:
    """Lin et al. 2024, Alg. 1: shift and scale sqrt(alpha_bar) so the last step is pure noise (SNR 0)
    while the first keeps its value."""
    sqrt_ab = np.sqrt(np.cumprod(1.0 - betas))
    first, last = sqrt_ab[0], sqrt_ab[-1]
    sqrt_ab = (sqrt_ab - last) * first / (first - last)
    ab = sqrt_ab ** 2
    alphas = np.concatenate([ab[:1], ab[1:] / ab[:-1]])
    return 1.0 - alphas


def make_betas(schedule: str, timesteps: int, beta_start: float, beta_end: float) -> np.ndarray:
    if schedule == "linear":
        return linear_betas(timesteps, beta_start, beta_end)
    if schedule == "cosine":
        return cosine_betas(timesteps)
    if schedule == "linear_zero_snr":
        return rescale_zero_terminal_snr(linear_betas(timesteps, beta_start, beta_end))
    raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """A discrete forward process q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)."""
    betas: np.ndarray

    @property
    def num_timesteps(self) -> int:
        return len(self.betas)

    @cached_property
    def alphas_cumprod(self) -> np.ndarray:
        return np.cumprod(1.0 - self.betas)

    def alpha_bar(self, t: int) -> float:
        """alpha_bar at a 0-based timestep; t = -1 is clean data."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])
