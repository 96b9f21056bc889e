"""Gaussian DDPM math: schedule, forward process, x0 estimate, the ancestral step, seeded sampling."""
import numpy as np
import pytest
import torch

from conftest import tiny_model_config
from motionlab.core import loop
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.core.steps import StepOutput, autocast
from motionlab.core.samplers import DDPMSampler
from motionlab.core.model import PositionalUNet1D

T = 20


@pytest.fixture(scope="module")
def diff():
    return GaussianDiffusion(DiffusionConfig(timesteps=T))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PositionalUNet1D(tiny_model_config()).eval()


def test_linear_beta_schedule(diff):
    b = diff.betas.numpy()
    assert len(b) == T
    assert b[0] == pytest.approx(1e-4) and b[-1] == pytest.approx(0.02)
    np.testing.assert_allclose(np.diff(b), np.diff(b)[0], rtol=1e-4)
    ab = diff.alphas_cumprod.numpy()
    np.testing.assert_allclose(ab, np.cumprod(1 - b.astype(np.float64)), rtol=1e-6)
    assert np.all(np.diff(ab) < 0)


def test_default_config_matches_the_spec():
    cfg = DiffusionConfig()
    assert (cfg.timesteps, cfg.beta_start, cfg.beta_end) == (400, 1e-4, 0.02)


@pytest.mark.parametrize("kw", [dict(timesteps=0), dict(beta_start=0.0), dict(beta_start=0.1, beta_end=0.01),
                                dict(beta_end=1.0), dict(variance="nope")])
def test_bad_configs(kw):
    with pytest.raises(ValueError):
        GaussianDiffusion(DiffusionConfig(**kw))


def test_q_sample_statistics(diff):
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((4, 40, 2000), 3.0)
    noise = torch.randn(x0.shape, generator=g)
    for t in (0, T // 2, T - 1):
        tt = torch.full((4,), t)
        x = diff.q_sample(x0, tt, noise)
        ab = float(diff.alphas_cumprod[t])
        assert x.mean().item() == pytest.approx(3.0 * ab ** 0.5, abs=0.01)
        assert x.std().item() == pytest.approx((1 - ab) ** 0.5, rel=0.02)
    # no noise: the signal is only scaled
    tt = torch.full((4,), 5)
    assert torch.allclose(diff.q_sample(x0, tt, torch.zeros_like(x0)), x0 * diff.sqrt_alphas_cumprod[5])


def test_q_sample_uses_each_items_own_timestep(diff):
    x0 = torch.ones(2, 3, 8)
    x = diff.q_sample(x0, torch.tensor([0, T - 1]), torch.zeros_like(x0))
    assert torch.allclose(x[0], diff.sqrt_alphas_cumprod[0] * x0[0]) and torch.allclose(x[1], diff.sqrt_alphas_cumprod[T - 1] * x0[1])


def test_predict_x0_inverts_q_sample_with_the_true_noise(diff):
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(5, 40, 16, generator=g)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.tensor([0, 3, 7, 15, T - 1])
    x_t = diff.q_sample(x0, t, noise)
    x0_hat, eps_hat = diff.predict_x0_eps(noise, x_t, t)
    assert torch.allclose(x0_hat, x0, atol=1e-4) and torch.equal(eps_hat, noise)  # eps models output eps itself


def _oracle(noise):
    return lambda x, t: noise


def test_training_losses_with_a_perfect_model_are_zero(diff):
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(3, 40, 16, generator=g)
    noise = torch.randn(x0.shape, generator=g)
    out = diff.training_losses(_oracle(noise), x0, t=torch.tensor([1, 5, 9]), noise=noise, vel_weight=0.5)
    assert out["eps"].item() == pytest.approx(0.0, abs=1e-10)
    assert out["vel"].item() == pytest.approx(0.0, abs=1e-6)


def test_vel_weight_adds_a_velocity_term(diff, model):
    x0 = torch.randn(2, 40, 16, generator=torch.Generator().manual_seed(3))
    kw = dict(t=torch.tensor([2, 8]), noise=torch.randn(x0.shape, generator=torch.Generator().manual_seed(4)))
    plain = diff.training_losses(model, x0, **kw)
    assert set(plain) == {"eps", "loss"}
    assert plain["loss"].item() == pytest.approx(plain["eps"].item())
    weighted = diff.training_losses(model, x0, vel_weight=0.5, **kw)
    assert set(weighted) == {"eps", "vel", "loss"}
    assert weighted["vel"].item() > 0
    assert weighted["loss"].item() == pytest.approx(weighted["eps"].item() + 0.5 * weighted["vel"].item(), rel=1e-6)
    assert weighted["eps"].item() == pytest.approx(plain["eps"].item(), rel=1e-6)


def test_training_losses_seeded_by_the_generator(diff, model):
    x0 = torch.randn(2, 40, 16, generator=torch.Generator().manual_seed(5))
    a = diff.training_losses(model, x0, torch.Generator().manual_seed(9))["loss"]
    b = diff.training_losses(model, x0, torch.Generator().manual_seed(9))["loss"]
    c = diff.training_losses(model, x0, torch.Generator().manual_seed(10))["loss"]
    assert a.item() == b.item() != c.item()


def test_step_exposes_pred_x0_and_prev_sample(diff):
    g = torch.Generator().manual_seed(6)
    x0 = torch.randn(2, 40, 16, generator=g)
    noise = torch.randn(x0.shape, generator=g)
    t = 7
    x_t = diff.q_sample(x0, torch.full((2,), t), noise)
    sampler = DDPMSampler(diff)
    out = sampler.step(noise, t, x_t, torch.Generator().manual_seed(0))
    assert isinstance(out, StepOutput) and out.t == t and out.t_prev == t - 1
    assert out.x_t is x_t
    assert torch.allclose(out.pred_x0, x0, atol=1e-4)
    # prev_sample = posterior mean + sigma_t * z
    c0, ct, sigma = sampler.coefficients(t)
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out.prev_sample, c0 * out.pred_x0 + ct * x_t + sigma * z, atol=1e-5)


def test_last_step_returns_the_x0_estimate_without_noise(diff):
    x0 = torch.randn(2, 40, 16, generator=torch.Generator().manual_seed(7))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(8))
    x_1 = diff.q_sample(x0, torch.zeros(2, dtype=torch.long), noise)
    out = DDPMSampler(diff).step(noise, 0, x_1)
    assert out.t_prev == -1
    assert torch.allclose(out.prev_sample, out.pred_x0, atol=1e-5)
    assert torch.allclose(out.prev_sample, x0, atol=1e-4)


def test_posterior_variance_is_smaller_than_beta():
    a = DDPMSampler(GaussianDiffusion(DiffusionConfig(timesteps=T)))
    b = DDPMSampler(GaussianDiffusion(DiffusionConfig(timesteps=T, variance="posterior")))
    sig_a = np.array([a.coefficients(t)[2] for t in range(T)])
    sig_b = np.array([b.coefficients(t)[2] for t in range(T)])
    assert sig_b[0] == 0.0
    assert np.all(sig_b[1:] < sig_a[1:])
    np.testing.assert_allclose(sig_a ** 2, np.linspace(1e-4, 0.02, T), rtol=1e-9)


def test_sample_steps_walks_from_t_minus_one_to_zero(diff, model):
    outs = list(loop.sample_steps(diff, model, (2, 40, 16), torch.Generator().manual_seed(0)))
    assert [o.t for o in outs] == list(range(T - 1, -1, -1))
    for a, b in zip(outs, outs[1:]):
        assert torch.equal(a.prev_sample, b.x_t)
    assert all(o.pred_x0.shape == (2, 40, 16) for o in outs)


def test_same_seed_same_samples_other_seed_other_samples(diff, model):
    shape = (2, 40, 16)
    a = loop.sample(diff, model, shape, torch.Generator().manual_seed(42))
    b = loop.sample(diff, model, shape, torch.Generator().manual_seed(42))
    c = loop.sample(diff, model, shape, torch.Generator().manual_seed(43))
    assert a.shape == shape and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_sampling_from_a_given_x_T(diff, model):
    x_T = torch.randn(1, 40, 16, generator=torch.Generator().manual_seed(0))
    a = loop.sample(diff, model, x_T.shape, torch.Generator().manual_seed(1), x_T=x_T)
    b = loop.sample(diff, model, x_T.shape, torch.Generator().manual_seed(1), x_T=x_T.clone())
    assert torch.equal(a, b)


def test_bf16_sampling_runs_and_stays_close_to_fp32(diff, model):
    shape = (2, 40, 16)
    a = loop.sample(diff, model, shape, torch.Generator().manual_seed(0), precision="bf16")
    b = loop.sample(diff, model, shape, torch.Generator().manual_seed(0), precision="fp32")
    assert a.dtype == torch.float32 and torch.isfinite(a).all()
    assert (a - b).abs().mean().item() < 0.1 * b.abs().mean().item()


def test_bf16_training_step_runs(diff):
    torch.manual_seed(0)
    m = PositionalUNet1D(tiny_model_config())
    x0 = torch.randn(2, 40, 16)
    with autocast("cpu", "bf16"):
        out = diff.training_losses(m, x0, torch.Generator().manual_seed(0), vel_weight=0.1)
    assert out["loss"].dtype == torch.float32 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in m.parameters())


def test_autocast_rejects_unknown_precision():
    with pytest.raises(ValueError, match="precision"):
        autocast("cpu", "fp8")
