"""Gaussian DDPM math (Ho et al. 2020). The network is passed in; nothing here owns it."""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class DiffusionConfig:
    timesteps: int = 400
    beta_start: float = 1e-4
    beta_end: float = 0.02
    # "beta": sigma_t^2 = beta_t (Ho et al. Alg. 2); "posterior": sigma_t^2 = beta~_t
    variance: str = "beta"

    def to_dict(self) -> dict:
        return asdict(self)


class StepOutput(NamedTuple):
    t: int                   # the timestep index this step denoised (T-1 ... 0)
    x_t: torch.Tensor        # input of the step
    pred_x0: torch.Tensor    # the model's x0 estimate from x_t
    prev_sample: torch.Tensor  # x_{t-1}; at t == 0 the final sample


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


class GaussianDiffusion:
    def __init__(self, cfg: DiffusionConfig):
        if cfg.timesteps < 1:
            raise ValueError(f"timesteps must be >= 1, got {cfg.timesteps}")
        if not 0 < cfg.beta_start <= cfg.beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {cfg.beta_start}, {cfg.beta_end}")
        if cfg.variance not in ("beta", "posterior"):
            raise ValueError(f"variance must be 'beta' or 'posterior', got {cfg.variance!r}")
        self.cfg = cfg
        self.num_timesteps = cfg.timesteps
        b = np.linspace(cfg.beta_start, cfg.beta_end, cfg.timesteps, dtype=np.float64)
        a = 1.0 - b
        ab = np.cumprod(a)
        ab_prev = np.append(1.0, ab[:-1])
        post_var = b * (1.0 - ab_prev) / (1.0 - ab)
        sigma2 = b if cfg.variance == "beta" else post_var
        f = lambda v: torch.tensor(v, dtype=torch.float32)
        self.betas = f(b)
        self.alphas_cumprod = f(ab)
        self.sqrt_ab, self.sqrt_1mab = f(np.sqrt(ab)), f(np.sqrt(1 - ab))
        self.sqrt_recip_ab, self.sqrt_recipm1_ab = f(np.sqrt(1 / ab)), f(np.sqrt(1 / ab - 1))
        # posterior mean = c0 * x0 + ct * x_t
        self.post_c0 = f(b * np.sqrt(ab_prev) / (1 - ab))
        self.post_ct = f((1 - ab_prev) * np.sqrt(a) / (1 - ab))
        self.sigma = f(np.sqrt(sigma2))

    def to(self, device) -> "GaussianDiffusion":
        """Move the schedule tensors (needed before CUDA-graph capture, which forbids host copies)."""
        for k, v in vars(self).items():
            if isinstance(v, torch.Tensor):
                setattr(self, k, v.to(device))
        return self

    @staticmethod
    def _at(arr: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return arr.to(x.device)[t].float().view(-1, *([1] * (x.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self._at(self.sqrt_ab, t, x0) * x0 + self._at(self.sqrt_1mab, t, x0) * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self._at(self.sqrt_recip_ab, t, x_t) * x_t - self._at(self.sqrt_recipm1_ab, t, x_t) * eps

    def training_losses(self, model: Callable, x0: torch.Tensor, generator: torch.Generator | None = None,
                        vel_weight: float = 0.0, t: torch.Tensor | None = None,
                        noise: torch.Tensor | None = None) -> dict:
        """Epsilon MSE, plus vel_weight * MSE of first-order time differences of x0-hat vs x0."""
        b = x0.shape[0]
        if t is None:
            t = torch.randint(0, self.num_timesteps, (b,), device=x0.device, generator=generator)
        if noise is None:
            noise = randn_like(x0, generator)
        x_t = self.q_sample(x0, t, noise)
        eps = model(x_t, t).float()
        out = {"eps": F.mse_loss(eps, noise)}
        loss = out["eps"]
        if vel_weight:
            x0_hat = self.predict_x0(x_t, t, eps)
            out["vel"] = F.mse_loss(x0_hat.diff(dim=-1), x0.diff(dim=-1))
            loss = loss + vel_weight * out["vel"]
        out["loss"] = loss
        return out

    def step(self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None) -> StepOutput:
        """One ancestral step x_t -> x_{t-1}, given the model's noise prediction at t."""
        tt = torch.full((x_t.shape[0],), t, device=x_t.device, dtype=torch.long)
        x0 = self.predict_x0(x_t, tt, eps.float())
        mean = self._at(self.post_c0, tt, x_t) * x0 + self._at(self.post_ct, tt, x_t) * x_t
        if t > 0:
            z = randn_like(x_t, generator)
            prev = mean + self._at(self.sigma, tt, x_t) * z
        else:
            prev = mean
        return StepOutput(t, x_t, x0, prev)

    def sample_steps(self, model: Callable, shape: tuple, generator: torch.Generator | None = None,
                     device: str | torch.device = "cpu", precision: str = "fp32",
                     x_T: torch.Tensor | None = None) -> Iterator[StepOutput]:
        """Ancestral sampling from pure noise; yields every step so callers can show any of them."""
        with torch.inference_mode():
            x = x_T.to(device) if x_T is not None else randn_like(torch.empty(shape, device=device), generator)
            for t in range(self.num_timesteps - 1, -1, -1):
                tt = torch.full((shape[0],), t, device=x.device, dtype=torch.long)
                with autocast(x.device, precision):
                    eps = model(x, tt)
                out = self.step(eps, t, x, generator)
                yield out
                x = out.prev_sample

    def sample(self, model: Callable, shape: tuple, generator: torch.Generator | None = None, **kw) -> torch.Tensor:
        out = None
        for out in self.sample_steps(model, shape, generator, **kw):
            pass
        return out.prev_sample
