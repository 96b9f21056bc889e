"""Samplers: how to walk from pure noise to data over a chosen subset of a schedule's timesteps.

A sampler is made for one run (multistep solvers keep state between steps). Its class says what menus,
flags, captions and charts show: `name`, `label`, `params` (its own settings, with bounds) and how it
picks its `timesteps` (descending, 0-based) for a number of steps. `step()` takes the network's output
at one of them and returns a StepOutput with x_{t_prev} and the x0 estimate, like the `step()` of
diffusers' schedulers. Any schedule and either prediction type work, since the x0/eps estimates come
from the diffusion's predict_x0_eps.

Adding a sampler: a subclass here, decorated with @register, and its tests; REGISTRY feeds the rest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from motionlab.core.steps import StepOutput, f32, randn_like
from motionlab.errors import MotionlabError


@dataclass(frozen=True)
class Param:
    """A sampler's own setting: a float in [low, high], `default` when not given."""
    name: str
    default: float
    low: float
    high: float
    help: str = ""

    def check(self, sampler: str, v) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not self.low <= v <= self.high:
            raise MotionlabError(f"{self.name} must be in [{self.low:g}, {self.high:g}] for {sampler}, got {v!r}")
        return float(v)


def spaced_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """`steps` timesteps, descending from T-1 ("trailing" spacing, Lin et al. 2024 table 2): the first
    step always starts at the schedule's pure-noise end, and steps == T gives the full chain."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be 1..{num_timesteps} (the schedule's length), got {steps!r}")
    ts = np.round(np.arange(num_timesteps, 0, -num_timesteps / steps)).astype(int) - 1
    return [int(t) for t in ts]


REGISTRY: dict[str, type["Sampler"]] = {}


def register(cls: type["Sampler"]) -> type["Sampler"]:
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"sampler name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


class Sampler:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    about: ClassVar[str] = ""                 # one line for menus and captions
    params: ClassVar[tuple[Param, ...]] = ()
    stochastic: ClassVar[bool] = True         # draws fresh noise at each step

    def __init__(self, diffusion, steps: int | None = None, **params):
        self.diffusion = diffusion
        self.schedule = diffusion.schedule
        known = {q.name: q for q in self.params}
        for k in params:
            if k not in known:
                raise MotionlabError(f"{k} is not a setting of {self.name} (its settings: "
                                     f"{', '.join(known) or 'none'})")
        for q in self.params:
            setattr(self, q.name, q.check(self.name, params.get(q.name, q.default)))
        self.timesteps = self.pick_timesteps(diffusion.num_timesteps, steps or diffusion.num_timesteps)
        self._prev = dict(zip(self.timesteps, self.timesteps[1:] + [-1]))

    @classmethod
    def pick_timesteps(cls, num_timesteps: int, steps: int) -> list[int]:
        return spaced_timesteps(num_timesteps, steps)

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


@dataclass(frozen=True)
class SamplerChoice:
    """Which sampler, how many steps and its own settings: a sampling-time choice, never stored in a checkpoint.

    steps None is the schedule's full chain (flags write it 0); params keeps the settings that differ
    from the sampler's defaults, as sorted (name, value) pairs, so equal choices compare equal.
    """
    name: str = "ddpm"
    steps: int | None = None
    params: tuple = field(default=())

    def __post_init__(self):
        cls = REGISTRY.get(self.name)
        if cls is None:
            raise MotionlabError(f"sampler must be one of {', '.join(REGISTRY)}, got {self.name!r}")
        if self.steps is not None and (isinstance(self.steps, bool) or int(self.steps) != self.steps
                                       or self.steps < 1):
            raise MotionlabError(f"steps must be a positive integer, got {self.steps!r}")
        given = dict(self.params)
        declared = {q.name: q for q in cls.params}
        for k, v in given.items():
            if k not in declared:
                raise MotionlabError(f"{k} is not a setting of {self.name} (its settings: "
                                     f"{', '.join(declared) or 'none'})")
            declared[k].check(self.name, v)
        kept = tuple(sorted((k, float(v)) for k, v in given.items() if float(v) != declared[k].default))
        object.__setattr__(self, "params", kept)
        if self.steps is not None:
            object.__setattr__(self, "steps", int(self.steps))

    @classmethod
    def of(cls, name: str, steps: int | None = None, **params) -> "SamplerChoice":
        return cls(name, steps or None, tuple(params.items()))

    @property
    def sampler_class(self) -> type[Sampler]:
        return REGISTRY[self.name]

    def steps_for(self, num_timesteps: int) -> int:
        """Steps taken on a schedule of this length: a chain shorter than `steps` is walked whole."""
        return min(self.steps or num_timesteps, num_timesteps)

    def build(self, diffusion) -> Sampler:
        return self.sampler_class(diffusion, self.steps_for(diffusion.num_timesteps), **dict(self.params))

    def label(self, num_timesteps: int) -> str:
        """e.g. 'ddpm-400', 'dpmpp-20', 'ddim-50 eta 0.5': what every table row and caption names."""
        return f"{self.name}-{self.steps_for(num_timesteps)}" + "".join(f" {k} {v:g}" for k, v in self.params)

    @classmethod
    def from_label(cls, label: str, num_timesteps: int) -> "SamplerChoice":
        """The inverse of label(): 'ddim-50 eta 0.5' -> SamplerChoice('ddim', 50, (('eta', 0.5),))."""
        try:
            head, *rest = label.split()
            name, steps = head.rsplit("-", 1)
            n = int(steps)
            if len(rest) % 2:
                raise ValueError(label)
            params = tuple((rest[i], float(rest[i + 1])) for i in range(0, len(rest), 2))
        except (ValueError, AttributeError):
            raise MotionlabError(f"not a sampler label: {label!r} (expected e.g. ddpm-400 or dpmpp-20)") from None
        return cls(name, None if n == num_timesteps else n, params)

    @property
    def is_spec(self) -> bool:
        return self.name == "ddpm" and self.steps is None and not self.params


@register
class DDPMSampler(Sampler):
    """Ancestral sampling (Ho et al. 2020, Alg. 2). Over fewer steps it is the same process on the
    respaced schedule (Nichol & Dhariwal 2021, sec. 4): beta'_t = 1 - alpha_bar_t / alpha_bar_prev."""
    name, label = "ddpm", "DDPM (ancestral)"
    about = "the spec's sampler: a fresh noise draw at every step"

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


@register
class DDIMSampler(Sampler):
    """Song et al. 2021, eq. 12: x_s = sqrt(ab_s) x0 + sqrt(1 - ab_s - sigma^2) eps + sigma z, with
    sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s). eta = 0 is deterministic."""
    name, label = "ddim", "DDIM"
    about = "deterministic at eta 0 (the probability-flow ODE, first order)"
    params = (Param("eta", 0.0, 0.0, 1.0, "noise share: 0 deterministic, 1 like DDPM"),)
    stochastic = False

    def step(self, model_output, t, x_t, generator=None):
        x0, eps = self._estimates(model_output, t, x_t)
        s = self.prev_timestep(t)
        ab_t, ab_s = self.schedule.alpha_bar(t), self.schedule.alpha_bar(s)
        sigma = self.eta * math.sqrt((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)) if s >= 0 else 0.0
        prev = f32(math.sqrt(ab_s)) * x0 + f32(math.sqrt(max(1 - ab_s - sigma ** 2, 0.0))) * eps
        if sigma > 0:
            prev = prev + f32(sigma) * randn_like(x_t, generator)
        return StepOutput(t, s, x_t, x0, prev)


@register
class DPMSolverPP2MSampler(Sampler):
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2), the data-prediction multistep solver.

    With alpha_t = sqrt(ab_t), sigma_t = sqrt(1 - ab_t), lambda_t = log(alpha_t / sigma_t) and
    h = lambda_s - lambda_t:  x_s = (sigma_s / sigma_t) x_t - alpha_s (exp(-h) - 1) D, where D is the
    x0 estimate (first order) or (1 + 1/2r) x0_t - (1/2r) x0_prev with r = h_prev / h (second
    order). The first step, and the last one into clean data (sigma_s = 0, h infinite), are first order.
    """
    name, label = "dpmpp", "DPM-Solver++(2M)"
    about = "deterministic second-order multistep ODE solver"
    stochastic = False

    def __init__(self, diffusion, steps=None, **params):
        super().__init__(diffusion, steps, **params)
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


def make_sampler(name: str, diffusion, steps: int | None = None, **params) -> Sampler:
    """A sampler for one run; steps None means the full chain."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"sampler must be one of {', '.join(REGISTRY)}, got {name!r}")
    return cls(diffusion, steps, **params)


SAMPLERS = tuple(REGISTRY)
SPEC_SAMPLER = SamplerChoice("ddpm")   # the spec's: ancestral, every one of the 400 steps
# the fallback for a checkpoint without a measured faithful setting: the spec's sampler respaced to 20
# steps; the deterministic samplers come out more damped at any step count (docs/SAMPLERS.md)
DEFAULT_SAMPLER = SamplerChoice("ddpm", 20)
