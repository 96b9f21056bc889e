"""Samplers: how to walk from pure noise to data over a chosen subset of a schedule's timesteps.

A sampler is made for one run (DPM-Solver++ keeps state between steps). It picks its own
`timesteps` (descending, 0-based) for the requested number of steps, and `step()` takes the
network's output at one of them and returns a StepOutput with x_{t_prev} and the x0 estimate,
like the `step()` of diffusers' schedulers. Any schedule and either prediction type work, since
the x0/eps estimates come from GaussianDiffusion.predict_x0_eps.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from motionlab.core.diffusion import GaussianDiffusion, StepOutput, f32, randn_like

SAMPLERS = ("ddpm", "ddim", "dpmpp")
SAMPLER_LABELS = {"ddpm": "DDPM (ancestral)", "ddim": "DDIM", "dpmpp": "DPM-Solver++(2M)"}


def spaced_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """`steps` timesteps, descending from T-1 ("trailing" spacing, Lin et al. 2024 table 2): the first
    step always starts at the schedule's pure-noise end, and steps == T gives the full chain."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be 1..{num_timesteps} (the schedule's length), got {steps!r}")
    ts = np.round(np.arange(num_timesteps, 0, -num_timesteps / steps)).astype(int) - 1
    return [int(t) for t in ts]


class Sampler:
    name = ""

    def __init__(self, diffusion: GaussianDiffusion, steps: int | None = None):
        self.diffusion = diffusion
        self.schedule = diffusion.schedule
        self.timesteps = spaced_timesteps(diffusion.num_timesteps, steps or diffusion.num_timesteps)
        self._prev = dict(zip(self.timesteps, self.timesteps[1:] + [-1]))

    @property
    def num_steps(self) -> int:
        return len(self.timesteps)

    def prev_timestep(self, t: int) -> int:
        try:
            return self._prev[t]
        except KeyError:
            raise ValueError(f"timestep {t} is not one of this sampler's {self.num_steps} timesteps") from None

    def _estimates(self, model_output, t: int, x_t):
        tt = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
        return self.diffusion.predict_x0_eps(model_output, x_t, tt)

    def step(self, model_output: torch.Tensor, t: int, x_t: torch.Tensor,
             generator: torch.Generator | None = None) -> StepOutput:
        raise NotImplementedError

    def state(self):
        """What step() carries from one call to the next (None: nothing); for RePaint's repeats."""
        return None

    def restore(self, state) -> None:
        pass


class DDPMSampler(Sampler):
    """Ancestral sampling (Ho et al. 2020, Alg. 2). Over fewer steps it is the same process on the
    respaced schedule (Nichol & Dhariwal 2021, sec. 4): beta'_t = 1 - alpha_bar_t / alpha_bar_prev."""
    name = "ddpm"

    def coefficients(self, t: int) -> tuple[float, float, float]:
        """(x0 coefficient, x_t coefficient, sigma) of the step from t to its previous kept timestep,
        in float64: the posterior q(x_prev | x_t, x0) = N(c0 x0 + ct x_t, sigma^2)."""
        s, sch = self.prev_timestep(t), self.schedule
        ab_t, ab_s = sch.alpha_bar(t), sch.alpha_bar(s)
        beta = float(sch.betas[t]) if s == t - 1 else 1.0 - ab_t / ab_s
        c0 = beta * math.sqrt(ab_s) / (1.0 - ab_t)
        ct = (1.0 - ab_s) * math.sqrt(1.0 - beta) / (1.0 - ab_t)
        var = beta if self.diffusion.cfg.variance == "beta" else beta * (1.0 - ab_s) / (1.0 - ab_t)
        return c0, ct, math.sqrt(var)

    def step(self, model_output, t, x_t, generator=None):
        x0, _ = self._estimates(model_output, t, x_t)
        c0, ct, sigma = (f32(c) for c in self.coefficients(t))
        mean = c0 * x0 + ct * x_t
        s = self.prev_timestep(t)
        prev = mean + sigma * randn_like(x_t, generator) if s >= 0 else mean
        return StepOutput(t, s, x_t, x0, prev)


class DDIMSampler(Sampler):
    """Song et al. 2021, eq. 12: x_s = sqrt(ab_s) x0 + sqrt(1 - ab_s - sigma^2) eps + sigma z, with
    sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s). eta = 0 is deterministic."""
    name = "ddim"

    def __init__(self, diffusion, steps=None, eta: float = 0.0):
        super().__init__(diffusion, steps)
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"eta must be in [0, 1], got {eta}")
        self.eta = float(eta)

    def step(self, model_output, t, x_t, generator=None):
        x0, eps = self._estimates(model_output, t, x_t)
        s = self.prev_timestep(t)
        ab_t, ab_s = self.schedule.alpha_bar(t), self.schedule.alpha_bar(s)
        sigma = self.eta * math.sqrt((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)) if s >= 0 else 0.0
        prev = f32(math.sqrt(ab_s)) * x0 + f32(math.sqrt(max(1 - ab_s - sigma ** 2, 0.0))) * eps
        if sigma > 0:
            prev = prev + f32(sigma) * randn_like(x_t, generator)
        return StepOutput(t, s, x_t, x0, prev)


class DPMSolverPP2MSampler(Sampler):
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2), the data-prediction multistep solver.

    With alpha_t = sqrt(ab_t), sigma_t = sqrt(1 - ab_t), lambda_t = log(alpha_t / sigma_t) and
    h = lambda_s - lambda_t:  x_s = (sigma_s / sigma_t) x_t - alpha_s (exp(-h) - 1) D, where D is the
    x0 estimate (first order) or (1 + 1/2r) x0_t - (1/2r) x0_prev with r = h_prev / h (second
    order). The first step, and the last one into clean data (sigma_s = 0, h infinite), are first order.
    """
    name = "dpmpp"

    def __init__(self, diffusion, steps=None):
        super().__init__(diffusion, steps)
        self._last: tuple[torch.Tensor, float] | None = None  # (x0 estimate, h) of the previous step

    def state(self):
        return self._last

    def restore(self, state) -> None:
        self._last = state

    def _lambda(self, ab: float) -> float:
        if ab <= 0.0:
            return -math.inf
        if ab >= 1.0:
            return math.inf
        return 0.5 * math.log(ab / (1 - ab))

    def step(self, model_output, t, x_t, generator=None):
        x0, _ = self._estimates(model_output, t, x_t)
        s = self.prev_timestep(t)
        ab_t, ab_s = self.schedule.alpha_bar(t), self.schedule.alpha_bar(s)
        if s < 0:  # into clean data: sigma_s = 0, alpha_s = 1, so x_s = D, taken first order
            self._last = None
            return StepOutput(t, s, x_t, x0, x0)
        alpha_s, sigma_s, sigma_t = math.sqrt(ab_s), math.sqrt(1 - ab_s), math.sqrt(1 - ab_t)
        h = self._lambda(ab_s) - self._lambda(ab_t)
        d = x0
        if self._last is not None and math.isfinite(self._last[1]) and math.isfinite(h):
            r = self._last[1] / h
            d = f32(1 + 0.5 / r) * x0 - f32(0.5 / r) * self._last[0]
        self._last = (x0, h)
        expm1_neg_h = -1.0 if math.isinf(h) else math.expm1(-h)
        prev = f32(sigma_s / sigma_t) * x_t - f32(alpha_s * expm1_neg_h) * d
        return StepOutput(t, s, x_t, x0, prev)


def make_sampler(name: str, diffusion: GaussianDiffusion, steps: int | None = None, eta: float = 0.0) -> Sampler:
    """A sampler for one run; steps None means the full chain."""
    if name == "ddpm":
        return DDPMSampler(diffusion, steps)
    if name == "ddim":
        return DDIMSampler(diffusion, steps, eta)
    if name == "dpmpp":
        return DPMSolverPP2MSampler(diffusion, steps)
    raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {name!r}")
