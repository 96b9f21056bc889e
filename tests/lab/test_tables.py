"""motionlab.lab.tables: the spec's runs in its layout with their ratios, and novelty and coverage
against the checkpoint's training clip (or why not)."""
from __future__ import annotations

import numpy as np
import pytest

from lab_support import TRAIN_FRAMES, lab_tree  # noqa: F401  (fixtures)
from motionlab.data.demo import demo_clip
from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.spec_reference import SPEC_BASELINES, SPEC_RUNS
from motionlab.formats.checkpoints import load_model
from motionlab.lab import catalog, results, tables


def test_spec_rows_and_their_layout():
    spec = tables.spec_rows()
    assert [r["tag"] for r in spec] == list(SPEC_RUNS)
    long = spec[2]
    assert long["ratios"]["pos_std"] == pytest.approx(26.02 / SPEC_BASELINES[(256, 5, 1024)]["pos_std"])
    df = tables.table(spec)
    assert list(df.columns) == ["source", "tag", "checkpoint", tables.CONFIG_COL, "sampler", *METRICS]
    assert list(df["source"]) == ["spec"] * 4 and df["pos_std"][2] == 26.02


@pytest.fixture(scope="module")
def entry_and_result(lab_tree):
    e = catalog.describe(lab_tree["run_best"], "runs/tiny_run/best.pt")
    r = results.run_sampling(load_model(lab_tree["run_best"]), 3, seed=42, keep_trajectory=False)
    return e, r


def test_novelty_against_the_training_clip_or_why_not(entry_and_result):
    e, r = entry_and_result
    n = tables.novelty_of(e, r.pixels, r.joints, r.mean, demo_clip(TRAIN_FRAMES), "demo160")
    assert n["novelty"] > 0 and 0 <= n["coverage"] <= 1 and len(n["nearest_offsets"]) == 3 and n["clip"] == "demo160"
    assert n["clip_windows"] == TRAIN_FRAMES - 32 + 1
    nt = tables.novelty_table([{"name": e.short, "weights": e.weights, "novelty": n}])
    assert nt["novelty"][0] == n["novelty"] and nt["nearest clip offsets"][0] == ", ".join(map(str, n["nearest_offsets"]))
    wrong = tables.novelty_of(e, r.pixels, r.joints, r.mean, demo_clip(), "demo")
    assert "not this checkpoint's training clip" in wrong["error"]
    assert tables.novelty_table([{"name": e.short, "novelty": wrong}])["note"][0] == wrong["error"]
    assert tables.novelty_of(e, r.pixels, r.joints, r.mean, None) == {"error": "no clip"}
    assert np.isnan(tables.novelty_table([{"name": "x"}])["novelty"][0])
