"""Masked sampling (every sampler), the editing tasks, their seam and part-metric checks, and the edit CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO
from motionlab.evaluation.metrics import METRICS
from motionlab.core import loop
from motionlab.pipeline import editing as ed
from motionlab.formats.checkpoints import load_model
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.errors import MotionlabError
from motionlab.core.model import ModelConfig, PositionalUNet1D
from motionlab.core.samplers import make_sampler

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


# -- tasks on the session's tiny checkpoint (window 16, 10 steps, the demo dancer) --------------

@pytest.fixture(scope="module")
def lm(tiny_checkpoint):
    return load_model(tiny_checkpoint)


def test_inbetween_holds_both_ends_and_reports_two_seams(lm, demo):
    e = ed.inbetween(lm, demo, start=20, end=26, context=3, num_samples=2, seed=5)
    assert e.xy.shape == (2, 11, 20, 2)
    np.testing.assert_array_equal(e.xy[:, :3], np.broadcast_to(demo.xy[18:21], (2, 3, 20, 2)))
    np.testing.assert_array_equal(e.xy[:, 8:], np.broadcast_to(demo.xy[26:29], (2, 3, 20, 2)))
    assert e.seams == [3, 8]
    rep = ed.seam_report(e, demo)
    assert [s["frame"] for s in rep["seams"]] == [3, 8]
    pj = rep["seams"][0]["per_joint"]["nose"]
    assert pj["clip_p95"] >= pj["clip_median"] > 0
    m = ed.part_metrics(e, demo, lm.window)
    assert m["frames"] == 5 and len(m["joints"]) == 20 and set(m["judged"]["metrics"]) == set(METRICS)
    assert m["pieces"] == 2 and m["judged"]["n"] == 2  # two 5-frame pieces, held against pairs of real pieces
    for k, j in m["judged"]["metrics"].items():
        assert j["interval"][0] <= j["value"] <= j["interval"][1] and j["real_range"][0] <= j["real_range"][1]


def test_inbetween_refuses_a_gap_longer_than_the_window(lm, demo):
    with pytest.raises(MotionlabError, match="exceeds the model's window"):
        ed.inbetween(lm, demo, start=10, end=30, context=3)


def test_seam_of_a_copied_clip_looks_like_the_clip(demo):
    """The seam statistic on the clip's own frames sits inside the clip's distribution; a jump does not."""
    xy = demo.xy[None, 10:40].copy()
    e = ed.Edit("continue", xy, np.zeros((30, 20), bool), xy[0], demo.joints, [15], "x", 0, 0.0)
    calm = ed.seam_report(e, demo)["seams"][0]
    xy[:, 15:] += 25.0
    jump = ed.seam_report(ed.Edit("continue", xy, e.known, xy[0], demo.joints, [15], "x", 0, 0.0), demo)["seams"][0]
    assert calm["joints_above_p95"] < 5 and jump["joints_above_p95"] == 20
    assert jump["mean_ratio"] > 5 * calm["mean_ratio"]


def test_long_dance_chains_windows_to_any_length(lm, demo):
    e = ed.long_dance(lm, 40, overlap=6, num_samples=1, seed=1)
    # 16 free frames, then windows adding 10 each: 16, 26, 36, 46 -> cut to 40
    assert e.xy.shape == (1, 40, 20, 2) and e.windows == 4 and e.seams == [16, 26, 36]
    assert np.isfinite(e.xy).all()
    rep = ed.seam_report(e, demo)
    assert [s["frame"] for s in rep["seams"]] == [16, 26, 36]
    m = ed.part_metrics(e, demo, lm.window)
    assert m["piece_frames"] == 16 and m["frames"] == 40


def test_continuation_keeps_the_context_and_chains_past_a_window(lm, demo):
    e = ed.continuation(lm, demo, at=30, context=5, length=24, overlap=5, seed=2)
    np.testing.assert_array_equal(e.xy[0, :5], demo.xy[30:35])
    assert e.xy.shape[1] == 24 and e.seams[0] == 5 and e.windows == 2


def test_regenerate_upper_body_keeps_the_legs(lm, demo):
    e = ed.regenerate(lm, demo, "upper", at=8, num_samples=2)
    upper = ed.part_joints(lm.joints, "upper")
    assert upper.sum() == 8 and {"nose", "left_hand", "right_shoulder"} <= {j for j, u in zip(lm.joints, upper) if u}
    np.testing.assert_array_equal(e.xy[:, :, ~upper], np.broadcast_to(demo.xy[8:24, ~upper], (2, 16, 12, 2)))
    assert not np.allclose(e.xy[:, :, upper], demo.xy[8:24, upper])
    rep = ed.seam_report(e, demo)
    assert rep["seams"] == [] and {b["bone"] for b in rep["bones"]} == {
        "left_shoulder-left_hip", "right_shoulder-right_hip"}
    assert ed.part_metrics(e, demo, lm.window)["joints"] == [j for j, u in zip(lm.joints, upper) if u]


def test_masked_sample_rejects_bad_input(lm):
    w, j = lm.window, len(lm.joints)
    with pytest.raises(MotionlabError, match="mask must be"):
        ed.masked_sample(lm, np.zeros((w, j, 2)), np.zeros((w, j - 1), bool))
    bad = np.zeros((w, j, 2))
    bad[0, 0, 0] = np.nan
    with pytest.raises(MotionlabError, match="NaN"):
        ed.masked_sample(lm, bad, np.ones((w, j), bool))
    with pytest.raises(MotionlabError, match="resample"):
        ed.masked_sample(lm, np.zeros((w, j, 2)), np.ones((w, j), bool), resample=0)


def test_all_unknown_edit_equals_plain_sampling_in_pixels(lm):
    from motionlab.pipeline.sampling import sample_checkpoint
    px, _ = ed.masked_sample(lm, np.zeros((lm.window, 20, 2)), np.zeros((lm.window, 20), bool), 2, seed=7)
    plain = sample_checkpoint(lm, 2, 7, sampler=ed.EDIT_SAMPLER).pixels
    np.testing.assert_array_equal(px, plain.reshape(px.shape))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "motionlab.edit", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_cli_inbetween_writes_exports_and_a_report(tiny_checkpoint, tmp_path):
    r = _cli("inbetween", "--checkpoint", tiny_checkpoint, "--data", "demo", "--from", 40, "--to", 46,
             "--context", 3, "--out", tmp_path, "--export", "json,openpose,csv,npy", "--fps", 15)
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "edit_report.json").read_text())
    assert rep["task"] == "inbetween" and [s["frame"] for s in rep["seam"]["seams"]] == [3, 8]
    assert "seam @3" in r.stderr
    assert (tmp_path / "inbetween_00_30fps.json").is_file()
    arr = np.load(tmp_path / "inbetween_00_15fps.npy")
    assert arr.shape == (6, 20, 2)  # 11 frames at 30 fps span 1/3 s: 6 frames at 15 fps
    assert len(list((tmp_path / "inbetween_00_15fps_openpose").glob("*_keypoints.json"))) == 6


def test_cli_errors_are_one_line(tiny_checkpoint, tmp_path):
    r = _cli("inbetween", "--checkpoint", tiny_checkpoint, "--data", "demo", "--out", tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "motionlab.edit: error: inbetween needs --from and --to"
    r = _cli("regen", "--checkpoint", tiny_checkpoint, "--data", "demo", "--at", 99999, "--out", tmp_path)
    assert r.returncode == 2 and "outside the motion" in r.stderr and "Traceback" not in r.stderr
    r = _cli("long", "--checkpoint", tiny_checkpoint, "--data", "demo", "--export", "webm", "--out", tmp_path)
    assert r.returncode == 2 and "unknown format 'webm'" in r.stderr


def test_blend_closes_the_offset_at_a_seam_and_leaves_given_frames_alone():
    w, j = 12, 2
    known = np.zeros((w, j), bool)
    known[:3], known[9:] = True, True          # an in-between: given, 6 generated, given
    given = np.zeros((1, w, j, 2))
    pred = np.full((1, w, j, 2), 5.0)          # the model's estimate misses the given pose by 5 px
    px = pred.copy()
    out = ed.blend_seams(px, given, known, pred, frames=4)
    np.testing.assert_array_equal(out[:, known], px[:, known])
    # forward from frame 2: -5 * (1 - k/5) at frames 3..6; backward from frame 9: same at 8..5
    fwd = -5 * (1 - np.arange(1, 5) / 5)
    want = np.full(6, 5.0)
    want[:4] += fwd
    want[::-1][:4] += fwd
    np.testing.assert_allclose(out[0, 3:9, 0, 0], want)
    assert out[0, 3, 0, 0] == pytest.approx(1.0)  # the jump from 0 is 1 px instead of 5


def test_blend_is_applied_by_masked_sampling_without_touching_the_known_region(lm, demo):
    a = ed.continuation(lm, demo, at=30, context=5, length=16, seed=2)
    b = ed.continuation(lm, demo, at=30, context=5, length=16, seed=2, blend=4)
    np.testing.assert_array_equal(a.xy[:, :5], b.xy[:, :5])
    np.testing.assert_array_equal(a.xy[:, 9:], b.xy[:, 9:])    # past the blend, the same sample
    assert not np.allclose(a.xy[:, 5:9], b.xy[:, 5:9])
