"""Property tests (hypothesis): the clip loader, windowing and normalization.

- the loader returns a valid Clip or raises ClipError, never anything else, on any JSON,
  any text and any bytes;
- any valid clip survives save -> load, and normalize -> unnormalize (within 1e-4 of its scale);
- the number of windows is floor((T - W) / S) + 1, capped by the limit.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motionlab import ClipError
from motionlab.errors import ConfigError
from motionlab.data.clip import MAX_FRAMES, MAX_JOINTS, Clip, load_clip, loads_clip, parse_clip, save_clip
from motionlab.data.dataset import DataConfig, MotionSequenceDataset, window_starts

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- the loader on arbitrary input ------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=8))
any_json = st.recursive(scalars, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=6), kids,
                                                                                              max_size=5),
                        max_leaves=40)
# closer to a clip, so examples get past the first checks: name -> list of "frames"
frame = st.lists(scalars | st.lists(scalars, max_size=3), min_size=0, max_size=3) | scalars
clip_like = st.dictionaries(st.text(max_size=6), st.lists(frame, max_size=6) | scalars, max_size=4)


def _check_result(clip, min_frames=1):
    assert isinstance(clip, Clip)
    t, j, two = clip.xy.shape
    assert two == 2 and j == len(clip.joints) >= 1 and min_frames <= t <= MAX_FRAMES and j <= MAX_JOINTS
    assert clip.xy.dtype == np.float32 and np.isfinite(clip.xy).all()
    assert list(clip.joints) == sorted(clip.joints)


def _load(arg, **kw):
    try:
        clip = loads_clip(arg, **kw)
    except ClipError as e:
        assert "\n" not in str(e)
        return None
    _check_result(clip, kw.get("min_frames", 1))
    return clip


@SETTINGS
@given(any_json)
def test_loads_clip_on_any_json_value(value):
    _load(json.dumps(value))  # allow_nan: NaN / Infinity tokens too
    _load(json.dumps(value).encode())


@SETTINGS
@given(clip_like, st.integers(-3, 8))
def test_loads_clip_on_clip_shaped_json(value, min_frames):
    _load(json.dumps(value), min_frames=min_frames)
    try:
        parse_clip(value, min_frames=min_frames)
    except ClipError:
        pass


@SETTINGS
@given(st.text(max_size=200))
def test_loads_clip_on_any_text(text):
    _load(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_loads_clip_on_any_bytes(data):
    _load(data)


@SETTINGS
@given(st.binary(max_size=40), st.integers(0, 80))
def test_loads_clip_on_corrupted_valid_files(junk, at):
    """A real clip file with bytes spliced in at some point."""
    good = json.dumps({"a": [[1.5, 2.0], [3.0, 4.0]], "b": [[5.0, 6.0], [7.0, 8.0]]}).encode()
    at = min(at, len(good))
    _load(good[:at] + junk + good[at:])
    _load(good[:at])


# ---- valid clips ------------------------------------------------------------------------------------

joint_name = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    lambda s: s.strip())
coord = st.floats(-4000, 4000, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def valid_clips(draw, min_frames=1, max_frames=40, max_joints=4):
    names = draw(st.lists(joint_name, min_size=1, max_size=max_joints, unique=True))
    t = draw(st.integers(min_frames, max_frames))
    xy = draw(st.lists(st.lists(st.tuples(coord, coord), min_size=len(names), max_size=len(names)),
                       min_size=t, max_size=t))
    return {n: [list(xy[i][j]) for i in range(t)] for j, n in enumerate(names)}


@SETTINGS
@given(valid_clips())
def test_valid_clips_load_exactly(data):
    clip = loads_clip(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    _check_result(clip)
    assert clip.joints == tuple(sorted(data))
    for j, n in enumerate(clip.joints):
        np.testing.assert_array_equal(clip.xy[:, j], np.asarray(data[n], np.float32))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(valid_clips(max_frames=12))
def test_save_load_round_trip(tmp_path, data):
    clip = parse_clip(data)
    p = tmp_path / "c.json"
    save_clip(clip, p)
    back = load_clip(p)
    assert back.joints == clip.joints  # names in any script survive
    np.testing.assert_allclose(back.xy, clip.xy, rtol=0, atol=5e-4 + 1e-6 * np.abs(clip.xy).max())


@st.composite
def clip_and_windows(draw):
    w = draw(st.integers(2, 24))
    data = draw(valid_clips(min_frames=w, max_frames=w + 30))
    s = draw(st.integers(1, 12))
    return parse_clip(data), w, s


@SETTINGS
@given(clip_and_windows())
def test_normalize_unnormalize_round_trip(args):
    clip, w, s = args
    ds = MotionSequenceDataset(clip, DataConfig(window=w, stride=s, limit=0))
    raw = ds.windows_pixels()
    scale = max(1.0, float(np.abs(raw).max()))
    back = ds.normalizer.unnormalize(ds.normalizer.normalize(raw))
    assert np.abs(back - raw).max() <= 1e-4 * scale
    # the tensor path the trainer uses: (N, C, W) float32
    x = ds.epoch_windows(0).numpy().transpose(0, 2, 1)
    assert np.isfinite(x).all()
    assert np.abs(ds.normalizer.unnormalize(ds.epoch_windows(0)) - raw).max() <= 1e-4 * scale
    # per-channel statistics of what the model sees: centred, unit scale unless the channel is constant
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    assert np.abs(flat.mean(0)).max() <= 1e-3 * max(1.0, scale / float(ds.std.min()))
    varying = ds.std > 1e-3
    if varying.any():
        np.testing.assert_allclose(flat.std(0)[varying], 1.0, rtol=1e-3)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 600), st.integers(1, 120), st.integers(1, 120), st.integers(0, 60))
def test_window_count(t, w, s, limit):
    if t < w:
        with pytest.raises(ClipError, match="shorter than the window"):
            window_starts(t, w, s)
        return
    starts = window_starts(t, w, s)
    full = math.floor((t - w) / s) + 1
    assert len(starts) == full
    assert starts[0] == 0 and (starts + w <= t).all() and (np.diff(starts) == s).all()
    clip = Clip(("j",), np.zeros((t, 1, 2), np.float32))
    if w < 2:  # a dataset's windows need two frames (velocities)
        with pytest.raises(ConfigError, match="window must be at least 2"):
            DataConfig(window=w, stride=s, limit=limit)
        return
    ds = MotionSequenceDataset(clip, DataConfig(window=w, stride=s, limit=limit, seed=3))
    assert len(ds) == (min(full, limit) if limit > 0 else full)
    assert set(ds.starts.tolist()) <= set(starts.tolist()) and len(set(ds.starts.tolist())) == len(ds)
    assert ds.raw.shape == (len(ds), w, 2)


@settings(max_examples=100, deadline=None)
@given(st.integers(-50, 0), st.integers(-50, 50))
def test_non_positive_window_or_stride_is_a_clip_error(w, s):
    with pytest.raises(ClipError, match="must be positive"):
        window_starts(100, w, s)
    with pytest.raises(ClipError, match="must be positive"):
        window_starts(100, 10, w)


def test_loads_clip_never_leaks_recursion_or_memory_errors_on_deep_input():
    for depth in (1_000, 10_000, 100_000, 1_000_000):
        for opener, closer in ((b"[", b"]"), (b'{"a":', b"}")):
            doc = opener * depth + (b"1" if opener != b"[" else b"") + closer * depth
            with pytest.raises(ClipError):
                loads_clip(doc)


# ---- the trajectory budget ----------------------------------------------------------------------------

from motionlab.pipeline.sampling import TRAJECTORY_BUDGET_BYTES, generate, trajectory_stride  # noqa: E402


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
