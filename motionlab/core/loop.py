"""The sampling loop: a model, a diffusion and a sampler walk from pure noise to data.

Above both the diffusion (what the network's output means) and the samplers (how to step), so that
neither imports the other.
"""
from __future__ import annotations

from typing import Callable, Iterator

import torch

from motionlab.core.diffusion import GaussianDiffusion
from motionlab.core.samplers import DDPMSampler, Sampler
from motionlab.core.steps import StepOutput, autocast, randn_like


def sample_steps(diffusion: GaussianDiffusion, model: Callable, shape: tuple,
                 generator: torch.Generator | None = None, *, sampler: Sampler | None = None,
                 device: str | torch.device = "cpu", precision: str = "fp32", x_T: torch.Tensor | None = None,
                 known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                 resample: int = 1) -> Iterator[StepOutput]:
    """Sampling from pure noise with `sampler` (default: the spec's full ancestral DDPM chain); yields
    every step so callers can show any of them.

    Masked sampling (inpainting by replacement, Lugmayr et al. 2022): where the boolean `mask`
    (broadcast to `shape`) is True, x is held to `known` (clean data, normalized): x_T and every
    step's x_{t_prev} there are replaced by q_sample(known, t_prev) with fresh noise, and the final
    sample by `known` itself, bit for bit. `resample` > 1 is RePaint's resampling: each step is
    taken `resample` times; between tries x_{t_prev} goes back to t by q(x_t | x_{t_prev}) =
    N(sqrt(ab_t / ab_prev) x_{t_prev}, (1 - ab_t / ab_prev) I), over the sampler's own stride, and
    the sampler's multistep state is rewound. A mask with nothing known draws no extra noise (and
    skips resampling), so it gives exactly the plain sample of the same generator.
    """
    sampler = sampler or DDPMSampler(diffusion)
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
            x = _hold(diffusion, x, known, mask, sampler.timesteps[0], generator)
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
                    step = step._replace(prev_sample=_hold(diffusion, step.prev_sample, known, mask, step.t_prev,
                                                           generator))
                if u < tries - 1:
                    x = diffusion.renoise(step.prev_sample, step.t_prev, t, generator)
            yield step
            x = step.prev_sample


def sample(diffusion: GaussianDiffusion, model: Callable, shape: tuple, generator: torch.Generator | None = None,
           **kw) -> torch.Tensor:
    """The final sample of sample_steps."""
    out = None
    for out in sample_steps(diffusion, model, shape, generator, **kw):
        pass
    return out.prev_sample


def _hold(diffusion: GaussianDiffusion, x: torch.Tensor, known: torch.Tensor, mask: torch.Tensor, t: int,
          generator: torch.Generator | None) -> torch.Tensor:
    """x with the masked entries set to known noised to timestep t (t = -1: known itself)."""
    if t < 0:
        return torch.where(mask, known, x)
    tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
    return torch.where(mask, diffusion.q_sample(known, tt, randn_like(x, generator)), x)
