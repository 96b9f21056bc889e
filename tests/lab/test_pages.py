"""The lab's Sample, Compare, Edit and Metrics pages driven through streamlit.testing.v1.AppTest on tiny
checkpoints (lab_support's lab_tree), and every page on the project's own folders; the Dataset and Training
pages are in test_pages_data.py.

Sampling runs on a background thread (jobs.Job); the tests wait for it and rerun, as the
page's polling fragment does in a browser.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
import re
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import tiny_trainer
from lab_support import (APP, TRAIN_FRAMES, app, chart, downloads, lab_env, lab_tree, ok,  # noqa: F401  (fixtures)
                         open_page, player_data, texts, three, wait_job)
from motionlab.data.clip import loads_clip, save_clip
from motionlab.data.demo import demo_clip
from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.novelty import COLUMNS


def captions(at) -> str:
    return "\n".join(str(c.value) for c in at.caption)


@pytest.fixture
def training_clip_env(lab_env, tmp_path, monkeypatch):
    """The app's clip is the tiny checkpoints' own training clip."""
    p = tmp_path / "train_clip.json"
    save_clip(demo_clip(TRAIN_FRAMES), p)
    monkeypatch.setenv("MOTIONLAB_CLIP", str(p))
    return lab_env


# -- Sample ----------------------------------------------------------------------------------------

def test_sample_page_picks_samples_scrubs_and_exports(lab_env, downloads, monkeypatch):
    at = app()
    assert [h.value for h in at.header] == ["Sample"]
    pick = at.selectbox(key="sample.checkpoint")
    assert pick.options == ["checkpoints/tiny_ship/model.pt · tiny_ship · 32/16/0 · epoch 1/1 · loss "
                            + pick.options[0].rsplit(" ", 1)[1], *pick.options[1:]]
    assert len(pick.options) == 3 and not any("broken" in o for o in pick.options)
    assert any("checkpoints/broken/model.pt** (broken)" in w.value for w in at.warning)
    pick.set_value(str(lab_env["run_best"])).run()
    at.slider(key="sample.num_samples").set_value(3).run()
    at.button(key="sample.run").click().run()
    ok(at)
    wait_job(at, "sample")
    ok(at)
    anim = player_data(at, "sample.animation")
    assert len(anim["panels"]) == 3 and anim["num_frames"] == 32 and anim["step"] == 1
    # the lab's default sampler, clamped to this run's 10-step chain; precision and threads measured
    assert re.search(r"3 samples from \*\*runs/tiny_run/best.pt\*\*, seed 42, ddpm-10, (fp32|bf16), \d threads? "
                     r"\(auto(, measured)?\), 32 frames", texts(at)), texts(at)
    assert at.multiselect(key="sample.show").value == [0, 1, 2]

    # the denoising view: the browser scrubs the kept states; the whole clip follows the settled step
    view = [e for e in at.main if getattr(e, "key", None) == "sample.denoise_view"]
    assert len(view) == 1
    sent = json.loads(view[0].proto.json)
    assert sent["steps"][0] == 10 and sent["steps"][-1] == 0 and sent["start"] == len(sent["steps"]) - 1
    assert sent["bytes"] == len(sent["steps"]) * 2 * 6 * 20 * 2 * 2
    den = player_data(at, "sample.denoise")
    assert [p["title"] for p in den["panels"]] == ["x_t at step 0 (noisy input)", "x̂0 predicted at step 0"]
    from motionlab.core.model import PositionalUNet1D

    def no_model(*a, **k):
        raise AssertionError("the view ran the model")
    monkeypatch.setattr(PositionalUNet1D, "forward", no_model)
    at.session_state["sample.denoise_view"] = {"step": 10}  # what the browser sends on release
    at.run()
    at.selectbox(key="sample.denoise_sample").set_value(2).run()
    ok(at)
    den = player_data(at, "sample.denoise")
    assert den["panels"][0]["title"] == "x_t at step 10 (noisy input)"
    assert den["num_frames"] == 32 and len(den["panels"]) == 2
    assert den["panels"][0]["bounds"] != den["panels"][1]["bounds"]  # x_t at T spreads wide: its own bounds
    sent = json.loads([e for e in at.main if getattr(e, "key", None) == "sample.denoise_view"][0].proto.json)
    assert sent["start"] == 0  # a redrawn view starts where the user settled

    # exports of what is shown: 3 clips side by side, then one
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["GIF (3 clips side by side, 30 fps)", "MP4 (3 clips side by side, 30 fps)",
                      "JSON clips (zip of 3), 30 fps", "OpenPose JSON (BODY_25), 30 fps",
                      "Pose images (PNG, ControlNet), 30 fps", "CSV, 30 fps", "NPY, 30 fps"]
    assert downloads["tiny_run_seed42.gif"][0]()[:6] == b"GIF89a"
    assert downloads["tiny_run_seed42.mp4"][0]()[4:8] == b"ftyp"
    with zipfile.ZipFile(io.BytesIO(downloads["tiny_run_seed42.zip"][0]())) as z:
        assert len(z.namelist()) == 3
        assert loads_clip(z.read(z.namelist()[0])).num_frames == 32
    at.multiselect(key="sample.show").set_value([1]).run()
    ok(at)
    assert len(player_data(at, "sample.animation")["panels"]) == 1
    assert loads_clip(downloads["tiny_run_seed42_1.json"][0]()).num_frames == 32


def test_sample_page_without_usable_checkpoints(monkeypatch, tmp_path, lab_tree):
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(lab_tree["checkpoints"] / "broken"))
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path / "no_runs"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("No usable checkpoint found" in i.value for i in at.info)
    assert any("(broken)" in w.value for w in at.warning)


def test_sample_page_says_it_uses_ema_weights(lab_env, tmp_path, monkeypatch):
    run = tmp_path / "runs" / "ema_run"
    tiny_trainer(run, demo_clip(96), epochs=1, ema_decay=0.9, tag="ema_run").run(progress=False)
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(tmp_path / "none"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox(key="sample.checkpoint").set_value(str(run / "best.pt")).run()
    assert "with the checkpoint's EMA weights (decay 0.9)" in captions(at)
    at.slider(key="sample.num_samples").set_value(1).run()
    at.button(key="sample.run").click().run()
    wait_job(at, "sample")
    ok(at)
    assert "EMA weights." in captions(at)


# -- Compare ---------------------------------------------------------------------------------------

def test_compare_page_plays_checkpoints_and_real_windows_in_one_figure(lab_env, downloads):
    at = app("compare")
    assert [h.value for h in at.header] == ["Compare"]
    assert any("copy ../shared/data/uptown_funk.json to data/uptown_funk.json" in i.value for i in at.info)
    at.multiselect(key="compare.checkpoints").set_value([str(lab_env["ship"]), str(lab_env["run_best"])]).run()
    at.slider(key="compare.num_samples").set_value(1).run()
    at.number_input(key="compare.real_count").set_value(2).run()
    at.button(key="compare.run").click().run()
    wait_job(at, "compare")
    ok(at)
    panels = at.multiselect(key="compare.panels")
    assert panels.options == ["tiny_ship #0", "tiny_run:best #0", "real @0", "real @32"]
    assert panels.value == panels.options
    anim = player_data(at, "compare.animation")  # one player: one play button and frame slider for all
    assert len(anim["panels"]) == 4 and len({tuple(p["bounds"]) for p in anim["panels"]}) == 1  # shared bounds
    assert at.button(key="compare.run").disabled  # all sampled
    panels.set_value(["real @32", "tiny_ship #0"]).run()
    ok(at)
    assert [p["title"] for p in player_data(at, "compare.animation")["panels"]] == ["real @32", "tiny_ship #0"]
    assert downloads["compare_seed42.gif"][0]()[:6] == b"GIF89a"
    with zipfile.ZipFile(io.BytesIO(downloads["compare_seed42.zip"][0]())) as z:
        assert sorted(z.namelist()) == ["real_32.json", "tiny_ship_0.json"]


def test_compare_shows_real_windows_from_any_clip(lab_env, three, monkeypatch):
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three))
    at = app("compare")
    at.multiselect(key="compare.checkpoints").set_value([]).run()
    at.number_input(key="compare.real_count").set_value(2).run()
    pick = at.selectbox(key="compare.real_clip")
    assert pick.options == ["fast", "mid", "slow"]
    assert at.multiselect(key="compare.panels").options == ["real fast @0"]  # 90 frames: one window of 64 fits
    pick.set_value("mid").run()
    assert at.slider(key="compare.real_start").max == 130 - 64
    assert at.multiselect(key="compare.panels").options == ["real mid @0", "real mid @64"]


def test_compare_puts_each_sample_next_to_its_nearest_real_window(training_clip_env):
    import json
    at = open_page("compare")
    at.multiselect(key="compare.checkpoints").set_value([str(training_clip_env["ship"])]).run()
    at.slider(key="compare.num_samples").set_value(2).run()
    at.number_input(key="compare.real_count").set_value(0).run()
    at.button(key="compare.run").click().run()
    wait_job(at, "compare")
    ok(at)
    assert "tiny_ship: raw weights (no EMA in this checkpoint)" in captions(at)
    assert not at.toggle(key="compare.nearest").value
    at.toggle(key="compare.nearest").set_value(True).run()
    assert not at.exception
    anim = json.loads(next(e for e in at.main if getattr(e, "key", None) == "compare.animation").proto.json)
    names = [p["title"] for p in anim["panels"]]
    assert names[0::2] == ["tiny_ship #0", "tiny_ship #1"]
    assert all(n.startswith("real @") and n.endswith(f"nearest to tiny_ship #{i}") for i, n in enumerate(names[1::2]))
    assert "Nearest real windows" in captions(at)


# -- Edit ------------------------------------------------------------------------------------------

def test_edit_page_inbetweens_continues_and_exports(lab_env, downloads):
    at = app("edit")
    assert [h.value for h in at.header] == ["Edit"]
    at.selectbox(key="edit.checkpoint").set_value(str(lab_env["ship"])).run()
    at.number_input(key="edit.context").set_value(4).run()
    at.number_input(key="edit.from").set_value(40).run()
    at.number_input(key="edit.to").set_value(52).run()
    at.slider(key="edit.num_samples").set_value(2).run()
    at.button(key="edit.run").click().run()
    wait_job(at, "edit")
    ok(at)
    anim = player_data(at, "edit.animation")
    names = [p["title"] for p in anim["panels"]]
    assert names[0].startswith("given (reference between)") and names[1:] == ["tiny_ship inbetween #0",
                                                                               "tiny_ship inbetween #1"]
    assert all(p["held"] for p in anim["panels"])  # the held joints are marked in every panel
    from motionlab.lab import player
    assert player.held(anim, 1)[0].all()  # frame 0 is given: every joint held
    seams, metrics = (d.value for d in at.dataframe)  # seams, then the generated part's metrics
    assert list(seams["seam at frame"]) == [4, 15]
    assert list(metrics["metric"]) == list(METRICS) and "95% interval" in metrics and "like the data" in metrics
    at.number_input(key="edit.export_fps").set_value(15.0).run()
    ok(at)
    with zipfile.ZipFile(io.BytesIO(downloads["tiny_ship_inbetween_seed42_openpose_15fps.zip"][0]())) as z:
        files = [n for n in z.namelist() if n.endswith("_keypoints.json")]
        assert len(files) == 2 * 10  # 2 samples, 19 frames at 30 fps = 0.6 s -> 10 frames at 15 fps
        assert len(json.loads(z.read(files[0]))["people"][0]["pose_keypoints_2d"]) == 75
    assert downloads["tiny_ship_inbetween_seed42.gif"][0]()[:6] == b"GIF89a"

    # a long dance: windows chained past the model's 32 frames, one seam per window
    at.radio(key="edit.task").set_value("long").run()
    at.number_input(key="edit.seconds").set_value(3.0).run()
    at.button(key="edit.run").click().run()
    wait_job(at, "edit")
    ok(at)
    anim = player_data(at, "edit.animation")
    assert anim["num_frames"] == 90 and len(anim["panels"]) == 2
    assert list(at.dataframe[0].value["seam at frame"]) == [32, 56, 80]


# -- Metrics ---------------------------------------------------------------------------------------

def test_metrics_page_judges_with_intervals_against_the_real_range_and_compares(lab_env):
    at = app("metrics")
    assert at.multiselect(key="metrics.checkpoints").value == [str(lab_env["ship"])]
    assert at.select_slider(key="metrics.num_samples").value == 256         # a reviewer's N, not the spec's 8
    assert "each checkpoint's faithful setting" in texts(at)                # and each checkpoint's own sampler
    at.multiselect(key="metrics.checkpoints").set_value([str(lab_env["ship"]), str(lab_env["run_best"])]).run()
    at.select_slider(key="metrics.num_samples").set_value(16).run()
    at.button(key="metrics.run").click().run()
    wait_job(at, "metrics")
    ok(at)
    fig = chart(at, "metrics.intervals")
    errors = [t for t in fig["data"] if t.get("error_x")]
    assert len(errors) == 2 * 6                                             # two checkpoints x the spec's six
    assert all(t["error_x"]["arrayminus"][0] >= 0 and t["error_x"]["array"][0] >= 0 for t in errors)
    bands = [sh for sh in fig["layout"]["shapes"] if sh["type"] == "rect"]
    assert len(bands) == 12 and all(sh["x0"] <= sh["x1"] for sh in bands)  # the real range at the same N
    assert "type" not in fig["layout"]["xaxis"] or fig["layout"]["xaxis"]["type"] != "log"
    table = at.dataframe[0].value
    assert set(table["measure"]) == set(METRICS) and set(table["N"]) == {16}
    assert set(table["like the data"]) <= {"yes", "no", "n/a"}
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]
    assert at.button(key="metrics.run").disabled
    at.button(key="metrics_compare.run").click().run()
    wait_job(at, "metrics_compare")
    ok(at)
    verdicts = at.dataframe[1].value
    assert set(verdicts["verdict"]) <= {"A closer to the data", "B closer to the data",
                                        "no measurable difference at this N", "not measurable (no finite value)"}
    at.button(key="metrics.spec").click().run()                             # the spec's protocol, one click
    assert at.select_slider(key="metrics.num_samples").value == 8
    assert at.selectbox(key="metrics.sampler").value == "ddpm"


def test_metrics_page_shows_novelty_and_weights(training_clip_env):
    at = open_page("metrics")
    assert "Sampling weights: tiny_ship: raw weights" in captions(at)
    at.select_slider(key="metrics.num_samples").set_value(8).run()
    at.button(key="metrics.run").click().run()
    wait_job(at, "metrics")
    ok(at)
    [nov] = [d.value for d in at.dataframe if "novelty" in d.value.columns]
    assert list(nov["tag"]) == ["tiny_ship"] and list(nov["weights"]) == ["raw"]
    assert nov["novelty"][0] > 0 and 0 <= nov["coverage"][0] <= 1 and nov["note"][0] == ""
    assert set(COLUMNS) <= set(nov.columns)


# -- every page ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_every_page_renders_with_the_real_defaults():
    """No env overrides: the project's checkpoints/ and runs/ folders and data/ as they are."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    from motionlab.lab import catalog, config
    usable = [e for e in catalog.discover(config.checkpoint_dirs(), config.runs_dir()) if e.ok]
    # Sample opens on the release closest to the data: the largest judged_rank, today best_fidelity
    from motionlab.pipeline.evaluating import judged_rank
    ranked = [e for e in usable if judged_rank(e.path) is not None]
    closest = max(ranked, key=lambda e: judged_rank(e.path)).path
    assert Path(closest).parent.name == "best_fidelity"
    assert at.selectbox(key="sample.checkpoint").value == closest
    for page in ("compare", "edit", "metrics", "dataset", "training"):
        at.switch_page(f"lab_pages/{page}.py").run()
        assert not at.exception, page
        assert not np.any([e.value.startswith("Traceback") for e in at.error])
