"""Bootstrap intervals and the real data's own range at N (motionlab.evaluation.intervals)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import REAL_CLIP, needs_real_clip

from motionlab.errors import MotionlabError
from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import (
    bootstrap,
    held_out_split,
    reads_windows,
    real_pool,
    real_range,
)
from motionlab.evaluation.measure import Measure, Reference

REF = Reference(np.zeros((2, 2, 2)), ("a",))


def _dist(rows, ref=None):
    sq = (rows * rows).sum(1)
    return np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * rows @ rows.T, 0.0))


MEAN = Measure("mean", "mean", "", lambda c, r: float(np.mean(c)),
               features=lambda c, r: np.asarray(c).mean((1, 2)), stat=lambda rows, r: float(rows.mean()))
PDIST = Measure("pdist", "pair distance", "", lambda c, r: float(_dist(c.reshape(len(c), -1))[np.triu_indices(len(c), 1)].mean()),
                "pairs", features=lambda c, r: np.asarray(c).reshape(len(c), -1), stat=_dist)
# reads the reference: the set's mean distance to the reference's mean clip
GAP = Measure("gap", "gap", "", lambda c, r: float(np.linalg.norm(c.mean(0) - r.windows.mean(0))))


def _coverage(measure, truth, draw, trials, n_boot=300):
    rng = np.random.default_rng(0)
    hits = 0
    for k in range(trials):
        lo, hi = bootstrap(measure, draw(rng), REF, n_boot, seed=k).interval
        hits += lo <= truth <= hi
    return hits / trials


def test_the_interval_of_a_mean_covers_the_population_mean_about_95_percent_of_the_time():
    cover = _coverage(MEAN, 3.0, lambda rng: rng.normal(3.0, 2.0, (50, 2, 2)), 400)
    assert 0.90 <= cover <= 0.98, cover      # percentile bootstrap at N = 50: ~0.94


def test_the_pairs_interval_covers_the_mean_distance_of_a_gaussian_population():
    d = 8      # E|x - y| for x, y ~ N(0, I_d): 2 Γ((d+1)/2) / Γ(d/2)
    truth = 2 * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
    cover = _coverage(PDIST, truth, lambda rng: rng.normal(0, 1, (30, 4, 2)), 300)
    assert 0.90 <= cover <= 0.99, cover


def test_pairs_resamples_match_a_brute_force_mean_over_pairs_of_distinct_clips():
    x = np.random.default_rng(1).normal(size=(6, 3, 2))
    est = bootstrap(PDIST, x, REF, n_boot=50, seed=7)
    d = _dist(x.reshape(6, -1))
    idx = np.random.default_rng(7).integers(0, 6, size=(50, 6))      # the draws bootstrap makes
    brute = []
    for i in idx:
        pairs = [d[i[a], i[b]] for a in range(6) for b in range(a + 1, 6) if i[a] != i[b]]
        brute.append(np.mean(pairs) if pairs else np.nan)
    np.testing.assert_allclose(est.resamples, brute, rtol=1e-12)
    assert est.value == pytest.approx(PDIST(x, REF))


def test_features_and_recomputing_give_the_same_resamples_for_the_spec_six():
    rng = np.random.default_rng(2)
    x = 250 + rng.normal(size=(12, 16, 40)).cumsum(1) * 3
    pool = Reference(250 + rng.normal(size=(20, 16, 40)).cumsum(1) * 3, tuple(f"j{i}" for i in range(20)))
    for name in catalog.SPEC:
        m = catalog.BY_NAME[name]
        slow = replace(m, features=None, stat=None)
        np.testing.assert_allclose(bootstrap(slow, x, REF, 100, seed=3).resamples,
                                   bootstrap(m, x, REF, 100, seed=3).resamples, rtol=1e-9, err_msg=name)
        for n in (5, 30):       # without and with replacement (20 pool windows)
            np.testing.assert_allclose(real_range(slow, pool, n, draws=40, seed=4).values,
                                       real_range(m, pool, n, draws=40, seed=4).values, rtol=1e-9, err_msg=name)


def test_same_seed_same_numbers_other_seed_other_numbers():
    x = np.random.default_rng(3).normal(size=(20, 4, 2))
    pool = Reference(np.random.default_rng(4).normal(size=(40, 4, 2)), ("a",))
    for m in (MEAN, PDIST):
        assert bootstrap(m, x, REF, 200, seed=5) == bootstrap(m, x, REF, 200, seed=5)
        assert bootstrap(m, x, REF, 200, seed=5).interval != bootstrap(m, x, REF, 200, seed=6).interval
        assert real_range(m, pool, 10, 50, seed=5) == real_range(m, pool, 10, 50, seed=5)
        assert real_range(m, pool, 10, 50, seed=5).range != real_range(m, pool, 10, 50, seed=6).range


def test_real_sets_are_drawn_without_replacement_up_to_the_pool_size():
    pool = Reference(np.random.default_rng(5).normal(size=(10, 4, 2)), ("a",))
    whole = real_range(MEAN, pool, 10, draws=30)             # every draw is the whole pool
    assert not whole.replace and whole.range == (pytest.approx(MEAN(pool.windows, REF)),) * 2
    more = real_range(MEAN, pool, 11, draws=30)
    assert more.replace and more.range[0] < more.range[1]
    # a set with duplicates is measured as such: pairs of one window count their distance 0
    dup = real_range(PDIST, pool, 11, draws=30)
    assert dup.median < real_range(PDIST, pool, 10, draws=30).median


def test_the_real_range_of_a_mean_matches_sampling_theory():
    pool = Reference(np.random.default_rng(6).normal(0, 1, (2000, 2, 2)), ("a",))
    rr = real_range(MEAN, pool, 25, draws=2000)
    se = 0.5 / math.sqrt(25)        # a clip's mean of 4 unit normals has sd 1/2
    assert rr.range[0] == pytest.approx(-1.96 * se, abs=0.03) and rr.range[1] == pytest.approx(1.96 * se, abs=0.03)


@needs_real_clip
def test_the_pool_is_every_stride_one_window_of_the_clip():
    from motionlab.data.clip import load_clip
    ch = load_clip(REAL_CLIP).channels
    pool = real_pool(load_clip(REAL_CLIP), 256)
    assert pool.shape == (640, 256, 40) and pool.dtype == np.float64
    for k in (0, 1, 383, 639):
        np.testing.assert_array_equal(pool[k], ch[k:k + 256])
    assert len(real_pool([ch, ch[:300], ch[:100]], 256)) == 640 + 45     # a too short clip gives none
    with pytest.raises(MotionlabError):
        real_pool(ch[:100], 256)


def test_held_out_halves_share_no_frame():
    t, w = 95, 20
    ch = np.arange(t, dtype=float)[:, None].repeat(2, 1)     # a channel's value is its frame number
    pool = real_pool(ch, w)
    a, b = held_out_split(pool)
    assert pool[a].max() < pool[b].min()
    assert (len(a), len(b)) == (47 - 20 + 1, 76 - 47)
    for t2 in (30, 95):                                      # several clips go whole to either half
        two = real_pool([ch[:t2], ch[:t2] + 1000], w)
        a, b = held_out_split(two)
        assert two[a].max() < 1000 <= two[b].min()
    with pytest.raises(MotionlabError, match="too short"):
        held_out_split(real_pool(ch[:30], w))


def test_measures_that_read_the_reference_draw_from_one_half_and_are_judged_against_the_other():
    ch = np.random.default_rng(7).normal(size=(200, 4)).cumsum(0)
    pool = Reference(real_pool(ch, 20), ("a", "b"))
    assert reads_windows(GAP, pool) and not any(reads_windows(catalog.BY_NAME[k], pool) for k in catalog.SPEC)
    assert not real_range(GAP, pool, 8, draws=20).held_out                 # default: in-sample
    assert real_range(GAP, pool, 8, draws=20, held_out=None).held_out      # probed
    assert not real_range(MEAN, pool, 8, draws=20, held_out=None).held_out
    a, b = held_out_split(pool.windows)
    assert real_range(GAP, pool, len(a), draws=3, held_out=True).median == pytest.approx(
        GAP(pool.windows[a], Reference(pool.windows[b], ("a", "b"))))
    other = Reference(pool.windows[::3], ("a", "b"))                      # judged against the samples' ref
    assert real_range(GAP, pool, len(pool.windows), draws=2, ref=other).median == pytest.approx(
        GAP(pool.windows, other))


def test_the_probe_finds_the_catalog_measures_that_compare_with_the_reference(demo):
    pool = Reference(real_pool(demo, 16), demo.joints, 30.0, 115.0)
    reading = {m.name for m in catalog.ALL if reads_windows(m, pool)}
    assert not reading & set(catalog.SPEC)
    assert {"fid_k", "precision", "recall"} & set(catalog.BY_NAME) <= reading, reading


def test_an_interval_stays_within_what_the_measure_can_be():
    """Re-centring the percentile interval on the value once put a recall at -0.01: a statistic whose
    resamples sit above the value (here by construction) must not push the interval below 0."""
    import numpy as np
    from motionlab.evaluation.intervals import bootstrap
    from motionlab.evaluation.measure import Measure, Reference
    rows = lambda c, ref: c[:, 0, 0]  # noqa: E731
    share = Measure("share", "share", "", lambda c, ref: 0.0, "clips", rows, lambda r, ref: float(np.mean(r)),
                    bounds=Measure.SHARE)
    clips = np.zeros((40, 2, 2))
    clips[:4, 0, 0] = 1.0                      # resamples near 0.1, the value 0: a shift of -0.1
    est = bootstrap(share, clips, Reference(clips, ("a",)), n_boot=400, seed=1)
    assert est.interval[0] == 0.0 and 0.0 <= est.interval[1] <= 1.0
