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
    study_settings: ClassVar[tuple[dict, ...]] = ({},)  # the settings the sampler study tries (beside steps)

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
        self.check_together({q.name: getattr(self, q.name) for q in self.params})
        self.timesteps = self.pick_timesteps(diffusion.num_timesteps, steps or diffusion.num_timesteps)
        self._prev = dict(zip(self.timesteps, self.timesteps[1:] + [-1]))

    @classmethod
    def pick_timesteps(cls, num_timesteps: int, steps: int) -> list[int]:
        return spaced_timesteps(num_timesteps, steps)

    @classmethod
    def check_together(cls, values: dict) -> None:
        """Constraints between settings (each already within its bounds): MotionlabError if broken."""

    @classmethod
    def rewindable(cls, values: dict) -> bool:
        """Whether RePaint resampling can re-noise a step back to its start (state()/restore()) with these
        settings."""
        return True

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
        cls.check_together({q.name: float(given.get(q.name, q.default)) for q in cls.params})
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

    @property
    def rewindable(self) -> bool:
        """Usable with RePaint resampling (editing with more than one try per step)."""
        cls = self.sampler_class
        return cls.rewindable({q.name: float(dict(self.params).get(q.name, q.default)) for q in cls.params})

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
    study_settings = ({}, {"eta": 1.0})  # eta 1 is Euler ancestral (tests/core)

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

    def _data_estimate(self, x0: torch.Tensor, h: float) -> torch.Tensor:
        """D: x0 (first order) or (1 + 1/2r) x0 - (1/2r) x0_prev with r = h_prev / h (second order, when
        both h are finite: an infinite one makes 1/r = 0); keeps (x0, h) for the next step."""
        d = x0
        if self._last is not None and math.isfinite(self._last[1]) and math.isfinite(h):
            r = self._last[1] / h
            d = f32(1 + 0.5 / r) * x0 - f32(0.5 / r) * self._last[0]
        self._last = (x0, h)
        return d

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
        d = self._data_estimate(x0, h)
        expm1_neg_h = -1.0 if math.isinf(h) else math.expm1(-h)
        prev = f32(sigma_s / sigma_t) * x_t - f32(alpha_s * expm1_neg_h) * d
        return StepOutput(t, s, x_t, x0, prev)


@register
class DPMSolverPP2MSDESampler(DPMSolverPP2MSampler):
    """SDE-DPM-Solver++(2M) (Lu et al. 2022, DPM-Solver++, its SDE variant): the 2M multistep scheme
    on the reverse SDE, whose linear part is integrated exactly in lambda. With alpha, sigma, lambda, h
    and D as in dpmpp:

        x_s = (sigma_s / sigma_t) e^-h x_t + alpha_s (1 - e^-2h) D + sigma_s sqrt(1 - e^-2h) z.

    First order (D = x0 estimate): the first step, the last one into clean data (sigma_s = 0: x_s = D,
    no noise) and the one after an infinite h. Zero terminal SNR (alpha_bar_T = 0, lambda_T = -inf) is
    taken as dpmpp takes it: e^-h = 0, so the first step is x_s = alpha_s x0 + sigma_s z, and the next
    step's 1/r = h / h_prev is 0. A first-order step is exactly DDIM's at eta 1 (= Euler ancestral).
    Equals diffusers' DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++", solver_order=2,
    solver_type="midpoint", timestep_spacing="trailing", final_sigmas_type="zero", euler_at_final=False,
    lower_order_final=True): with a zero final sigma its last step is first order at any step count.
    """
    name, label = "dpmpp_sde", "DPM-Solver++(2M) SDE"
    about = "stochastic second-order multistep solver: dpmpp's scheme on the reverse SDE, fresh noise each step"
    stochastic = True

    def step(self, model_output, t, x_t, generator=None):
        x0, _ = self._estimates(model_output, t, x_t)
        s = self.prev_timestep(t)
        ab_t, ab_s = self.schedule.alpha_bar(t), self.schedule.alpha_bar(s)
        if s < 0:  # sigma_s = 0: x_s = D, and D is taken first order as diffusers' final step is
            self._last = None
            return StepOutput(t, s, x_t, x0, x0)
        alpha_s, sigma_s, sigma_t = math.sqrt(ab_s), math.sqrt(1 - ab_s), math.sqrt(1 - ab_t)
        h = self._lambda(ab_s) - self._lambda(ab_t)
        d = self._data_estimate(x0, h)
        # e^-h and 1 - e^-2h, exact in the limit h = inf (from alpha_bar_t = 0)
        decay, fresh = (0.0, 1.0) if math.isinf(h) else (math.exp(-h), -math.expm1(-2 * h))
        prev = (f32(sigma_s / sigma_t * decay) * x_t + f32(alpha_s * fresh) * d
                + f32(sigma_s * math.sqrt(fresh)) * randn_like(x_t, generator))
        return StepOutput(t, s, x_t, x0, prev)


@register
class EDMSampler(Sampler):
    """Karras et al. 2022, Alg. 2: Heun's method on the probability-flow ODE in sigma, with churn.

    In VE terms (x = x_vp / alpha, sigma = sqrt((1 - ab) / ab)) the ODE is dx/dsigma = (x - D(x; sigma))
    / sigma = the eps estimate. For level i of N (our "trailing" timesteps; sigma_N = 0):
      lines 4-6, churn: gamma_i = min(S_churn / N, sqrt2 - 1) if S_tmin <= sigma_i <= S_tmax else 0,
        x_hat = x_i + S_noise sqrt(sigma_hat^2 - sigma_i^2) z, sigma_hat = sigma_i (1 + gamma_i);
      lines 7-8, Euler: x' = x_hat + (sigma_{i+1} - sigma_hat) d, d the eps estimate at (x_hat, sigma_hat);
      lines 9-11, Heun unless sigma_{i+1} = 0: x_{i+1} = x_hat + (sigma_{i+1} - sigma_hat)(d + d') / 2.
    The network takes integer timesteps, so sigma_hat is rounded (in log sigma) to the nearest level
    t_hat >= t_i, and the network is evaluated there at x_hat, as Alg. 2 has it: the step that lands on
    level i adds the churn and returns x_hat at t_hat (so t_prev > t on it). A gamma smaller than half a
    level's spacing churns nothing; `churned` lists the (t_i, t_hat_i) that do. (diffusers'
    EulerDiscreteScheduler evaluates at (x_i, t_i) and adds churn after, reusing that output at x_hat:
    for eps models the churn noise then passes into x' undamped.)

    `steps` is N: 2N - 1 network evaluations, `timesteps` lists them (t_hat_i for the Euler part, t_{i+1}
    for Heun's). At zero terminal SNR the first step, from sigma = inf, is Euler only (Heun's average
    over an infinite interval is undefined): 2N - 2. Computed in VP terms, where the Euler step is
    alpha_s x0 + sigma_s eps (DDIM's) and Heun's adds (sigma_s - alpha_s sigma_hat)(eps' - eps) / 2.
    With s_churn 0 it equals diffusers' HeunDiscreteScheduler(timestep_spacing="trailing") step for step;
    with churn, the same with its sigma at a churned level set to sigma_hat and line 5 added to x.
    RePaint resampling cannot rewind a churned level (it would have to denoise from t_hat back to t_i).
    """
    name, label = "edm", "EDM (Heun + churn)"
    about = "Karras et al.'s sampler: Heun, 2 evaluations a level; s_churn > 0 adds noise before each level"
    # sigma here is our schedule's VE sigma: 0.01 .. 7.5 on the spec's linear schedule, up to 8116 on cosine
    # and inf at zero terminal SNR; the top level is never churned (nothing lies above it)
    params = (Param("s_churn", 0.0, 0.0, 1000.0, "churn: gamma = min(s_churn / steps, sqrt2 - 1) at each level"),
              Param("s_tmin", 0.0, 0.0, 1000.0, "churn only levels whose (VE) sigma is at least this"),
              Param("s_tmax", 1000.0, 0.0, 1000.0, "churn only levels whose (VE) sigma is at most this"),
              Param("s_noise", 1.0, 0.9, 1.1, "churn noise scale (above 1 offsets the denoiser's smoothing)"))
    stochastic = False  # at the default s_churn 0; churn draws noise at each churned level
    study_settings = ({}, {"s_churn": 5.0}, {"s_churn": 40.0})  # off, moderate, at the gamma cap

    @classmethod
    def rewindable(cls, values: dict) -> bool:
        return values["s_churn"] == 0.0  # conservative: a churn the s_tmin/s_tmax window skips counts too

    @classmethod
    def check_together(cls, values: dict) -> None:
        if values["s_tmin"] > values["s_tmax"]:
            raise MotionlabError(f"s_tmin must not exceed s_tmax for {cls.name}, got {values['s_tmin']:g} > "
                                 f"{values['s_tmax']:g}")

    def __init__(self, diffusion, steps=None, **params):
        super().__init__(diffusion, steps, **params)
        self.levels = list(self.timesteps)
        self.hat = [self._churn_target(t, len(self.levels)) for t in self.levels]
        # the evaluations: ("euler", i) at t_hat_i, then ("heun", i) at t_{i+1} when Heun applies
        self.plan: list[tuple[str, int, int]] = []
        for i, t_hat in enumerate(self.hat):
            self.plan.append(("euler", i, t_hat))
            if i + 1 < len(self.levels) and math.isfinite(self._sigma(t_hat)):
                self.plan.append(("heun", i, self.levels[i + 1]))
        self.timesteps = [t for _, _, t in self.plan]
        self._k = 0
        self._euler: tuple[torch.Tensor, float] | None = None  # (d, sigma_hat) of the pending Euler step

    def _sigma(self, t: int) -> float:
        ab = self.schedule.alpha_bar(t)
        return math.inf if ab <= 0.0 else math.sqrt((1 - ab) / ab)

    def _churn_target(self, t: int, n: int) -> int:
        sigma = self._sigma(t)
        gamma = min(self.s_churn / n, math.sqrt(2) - 1) if self.s_tmin <= sigma <= self.s_tmax else 0.0
        if gamma == 0.0 or not math.isfinite(sigma):
            return t
        ab = self.schedule.alphas_cumprod[t:]
        up = np.log(np.sqrt((1 - ab[ab > 0]) / ab[ab > 0]))  # levels t, t+1, ... with a finite sigma
        return t + int(np.abs(up - math.log(sigma * (1 + gamma))).argmin())

    @property
    def churned(self) -> list[tuple[int, int]]:
        """(t_i, t_hat_i) for every level the churn raises."""
        return [(t, h) for t, h in zip(self.levels, self.hat) if h != t]

    def state(self):
        if self.churned:
            raise MotionlabError(f"{self.name} with churn cannot be resampled (RePaint): a churned step ends "
                                 "above the level it started from; use s_churn 0 or another sampler")
        return self._k, self._euler

    def restore(self, state) -> None:
        self._k, self._euler = state

    def _land(self, x: torch.Tensor, i: int, generator) -> tuple[int, torch.Tensor]:
        """x at level i: churned up to t_hat_i (Alg. 2 line 5, in VP terms) for the next evaluation."""
        t, t_hat = self.levels[i], self.hat[i]
        if t_hat == t:
            return t, x
        ab, ab_hat = self.schedule.alpha_bar(t), self.schedule.alpha_bar(t_hat)
        # alpha_hat (x / alpha + sqrt(sigma_hat^2 - sigma^2) S_noise z), with alpha_hat sigma_hat = sqrt(1 - ab_hat)
        scale = math.sqrt(ab_hat / ab)
        spread = math.sqrt(max((1 - ab_hat) - ab_hat * (1 - ab) / ab, 0.0)) * self.s_noise
        return t_hat, f32(scale) * x + f32(spread) * randn_like(x, generator)

    def step(self, model_output, t, x_t, generator=None):
        if self._k >= len(self.plan) or self.plan[self._k][2] != t:
            want = self.plan[self._k][2] if self._k < len(self.plan) else "none (finished)"
            raise ValueError(f"timestep {t} is not this sampler's next evaluation (expected {want})")
        kind, i, _ = self.plan[self._k]
        self._k += 1
        x0, eps = self._estimates(model_output, t, x_t)
        nxt = self.levels[i + 1] if i + 1 < len(self.levels) else -1
        ab_s = self.schedule.alpha_bar(nxt)
        alpha_s, sigma_s = math.sqrt(ab_s), math.sqrt(1 - ab_s)  # VP: sigma_s = alpha_s x its VE sigma
        if kind == "euler":
            # x_hat + (sigma_{i+1} - sigma_hat) eps in VE is x0 + sigma_{i+1} eps: DDIM's step in VP terms
            x_next = f32(alpha_s) * x0 + f32(sigma_s) * eps
            if self._k < len(self.plan) and self.plan[self._k][0] == "heun":
                self._euler = (eps, self._sigma(t))
                return StepOutput(t, nxt, x_t, x0, x_next)
        else:
            # Heun: x' + (sigma_{i+1} - sigma_hat)(d' - d) / 2 in VE (sigma_hat VE); times alpha_{i+1} for VP
            d, sigma_hat = self._euler
            self._euler = None
            x_next = x_t + f32(0.5 * (sigma_s - alpha_s * sigma_hat)) * (eps - d)
        if nxt < 0:
            return StepOutput(t, nxt, x_t, x0, x_next)
        t_prev, x_next = self._land(x_next, i + 1, generator)
        return StepOutput(t, t_prev, x_t, x0, x_next)


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
