"""The lab's novelty and EMA parts: nearest real windows, novelty rows, and which weights sample.

Logic without Streamlit first, then the Compare, Metrics and Sample pages through AppTest.
"""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import tiny_trainer
from lab_support import ROOT, lab_env, lab_tree, open_page  # noqa: F401  (fixtures)
from motionlab.formats.checkpoints import load_model
from motionlab.data.clip import save_clip
from motionlab.data.demo import demo_clip
from motionlab.lab import catalog, panels, results, tables
from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.novelty import COLUMNS

APP = str(ROOT / "lab_app.py")
TRAIN_FRAMES = 160  # lab_support trains its tiny models on demo_clip(160)


def test_nearest_panels_find_a_moved_window():
    clip = demo_clip(120)
    moved = clip.xy[37:69] + np.array([20.0, -9.0], np.float32)
    ps = panels.compare_panels([("s", moved.reshape(1, 32, -1), clip.joints)], clip, 32, 1, 0)
    assert [p.name for p in ps] == ["s #0", "real @0"]
    near = panels.nearest_panels(ps, clip)
    assert list(near) == ["s #0"]  # real windows get none
    q = near["s #0"]
    assert q.name == "real @37, nearest to s #0" and q.meta["start"] == 37 and q.meta["distance"] < 1e-4
    np.testing.assert_array_equal(q.xy, clip.xy[37:69])
    other = panels.ComparePanel("x #0", moved, tuple(reversed(clip.joints)), "x")
    nan = panels.ComparePanel("n #0", np.full_like(moved, np.nan), clip.joints, "n")
    assert panels.nearest_panels([other, nan], clip) == {}  # other joints, or NaN: no match
    assert panels.nearest_panels(ps, demo_clip(20)) == {}  # the clip is shorter than the window


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


# -- pages -------------------------------------------------------------------------------------

def _app(page: str) -> AppTest:
    return open_page(page)


def _wait(at, name):
    job = at.session_state["lab.jobs"][name]
    assert job.wait(120) and not job.error, job.error
    at.run()
    assert not at.exception and not at.error, [x.value for x in [*at.exception, *at.error]]


def _captions(at) -> str:
    return "\n".join(str(c.value) for c in at.caption)


@pytest.fixture
def training_clip_env(lab_env, tmp_path, monkeypatch):
    """The app's clip is the tiny checkpoints' own training clip."""
    p = tmp_path / "train_clip.json"
    save_clip(demo_clip(TRAIN_FRAMES), p)
    monkeypatch.setenv("MOTIONLAB_CLIP", str(p))
    return lab_env


def test_compare_puts_each_sample_next_to_its_nearest_real_window(training_clip_env):
    import json
    at = _app("compare")
    at.multiselect(key="compare.checkpoints").set_value([str(training_clip_env["ship"])]).run()
    at.slider(key="compare.num_samples").set_value(2).run()
    at.number_input(key="compare.real_count").set_value(0).run()
    at.button(key="compare.run").click().run()
    _wait(at, "compare")
    assert "tiny_ship: raw weights (no EMA in this checkpoint)" in _captions(at)
    assert not at.toggle(key="compare.nearest").value
    at.toggle(key="compare.nearest").set_value(True).run()
    assert not at.exception
    anim = json.loads(next(e for e in at.main if getattr(e, "key", None) == "compare.animation").proto.json)
    names = [p["title"] for p in anim["panels"]]
    assert names[0::2] == ["tiny_ship #0", "tiny_ship #1"]
    assert all(n.startswith("real @") and n.endswith(f"nearest to tiny_ship #{i}") for i, n in enumerate(names[1::2]))
    assert "Nearest real windows" in _captions(at)


def test_metrics_page_shows_novelty_and_weights(training_clip_env):
    at = _app("metrics")
    assert "Sampling weights: tiny_ship: raw weights" in _captions(at)
    at.select_slider(key="metrics.num_samples").set_value(8).run()
    at.button(key="metrics.run").click().run()
    _wait(at, "metrics")
    [nov] = [d.value for d in at.dataframe if "novelty" in d.value.columns]
    assert list(nov["tag"]) == ["tiny_ship"] and list(nov["weights"]) == ["raw"]
    assert nov["novelty"][0] > 0 and 0 <= nov["coverage"][0] <= 1 and nov["note"][0] == ""
    assert set(COLUMNS) <= set(nov.columns)


def test_sample_page_says_it_uses_ema_weights(lab_env, tmp_path, monkeypatch):
    run = tmp_path / "runs" / "ema_run"
    tiny_trainer(run, demo_clip(96), epochs=1, ema_decay=0.9, tag="ema_run").run(progress=False)
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(tmp_path / "none"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox(key="sample.checkpoint").set_value(str(run / "best.pt")).run()
    assert "with the checkpoint's EMA weights (decay 0.9)" in _captions(at)
    at.slider(key="sample.num_samples").set_value(1).run()
    at.button(key="sample.run").click().run()
    _wait(at, "sample")
    assert "EMA weights." in _captions(at)
