"""Samplers and schedules, checked against math written out here and against diffusers' schedulers.

The Gaussian toy: data x0 ~ N(MU, S^2) per coordinate. Its exact denoiser is known in closed form,
E[x0 | x_t] = MU + sqrt(ab) S^2 / (ab S^2 + 1 - ab) (x_t - sqrt(ab) MU), so a perfect network is an
oracle, and every sampler's output moments must come back to (MU, S) up to its discretisation error.
"""
import math

import numpy as np
import pytest
import torch
from samplers_support import MU, S, oracle, toy_diffusion

from motionlab.core import loop
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.core.samplers import SAMPLERS, DDPMSampler, make_sampler, spaced_timesteps
from motionlab.core.schedules import cosine_betas, make_betas, rescale_zero_terminal_snr


def toy_samples(diffusion, name, steps, eta=0.0, n=4096, seed=0):
    sampler = make_sampler(name, diffusion, steps, **({"eta": eta} if eta else {}))
    return loop.sample(diffusion, oracle(diffusion), (n, 1, 4), torch.Generator().manual_seed(seed), sampler=sampler)


SCHEDULE_CASES = [("linear", "eps"), ("cosine", "eps"), ("linear_zero_snr", "v")]


def moment_errors(diffusion, name, steps):
    x = toy_samples(diffusion, name, steps)
    assert torch.isfinite(x).all()
    return abs(x.mean().item() - MU), abs(x.std().item() - S)


# 4096 x 4 draws: the standard error of the mean is S / 128 = 0.004 and of the std 0.003. Measured on
# these cases the converged errors are at most 0.009 (mean) and 0.003 (std); the bounds leave ~1.5x.
@pytest.mark.parametrize("name,steps", [("ddpm", None), ("ddim", None), ("dpmpp", 50)])
@pytest.mark.parametrize("schedule,prediction", SCHEDULE_CASES)
def test_gaussian_toy_moments_when_converged(name, steps, schedule, prediction):
    mean_err, std_err = moment_errors(toy_diffusion(schedule, prediction), name, steps)
    assert mean_err < 0.015 and std_err < 0.006, (mean_err, std_err)


@pytest.mark.parametrize("schedule,prediction", SCHEDULE_CASES)
def test_few_step_error_shrinks_at_each_solvers_order(schedule, prediction):
    """A deterministic sampler's last step returns a posterior mean, so few steps shrink the spread.
    DDIM (first order) halves that error when the steps double; DPM-Solver++(2M) (second order)
    cuts it by well over half (measured: 10 -> 20 steps took it from 0.094 to 0.020 on linear)."""
    d = toy_diffusion(schedule, prediction)
    ddim50, ddim100 = (moment_errors(d, "ddim", n)[1] for n in (50, 100))
    assert 0.35 < ddim100 / ddim50 < 0.65, (ddim50, ddim100)
    dpm10, dpm20 = (moment_errors(d, "dpmpp", n)[1] for n in (10, 20))
    assert dpm20 < 0.3 * dpm10, (dpm10, dpm20)
    assert dpm20 < moment_errors(d, "ddim", 20)[1]


def _ddim_invert(diffusion, net, x0, steps):
    """DDIM inversion (Song et al. 2021, sec. 4.3), written out here: walk the eta = 0 update upwards,
    evaluating the network at the level being entered."""
    ab = diffusion.schedule.alphas_cumprod
    x, prev_ab = x0.double(), 1.0
    for t in reversed(spaced_timesteps(diffusion.num_timesteps, steps)):
        eps = net(x.float(), torch.full((x.shape[0],), t)).double()
        pred_x0 = (x - math.sqrt(1 - prev_ab) * eps) / math.sqrt(prev_ab)
        x = math.sqrt(ab[t]) * pred_x0 + math.sqrt(1 - ab[t]) * eps
        prev_ab = ab[t]
    return x.float()


def test_ddim_eta0_is_deterministic_and_invertible_in_the_limit():
    diffusion = GaussianDiffusion(DiffusionConfig(timesteps=400))
    net = oracle(diffusion)
    x_T = torch.randn(256, 1, 4, generator=torch.Generator().manual_seed(1))
    errs = {}
    for steps in (20, 100, 400):
        run = lambda seed: loop.sample(diffusion, net, x_T.shape, torch.Generator().manual_seed(seed), x_T=x_T,
                                            sampler=make_sampler("ddim", diffusion, steps))
        a = run(2)
        assert torch.equal(a, run(3))  # no noise is drawn at eta 0
        errs[steps] = (_ddim_invert(diffusion, net, a, steps) - x_T).abs().mean().item()
    # the round trip's error is the two discretisations' mismatch: it shrinks as the steps grow
    assert errs[400] < errs[100] < errs[20], errs
    assert errs[400] < 0.02, errs


def test_ddim_reconstructs_the_noise_it_came_from():
    """Cleaner inversion check: undoing each eta-0 step, from the x_{t-1} it produced and its own eps
    estimate, gives back that step's x_t, all the way to x_T."""
    diffusion = GaussianDiffusion(DiffusionConfig(timesteps=400))
    net = oracle(diffusion)
    x_T = torch.randn(64, 1, 4, generator=torch.Generator().manual_seed(1))
    outs = list(loop.sample_steps(diffusion, net, x_T.shape, x_T=x_T, sampler=make_sampler("ddim", diffusion, 100)))
    ab = diffusion.schedule.alpha_bar
    x = outs[-1].prev_sample.double()
    for o in reversed(outs):  # x walks back from the clean sample, one inverted step at a time
        a_t, a_s = ab(o.t), ab(o.t_prev)
        eps = (o.x_t.double() - math.sqrt(a_t) * o.pred_x0.double()) / math.sqrt(1 - a_t)
        x0 = (x - math.sqrt(1 - a_s) * eps) / math.sqrt(a_s)  # from the step's output, not its input
        x = math.sqrt(a_t) * x0 + math.sqrt(1 - a_t) * eps
        assert torch.allclose(x.float(), o.x_t, atol=1e-4)
    assert torch.allclose(x.float(), x_T, atol=1e-4)


def test_posterior_coefficients_match_the_closed_form():
    """q(x_{t-1} | x_t, x0) (Ho et al. eq. 7), written out here from the betas alone."""
    T = 30
    diffusion = GaussianDiffusion(DiffusionConfig(timesteps=T, beta_start=1e-3, beta_end=0.1))
    betas = np.linspace(1e-3, 0.1, T)
    sampler = DDPMSampler(diffusion)
    for t in range(T):
        abar_t = np.prod(1 - betas[:t + 1])
        abar_prev = np.prod(1 - betas[:t])  # the empty product is 1
        want_c0 = math.sqrt(abar_prev) * betas[t] / (1 - abar_t)
        want_ct = math.sqrt(1 - betas[t]) * (1 - abar_prev) / (1 - abar_t)
        c0, ct, sigma = sampler.coefficients(t)
        assert c0 == pytest.approx(want_c0, rel=1e-10) and ct == pytest.approx(want_ct, rel=1e-10)
        assert sigma == pytest.approx(math.sqrt(betas[t]), rel=1e-10)
    post = DDPMSampler(GaussianDiffusion(DiffusionConfig(timesteps=T, beta_start=1e-3, beta_end=0.1,
                                                         variance="posterior")))
    for t in range(T):
        abar_t, abar_prev = np.prod(1 - betas[:t + 1]), np.prod(1 - betas[:t])
        assert post.coefficients(t)[2] == pytest.approx(math.sqrt(betas[t] * (1 - abar_prev) / (1 - abar_t)),
                                                        rel=1e-10, abs=1e-12)


def test_spaced_timesteps():
    assert spaced_timesteps(400, 400) == list(range(399, -1, -1))
    assert spaced_timesteps(400, 10) == list(range(399, 0, -40))
    for T, n in ((400, 7), (1000, 33), (10, 10), (50, 1)):
        ts = spaced_timesteps(T, n)
        assert len(ts) == n and ts[0] == T - 1 and all(a > b >= 0 for a, b in zip(ts, ts[1:]))
    for bad in (0, 401, 2.5):
        with pytest.raises(ValueError):
            spaced_timesteps(400, bad)


def test_schedules():
    lin = make_betas("linear", 400, 1e-4, 0.02)
    assert np.cumprod(1 - lin)[-1] == pytest.approx(0.0175, abs=5e-4)  # the spec's ab_T: never pure noise
    zs = rescale_zero_terminal_snr(lin)
    ab = np.cumprod(1 - zs)
    assert ab[-1] == pytest.approx(0.0, abs=1e-12) and ab[0] == pytest.approx(1 - lin[0], rel=1e-9)
    assert np.all(np.diff(ab) < 0)
    cos = cosine_betas(400)
    s = 0.008
    f = lambda t: math.cos((t / 400 + s) / (1 + s) * math.pi / 2) ** 2
    assert np.cumprod(1 - cos)[199] == pytest.approx(f(200) / f(0), rel=1e-6)
    assert cos.max() <= 0.999


def test_zero_snr_needs_v_prediction():
    with pytest.raises(ValueError, match="prediction must be 'v'"):
        DiffusionConfig(schedule="linear_zero_snr", prediction="eps")


def test_unknown_sampler_and_bad_eta():
    d = GaussianDiffusion(DiffusionConfig(timesteps=10))
    with pytest.raises(ValueError, match="sampler must be one of"):
        make_sampler("euler", d)
    with pytest.raises(ValueError, match="eta"):
        make_sampler("ddim", d, 5, eta=1.5)
    with pytest.raises(ValueError, match="eta"):
        make_sampler("ddim", d, 5, eta=-0.1)
    s = make_sampler("ddim", d, 5)
    with pytest.raises(ValueError, match="not one of"):
        s.step(torch.zeros(1, 1, 8), 4, torch.zeros(1, 1, 8))  # kept: 9, 7, 5, 3, 1


# --- diffusers' schedulers as the reference ----------------------------------------------------------

diffusers = pytest.importorskip("diffusers", reason="diffusers is the reference implementation (requirements.txt)")


def _random_net():
    """A fixed, smooth stand-in network: outputs depend on x and t, like a real one."""
    w = torch.randn(4, 4, generator=torch.Generator().manual_seed(7)) * 0.3

    def net(x, t):
        return torch.tanh(torch.einsum("ij,ncj->nci", w, x) + t.view(-1, 1, 1).float() / 400)
    return net


def _run_diffusers(sched, net, x_T, gen_seed):
    x = x_T.clone()
    g = torch.Generator().manual_seed(gen_seed)
    for t in sched.timesteps:
        out = net(x, torch.full((x.shape[0],), int(t)))
        x = sched.step(out, t, x, generator=g).prev_sample
    return x


def _run_ours(diffusion, name, steps, net, x_T, gen_seed, eta=0.0):
    sampler = make_sampler(name, diffusion, steps, **({"eta": eta} if eta else {}))
    return loop.sample(diffusion, net, x_T.shape, torch.Generator().manual_seed(gen_seed), x_T=x_T, sampler=sampler)


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("steps", [10, 25])
def test_matches_diffusers(prediction, steps):
    kw = dict(num_train_timesteps=400, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
              prediction_type="epsilon" if prediction == "eps" else "v_prediction", timestep_spacing="trailing")
    diffusion = GaussianDiffusion(DiffusionConfig(timesteps=400, prediction=prediction))
    net = _random_net()
    x_T = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    cases = [
        ("ddim", diffusers.DDIMScheduler(**kw, clip_sample=False, set_alpha_to_one=True), 0.0),
        ("dpmpp", diffusers.DPMSolverMultistepScheduler(**kw, algorithm_type="dpmsolver++", solver_order=2,
                                                         final_sigmas_type="zero", lower_order_final=True), 0.0),
    ]
    # diffusers' DDPM draws noise on its last step too (t > 0 under trailing spacing), where ours and the
    # spec's add none; with the posterior variance that last noise is scaled by 0, so the two agree
    post = GaussianDiffusion(DiffusionConfig(timesteps=400, prediction=prediction, variance="posterior"))
    sched = diffusers.DDPMScheduler(**kw, clip_sample=False, variance_type="fixed_small")
    sched.set_timesteps(steps)
    want = _run_diffusers(sched, net, x_T, 5)
    assert torch.allclose(_run_ours(post, "ddpm", steps, net, x_T, 5), want, rtol=1e-4, atol=1e-4)
    for name, sched, eta in cases:
        sched.set_timesteps(steps)
        assert [int(t) for t in sched.timesteps] == make_sampler(name, diffusion, steps).timesteps
        want = _run_diffusers(sched, net, x_T, 5)
        got = _run_ours(diffusion, name, steps, net, x_T, 5, eta)
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4), (name, (got - want).abs().max().item())


def test_every_sampler_runs_on_every_schedule():
    for schedule, prediction in (("linear", "eps"), ("cosine", "v"), ("linear_zero_snr", "v")):
        d = GaussianDiffusion(DiffusionConfig(timesteps=50, schedule=schedule, prediction=prediction))
        for name in SAMPLERS:
            x = toy_samples(d, name, 10, n=64)
            assert torch.isfinite(x).all(), (schedule, name)
