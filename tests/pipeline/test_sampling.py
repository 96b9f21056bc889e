"""Seeded sampling with trajectories, and the trajectory budget (property tests of the stride that keeps it)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import tiny_model_config
from motionlab import MotionlabError
from motionlab.formats.checkpoints import load_model
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.core.model import PositionalUNet1D
from motionlab.pipeline.sampling import TRAJECTORY_BUDGET_BYTES, Trajectory, generate, sample_checkpoint, trajectory_stride

T = 10


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return PositionalUNet1D(tiny_model_config()).eval(), GaussianDiffusion(DiffusionConfig(timesteps=T))


def test_generate_is_seeded(net):
    model, diff = net
    a = generate(model, diff, 2, 16, seed=5).x
    b = generate(model, diff, 2, 16, seed=5).x
    c = generate(model, diff, 2, 16, seed=6).x
    assert a.shape == (2, 40, 16) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_generate_keeps_a_trajectory_from_noise_to_the_sample(net):
    model, diff = net
    calls = []
    run = generate(model, diff, 2, 16, seed=5, keep_trajectory=True, on_step=calls.append)
    x, traj = run.x, run.trajectory
    assert run.sampler == f"ddpm-{T}"
    assert isinstance(traj, Trajectory)
    assert len(calls) == T and [o.t for o in calls] == list(range(T - 1, -1, -1))
    assert traj.steps.tolist() == list(range(T, -1, -1))       # every state kept at this size
    assert traj.x_t.shape == traj.pred_x0.shape == (T + 1, 2, 40, 16)
    assert traj.x_t.dtype == np.float16
    np.testing.assert_allclose(traj.x_t[-1], x.numpy(), atol=1e-2)  # the last state is the sample
    np.testing.assert_allclose(traj.x_t[0], calls[0].x_t.numpy(), atol=1e-2)  # the first is the noise
    assert torch.equal(x, generate(model, diff, 2, 16, seed=5).x)  # keeping states changes nothing
    assert traj.nearest(3) == T - 3 and traj.nearest(100) == 0
    assert traj.nbytes == traj.x_t.nbytes * 2


def test_trajectory_is_thinned_to_fit_the_budget(net):
    model, diff = net
    shape = (2, 40, 16)
    per_state = 2 * 2 * int(np.prod(shape))
    budget = 5 * per_state
    k = trajectory_stride(T, shape, budget)
    assert k > 1 and (T // k + 2) * per_state <= budget
    traj = generate(model, diff, 2, 16, seed=1, keep_trajectory=True, budget=budget).trajectory
    assert traj.steps[0] == T and traj.steps[-1] == 0
    assert np.all(np.diff(traj.steps) < 0)
    assert traj.nbytes <= budget


@pytest.mark.parametrize("n,window,match", [(0, 16, "number of samples"), (65, 16, "number of samples"),
                                            (1, 7, "at least 8 frames")])
def test_generate_rejects_bad_requests(net, n, window, match):
    with pytest.raises(MotionlabError, match=match):
        generate(*net, n, window)


def test_sample_checkpoint_returns_pixels(tiny_checkpoint):
    lm = load_model(tiny_checkpoint)
    run = sample_checkpoint(lm, num_samples=3, seed=42, keep_trajectory=True)
    px, traj = run.pixels, run.trajectory
    assert px.shape == (3, 16, 40) and np.isfinite(px).all()
    assert traj.x_t.shape[1:] == (3, 40, 16)
    np.testing.assert_array_equal(px, sample_checkpoint(lm, num_samples=3, seed=42).pixels)


# -- the trajectory budget -------------------------------------------------------------------------------

def _kept_levels(T, k):
    return sorted({T} | set(range(k, T + 1, k)), reverse=True) + [0]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 1000), st.integers(1, 64), st.integers(1, 40), st.integers(8, 512),
       st.integers(2**10, 2**28))
def test_trajectory_stride_keeps_within_budget(T, n, joints, w, budget):
    shape = (n, 2 * joints, w)
    per_state = 2 * 2 * n * 2 * joints * w
    k = trajectory_stride(T, shape, budget)
    assert 1 <= k <= T
    kept = len(_kept_levels(T, k)) * per_state
    if 2 * per_state <= budget:  # the two ends (noise and sample) always stay: the budget must hold
        assert kept <= budget, (k, kept, budget)
    if k > 1:  # and no finer stride would have fitted the bound
        assert (T // (k - 1) + 2) * per_state > budget


def test_spec_sized_trajectory_is_capped():
    """8 samples x 256 frames x 400 steps: every step would be 131 MB; the kept states fit 96 MiB."""
    shape, T = (8, 40, 256), 400
    per_state = 2 * 2 * 8 * 40 * 256
    assert (T + 1) * per_state > TRAJECTORY_BUDGET_BYTES
    k = trajectory_stride(T, shape)
    assert len(_kept_levels(T, k)) * per_state <= TRAJECTORY_BUDGET_BYTES


def test_generated_trajectory_nbytes_respects_the_budget():
    from conftest import tiny_model_config
    from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
    from motionlab.core.model import PositionalUNet1D
    import torch
    torch.manual_seed(0)
    model = PositionalUNet1D(tiny_model_config(in_channels=4)).eval()
    diffusion = GaussianDiffusion(DiffusionConfig(timesteps=40))
    per_state = 2 * 2 * 3 * 4 * 16
    for budget in (3 * per_state, 10_000, 50 * per_state, TRAJECTORY_BUDGET_BYTES):
        run = generate(model, diffusion, 3, 16, seed=1, keep_trajectory=True, budget=budget)
        x, traj = run.x, run.trajectory
        assert traj.nbytes <= budget
        assert traj.x_t.shape[1:] == (3, 4, 16) and traj.x_t.dtype == np.float16
        assert traj.steps[0] == 40 and traj.steps[-1] == 0 and (np.diff(traj.steps) < 0).all()
        np.testing.assert_array_equal(traj.x_t[-1], x.half().numpy())
        if budget >= 41 * per_state:
            assert len(traj.steps) == 41  # everything fits: every step kept
