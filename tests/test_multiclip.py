"""Datasets of several clips: per-clip windows, pooled stats, clip records, --data forms, and the pin
that one clip gives exactly what it gave before (against a frozen copy of that implementation)."""
import hashlib
import json

import numpy as np
import pytest
import torch

from conftest import REAL_CLIP, TINY_MODEL_FLAGS, needs_real_clip, tiny_model_config, tiny_trainer
from motionlab.evaluation import baselines
from motionlab import ClipError, MotionlabError
from motionlab.formats.checkpoints import read_checkpoint
from motionlab.cli import run_main
from motionlab.data.clipset import resolve_clips
from motionlab.data.clip import Clip, load_clip, save_clip
from motionlab.data.clipset import NamedClip, expand, load_clip_set, named
from motionlab.data.dataset import STD_FLOOR, DataConfig, MotionSequenceDataset, window_starts
from motionlab.data.demo import demo_clip
from motionlab.core.diffusion import DiffusionConfig
from motionlab.pipeline.evaluating import checkpoint_windows
from motionlab.evaluate import main as evaluate_main
from motionlab.evaluation.metrics import all_metrics
from motionlab.sample import main as sample_main
from motionlab.data.skeleton import mirror_permutation
from motionlab.pipeline.training import TrainConfig, Trainer
from motionlab.train import main as train_main


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


# -- one clip: exactly as before --------------------------------------------------------------

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


# -- several clips ----------------------------------------------------------------------------

def _three(tmp_path):
    """Three clip files the test makes: the demo dancer at two tempos and a segment of the real clip
    (a third tempo when the real clip is absent). Frame counts differ on purpose."""
    d = tmp_path / "clips"
    d.mkdir(exist_ok=True)
    save_clip(demo_clip(frames=120, bpm=100, seed=1), d / "a_demo100.json")
    if REAL_CLIP.is_file():
        real = load_clip(REAL_CLIP)
        save_clip(Clip(real.joints, real.xy[300:437]), d / "b_real300.json")
    else:
        save_clip(demo_clip(frames=137, bpm=140, seed=2), d / "b_demo140.json")
    save_clip(demo_clip(frames=90, bpm=125, seed=3), d / "c_demo125.json")
    return sorted(d.glob("*.json"))


def _ds(tmp_path, **kw):
    clips = load_clip_set([str(p) for p in _three(tmp_path)])
    return clips, MotionSequenceDataset(clips, DataConfig(**{"window": 16, "stride": 8, "limit": 0, **kw}))


def test_windows_never_straddle_two_clips(tmp_path):
    clips, ds = _ds(tmp_path)
    for k, c in enumerate(clips):
        np.testing.assert_array_equal(ds.starts[ds.clip_ids == k], window_starts(c.clip.num_frames, 16, 8))
    for w, k, s in zip(ds.raw, ds.clip_ids, ds.starts):
        np.testing.assert_array_equal(w, clips[k].clip.channels[s:s + 16])
    assert ds.window_counts() == [(c.clip.num_frames - 16) // 8 + 1 for c in clips]
    assert list(ds.clip_ids) == sorted(ds.clip_ids)                       # stored clip by clip


def test_limit_is_per_clip_and_seeded(tmp_path):
    clips, ds = _ds(tmp_path, limit=5, seed=4)
    assert ds.window_counts() == [5, 5, 5]
    for k, c in enumerate(clips):   # each clip draws as a lone clip would
        alone = MotionSequenceDataset(c, DataConfig(window=16, stride=8, limit=5, seed=4))
        np.testing.assert_array_equal(ds.starts[ds.clip_ids == k], alone.starts)
    _, big = _ds(tmp_path, limit=500)          # a limit above a clip's grid keeps that whole grid
    assert big.window_counts() == _ds(tmp_path)[1].window_counts()


def test_jitter_stays_inside_each_window_s_own_clip(tmp_path):
    clips, ds = _ds(tmp_path, jitter=True)
    a, b = ds.epoch_windows(1), ds.epoch_windows(2)
    assert not torch.equal(a, b) and torch.equal(a, ds.epoch_windows(1))
    px = ds.normalizer.unnormalize(a)
    for k, c in enumerate(clips):
        ch = c.clip.channels
        slices = np.stack([ch[s:s + 16] for s in range(len(ch) - 15)])
        for w in px[ds.clip_ids == k]:
            assert np.abs(slices - w).max(axis=(1, 2)).min() < 1e-2


def test_mirror_reflects_each_window_about_its_own_clip(tmp_path):
    clips, ds = _ds(tmp_path, mirror=True)
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
    _, ds = _ds(tmp_path, limit=4)
    flat = ds.raw.reshape(-1, ds.raw.shape[-1]).astype(np.float64)
    np.testing.assert_allclose(ds.mean, flat.mean(0), rtol=1e-6)
    np.testing.assert_allclose(ds.std, flat.std(0), rtol=1e-6)


def test_baseline_pooled_and_per_clip(tmp_path):
    clips, ds = _ds(tmp_path)
    recs = baselines.clip_records(ds)
    assert [r["name"] for r in recs] == [c.name for c in clips]
    for k, r in enumerate(recs):
        assert r["baseline"] == all_metrics(ds.clip_windows(k)) and r["windows"] == ds.window_counts()[k]
    pooled = baselines.baseline(ds)
    assert pooled["clips"] == len(ds)
    # order-free metrics equal those of all windows; diversity takes its first 32 windows from every clip
    flat = all_metrics(ds.windows_pixels())
    for k in ("coord_range", "pos_std", "vel_std", "vel_energy", "com_speed"):
        assert pooled[k] == pytest.approx(flat[k], rel=1e-12)


def test_data_forms_name_the_same_clips(tmp_path):
    paths = _three(tmp_path)
    (tmp_path / "set.txt").write_text(f"# the three\nclips/{paths[0].name}\n\nclips/{paths[1].name}  # a segment\n"
                                       f"{paths[2]}\n")  # relative to the manifest, or absolute
    by_files = expand([str(p) for p in paths])
    assert expand(str(tmp_path / "clips")) == by_files
    assert [p.resolve() for p in expand(str(tmp_path / "set.txt"))] == [p.resolve() for p in by_files]
    clips, spec = resolve_clips([str(tmp_path / "clips")])
    assert spec == str(tmp_path / "clips") and [c.name for c in clips] == [str(p) for p in paths]
    assert clips[0].sha256 == hashlib.sha256(paths[0].read_bytes()).hexdigest()


@pytest.mark.parametrize("make,match", [
    (lambda t: (t / "empty").mkdir() or [str(t / "empty")], "holds no \\*.json clip files"),
    (lambda t: (t / "m.txt").write_text("# nothing\n") and [str(t / "m.txt")], "lists no clips"),
    (lambda t: (t / "m.txt").write_text("gone.json\n") and [str(t / "m.txt")], "gone.json: no such clip file"),
    (lambda t: ["demo", str(t / "clips")], "'demo' cannot be combined"),
    (lambda t: [str(t / "clips"), str(sorted((t / "clips").glob("*"))[0])], "listed twice"),
])
def test_bad_data_forms_are_one_line_errors(tmp_path, make, match):
    _three(tmp_path)
    with pytest.raises(ClipError, match=match):
        load_clip_set(make(tmp_path))


def test_a_clip_with_another_joint_set_stops_training_naming_it(tmp_path, capsys):
    paths = _three(tmp_path)
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


def test_a_clip_shorter_than_the_window_is_named(tmp_path):
    _three(tmp_path)
    with pytest.raises(ClipError, match="c_demo125.json: 90 frames is shorter than the window of 100"):
        resolve_clips([str(tmp_path / "clips")], min_frames=100)


def test_same_joints_in_another_order_are_aligned(demo):
    perm = list(range(len(demo.joints)))[::-1]
    shuffled = Clip(tuple(demo.joints[i] for i in perm), np.ascontiguousarray(demo.xy[:, perm]))
    ds = MotionSequenceDataset([named(demo, "a"), NamedClip("b", shuffled, "x")], DataConfig(window=16, limit=0))
    np.testing.assert_array_equal(ds.clip_windows(0), ds.clip_windows(1))


def test_three_clips_train_sample_and_evaluate_end_to_end(tmp_path, capsys):
    paths = _three(tmp_path)
    (tmp_path / "set.txt").write_text("".join(f"clips/{p.name}\n" for p in paths))
    run = tmp_path / "run"
    flags = ["--window", "16", "--stride", "8", "--limit", "4", "--batch-size", "8", "--timesteps", "10",
             *TINY_MODEL_FLAGS]
    assert train_main(["--data", str(tmp_path / "set.txt"), *flags, "--epochs", "2", "--jitter", "--mirror",
                       "--out", str(run), "--no-progress", "--save-every", "1"]) == 0
    assert "12 windows of 16 frames" in capsys.readouterr().err
    ck = read_checkpoint(run / "best.pt")
    assert ck["data_config"]["data"] == str(tmp_path / "set.txt")
    assert [(c["name"], c["frames"], c["sha256"], c["windows"]) for c in ck["clips"]] == [
        (str(tmp_path / "clips" / p.name), load_clip(p).num_frames, hashlib.sha256(p.read_bytes()).hexdigest(), 4)
        for p in paths]
    # evaluation rebuilds the same windows from the recorded clips
    ds = checkpoint_windows(ck)
    assert baselines.baseline(ds) == ck["baseline"] and baselines.clip_records(ds) == ck["clips"]
    np.testing.assert_allclose(ds.mean, ck["norm_mean"], rtol=0, atol=0)
    assert evaluate_main(["--dataset-only", "--checkpoints", str(run / "best.pt"), "--json"]) == 0
    rebuilt = json.loads(capsys.readouterr().out)[0]
    assert [r["baseline"] for r in rebuilt["per_clip"]] == [c["baseline"] for c in ck["clips"]]
    assert sample_main(["--checkpoint", str(run / "best.pt"), "--num-samples", "2", "--seed", "1",
                        "--out", str(tmp_path / "s")]) == 0
    assert load_clip(tmp_path / "s" / "sample_01.json").num_frames == 16
    capsys.readouterr()
    assert evaluate_main(["--spec", "--checkpoints", str(run / "best.pt"), "--num-samples", "2"]) == 0
    table = capsys.readouterr().out
    assert "| ↳ dataset baseline | | 12 clips |" in table
    assert all(f"| ↳ baseline of {c['name']} | | 4 clips |" in table for c in ck["clips"])
    # a clip edited since training is refused, by name
    save_clip(demo_clip(frames=120, bpm=101, seed=1), paths[0])
    with pytest.raises(ClipError, match="a_demo100.json: not the clip .* the checkpoint was trained on"):
        checkpoint_windows(ck)
    # and so is resuming the run on other clips
    rc = run_main("motionlab.train", train_main, ["--data", str(tmp_path / "set.txt"), *flags, "--epochs", "3",
                                                  "--out", str(run), "--no-progress", "--resume"])
    assert rc == 2 and "was trained on other clips" in capsys.readouterr().err


def test_dataset_only_prints_pooled_and_per_clip_rows(tmp_path, capsys):
    paths = _three(tmp_path)
    assert evaluate_main(["--dataset-only", "--data", *map(str, paths), "--window", "16", "--stride", "8",
                          "--limit", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[2].startswith("| dataset_16x8x3 | 16 / 8 / 3 |") and lines[2].endswith("| 9 |")
    assert [ln.split("|")[1].strip() for ln in lines[3:]] == [f"↳ {p}" for p in paths]
    # one clip: one row, as before
    assert evaluate_main(["--dataset-only", "--data", str(paths[0]), "--window", "16", "--stride", "8",
                          "--limit", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == all_metrics(
        MotionSequenceDataset(load_clip(paths[0]), DataConfig(window=16, stride=8, limit=3)).raw)


def test_a_malformed_clip_record_is_refused(tmp_path, demo):
    from motionlab.formats.checkpoints import save_checkpoint
    tr = tiny_trainer(tmp_path, demo, epochs=1)
    tr.run(progress=False)
    ck = read_checkpoint(tmp_path / "last.pt")
    ck["clips"] = [{"name": "x", "frames": "many", "sha256": "0"}]
    save_checkpoint(tmp_path / "bad.pt", ck)
    with pytest.raises(MotionlabError, match="malformed checkpoint: clips must be"):
        read_checkpoint(tmp_path / "bad.pt")


def test_a_checkpoint_without_clip_records_rebuilds_from_its_data_config(tmp_path):
    """Checkpoints made before clip records (the shipped ones) name their clip in data_config only."""
    path = _three(tmp_path)[0]
    Trainer(DataConfig(data=str(path), window=16, stride=8, limit=0), tiny_model_config(),
            DiffusionConfig(timesteps=10), TrainConfig(epochs=1, batch_size=8), tmp_path / "run",
            log=lambda s: None).run(progress=False)
    ck = read_checkpoint(tmp_path / "run" / "last.pt")
    assert ck["clips"][0]["name"] == str(path)
    del ck["clips"]
    assert baselines.baseline(checkpoint_windows(ck)) == ck["baseline"]
