"""Gaussian diffusion (Ho et al. 2020): forward process, training losses and the sampling loop.

The network is passed in and the noise schedule is built outside (motionlab.core.schedules); how to
walk from noise to data is a sampler's business (motionlab.core.samplers). What lives here is what
every one of them shares: q(x_t | x_0), what the network predicts (eps or v) and how that turns
into an x0 estimate.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from motionlab.core.schedules import SCHEDULES, NoiseSchedule, make_betas

if TYPE_CHECKING:
    from motionlab.core.samplers import Sampler

PREDICTIONS = ("eps", "v")
VARIANCES = ("beta", "posterior")
MAX_TIMESTEPS = 100_000


@dataclass
class DiffusionConfig:
    timesteps: int = 400
    beta_start: float = 1e-4
    beta_end: float = 0.02
    # the ancestral sampler's sigma_t^2: "beta" = beta_t (Ho et al. Alg. 2), "posterior" = beta~_t
    variance: str = "beta"
    schedule: str = "linear"
    # what the network predicts: the noise (the spec's) or v = sqrt(ab) eps - sqrt(1 - ab) x0
    prediction: str = "eps"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """The one place diffusion settings are checked (CLI, trainer, lab and checkpoint loading)."""
        if isinstance(self.timesteps, bool) or not isinstance(self.timesteps, (int, np.integer)) \
                or not 1 <= self.timesteps <= MAX_TIMESTEPS:
            raise ValueError(f"timesteps must be an integer 1..{MAX_TIMESTEPS}, got {self.timesteps!r}")
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.variance not in VARIANCES:
            raise ValueError(f"variance must be one of {', '.join(VARIANCES)}, got {self.variance!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {self.prediction!r}")
        if self.schedule == "linear_zero_snr" and self.prediction == "eps":
            # at alpha_bar_T = 0, x0 = (x_T - eps) / 0: an eps network cannot say anything about x0
            raise ValueError("the zero-terminal-SNR schedule needs prediction 'v' (eps gives no x0 at t = T)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DiffusionConfig":
        """A stored config; checkpoints older than a field get its default."""
        return cls(**d)


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


class GaussianDiffusion:
    def __init__(self, cfg: DiffusionConfig):
        cfg.validate()
        self.cfg = cfg
        self.schedule = NoiseSchedule(make_betas(cfg.schedule, cfg.timesteps, cfg.beta_start, cfg.beta_end))
        self.num_timesteps = self.schedule.num_timesteps
        ab = self.schedule.alphas_cumprod
        self.betas = f32(self.schedule.betas)
        self.alphas_cumprod = f32(ab)
        self.sqrt_alphas_cumprod = f32(np.sqrt(ab))
        self.sqrt_one_minus_alphas_cumprod = f32(np.sqrt(1 - ab))
        with np.errstate(divide="ignore"):  # alpha_bar = 0 at a zero-SNR end: inf, never read for eps models
            self.sqrt_recip_alphas_cumprod = f32(np.sqrt(1 / ab))
            self.sqrt_recipm1_alphas_cumprod = f32(np.sqrt(1 / ab - 1))

    @property
    def prediction(self) -> str:
        return self.cfg.prediction

    def to(self, device) -> "GaussianDiffusion":
        """Move the coefficient tensors (needed before CUDA-graph capture, which forbids host copies)."""
        for k, v in vars(self).items():
            if isinstance(v, torch.Tensor):
                setattr(self, k, v.to(device))
        return self

    @staticmethod
    def _per_item(arr: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """arr[t] for each batch item, shaped to broadcast over x."""
        return arr.to(x.device)[t].float().view(-1, *([1] * (x.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        at = self._per_item
        return at(self.sqrt_alphas_cumprod, t, x0) * x0 + at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise

    def velocity(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The v-prediction target (Salimans & Ho 2022): sqrt(ab) eps - sqrt(1 - ab) x0."""
        at = self._per_item
        return at(self.sqrt_alphas_cumprod, t, x0) * noise - at(self.sqrt_one_minus_alphas_cumprod, t, x0) * x0

    def predict_x0_eps(self, model_output: torch.Tensor, x_t: torch.Tensor,
                       t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x0 estimate, eps estimate) from the network's output: the one place eps and v meet."""
        at, out = self._per_item, model_output.float()
        if self.prediction == "eps":
            x0 = at(self.sqrt_recip_alphas_cumprod, t, x_t) * x_t - at(self.sqrt_recipm1_alphas_cumprod, t, x_t) * out
            return x0, out
        sa, s1 = at(self.sqrt_alphas_cumprod, t, x_t), at(self.sqrt_one_minus_alphas_cumprod, t, x_t)
        return sa * x_t - s1 * out, s1 * x_t + sa * out

    def training_losses(self, model: Callable, x0: torch.Tensor, generator: torch.Generator | None = None,
                        vel_weight: float = 0.0, t: torch.Tensor | None = None,
                        noise: torch.Tensor | None = None) -> dict:
        """MSE of the network's target (eps or v), plus vel_weight * MSE of the first-order time
        differences of x0-hat against x0. The "eps" key holds the target MSE whatever the target."""
        b = x0.shape[0]
        if t is None:
            t = torch.randint(0, self.num_timesteps, (b,), device=x0.device, generator=generator)
        if noise is None:
            noise = randn_like(x0, generator)
        x_t = self.q_sample(x0, t, noise)
        out = model(x_t, t).float()
        target = noise if self.prediction == "eps" else self.velocity(x0, t, noise)
        losses = {"eps": F.mse_loss(out, target)}
        loss = losses["eps"]
        if vel_weight:
            x0_hat, _ = self.predict_x0_eps(out, x_t, t)
            losses["vel"] = F.mse_loss(x0_hat.diff(dim=-1), x0.diff(dim=-1))
            loss = loss + vel_weight * losses["vel"]
        losses["loss"] = loss
        return losses

    def sample_steps(self, model: Callable, shape: tuple, generator: torch.Generator | None = None,
                     device: str | torch.device = "cpu", precision: str = "fp32",
                     x_T: torch.Tensor | None = None, sampler: "Sampler | None" = None,
                     known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                     resample: int = 1) -> Iterator[StepOutput]:
        """Sampling from pure noise with `sampler` (default: the spec's full ancestral DDPM chain);
        yields every step so callers can show any of them.

        Masked sampling (inpainting by replacement, Lugmayr et al. 2022): where the boolean `mask`
        (broadcast to `shape`) is True, x is held to `known` (clean data, normalized): x_T and every
        step's x_{t_prev} there are replaced by q_sample(known, t_prev) with fresh noise, and the final
        sample by `known` itself, bit for bit. `resample` > 1 is RePaint's resampling: each step is
        taken `resample` times; between tries x_{t_prev} goes back to t by q(x_t | x_{t_prev}) =
        N(sqrt(ab_t / ab_prev) x_{t_prev}, (1 - ab_t / ab_prev) I), over the sampler's own stride, and
        the sampler's multistep state is rewound. A mask with nothing known draws no extra noise (and
        skips resampling), so it gives exactly the plain sample of the same generator.
        """
        if sampler is None:
            from motionlab.core.samplers import DDPMSampler
            sampler = DDPMSampler(self)
        if resample < 1:
            raise ValueError(f"resample must be at least 1, got {resample}")
        with torch.inference_mode():
            x = x_T.to(device) if x_T is not None else randn_like(torch.empty(shape, device=device), generator)
            masked = mask is not None and bool(mask.any())
            if masked:
                if known is None:
                    raise ValueError("a mask needs the known values")
                mask = mask.to(x.device).bool().expand(shape)
                known = known.to(x.device, torch.float32).expand(shape)
                x = self._hold(x, known, mask, sampler.timesteps[0], generator)
            for t in sampler.timesteps:
                tt = torch.full((shape[0],), t, device=x.device, dtype=torch.long)
                tries = resample if masked else 1
                state = sampler.state() if tries > 1 else None
                for u in range(tries):
                    if u:
                        sampler.restore(state)
                    with autocast(x.device, precision):
                        out = model(x, tt)
                    step = sampler.step(out, t, x, generator)
                    if masked:
                        step = step._replace(prev_sample=self._hold(step.prev_sample, known, mask, step.t_prev,
                                                                    generator))
                    if u < tries - 1:
                        x = self._renoise(step.prev_sample, step.t_prev, t, generator)
                yield step
                x = step.prev_sample

    def _hold(self, x: torch.Tensor, known: torch.Tensor, mask: torch.Tensor, t: int,
              generator: torch.Generator | None) -> torch.Tensor:
        """x with the masked entries set to known noised to timestep t (t = -1: known itself)."""
        if t < 0:
            return torch.where(mask, known, x)
        tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
        return torch.where(mask, self.q_sample(known, tt, randn_like(x, generator)), x)

    def _renoise(self, x_s: torch.Tensor, s: int, t: int, generator: torch.Generator | None) -> torch.Tensor:
        """A draw of q(x_t | x_s) for s < t: the forward process over one (possibly strided) step."""
        ab_s = self.schedule.alpha_bar(s)
        ratio = self.schedule.alpha_bar(t) / ab_s
        return f32(math.sqrt(ratio)) * x_s + f32(math.sqrt(max(1.0 - ratio, 0.0))) * randn_like(x_s, generator)

    def sample(self, model: Callable, shape: tuple, generator: torch.Generator | None = None, **kw) -> torch.Tensor:
        out = None
        for out in self.sample_steps(model, shape, generator, **kw):
            pass
        return out.prev_sample
