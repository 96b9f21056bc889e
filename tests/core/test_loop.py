"""core.loop's masked sampling with every sampler (the known region comes back exactly, RePaint resampling
rewinds the sampler) and the diffusion's renoise that resampling uses."""
import pytest
import torch

from motionlab.core import loop
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.core.model import ModelConfig, PositionalUNet1D
from motionlab.core.samplers import REGISTRY, SamplerChoice, make_sampler
from motionlab.errors import MotionlabError


CASES = [("ddpm", None, 0.0), ("ddpm", 4, 0.0), ("ddim", 5, 0.0), ("ddim", 5, 0.7), ("dpmpp", 5, 0.0)]


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = PositionalUNet1D(ModelConfig(in_channels=6, base_channels=16, channel_mults=(1, 2), time_dim=32)).eval()
    return model, GaussianDiffusion(DiffusionConfig(timesteps=12))


def _run(net, name, steps, eta, known=None, mask=None, resample=1, seed=3):
    model, diff = net
    sampler = make_sampler(name, diff, steps, **({"eta": eta} if eta else {}))
    return loop.sample(diff, model, (2, 6, 16), torch.Generator().manual_seed(seed), sampler=sampler, known=known,
                       mask=mask, resample=resample)


@pytest.mark.parametrize("name,steps,eta", CASES)
@pytest.mark.parametrize("resample", [1, 3])
def test_known_region_comes_back_exactly(net, name, steps, eta, resample):
    known = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(9))
    mask = torch.zeros(1, 6, 16, dtype=torch.bool)
    mask[:, :, :4] = True          # the first frames
    mask[:, 2:4, :] = True         # one joint throughout
    x = _run(net, name, steps, eta, known, mask, resample)
    assert torch.equal(x[mask.expand_as(x)], known[mask.expand_as(x)])
    free = _run(net, name, steps, eta)
    assert not torch.allclose(x[~mask.expand_as(x)], free[~mask.expand_as(x)])  # the rest did react


@pytest.mark.parametrize("name,steps,eta", CASES)
def test_all_known_returns_the_input(net, name, steps, eta):
    known = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(1))
    x = _run(net, name, steps, eta, known, torch.ones(1, 6, 16, dtype=torch.bool), resample=2)
    assert torch.equal(x, known)


@pytest.mark.parametrize("name,steps,eta", CASES)
@pytest.mark.parametrize("resample", [1, 4])
def test_all_unknown_is_plain_sampling(net, name, steps, eta, resample):
    plain = _run(net, name, steps, eta)
    known = torch.full((2, 6, 16), 123.0)
    x = _run(net, name, steps, eta, known, torch.zeros(1, 6, 16, dtype=torch.bool), resample)
    assert torch.equal(x, plain)


def test_resampling_repeats_each_step_with_the_sampler_rewound(net):
    """RePaint with U tries calls the network U times per step, and DPM-Solver++'s history is the
    previous timestep's, not the previous try's: with an oracle of a point mass (x0 = c always) every
    try lands on c's noised value, so the final sample is c exactly wherever it is not held."""
    _, diff = net
    calls = []

    def point_mass(x, t):
        calls.append(int(t[0]))
        ab = diff.alphas_cumprod[t].view(-1, 1, 1)
        return (x - ab.sqrt() * 0.5) / (1 - ab).sqrt()   # eps of x0 = 0.5
    mask = torch.zeros(1, 6, 16, dtype=torch.bool)
    mask[..., :3] = True
    sampler = make_sampler("dpmpp", diff, 4)
    x = loop.sample(diff, point_mass, (1, 6, 16), torch.Generator().manual_seed(0), sampler=sampler,
                    known=torch.full((1, 6, 16), 0.5), mask=mask, resample=3)
    assert calls == [t for t in sampler.timesteps for _ in range(3)]
    torch.testing.assert_close(x, torch.full_like(x, 0.5), atol=1e-5, rtol=0)


def test_renoise_matches_the_forward_process(net):
    """q(x_t | x_s) over a stride composes with q(x_s | x_0) into q(x_t | x_0)."""
    _, diff = net
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000, 1, 1), 2.0)
    s, t = 3, 9
    xs = diff.q_sample(x0, torch.full((20000,), s), torch.randn(x0.shape, generator=g))
    xt = diff.renoise(xs, s, t, g)
    ab = diff.schedule.alpha_bar(t)
    assert abs(xt.mean().item() - 2.0 * ab ** 0.5) < 0.03
    assert abs(xt.std().item() - (1 - ab) ** 0.5) < 0.02


@pytest.mark.parametrize("label", [SamplerChoice.of(name, 4, **s).label(12) for name, cls in REGISTRY.items()
                                   for s in cls.study_settings] + ["edm-4 s_churn 5 s_tmin 1000"])
def test_rewindable_says_which_settings_resampling_can_use(net, label):
    """SamplerChoice.rewindable, which picks the Edit page's default, agrees with what loop.sample does: a
    rewindable setting resamples, the others stop with a one-line error naming the cause."""
    _, diff = net
    choice = SamplerChoice.from_label(label, 12)
    mask = torch.zeros(1, 6, 16, dtype=torch.bool)
    mask[..., :3] = True

    def run():
        return loop.sample(diff, lambda x, t: torch.zeros_like(x), (1, 6, 16), torch.Generator().manual_seed(0),
                           sampler=choice.build(diff), known=torch.zeros(1, 6, 16), mask=mask, resample=2)
    churned = bool(getattr(choice.build(diff), "churned", []))
    assert choice.rewindable == (not dict(choice.params).get("s_churn"))
    if churned:
        with pytest.raises(MotionlabError, match="cannot be resampled"):
            run()
    else:
        assert torch.isfinite(run()).all()
