"""Gaussian diffusion (Ho et al. 2020): forward process, training losses and the sampling loop.

The network is passed in and the noise schedule is built outside (motionlab.core.schedules); how to
walk from noise to data is a sampler's business (motionlab.core.samplers). What lives here is what
every one of them shares: q(x_t | x_0), what the network predicts (eps or v) and how that turns
into an x0 estimate. The loop that walks a sampler is motionlab.core.loop.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from motionlab.core.schedules import SCHEDULES, NoiseSchedule, make_betas
from motionlab.core.steps import f32, randn_like
from motionlab.errors import ConfigError
from motionlab.settings import check, register, setting

PREDICTIONS = ("eps", "v")
VARIANCES = ("beta", "posterior")
MAX_TIMESTEPS = 100_000


@register
@dataclass
class DiffusionConfig:
    timesteps: int = setting(400, "diffusion steps T", low=1, high=MAX_TIMESTEPS, lab=400,
                             label="Diffusion steps", must=f"an integer 1..{MAX_TIMESTEPS}")
    beta_start: float = setting(1e-4, "first beta of the schedule", low=0.0, high=1.0, low_open=True, high_open=True)
    beta_end: float = setting(0.02, "last beta of the schedule", low=0.0, high=1.0, low_open=True, high_open=True)
    # the ancestral sampler's sigma_t^2: "beta" = beta_t (Ho et al. Alg. 2), "posterior" = beta~_t
    variance: str = setting("beta", "the ancestral sampler's variance: beta_t or the posterior's", choices=VARIANCES)
    schedule: str = setting("linear", "noise schedule (linear_zero_snr needs --prediction v)", choices=SCHEDULES)
    # what the network predicts: the noise (the spec's) or v = sqrt(ab) eps - sqrt(1 - ab) x0
    prediction: str = setting("eps", "network target: eps or v", choices=PREDICTIONS)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """The one place diffusion settings are checked (CLI, trainer, lab and checkpoint loading)."""
        check(self)
        if not self.beta_start <= self.beta_end:
            raise ConfigError("beta_start", f"must be <= beta_end, got {self.beta_start} and {self.beta_end}")
        if self.schedule == "linear_zero_snr" and self.prediction == "eps":
            # at alpha_bar_T = 0, x0 = (x_T - eps) / 0: an eps network cannot say anything about x0
            raise ConfigError("prediction", "must be 'v' on the zero-terminal-SNR schedule (eps gives no x0 at t = T)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DiffusionConfig":
        """A stored config; checkpoints older than a field get its default."""
        return cls(**d)


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

    def renoise(self, x_s: torch.Tensor, s: int, t: int, generator: torch.Generator | None) -> torch.Tensor:
        """A draw of q(x_t | x_s) for s < t: the forward process over one (possibly strided) step."""
        ab_s = self.schedule.alpha_bar(s)
        ratio = self.schedule.alpha_bar(t) / ab_s
        return f32(math.sqrt(ratio)) * x_s + f32(math.sqrt(max(1.0 - ratio, 0.0))) * randn_like(x_s, generator)
