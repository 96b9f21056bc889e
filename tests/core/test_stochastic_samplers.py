"""The stochastic samplers, dpmpp_sde and edm, and Euler ancestral (which is ddim at eta 1), step for step
against diffusers' schedulers; the Gaussian toy of tests/test_samplers.py; rewinding; choices and errors.

How an oracle is driven (`_walk` runs ours, in float32, first; the oracle is replayed on what ours used):
- the same network outputs: the toy's exact network evaluated on our x, each output handed to both. An
  exact denoiser keeps x0 estimates O(1); a random network's would be O(1 / alpha_T), 8100x on cosine.
- the same noise: our draws are recorded as randn_like makes them and handed to the oracle, as
  `variance_noise` (DPMSolverMultistepScheduler), through its randn_tensor (EulerAncestralDiscreteScheduler,
  DDPMScheduler), or as Alg. 2's churn added to its sample (HeunDiscreteScheduler has no churn; its sigma
  at a churned level is set to sigma_hat). Where the oracle draws on the last step and we do not, it gets
  zeros: that noise is scaled by sigma_prev = 0 there.
- the same timesteps: every oracle uses timestep_spacing="trailing" and none of the sigma resamplings
  (karras, exponential, beta), so its sigmas are its schedule's at integer timesteps and its timesteps
  are ours (asserted). Its betas: beta_schedule "linear" (1e-4..0.02) or "squaredcos_cap_v2" (= our
  cosine), and for linear_zero_snr ours as trained_betas, so alpha_bar_T is exactly 0 (its
  rescale_betas_zero_snr would clamp it to 2**-24; Heun has no such option).
- precision: the oracle runs in float64 (outputs, samples and its float32 schedule's sigmas), so that
  its VE arithmetic (the Euler family keeps x_vp sqrt(1 + sigma^2), 8100 |x| at cosine's top) does
  not round off more than ours; its prev_sample is divided back to VP before comparing.
- zero terminal SNR (sigma_T = inf): every sampler's first step is then DDIM's (eta 1 for dpmpp_sde and
  Euler ancestral: e^-h = 0; eta 0 for edm: Euler only), checked against DDPMScheduler's posterior step
  ("fixed_small", = eta 1) or DDIMScheduler, which take alpha_bar_T = 0 as it is; the sampler's own oracle
  starts at step 1 from that output (set_begin_index). dpmpp_sde's second step is then first order in
  both: 1/r = 0 after an infinite h, and the oracle's history starts empty.
- ill-conditioned first steps, not compared: on cosine + eps, step 0's x0 = (x - sqrt(1 - ab) eps) /
  sqrt(ab) at ab_T = 1.5e-8 multiplies float32 rounding by 8100 (~1e-3); on cosine, edm's first Heun
  step multiplies the change in eps by alpha_1 (sigma_1 - sigma_T) / 2 = -630 (10 levels), ~2e-4. The
  oracle starts after them from our state (dpmpp_sde: with our step-0 x0 as its history).
Every other step's prev_sample and x0 estimate must agree to 1e-4 (max abs difference).
"""
import math
import subprocess
import sys

import pytest
import torch
from samplers_support import MU, S, oracle, toy_diffusion

from motionlab.core import loop, samplers
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.core.samplers import SAMPLERS, SamplerChoice, make_sampler
from motionlab.core.schedules import make_betas
from motionlab.errors import MotionlabError

TOL = 1e-4
T = 400
CASES = [("linear", "eps"), ("linear", "v"), ("cosine", "eps"), ("cosine", "v"), ("linear_zero_snr", "v")]
NEW = ("dpmpp_sde", "edm")


def _diffusion(schedule, prediction, timesteps=T):
    return GaussianDiffusion(DiffusionConfig(timesteps=timesteps, schedule=schedule, prediction=prediction))


def _x_T(shape=(3, 2, 4)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def draws(monkeypatch):
    """Every noise tensor our samplers draw, in order."""
    seen = []
    real = samplers.randn_like

    def recording(x, generator):
        z = real(x, generator)
        seen.append(z)
        return z
    monkeypatch.setattr(samplers, "randn_like", recording)
    return seen


def _walk(sampler, diffusion, x_T, draws, seed=5):
    """Our steps with the toy's exact network: [(StepOutput, network output, noise drawn or None)]."""
    net, g, x, walked = oracle(diffusion), torch.Generator().manual_seed(seed), x_T, []
    for t in sampler.timesteps:
        out = net(x, torch.full((x.shape[0],), t))
        n = len(draws)
        step = sampler.step(out, t, x, g)
        assert len(draws) - n <= 1
        walked.append((step, out.double(), draws[n].double() if len(draws) > n else None))
        x = step.prev_sample
    return walked


def _close(step, x0, prev, k):
    e0, ep = (step.pred_x0 - x0).abs().max().item(), (step.prev_sample - prev).abs().max().item()
    assert e0 <= TOL and ep <= TOL, f"step {k} (t {step.t} -> {step.t_prev}): x0 off by {e0:.2e}, x_prev by {ep:.2e}"


def _oracle(cls, schedule, prediction, steps, **kw):
    """A diffusers scheduler on our schedule, its sigmas in float64 (see the module docstring)."""
    kw.update(num_train_timesteps=T, timestep_spacing="trailing",
              prediction_type="epsilon" if prediction == "eps" else "v_prediction")
    if schedule == "linear":
        kw.update(beta_schedule="linear", beta_start=1e-4, beta_end=0.02)
    elif schedule == "cosine":
        kw.update(beta_schedule="squaredcos_cap_v2")
    else:
        kw.update(trained_betas=make_betas(schedule, T, 1e-4, 0.02).tolist())
    ref = cls(**kw)
    ref.set_timesteps(steps)
    if hasattr(ref, "sigmas"):
        ref.sigmas = ref.sigmas.double()
    return ref


def _start(schedule, prediction):
    """The first step compared: 1 where step 0 has no oracle (zero SNR) or no float32 answer (cosine + eps)."""
    return 1 if schedule == "linear_zero_snr" or (schedule, prediction) == ("cosine", "eps") else 0


def _first_step(schedule, prediction, steps, walked, x_T, eta):
    """Step 0 from alpha_bar_T = 0 against DDPMScheduler (eta 1: its posterior step, "fixed_small") or
    DDIMScheduler (eta 0), which take alpha_bar_T = 0 as it is: the oracle's output for it."""
    _, out, z = walked[0]
    if eta:
        ref = _oracle(diffusers.DDPMScheduler, schedule, prediction, steps, clip_sample=False,
                      variance_type="fixed_small")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(diffusers.schedulers.scheduling_ddpm, "randn_tensor", lambda shape, **kw: z)
            res = ref.step(out, ref.timesteps[0], x_T.double())
    else:
        ref = _oracle(diffusers.DDIMScheduler, schedule, prediction, steps, clip_sample=False, set_alpha_to_one=True)
        res = ref.step(out, ref.timesteps[0], x_T.double(), eta=0.0)
    assert float(ref.alphas_cumprod[-1]) == 0.0
    return res


def _ve(ref, x, k):
    return x * (1 + ref.sigmas[k] ** 2) ** 0.5


def _vp(ref, x, k):
    return x / (1 + ref.sigmas[k] ** 2) ** 0.5


diffusers = pytest.importorskip("diffusers", reason="diffusers is the reference implementation (requirements.txt)")


# --- dpmpp_sde: DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++") ----------------------------------

@pytest.mark.parametrize("steps", [10, 25])
@pytest.mark.parametrize("schedule,prediction", CASES)
def test_dpmpp_sde_matches_diffusers_step_for_step(schedule, prediction, steps, draws):
    d = _diffusion(schedule, prediction)
    x_T = _x_T()
    ours = make_sampler("dpmpp_sde", d, steps)
    walked = _walk(ours, d, x_T, draws)
    assert [z is None for _, _, z in walked] == [False] * (steps - 1) + [True]  # no draw into clean data
    ref = _oracle(diffusers.DPMSolverMultistepScheduler, schedule, prediction, steps, solver_order=2,
                  algorithm_type="sde-dpmsolver++", solver_type="midpoint", final_sigmas_type="zero",
                  lower_order_final=True, euler_at_final=False)
    assert [int(t) for t in ref.timesteps] == ours.timesteps
    x, k0 = x_T.double(), _start(schedule, prediction)
    if schedule == "linear_zero_snr":  # step 0 is DDPM's posterior step; after an infinite h, 1/r = 0:
        res = _first_step(schedule, prediction, steps, walked, x_T, eta=1)  # the oracle's history stays empty
        _close(walked[0][0], res.pred_original_sample, res.prev_sample, 0)
        x = res.prev_sample
    elif k0:  # cosine + eps: from our x_1, with our level-0 x0 estimate as the oracle's history
        x = walked[0][0].prev_sample.double()
        ref.model_outputs[-1], ref.lower_order_nums = walked[0][0].pred_x0.double(), 1
    ref.set_begin_index(k0)
    for k in range(k0, steps):
        step, out, z = walked[k]
        x = ref.step(out, ref.timesteps[k], x, variance_noise=torch.zeros_like(out) if z is None else z).prev_sample
        _close(step, ref.model_outputs[-1], x, k)  # model_outputs[-1]: the oracle's x0 estimate


# --- Euler ancestral: ddim at eta 1, against EulerAncestralDiscreteScheduler ------------------------------------

@pytest.mark.parametrize("schedule,prediction", CASES)
def test_euler_ancestral_is_ddim_at_eta_1(schedule, prediction, draws, monkeypatch):
    """Euler ancestral's sigma_down = sigma_s^2 / sigma_t and sigma_up = sigma_s sqrt(1 - sigma_s^2 / sigma_t^2)
    make its VP step alpha_s x0 + sigma_s (e^-h eps + sqrt(1 - e^-2h) z): DDIM's at eta 1 (and dpmpp_sde's
    first-order step), so it is not registered twice; this is the check."""
    steps = 20
    d = _diffusion(schedule, prediction)
    x_T = _x_T()
    walked = _walk(make_sampler("ddim", d, steps, eta=1.0), d, x_T, draws)
    ref = _oracle(diffusers.EulerAncestralDiscreteScheduler, schedule, prediction, steps)
    assert [int(t) for t in ref.timesteps] == make_sampler("ddim", d, steps).timesteps
    noise = []
    monkeypatch.setattr(diffusers.schedulers.scheduling_euler_ancestral_discrete, "randn_tensor",
                        lambda shape, **kw: noise.pop(0))
    k0 = _start(schedule, prediction)
    x = _ve(ref, x_T.double(), 0)
    if schedule == "linear_zero_snr":
        res = _first_step(schedule, prediction, steps, walked, x_T, eta=1)
        _close(walked[0][0], res.pred_original_sample, res.prev_sample, 0)
        x = _ve(ref, res.prev_sample, 1)
    elif k0:
        x = _ve(ref, walked[0][0].prev_sample.double(), 1)
    ref.set_begin_index(k0)
    for k in range(k0, steps):
        step, out, z = walked[k]
        noise.append(torch.zeros_like(out) if z is None else z)
        ref.scale_model_input(x, ref.timesteps[k])
        res = ref.step(out, ref.timesteps[k], x)
        x = res.prev_sample
        _close(step, res.pred_original_sample, _vp(ref, x, k + 1), k)


# --- edm: HeunDiscreteScheduler, with Alg. 2's churn added to its sample ----------------------------------------

EDM_SETTINGS = [{}, {"s_churn": 40.0}, {"s_churn": 10.0, "s_tmin": 0.05, "s_tmax": 5.0, "s_noise": 1.007}]


@pytest.mark.parametrize("params", EDM_SETTINGS, ids=["heun", "churn40", "churn10-window"])
@pytest.mark.parametrize("steps", [10, 25])
@pytest.mark.parametrize("schedule,prediction", CASES)
def test_edm_matches_diffusers_heun_step_for_step(schedule, prediction, steps, params, draws):
    d = _diffusion(schedule, prediction)
    x_T = _x_T()
    ours = make_sampler("edm", d, steps, **params)
    assert bool(ours.churned) == bool(params.get("s_churn"))
    walked = _walk(ours, d, x_T, draws)
    ref = _oracle(diffusers.HeunDiscreteScheduler, schedule, prediction, steps)
    assert [int(t) for t in ref.timesteps[::2]] == ours.levels
    ab, sig = ref.alphas_cumprod.double(), ref.sigmas  # sig: [s_0, s_1, s_1, s_2, s_2, ..., s_N-1, s_N-1, 0]
    for i, (t, t_hat) in enumerate(zip(ours.levels, ours.hat)):
        if t_hat != t:  # Alg. 2 line 4: level i's Euler step starts from sigma_hat (index 2i)
            sig[2 * i] = ((1 - ab[t_hat]) / ab[t_hat]) ** 0.5

    def churn(x, z, i):  # Alg. 2 line 5, VE, with our draw: level i's sigma (index 2i - 1) -> its sigma_hat
        return x + z * ours.s_noise * (sig[2 * i] ** 2 - sig[2 * i - 1] ** 2) ** 0.5

    x, k0 = _ve(ref, x_T.double(), 0), 0
    # cosine, either prediction: level 0's Heun step multiplies the change in eps by (sigma_1 - sigma_T) / 2 in
    # VE, alpha_1 (sigma_1 - sigma_T) / 2 = -630 in VP at 10 levels (sigma_T = 8116): float32 rounding of
    # x' alone moves x_1 by ~2e-4, so level 0 is not compared there either
    if _start(schedule, prediction) or schedule == "cosine":  # from level 1, which ours reaches in plan step k0
        k0 = next(k for k, (kind, i, _) in enumerate(ours.plan) if i == 1)
        step0, _, z = walked[k0 - 1]
        if schedule == "linear_zero_snr":  # Euler from sigma = inf, DDIM's step, then the churn of level 1
            assert ours.plan[:2] == [("euler", 0, 399), ("euler", 1, ours.hat[1])]
            res = _first_step(schedule, prediction, steps, walked, x_T, eta=0)
            x = _ve(ref, res.prev_sample, 1)
            x = churn(x, z, 1) if z is not None else x
            _close(step0, res.pred_original_sample, _vp(ref, x, 2 if z is not None else 1), 0)
        else:  # cosine: from our x at level 1
            x = _ve(ref, step0.prev_sample.double(), 2)
        ref.set_begin_index(2)
    for k in range(k0, len(ours.plan)):
        kind, i, t = ours.plan[k]
        step, out, z = walked[k]
        idx = 2 * i if kind == "euler" else 2 * i + 1
        assert ref.step_index in (None, idx)
        res = ref.step(out, ref.timesteps[idx], x)
        x, at = res.prev_sample, 2 * i + 1  # landed on level i + 1 (sigma index 2i + 1)
        if z is not None:
            x, at = churn(x, z, i + 1), 2 * i + 2
        _close(step, res.pred_original_sample, _vp(ref, x, at), k)


def test_edm_plan():
    d = _diffusion("linear", "eps")
    heun = make_sampler("edm", d, 10)
    assert heun.num_steps == 19 and heun.levels == list(range(399, 0, -40)) and not heun.churned
    assert heun.timesteps == [399] + [t for t in range(359, 0, -40) for _ in (0, 1)]
    assert make_sampler("edm", _diffusion("linear_zero_snr", "v"), 10).num_steps == 18  # no Heun from sigma = inf
    churn = make_sampler("edm", d, 10, s_churn=40.0)  # gamma = min(4, sqrt2 - 1): every level but the top one
    sig = lambda t: math.sqrt((1 - d.schedule.alpha_bar(t)) / d.schedule.alpha_bar(t))
    assert len(churn.churned) == 9
    for t, t_hat in churn.churned:
        target = math.log(sig(t) * math.sqrt(2))
        assert t < t_hat <= 399 and all(abs(math.log(sig(u)) - target) >= abs(math.log(sig(t_hat)) - target) - 1e-12
                                        for u in range(t, 400))
    window = make_sampler("edm", d, 10, s_churn=40.0, s_tmin=0.5, s_tmax=3.0)
    assert [t for t, _ in window.churned] == [t for t in window.levels if 0.5 <= sig(t) <= 3.0]
    assert make_sampler("edm", d, 10, s_churn=0.01).churned == []  # a gamma under one level's spacing rounds away
    with pytest.raises(ValueError, match="next evaluation"):
        heun.step(torch.zeros(1, 1, 4), 359, torch.zeros(1, 1, 4))


# --- the Gaussian toy ----------------------------------------------------------------------------------------

def _toy_moments(diffusion, name, steps, n=4096, seed=0, **params):
    x = loop.sample(diffusion, oracle(diffusion), (n, 1, 4), torch.Generator().manual_seed(seed),
                    sampler=make_sampler(name, diffusion, steps, **params))
    assert torch.isfinite(x).all()
    return abs(x.mean().item() - MU), abs(x.std().item() - S)


# test_samplers' bounds (0.015 mean, 0.006 std for 4096 x 4 draws); steps where each has converged
@pytest.mark.parametrize("name,steps,params", [("dpmpp_sde", 200, {}), ("edm", 200, {}),
                                               ("edm", 200, {"s_churn": 40.0})],
                         ids=["dpmpp_sde-200", "edm-200", "edm-200-churn40"])
@pytest.mark.parametrize("schedule,prediction", [("linear", "eps"), ("cosine", "eps"), ("linear_zero_snr", "v")])
def test_gaussian_toy_moments_when_converged(name, steps, params, schedule, prediction):
    mean_err, std_err = _toy_moments(toy_diffusion(schedule, prediction), name, steps, **params)
    assert mean_err < 0.015 and std_err < 0.006, (mean_err, std_err)


# --- rewinding (RePaint's resampling) ------------------------------------------------------------------------

@pytest.mark.parametrize("name,params", [("dpmpp_sde", {}), ("edm", {})])
def test_restore_rewinds_a_step(name, params):
    """Any step taken again after restore(state()) gives the same output from the same input and noise."""
    d = _diffusion("linear", "eps", timesteps=50)
    sampler, net = make_sampler(name, d, 8, **params), oracle(d)
    x = _x_T((2, 1, 4))
    for k, t in enumerate(sampler.timesteps):
        out = net(x, torch.full((2,), t))
        state = sampler.state()
        a = sampler.step(out, t, x, torch.Generator().manual_seed(k))
        sampler.restore(state)
        b = sampler.step(out, t, x, torch.Generator().manual_seed(k))
        assert torch.equal(a.prev_sample, b.prev_sample) and torch.equal(a.pred_x0, b.pred_x0), (name, k)
        x = b.prev_sample


def test_without_restore_a_repeated_step_differs():
    """What state() keeps matters: dpmpp_sde's second-order term moves, edm's next evaluation moves on."""
    d = _diffusion("linear", "eps", timesteps=50)
    net, x = oracle(d), _x_T((2, 1, 4))
    sde = make_sampler("dpmpp_sde", d, 8)
    for t in sde.timesteps[:2]:
        out = net(x, torch.full((2,), t))
        a = sde.step(out, t, x, torch.Generator().manual_seed(0))
    b = sde.step(out, t, x, torch.Generator().manual_seed(0))  # the history is now a's own x0
    assert not torch.equal(a.prev_sample, b.prev_sample)
    edm = make_sampler("edm", d, 8)
    t = edm.timesteps[0]
    edm.step(net(x, torch.full((2,), t)), t, x)
    with pytest.raises(ValueError, match="next evaluation"):
        edm.step(net(x, torch.full((2,), t)), t, x)


def test_resampling_runs_with_every_new_sampler_without_churn():
    d = _diffusion("linear", "eps", timesteps=50)
    mask = torch.zeros(2, 1, 4, dtype=torch.bool)
    mask[..., :2] = True
    known = torch.full((2, 1, 4), MU)
    for name in NEW:
        x = loop.sample(d, oracle(d), (2, 1, 4), torch.Generator().manual_seed(0), sampler=make_sampler(name, d, 8),
                        known=known, mask=mask, resample=3)
        assert torch.isfinite(x).all() and torch.equal(x[..., :2], known[..., :2]), name


def test_edm_with_churn_refuses_resampling_in_one_line():
    d = _diffusion("linear", "eps", timesteps=50)
    mask = torch.zeros(2, 1, 4, dtype=torch.bool)
    mask[..., :2] = True
    with pytest.raises(MotionlabError, match="cannot be resampled") as e:
        loop.sample(d, oracle(d), (2, 1, 4), torch.Generator().manual_seed(0),
                    sampler=make_sampler("edm", d, 8, s_churn=40.0), known=torch.zeros(2, 1, 4), mask=mask,
                    resample=2)
    assert "\n" not in str(e.value)
    # without resampling a churned edm inpaints like any sampler
    x = loop.sample(d, oracle(d), (2, 1, 4), torch.Generator().manual_seed(0),
                    sampler=make_sampler("edm", d, 8, s_churn=40.0), known=torch.zeros(2, 1, 4), mask=mask)
    assert torch.equal(x[..., :2], torch.zeros(2, 1, 2))


# --- choices, errors, registry -------------------------------------------------------------------------------

@pytest.mark.parametrize("choice", [SamplerChoice.of("dpmpp_sde", 20), SamplerChoice.of("edm", 15),
                                    SamplerChoice.of("edm", 10, s_churn=40, s_tmin=0.05, s_tmax=5, s_noise=1.007),
                                    SamplerChoice.of("edm", 25, s_tmax=1000, s_churn=10),
                                    SamplerChoice.of("dpmpp_sde")])
def test_choice_round_trips_through_its_label(choice):
    label = choice.label(T)
    back = SamplerChoice.from_label(label, T)
    assert back == choice and back.label(T) == label
    sampler = back.build(_diffusion("linear", "eps"))
    for k, v in back.params:
        assert getattr(sampler, k) == v


def test_labels_read_as_documented():
    assert SamplerChoice.of("edm", 10, s_churn=40, s_noise=1.0).label(T) == "edm-10 s_churn 40"
    assert SamplerChoice.of("dpmpp_sde", 400).label(T) == "dpmpp_sde-400"


@pytest.mark.parametrize("make", [
    lambda: SamplerChoice.of("edm", 10, s_churn=-1),
    lambda: SamplerChoice.of("edm", 10, s_churn=1001),
    lambda: SamplerChoice.of("edm", 10, s_noise=2.0),
    lambda: SamplerChoice.of("edm", 10, s_tmin=-0.1),
    lambda: SamplerChoice.of("edm", 10, s_tmax=math.inf),
    lambda: SamplerChoice.of("edm", 10, s_tmin=5.0, s_tmax=1.0),
    lambda: SamplerChoice.of("edm", 10, s_churn=True),
    lambda: SamplerChoice.of("edm", 10, eta=0.5),
    lambda: SamplerChoice.of("dpmpp_sde", 10, eta=0.5),
    lambda: SamplerChoice.from_label("edm-10 s_churn", T),
    lambda: make_sampler("edm", _diffusion("linear", "eps"), 10, s_tmin=5.0, s_tmax=1.0),
    lambda: make_sampler("edm", _diffusion("linear", "eps"), 10, s_churn="40"),
    lambda: make_sampler("dpmpp_sde", _diffusion("linear", "eps"), 10, s_churn=1.0),
], ids=["churn<0", "churn>max", "noise>max", "tmin<0", "tmax-inf", "tmin>tmax", "bool", "eta-on-edm", "eta-on-sde",
        "bad-label", "make:tmin>tmax", "make:str", "make:unknown"])
def test_bad_settings_raise_one_line(make):
    with pytest.raises(MotionlabError) as e:
        make()
    assert "\n" not in str(e.value) and str(e.value)


def test_registry_lists_the_new_samplers():
    assert set(NEW) <= set(SAMPLERS) and set(NEW) <= set(samplers.REGISTRY)
    for name in NEW:
        cls = samplers.REGISTRY[name]
        assert cls.label and cls.about and "\n" not in cls.about
    assert {q.name for q in samplers.REGISTRY["edm"].params} == {"s_churn", "s_tmin", "s_tmax", "s_noise"}


@pytest.mark.slow
def test_sample_help_shows_the_new_samplers_and_settings():
    r = subprocess.run([sys.executable, "-m", "motionlab.sample", "--help"], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    for word in (*NEW, "--s-churn", "--s-tmin", "--s-tmax", "--s-noise"):
        assert word in text, word
