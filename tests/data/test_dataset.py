"""Windows, the seeded limit subset, normalization and the per-epoch augmentations."""
import numpy as np
import pytest
import torch

from motionlab import ClipError
from motionlab.data.clip import Clip
from motionlab.data.dataset import STD_FLOOR, DataConfig, MotionSequenceDataset, window_starts
from motionlab.data.skeleton import mirror_permutation


@pytest.mark.parametrize("frames,window,stride", [(895, 64, 32), (895, 256, 5), (96, 16, 8), (16, 16, 1),
                                                  (100, 10, 7), (17, 8, 3)])
def test_window_count_formula(frames, window, stride):
    s = window_starts(frames, window, stride)
    assert len(s) == (frames - window) // stride + 1
    assert s[0] == 0 and np.all(np.diff(s) == stride)
    assert s[-1] + window <= frames < s[-1] + stride + window


def test_window_starts_errors():
    with pytest.raises(ClipError, match="shorter than the window"):
        window_starts(10, 16, 4)
    with pytest.raises(ClipError, match="must be positive"):
        window_starts(10, 0, 4)
    with pytest.raises(ClipError, match="must be positive"):
        window_starts(10, 4, 0)


def _ds(clip, **kw):
    return MotionSequenceDataset(clip, DataConfig(**{"window": 16, "stride": 4, "limit": 0, **kw}))


def test_limit_zero_keeps_the_whole_grid(demo):
    ds = _ds(demo)
    np.testing.assert_array_equal(ds.starts, window_starts(96, 16, 4))
    assert len(ds) == 21


def test_limit_is_a_seeded_sorted_subset(demo):
    grid = window_starts(96, 16, 4)
    a, b = _ds(demo, limit=8, seed=3), _ds(demo, limit=8, seed=3)
    c = _ds(demo, limit=8, seed=4)
    assert len(a) == 8
    np.testing.assert_array_equal(a.starts, b.starts)       # same seed, same subset
    assert not np.array_equal(a.starts, c.starts)            # another seed, another subset
    for ds in (a, c):
        assert np.all(np.diff(ds.starts) > 0)                # sorted and unique
        assert set(ds.starts) <= set(grid)
    # a limit at or above the grid size keeps everything
    assert len(_ds(demo, limit=21)) == 21 and len(_ds(demo, limit=500)) == 21


def test_windows_are_the_clip_frames(demo):
    ds = _ds(demo, limit=5)
    raw = ds.windows_pixels()
    assert raw.shape == (5, 16, 40)
    for w, s in zip(raw, ds.starts):
        np.testing.assert_array_equal(w, demo.channels[s:s + 16])


def test_stats_are_per_channel_over_the_kept_windows(demo):
    ds = _ds(demo, limit=6)
    flat = ds.raw.reshape(-1, 40).astype(np.float64)
    np.testing.assert_allclose(ds.mean, flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(ds.std, flat.std(0), rtol=1e-5)
    x = ds.epoch_windows(0).numpy()                          # (N, C, W)
    pooled = x.transpose(1, 0, 2).reshape(40, -1)
    np.testing.assert_allclose(pooled.mean(1), 0, atol=1e-4)
    np.testing.assert_allclose(pooled.std(1), 1, atol=1e-3)


def test_normalize_unnormalize_round_trip(demo):
    ds = _ds(demo)
    x = np.random.default_rng(0).normal(250, 80, (3, 16, 40)).astype(np.float32)
    assert ds.normalizer.normalize(x).shape == (3, 40, 16)
    np.testing.assert_allclose(ds.normalizer.unnormalize(ds.normalizer.normalize(x)), x, rtol=1e-5, atol=1e-3)


def test_getitem_is_a_normalized_channels_first_tensor(demo):
    ds = _ds(demo)
    item = ds[3]
    assert isinstance(item, torch.Tensor) and item.dtype == torch.float32 and item.shape == (40, 16)
    np.testing.assert_allclose(item.numpy(), ds.normalizer.normalize(ds.raw[3]), rtol=1e-6)
    np.testing.assert_allclose(ds.epoch_windows(0)[3].numpy(), item.numpy(), rtol=1e-6)


def test_constant_channel_uses_the_std_floor():
    xy = np.zeros((20, 2, 2), np.float32)
    xy[:, 0, 0] = np.arange(20)
    ds = MotionSequenceDataset(Clip(("a", "b"), xy), DataConfig(window=8, stride=4, limit=0))
    assert ds.std[2] == pytest.approx(STD_FLOOR)
    assert torch.isfinite(ds.epoch_windows(0)).all()


def test_no_augmentation_gives_the_same_windows_every_epoch(demo):
    ds = _ds(demo)
    assert torch.equal(ds.epoch_windows(0), ds.epoch_windows(7))


def test_jitter_changes_windows_between_epochs_deterministically(demo):
    a, b = _ds(demo, limit=6, jitter=True), _ds(demo, limit=6, jitter=True)
    e0, e1 = a.epoch_windows(0), a.epoch_windows(1)
    assert e0.shape == (6, 40, 16)
    assert not torch.equal(e0, e1)
    assert torch.equal(e1, b.epoch_windows(1))               # same (seed, epoch) -> same windows
    assert torch.equal(e0, a.epoch_windows(0))               # independent of call order
    assert not torch.equal(e1, _ds(demo, limit=6, jitter=True, seed=7).epoch_windows(1))
    # every jittered window is still a contiguous slice of the clip, at any offset
    px = a.normalizer.unnormalize(e1)
    all_slices = np.stack([demo.channels[s:s + 16] for s in range(96 - 16 + 1)])
    for w in px:
        err = np.abs(all_slices - w).max(axis=(1, 2))
        assert err.min() < 1e-2


def test_mirror_swaps_left_and_right_and_reflects_x(demo):
    ds = _ds(demo, mirror=True)
    plain = ds.raw                                            # (N, W, C) pixels
    px = ds.normalizer.unnormalize(ds.epoch_windows(0))
    perm = mirror_permutation(demo.joints)
    axis = demo.channels[:, 0::2].mean()
    expect = plain.reshape(*plain.shape[:2], 20, 2)[:, :, perm].copy()
    expect[..., 0] = 2 * axis - expect[..., 0]
    expect = expect.reshape(plain.shape)
    same = np.abs(px - plain).max(axis=(1, 2)) < 1e-2
    flipped = np.abs(px - expect).max(axis=(1, 2)) < 1e-2
    assert np.all(same | flipped)
    assert same.any() and flipped.any()                       # p = 0.5 per window, 21 windows
    # in a flipped window the left hand sits where the right hand was, reflected
    li, ri = demo.joints.index("left_hand"), demo.joints.index("right_hand")
    k = int(np.flatnonzero(flipped & ~same)[0])
    np.testing.assert_allclose(px[k, :, 2 * li], 2 * axis - plain[k, :, 2 * ri], atol=1e-2)
    np.testing.assert_allclose(px[k, :, 2 * li + 1], plain[k, :, 2 * ri + 1], atol=1e-2)
    # the draw is fixed by (seed, epoch)
    assert torch.equal(ds.epoch_windows(0), _ds(demo, mirror=True).epoch_windows(0))
    assert not torch.equal(ds.epoch_windows(0), ds.epoch_windows(1))
    # the stored windows are untouched
    np.testing.assert_array_equal(ds.raw, plain)


def test_config_to_dict():
    d = DataConfig(window=32, jitter=True).to_dict()
    assert d["window"] == 32 and d["jitter"] is True and d["stride"] == 32 and d["limit"] == 32
