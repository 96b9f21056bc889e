"""Windows, the seeded limit subset, normalization and the per-epoch augmentations; property tests of the window
count and the normalization; datasets of several clips (per-clip windows, pooled stats, joint sets), and the pin
that one clip gives exactly what it gave before several clips (against a frozen copy of that implementation)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from clip_files import three_clip_dataset, three_clips
from conftest import REAL_CLIP, TINY_MODEL_FLAGS, needs_real_clip, tiny_trainer
from hypothesis_support import SETTINGS, valid_clips
from motionlab import ClipError
from motionlab.cli import run_main
from motionlab.data.clip import Clip, load_clip, parse_clip, save_clip
from motionlab.data.clipset import NamedClip, named
from motionlab.data.dataset import STD_FLOOR, DataConfig, MotionSequenceDataset, window_starts
from motionlab.data.skeleton import mirror_permutation
from motionlab.errors import ConfigError
from motionlab.evaluation import baselines
from motionlab.evaluation.metrics import all_metrics
from motionlab.train import main as train_main


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


# -- property tests (hypothesis) -------------------------------------------------------------------------

@st.composite
def clip_and_windows(draw):
    w = draw(st.integers(2, 24))
    data = draw(valid_clips(min_frames=w, max_frames=w + 30))
    s = draw(st.integers(1, 12))
    return parse_clip(data), w, s


@SETTINGS
@given(clip_and_windows())
def test_normalize_unnormalize_round_trip_of_any_clip(args):
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


# -- one clip: exactly what the code before several clips gave (commit c775458) --------------------------

class ReferenceDataset(torch.utils.data.Dataset):
    """motionlab.data.dataset.MotionSequenceDataset as it was before several clips (commit c775458), verbatim."""

    def __init__(self, clip: Clip, cfg: DataConfig):
        self.clip, self.cfg = clip, cfg
        self.joints = clip.joints
        self.channels = clip.channels.astype(np.float32)  # (T, C)
        starts = window_starts(clip.num_frames, cfg.window, cfg.stride)
        if 0 < cfg.limit < len(starts):
            rng = np.random.default_rng(cfg.seed)
            starts = np.sort(rng.choice(starts, size=cfg.limit, replace=False))
        self.starts = starts
        self.raw = np.stack([self.channels[s:s + cfg.window] for s in starts])  # (N, W, C)
        flat = self.raw.reshape(-1, self.raw.shape[-1]).astype(np.float64)
        self.mean = flat.mean(0).astype(np.float32)
        self.std = np.maximum(flat.std(0), STD_FLOOR).astype(np.float32)
        self._mirror_idx = None
        if cfg.mirror:
            perm = mirror_permutation(list(self.joints))
            self._mirror_idx = np.array([2 * perm[c // 2] + c % 2 for c in range(self.raw.shape[-1])])
            self._mirror_axis = float(self.channels[:, 0::2].mean())

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.normalize(self.raw[i]).T.copy())

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """(..., W, C) pixels -> normalized."""
        return (x - self.mean) / self.std

    def unnormalize(self, x: np.ndarray) -> np.ndarray:
        return x * self.std + self.mean

    def windows_pixels(self) -> np.ndarray:
        """(N, W, C) unnormalized training windows; the baseline metrics use these."""
        return self.raw

    def epoch_windows(self, epoch: int) -> torch.Tensor:
        """All windows for one epoch as a normalized (N, C, W) tensor.

        Augmentation draws depend only on (seed, epoch), so a resumed run sees
        the same data as an uninterrupted one.
        """
        if not (self.cfg.jitter or self.cfg.mirror):
            x = self.raw
        else:
            rng = np.random.default_rng([self.cfg.seed, epoch])
            if self.cfg.jitter:
                hi = self.clip.num_frames - self.cfg.window
                starts = rng.integers(0, hi + 1, size=len(self.starts))
                x = np.stack([self.channels[s:s + self.cfg.window] for s in starts])
            else:
                x = self.raw.copy()
            if self.cfg.mirror:
                flip = rng.random(len(x)) < 0.5
                m = x[flip][..., self._mirror_idx]
                m[..., 0::2] = 2 * self._mirror_axis - m[..., 0::2]
                x[flip] = m
        return torch.from_numpy(np.ascontiguousarray(self.normalize(x).transpose(0, 2, 1), dtype=np.float32))


SINGLE_CASES = [dict(window=16, stride=4, limit=0), dict(window=16, stride=4, limit=7, seed=3),
                dict(window=24, stride=5, limit=9, jitter=True), dict(window=16, stride=8, limit=0, mirror=True),
                dict(window=16, stride=3, limit=12, jitter=True, mirror=True, seed=11)]


def _same(a: MotionSequenceDataset, b: ReferenceDataset, epochs=(0, 1, 5)):
    for k in ("starts", "raw", "mean", "std"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and np.array_equal(x, y), k
    for e in epochs:
        assert torch.equal(a.epoch_windows(e), b.epoch_windows(e)), f"epoch {e}"
    assert baselines.baseline(a) == all_metrics(b.windows_pixels())


@pytest.mark.parametrize("kw", SINGLE_CASES)
def test_one_clip_gives_the_windows_stats_and_epochs_of_the_old_code(demo, kw):
    cfg = DataConfig(**kw)
    _same(MotionSequenceDataset(demo, cfg), ReferenceDataset(demo, cfg))
    _same(MotionSequenceDataset([named(demo, "d")], cfg), ReferenceDataset(demo, cfg))  # a list of one


@needs_real_clip
@pytest.mark.parametrize("kw", [dict(window=64, stride=32, limit=32), dict(window=256, stride=5, limit=1024),
                                dict(window=256, stride=5, limit=1024, jitter=True, mirror=True)])
def test_the_real_clip_gives_the_windows_of_the_old_code(kw):
    clip = load_clip(REAL_CLIP)
    cfg = DataConfig(**kw)
    _same(MotionSequenceDataset(clip, cfg), ReferenceDataset(clip, cfg), epochs=(0, 3))


def test_one_clip_trains_to_the_same_losses_and_weights_as_the_old_dataset(tmp_path, demo):
    """Batch order, noise and losses are the trainer's; with the old dataset swapped in, nothing moves."""
    runs = []
    for name in ("new", "old"):
        tr = tiny_trainer(tmp_path / name, demo, epochs=2, limit=9, vel_weight=0.1,
                          data_kw=dict(jitter=True, mirror=True))
        if name == "old":
            tr.ds = ReferenceDataset(demo, tr.data_cfg)
        tr.run(progress=False)
        runs.append(tr)
    a, b = runs
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


# -- several clips (clip_files.three_clips) --------------------------------------------------------------

def test_windows_never_straddle_two_clips(tmp_path):
    clips, ds = three_clip_dataset(tmp_path)
    for k, c in enumerate(clips):
        np.testing.assert_array_equal(ds.starts[ds.clip_ids == k], window_starts(c.clip.num_frames, 16, 8))
    for w, k, s in zip(ds.raw, ds.clip_ids, ds.starts):
        np.testing.assert_array_equal(w, clips[k].clip.channels[s:s + 16])
    assert ds.window_counts() == [(c.clip.num_frames - 16) // 8 + 1 for c in clips]
    assert list(ds.clip_ids) == sorted(ds.clip_ids)                       # stored clip by clip


def test_limit_is_per_clip_and_seeded(tmp_path):
    clips, ds = three_clip_dataset(tmp_path, limit=5, seed=4)
    assert ds.window_counts() == [5, 5, 5]
    for k, c in enumerate(clips):   # each clip draws as a lone clip would
        alone = MotionSequenceDataset(c, DataConfig(window=16, stride=8, limit=5, seed=4))
        np.testing.assert_array_equal(ds.starts[ds.clip_ids == k], alone.starts)
    _, big = three_clip_dataset(tmp_path, limit=500)          # a limit above a clip's grid keeps that whole grid
    assert big.window_counts() == three_clip_dataset(tmp_path)[1].window_counts()


def test_jitter_stays_inside_each_window_s_own_clip(tmp_path):
    clips, ds = three_clip_dataset(tmp_path, jitter=True)
    a, b = ds.epoch_windows(1), ds.epoch_windows(2)
    assert not torch.equal(a, b) and torch.equal(a, ds.epoch_windows(1))
    px = ds.normalizer.unnormalize(a)
    for k, c in enumerate(clips):
        ch = c.clip.channels
        slices = np.stack([ch[s:s + 16] for s in range(len(ch) - 15)])
        for w in px[ds.clip_ids == k]:
            assert np.abs(slices - w).max(axis=(1, 2)).min() < 1e-2


def test_mirror_reflects_each_window_about_its_own_clip(tmp_path):
    clips, ds = three_clip_dataset(tmp_path, mirror=True)
    px = ds.normalizer.unnormalize(ds.epoch_windows(0))
    perm = mirror_permutation(list(ds.joints))
    flipped_any = False
    for w, raw, k in zip(px, ds.raw, ds.clip_ids):
        axis = clips[k].clip.channels[:, 0::2].mean()
        m = raw.reshape(16, -1, 2)[:, perm].copy()
        m[..., 0] = 2 * axis - m[..., 0]
        same, flipped = np.abs(w - raw).max() < 1e-2, np.abs(w - m.reshape(16, -1)).max() < 1e-2
        assert same or flipped
        flipped_any |= flipped and not same
    assert flipped_any


def test_normalization_pools_all_clips(tmp_path):
    _, ds = three_clip_dataset(tmp_path, limit=4)
    flat = ds.raw.reshape(-1, ds.raw.shape[-1]).astype(np.float64)
    np.testing.assert_allclose(ds.mean, flat.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ds.std, flat.std(0), rtol=1e-6)


def test_same_joints_in_another_order_are_aligned(demo):
    perm = list(range(len(demo.joints)))[::-1]
    shuffled = Clip(tuple(demo.joints[i] for i in perm), np.ascontiguousarray(demo.xy[:, perm]))
    ds = MotionSequenceDataset([named(demo, "a"), NamedClip("b", shuffled, "x")], DataConfig(window=16, limit=0))
    np.testing.assert_array_equal(ds.clip_windows(0), ds.clip_windows(1))


def test_a_clip_with_another_joint_set_stops_training_naming_it(tmp_path, capsys):
    paths = three_clips(tmp_path)
    clip = load_clip(paths[1])
    odd = Clip(tuple(j if j != "left_heel" else "left_heal" for j in clip.joints), clip.xy)  # a typo
    save_clip(odd, tmp_path / "clips" / "b_typo.json")
    out = tmp_path / "run"
    rc = run_main("motionlab.train", train_main, ["--data", str(tmp_path / "clips"), "--window", "16", "--stride", "8",
                                                  "--epochs", "1", *TINY_MODEL_FLAGS, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert f"{tmp_path / 'clips' / 'b_typo.json'}: its joint set differs" in err and "'left_heal'" in err
    assert not (out / "last.pt").exists() and not (out / "metrics.jsonl").exists()
    with pytest.raises(ClipError, match="short: its joint set differs from full's: it lacks joint 'right_shoulder'"):
        MotionSequenceDataset([named(clip, "full"), named(Clip(clip.joints[:-1], clip.xy[:, :-1]), "short")],
                              DataConfig(window=16))
