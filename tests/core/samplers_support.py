"""The Gaussian toy of the sampler tests (core/test_samplers.py, core/test_stochastic_samplers.py): data
x0 ~ N(MU, S^2) per coordinate, its exact eps / v network (oracle) and the 1000-step diffusion it runs on."""
import torch

from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion


MU, S = 1.5, 0.5


def oracle(diffusion: GaussianDiffusion):
    """The exact eps (or v) network for the Gaussian toy, from the schedule's float64 alpha_bar."""
    ab_all = torch.tensor(diffusion.schedule.alphas_cumprod, dtype=torch.float64)

    def net(x, t):
        ab = ab_all[t].view(-1, *([1] * (x.dim() - 1)))
        xd = x.double()
        x0 = MU + ab.sqrt() * S ** 2 / (ab * S ** 2 + 1 - ab) * (xd - ab.sqrt() * MU)
        eps = (xd - ab.sqrt() * x0) / (1 - ab).sqrt()
        out = eps if diffusion.prediction == "eps" else ab.sqrt() * eps - (1 - ab).sqrt() * x0
        return out.float()
    return net


def toy_diffusion(schedule, prediction):
    # 1000 steps: the linear schedule then ends at ab_T = 4e-5, so starting from N(0, I) is right for
    # every schedule here (at the spec's 400, ab_T = 0.0175 and even a perfect network lands off the mean)
    return GaussianDiffusion(DiffusionConfig(timesteps=1000, schedule=schedule, prediction=prediction,
                                             variance="posterior"))
