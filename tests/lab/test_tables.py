"""motionlab.lab.tables: a checkpoint's metrics row and its ratios to the dataset baseline, the spec's rows,
the table, CSV and Markdown, evaluating only what is not cached, and the novelty columns after the six."""
from __future__ import annotations

import numpy as np
import pytest

from lab_support import TRAIN_FRAMES, lab_tree, tiny_model  # noqa: F401  (fixtures)
from motionlab.data.demo import demo_clip
from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.novelty import COLUMNS
from motionlab.evaluation.spec_reference import SPEC_BASELINES, SPEC_RUNS
from motionlab.formats.checkpoints import load_model
from motionlab.lab import catalog, results, tables


def test_metrics_rows_ratios_and_spec_layout(lab_tree, tiny_model):
    e = catalog.describe(lab_tree["run_best"], "runs/tiny_run/best.pt")
    px = results.run_sampling(tiny_model, 4, seed=42, keep_trajectory=False).pixels
    row = tables.metrics_row(e, px, 42)
    for m in METRICS:
        assert row["ratios"][m] == pytest.approx(row["metrics"][m] / e.baseline[m])
    spec = tables.spec_rows()
    assert [r["tag"] for r in spec] == list(SPEC_RUNS)
    long = spec[2]
    assert long["ratios"]["pos_std"] == pytest.approx(26.02 / SPEC_BASELINES[(256, 5, 1024)]["pos_std"])
    df = tables.table([row], spec)
    assert list(df.columns) == ["source", "tag", "checkpoint", tables.CONFIG_COL, "sampler", *METRICS]
    assert list(df["source"]) == ["ours", "ours: dataset baseline"] + ["spec"] * 4
    csv = tables.to_csv([row], spec)
    assert csv.splitlines()[0].startswith("source,tag,checkpoint") and len(csv.splitlines()) == 7
    md = tables.to_markdown([row], spec)
    assert "| tag | checkpoint | training config (window / stride / limit / epochs) | sampler | coord_range" in md
    assert "| long_1000 | `checkpoints/1000/ddpm_best.pth` | 256 / 5 / 1024 / 1000 | ddpm-400 | 182.34 | 26.02" in md
    assert "| dataset_32x16x0 | 32 / 16 / 0 |" in md and "| dataset_256x5x1024 | 256 / 5 / 1024 | 245.10" in md
    bad = tables.metrics_row(e, np.full_like(px, np.nan), 42)
    assert bad["error"] and "n/a" in tables.to_markdown([bad])


def test_evaluate_entries_samples_only_what_is_not_cached(lab_tree, tiny_model):
    e = catalog.describe(lab_tree["run_best"], "runs/tiny_run/best.pt")
    key = results.pixel_key(e.path, e.mtime_ns, 42, 3, "ddpm-10/fp32")
    fresh = tables.evaluate_entries(lambda *a, **k: None, [(e, key, None, tiny_model)], 3, 42, "fp32")
    [(k, r, row)] = fresh
    assert k == key and r.pixels.shape[0] == 3 and row["name"] == e.short and not row["error"]
    assert row["metrics"] == tables.metrics_row(e, r.pixels, 42)["metrics"]
    # a cached result is used as it is: with no model to sample, any sampling would fail
    [(_, r2, row2)] = tables.evaluate_entries(lambda *a, **k: None, [(e, key, r, None)], 3, 42, "fp32")
    assert r2 is r and row2["metrics"] == row["metrics"]


@pytest.fixture(scope="module")
def entry_and_result(lab_tree):
    e = catalog.describe(lab_tree["run_best"], "runs/tiny_run/best.pt")
    r = results.run_sampling(load_model(lab_tree["run_best"]), 3, seed=42, keep_trajectory=False)
    return e, r


def test_evaluate_entries_add_novelty_after_the_six(entry_and_result):
    e, r = entry_and_result
    key = results.pixel_key(e.path, e.mtime_ns, 42, 3, "fp32")
    train_clip = demo_clip(TRAIN_FRAMES)
    [(_, _, row)] = tables.evaluate_entries(lambda *a, **k: None, [(e, key, r, None)], 3, 42, "fp32",
                                            train_clip, "demo160")
    n = row["novelty"]
    assert set(row["metrics"]) == set(METRICS) and row["weights"] == "raw"
    assert n["novelty"] > 0 and 0 <= n["coverage"] <= 1 and len(n["nearest_offsets"]) == 3 and n["clip"] == "demo160"
    assert n["clip_windows"] == TRAIN_FRAMES - 32 + 1
    df = tables.table([row], tables.spec_rows())
    assert list(df.columns)[-8:] == [*METRICS, *COLUMNS]
    assert df["novelty"][0] == n["novelty"] and np.isnan(df["novelty"][1])  # nothing on the baseline row
    assert "| diversity | novelty | coverage |" in tables.to_markdown([row])
    nt = tables.novelty_table([row])
    assert nt["novelty"][0] == n["novelty"] and nt["nearest clip offsets"][0] == ", ".join(map(str, n["nearest_offsets"]))
    [(_, _, wrong)] = tables.evaluate_entries(lambda *a, **k: None, [(e, key, r, None)], 3, 42, "fp32",
                                              demo_clip(), "demo")
    assert "not this checkpoint's training clip" in wrong["novelty"]["error"]
    assert tables.novelty_table([wrong])["note"][0] == wrong["novelty"]["error"]
    assert "novelty" not in tables.table([tables.metrics_row(e, r.pixels, 42)]).columns  # no clip, no columns
