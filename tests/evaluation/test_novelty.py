"""Novelty and coverage: copies score 0, the definitions match a brute-force reading of them."""
import math

import numpy as np
import pytest

from conftest import REAL_CLIP, needs_real_clip
from motionlab.evaluation import novelty as nv
from motionlab.data.clip import load_clip, save_clip
from motionlab.data.demo import demo_clip
from motionlab.errors import MotionlabError
from motionlab.evaluation.markdown import checkpoints_markdown
from motionlab.pipeline.evaluating import evaluate_checkpoint
from motionlab.evaluate import main as evaluate_main
from motionlab.evaluation.metrics import METRICS


def _windows(x, offsets, w):
    return np.stack([x[o:o + w] for o in offsets])


def _brute(x, samples, w):
    """The module docstring's definitions, one pair at a time."""
    k = len(x) - w + 1

    def d(a, b):
        def c(v):
            v = v.reshape(w, -1, 2).astype(np.float64)
            return v - v.mean(axis=(0, 1))
        return math.sqrt(((c(a) - c(b)) ** 2).mean())

    r = [min((d(x[i:i + w], x[j:j + w]) for j in range(k) if abs(i - j) >= w), default=None) for i in range(k)]
    scale = float(np.median([v for v in r if v is not None]))
    ds = np.array([[d(s, x[j:j + w]) for j in range(k)] for s in samples])
    return scale, ds


@pytest.mark.parametrize("frames,w", [(40, 8), (19, 8)])  # 19 < 3W-1: the middle offsets have no partner
def test_definitions_match_brute_force(frames, w):
    x = demo_clip(frames=frames).channels
    rng = np.random.default_rng(3)
    samples = _windows(x, [2, 5], w) + rng.normal(0, 4, (2, w, x.shape[1]))
    scale, ds = _brute(x, samples, w)
    r = nv.novelty(samples, x)
    assert r.scale == pytest.approx(scale, rel=1e-9)
    np.testing.assert_array_equal(r.offsets, ds.argmin(1))
    np.testing.assert_allclose(r.distances, ds.min(1), rtol=1e-9)
    assert r.novelty == pytest.approx(np.median(ds.min(1)) / scale, rel=1e-9)
    assert r.coverage == pytest.approx((ds.min(0) <= scale).mean())
    assert r.windows == frames - w + 1 and r.window == w


def test_a_window_moved_on_screen_is_a_copy(demo):
    x = demo.channels
    offs = [0, 17, 40, 80]
    moved = _windows(x, offs, 16) + np.tile([55.0, -31.0], x.shape[1] // 2)
    r = nv.novelty(moved, x)
    np.testing.assert_array_equal(r.offsets, offs)
    assert r.novelty < 1e-6 and r.ratios.max() < 1e-6
    assert 0 < r.coverage < 1


def test_coverage_bounds(demo):
    x = demo.channels
    cw = nv.clip_windows(x, 16)
    every = _windows(x, range(cw.count), 16)
    assert nv.novelty(every, x).coverage == 1.0  # each window is its own sample
    far = every[:2] * 3.0  # a dancer three times the size: far from every window
    r = nv.novelty(far, x)
    assert r.coverage == 0.0 and r.novelty > 1


def test_too_short_clip_and_bad_samples_are_clear_errors(demo):
    x = demo_clip(frames=128).channels
    with pytest.raises(nv.NoveltyError, match="needs at least 128 frames"):
        nv.ClipWindows(x[:127], 64).scale
    with pytest.raises(nv.NoveltyError, match="needs at least 128 frames"):
        nv.novelty(_windows(x, [0], 64), x[:127])
    assert nv.ClipWindows(x[:128], 64).scale > 0  # offsets 0 and 64 share no frame
    off, _ = nv.ClipWindows(x[:100], 64).nearest(_windows(x, [30], 64))  # nearest needs no scale
    assert off.tolist() == [30]
    with pytest.raises(nv.NoveltyError, match="no 64-frame window"):
        nv.ClipWindows(x[:63], 64)
    with pytest.raises(nv.NoveltyError, match="repeats itself exactly"):
        nv.novelty(_windows(x, [0], 8), np.tile(x[:8], (6, 1)))
    with pytest.raises(nv.NoveltyError, match="shape"):
        nv.novelty(_windows(x, [0], 16)[..., :38], x)
    bad = _windows(x, [0], 16)
    bad[0, 3, 5] = np.nan
    with pytest.raises(nv.NoveltyError, match="NaN"):
        nv.novelty(bad, x)
    assert issubclass(nv.NoveltyError, MotionlabError)


@needs_real_clip
def test_real_windows_shifted_on_screen_score_zero_and_the_demo_dancer_about_one():
    x = load_clip(REAL_CLIP).channels
    offs = [3, 100, 250, 411, 639]
    moved = _windows(x, offs, 256) + np.tile([-40.0, 25.0], x.shape[1] // 2)
    r = nv.novelty(moved, x)
    np.testing.assert_array_equal(r.offsets, offs)
    assert r.novelty < 1e-6
    d = demo_clip().channels  # 480 frames of another, procedural dancer
    demo = nv.novelty(_windows(d, range(0, 224, 28), 256), x)
    assert 0.75 < demo.novelty < 1.33, demo.novelty


def test_training_clip_check(tiny_checkpoint, demo):
    from motionlab.formats.checkpoints import load_model
    lm = load_model(tiny_checkpoint)
    d = lm.checkpoint.data_config
    assert nv.training_clip_mismatch(demo, d, lm.joints, lm.mean) == ""
    assert "normalization" in nv.training_clip_mismatch(demo_clip(), d, lm.joints, lm.mean)


def test_evaluate_adds_novelty_columns_after_the_six(tiny_checkpoint, demo, tmp_path, capsys):
    clip = tmp_path / "demo96.json"
    save_clip(demo, clip)
    row = evaluate_checkpoint(tiny_checkpoint, num_samples=2, seed=42, with_novelty=True, data=str(clip))
    assert set(row["metrics"]) == set(METRICS)  # never mixed into the six
    n = row["novelty"]
    assert n["novelty"] > 0 and 0 <= n["coverage"] <= 1 and len(n["nearest_offsets"]) == 2
    assert n["clip_windows"] == 96 - 16 + 1 and n["clip"] == str(clip)
    header = checkpoints_markdown([row], extra=nv.COLUMNS).splitlines()[0]
    assert header.endswith("| diversity | novelty | coverage |")
    assert "novelty" not in evaluate_checkpoint(tiny_checkpoint, num_samples=2, seed=42)
    with pytest.raises(MotionlabError, match="is not the clip"):
        evaluate_checkpoint(tiny_checkpoint, num_samples=2, with_novelty=True, data="demo")
    # the CLI: columns after the six; without the training clip at hand, n/a and a note
    assert evaluate_main(["--spec", "--checkpoints", str(tiny_checkpoint), "--num-samples", "2", "--data", str(clip)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("| novelty | coverage |") and out[2].endswith(f"| {n['novelty']:.2f} | {n['coverage']:.2f} |")
    assert evaluate_main(["--spec", "--checkpoints", str(tiny_checkpoint), "--num-samples", "2"]) == 0
    cap = capsys.readouterr()
    assert cap.out.splitlines()[2].endswith("| n/a | n/a |") and "no novelty for" in cap.err
