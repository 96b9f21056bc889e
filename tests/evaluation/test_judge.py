"""A sample set judged against real data at the same N (motionlab.evaluation.judge)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REAL_CLIP, needs_real_clip

from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import bootstrap, held_out_split, real_pool
from motionlab.evaluation.judge import (
    compare,
    distance_to_data,
    judge_set,
    markdown_header,
    markdown_row,
    markdown_table,
    results_doc,
)
from motionlab.evaluation.measure import Measure, Reference
from motionlab.evaluation.spec_reference import SPEC_BASELINES

BASELINE = SPEC_BASELINES[(256, 5, 1024)]   # = dataset_baseline(clip, 256, 5, 1024) to 2 decimals (test_metrics)
SIX = catalog.SPEC


def _flat(x):
    x = np.asarray(x)
    return x.reshape(len(x), -1)


def _ref_distances(x, ref):
    r = ref.cached("test.flat", lambda: _flat(ref.windows))
    f = _flat(x)
    return np.sqrt(np.maximum((f * f).sum(1)[:, None] + (r * r).sum(1)[None] - 2 * f @ r.T, 0) / f.shape[1])


def _nn(x, ref):
    return _ref_distances(x, ref).min(1)


# Measures that compare the set with the reference itself, as FID and k-NN precision do: a real set drawn
# from the reference's own windows scores 0 (in-sample).
NN = Measure("nn_distance", "distance to the nearest real window", "px", lambda x, ref: float(_nn(x, ref).mean()),
             features=_nn, stat=lambda rows, ref: float(rows.mean()))
MEASURES = catalog.ALL + (NN,)


@pytest.fixture(scope="module")
def real():
    from motionlab.data.clip import load_clip
    from motionlab.data.dataset import DataConfig, MotionSequenceDataset
    if not REAL_CLIP.is_file():
        pytest.skip("data/uptown_funk.json is absent")
    clip = load_clip(REAL_CLIP)
    train = MotionSequenceDataset(clip, DataConfig(window=256, stride=5, limit=1024, seed=42)).raw
    pool = Reference(real_pool(clip, 256), clip.joints, 30.0, 115.0)
    return Reference(np.asarray(train, np.float64), clip.joints, 30.0, 115.0), pool


def _draw(pool, n, seed, among=None):
    among = np.arange(len(pool.windows)) if among is None else among
    return pool.windows[np.random.default_rng(seed).choice(among, n, replace=False)]


@needs_real_clip
def test_real_windows_are_like_the_data_on_every_measure(real):
    ref, pool = real
    res = judge_set(_draw(pool, 64, 1), ref, pool, MEASURES, 400, 200, seed=1)
    assert set(res) == {m.name for m in MEASURES} and res["nn_distance"]["reads_reference"]
    assert all(r["like_data"] for r in res.values()), {k: r for k, r in res.items() if not r["like_data"]}


@needs_real_clip
def test_held_out_measures_take_real_windows_the_reference_has_not_seen_as_like_the_data(real):
    ref, pool = real
    reading = [m for m in MEASURES if m.name in ("nn_distance", "fid_k", "precision", "recall")]
    unseen = _draw(pool, 64, 1, held_out_split(pool.windows)[0])
    res = judge_set(unseen, ref, pool, reading, seed=1, held_out=True)
    assert {r["reference"] for r in res.values()} == {"held_out"}
    assert all(r["like_data"] for r in res.values()), res
    # windows of the reference's own half are in-sample there: NN scores 0 against a held-out range > 0
    seen = judge_set(_draw(pool, 64, 1, held_out_split(pool.windows)[1]), ref, pool, [NN], seed=1, held_out=True)
    assert seen["nn_distance"]["like_data"] is False and seen["nn_distance"]["real_range"][0] > 10


@needs_real_clip
def test_one_window_repeated_is_not_like_the_data_on_diversity(real):
    ref, pool = real
    res = judge_set(np.repeat(pool.windows[100:101], 32, 0), ref, pool, [catalog.BY_NAME["diversity"]])
    assert res["diversity"]["value"] < 1e-3 and res["diversity"]["interval"][1] < 1e-3
    assert res["diversity"]["like_data"] is False
    assert res["diversity"]["real_range"][0] > 50


def _damped(x, factor=0.6):
    return x[:, :1] + factor * (x - x[:, :1])        # every velocity times factor


@needs_real_clip
def test_compare_finds_no_difference_between_real_sets_and_prefers_real_over_damped_motion(real):
    ref, pool = real
    order = np.random.default_rng(2).permutation(len(pool.windows))
    a, b = pool.windows[order[:64]], pool.windows[order[64:128]]
    six = [catalog.BY_NAME[k] for k in SIX]
    same = compare(a, b, ref, pool, six + [m for m in catalog.ALL if m.name == "fid_k"], seed=2)
    assert {r["verdict"] for r in same.values()} == {"no measurable difference at this N"}, same
    damped = compare(a, _damped(b), ref, pool, six, seed=2)
    for name in ("vel_std", "vel_energy", "com_speed"):
        assert damped[name]["verdict"] == "A closer to the data", (name, damped[name])
        assert damped[name]["interval"][1] < 0
    swapped = compare(_damped(b), a, ref, pool, [catalog.BY_NAME["vel_energy"]], seed=2)
    assert swapped["vel_energy"]["verdict"] == "B closer to the data"


@needs_real_clip
def test_intervals_narrow_with_n_to_within_10_points_of_the_baseline_at_64(real):
    ref, pool = real
    width = {}
    for n in (8, 64):
        res = judge_set(_draw(pool, n, 3), ref, pool, [catalog.BY_NAME[k] for k in SIX], seed=3)
        width[n] = {k: 100 * (r["interval"][1] - r["interval"][0]) / BASELINE[k] for k, r in res.items()}
    assert all(width[64][k] < width[8][k] for k in SIX if k != "coord_range"), width
    assert all(width[64][k] <= 10 for k in SIX), width[64]


def test_baseline_ratio_and_the_spec_band_are_kept():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 8, 4)).cumsum(1)
    pool = Reference(rng.normal(size=(40, 8, 4)).cumsum(1), ("a", "b"))
    energy = catalog.BY_NAME["vel_energy"]
    v = energy(x, pool)
    res = judge_set(x, pool, pool, [energy, catalog.BY_NAME["pos_std"]], 50, 50, baseline={"vel_energy": v / 1.05})
    assert res["vel_energy"]["ratio_to_baseline"] == pytest.approx(1.05) and res["vel_energy"]["within_10pct"]
    assert "ratio_to_baseline" not in res["pos_std"]
    res = judge_set(x, pool, pool, [energy], 50, 50, baseline={"vel_energy": v / 1.2})
    assert res["vel_energy"]["within_10pct"] is False


def test_distance_to_the_data_is_two_sided_and_scaled_by_the_median_or_the_real_spread():
    assert distance_to_data(110.0, 100.0, (95, 105)) == pytest.approx(0.1)
    assert distance_to_data(90.0, 100.0, (95, 105)) == pytest.approx(0.1)
    assert distance_to_data(0.3, 0.01, (0.0, 0.2)) == pytest.approx(0.29 / 0.2)    # median near 0: the spread
    np.testing.assert_allclose(distance_to_data(np.array([100.0, 120.0]), 100.0, (95, 105)), [0, 0.2])


def test_results_are_json_ready_rounded_and_tabled(demo):
    pool = Reference(real_pool(demo, 16), demo.joints, 30.0, 115.0)
    x = pool.windows[::7] + np.random.default_rng(5).normal(size=(12, 16, 40))
    res = judge_set(x, pool, pool, catalog.ALL, 100, 50, baseline={"vel_energy": 1.0})
    doc = results_doc(res)
    assert doc["n"] == 12 and list(doc["metrics"]) == [m.name for m in catalog.ALL]
    json.loads(json.dumps(doc, allow_nan=False))
    assert not {k for k, r in doc["metrics"].items() if r["value"] is None} & set(SIX)   # (16 frames: no tempo)
    for name, r in doc["metrics"].items():
        raw = res[name]
        assert type(r["like_data"]) is bool
        if r["value"] is None:
            assert np.isnan(raw["value"]) and not r["like_data"]
            continue
        assert type(r["value"]) is float
        assert r["value"] == float(f"{raw['value']:.4g}")
        lo, hi = r["interval"]          # rounded outward: what was inside stays inside
        assert lo <= raw["interval"][0] and hi >= raw["interval"][1]
        assert raw["interval"][0] - lo <= 1e-3 * abs(lo) and hi - raw["interval"][1] <= 1e-3 * abs(hi)
    table = markdown_table(doc)
    assert table.count("\n") == 1 + len(catalog.ALL) and "| vel_energy |" in table
    row = markdown_row("tiny", doc)
    assert row.startswith("| tiny (N = 12) |") and row.count("|") == markdown_header(SIX).splitlines()[0].count("|")


def test_compare_resamples_the_two_sets_independently():
    x = np.random.default_rng(6).normal(size=(20, 8, 4)).cumsum(1)
    pool = Reference(np.random.default_rng(7).normal(size=(60, 8, 4)).cumsum(1), ("a", "b"))
    energy = catalog.BY_NAME["vel_energy"]
    res = compare(x, x, pool, pool, [energy], 200, 50, seed=1)["vel_energy"]
    # the same set on both sides: equal distances, but the difference still has a spread
    assert res["difference"] == 0 and res["interval"][0] < 0 < res["interval"][1]
    assert bootstrap(energy, x, pool, 200, seed=[1, 0]).interval != bootstrap(energy, x, pool, 200, seed=[1, 1]).interval
