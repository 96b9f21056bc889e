"""The editing tasks (in-between, long dance, continuation, regenerating a part), their seam and part-metric
checks, and the seam blend. Masked sampling itself: core/test_loop.py; the edit command: tools/test_edit.py."""
import numpy as np
import pytest

from motionlab.evaluation.metrics import METRICS
from motionlab.pipeline import editing as ed
from motionlab.formats.checkpoints import load_model
from motionlab.errors import MotionlabError


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
