"""The Streamlit lab driven through streamlit.testing.v1.AppTest, page by page, on tiny checkpoints.

Sampling runs on a background thread (jobs.Job); the tests wait for it and rerun, as the
page's polling fragment does in a browser.
"""
from __future__ import annotations

import io
import json
import re
import time
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab_support import ROOT, lab_env, lab_tree, open_page  # noqa: F401  (fixtures)
from motionlab.data.clip import loads_clip
from motionlab.data.demo import demo_clip
from motionlab.lab import processes
from motionlab.evaluation.metrics import METRICS

APP = str(ROOT / "lab_app.py")


@pytest.fixture
def downloads(monkeypatch):
    """file name -> (callable, mime) of every deferred download button the app registers."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    got = {}
    orig = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        got[file_name] = (data_callable, mimetype)
        return orig(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return got


def app(page: str | None = None) -> AppTest:
    return open_page(page, errors=True)


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def wait_job(at: AppTest, name: str, timeout: float = 120) -> None:
    jobs = at.session_state["lab.jobs"] if "lab.jobs" in at.session_state else {}
    job = jobs.get(name)
    if job is not None:
        assert job.wait(timeout), f"{name} job still running"
        assert not job.error, job.error
    at.run()


def chart(at: AppTest, key: str) -> dict:
    els = [c for c in at.get("plotly_chart") if c.key == key]
    assert els, f"no plotly chart {key!r}; have {[c.key for c in at.get('plotly_chart')]}"
    return json.loads(els[0].proto.spec)


def player_data(at: AppTest, key: str) -> dict:
    """What a skeleton player was sent (motionlab.lab.player.encode); the browser builds the figure."""
    els = [e for e in at.main if getattr(e, "key", None) == key]
    assert els, f"no skeleton player {key!r}"
    return json.loads(els[0].proto.json)


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning", "success", "header",
                                                "subheader") for e in getattr(at, kind))


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


def test_metrics_page_judges_with_intervals_against_the_real_range_and_compares(lab_env):
    at = app("metrics")
    assert at.multiselect(key="metrics.checkpoints").value == [str(lab_env["ship"])]
    assert at.select_slider(key="metrics.num_samples").value == 64          # a reviewer's N, not the spec's 8
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


def test_dataset_page_windows_baseline_and_upload(lab_env):
    at = app("dataset")
    assert any("copy ../shared/data/uptown_funk.json to data/uptown_funk.json" in i.value for i in at.info)
    base = at.dataframe[0].value
    assert list(base["source"]) == ["ours (demo)", "spec (uptown_funk.json)"] and base["clips"][0] == 14
    assert player_data(at, "dataset.animation")["num_frames"] == 300
    assert chart(at, "dataset.coverage")
    at.number_input(key="dataset.window").set_value(256).run()
    at.number_input(key="dataset.stride").set_value(5).run()
    at.number_input(key="dataset.limit").set_value(1024).run()
    ok(at)
    base = at.dataframe[0].value
    assert base["window/stride/limit"][0] == "256 / 5 / 1024" and base["pos_std"][1] == 41.74
    at.number_input(key="dataset.window").set_value(1000).run()
    assert not at.exception and "shorter than the window of 1000 frames" in at.error[0].value

    up = at.file_uploader(key="dataset.upload")
    up.set_value(("bad.json", b'{"nose": [[1, 2]], "neck_mid": []}', "application/json")).run()
    assert not at.exception
    assert [e.value for e in at.error if e.value.startswith("bad.json")] == [
        "bad.json: joints have unequal lengths ('neck_mid': 0 frames, 'nose': 1 frames)"]
    clip = demo_clip(90)
    up = at.file_uploader(key="dataset.upload")
    up.set_value(("mine.json", json.dumps(clip.to_dict()).encode(), "application/json")).run()
    at.number_input(key="dataset.window").set_value(32).run()
    ok(at)
    assert any("Loaded upload:mine.json: 90 frames, 20 joints." in s.value for s in at.success)
    assert "Clip **upload:mine.json**: 90 frames" in texts(at)
    at.switch_page("lab_pages/compare.py").run()  # the uploaded clip follows to other pages
    assert at.slider(key="compare.real_start").max == 90 - 32
    at.switch_page("lab_pages/dataset.py").run()
    at.button(key="dataset.forget_upload").click().run()
    ok(at)
    assert "Clip **demo**: 480 frames" in texts(at)


def test_dataset_page_imports_pose_files(lab_env, downloads):
    import pose_files as pf
    at = app("dataset")
    clip = demo_clip(60)
    kp = pf.keypoints(clip, "mediapipe33")
    vis = np.full(kp.shape[:2], 0.9)
    vis[20:23, 15] = 0.0  # left wrist lost for 3 frames
    raw = pf.mediapipe_csv(kp / np.array([640, 480]), vis)
    assert at.button(key="dataset.import_run").disabled
    at.file_uploader(key="dataset.import_files").set_value([("pose.csv", raw, "text/csv")]).run()
    at.button(key="dataset.import_run").click().run()
    assert len(at.error) == 1 and at.error[0].value.startswith("pose.csv: coordinates are within 0..1 (largest 0.")
    assert at.error[0].value.endswith("so they look normalized; give the video's frame size (WIDTHxHEIGHT) to "
                                      "scale them to pixels")
    assert "Clip **demo**" in texts(at)
    at.number_input(key="dataset.import_width").set_value(640)
    at.number_input(key="dataset.import_height").set_value(480)
    at.number_input(key="dataset.window").set_value(32).run()
    at.button(key="dataset.import_run").click().run()
    ok(at)
    assert any("Loaded import:pose.csv: 60 frames, 20 joints." in s.value for s in at.success)
    assert "Clip **import:pose.csv**: 60 frames" in texts(at)
    assert "filled 3 missing or low-confidence points by interpolation (3 frames): left_hand 3" in texts(at)
    data, _ = downloads["import_pose.csv.json"]
    got = loads_clip(data())
    keep = [i for i, j in enumerate(clip.joints) if "mean" not in j and j != "neck_mid"]  # derived ones differ
    assert got.joints == clip.joints
    np.testing.assert_allclose(np.delete(got.xy, range(20, 23), 0)[:, keep],
                               np.delete(clip.xy, range(20, 23), 0)[:, keep], atol=2e-3)
    at.switch_page("lab_pages/training.py").run()  # the Training form offers it like an uploaded clip
    assert "uploaded clip (import:pose.csv)" in at.selectbox(key="training.data").options


def test_dataset_page_refuses_oversized_uploads(lab_env):
    from motionlab.lab import config
    at = app("dataset")
    big = b" " * (config.UPLOAD_LIMIT_MB * 2**20 + 1)
    at.file_uploader(key="dataset.upload").set_value(("big.json", big, "application/json")).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["big.json: 50.0 MB exceeds the 50 MB limit for clip files"]
    assert "Clip **demo**" in texts(at)


@pytest.mark.slow
def test_training_page_charts_runs_and_starts_one(lab_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(tmp_path / "no_checkpoints"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the training subprocess inherits it; the CPUs are shared
    at = app("training")
    assert any("No runs yet" in i.value for i in at.info)
    f = "training."
    for k, v in (("name", "ui_run"), ("window", 32), ("stride", 16), ("limit", 0), ("epochs", 2),
                 ("timesteps", 10), ("base_channels", 16), ("time_dim", 32), ("monitor_every", 1),
                 ("save_every", 1)):
        (at.text_input if k == "name" else at.number_input)(key=f + k).set_value(v)
    at.selectbox(key=f + "data").set_value("demo")
    at.button(key=f + "start").click().run()
    ok(at)
    assert any("Started ui_run (pid" in s.value for s in at.success)
    run = tmp_path / "ui_run"
    rec = json.loads((run / "lab_process.json").read_text())
    assert rec["command"][1:3] == ["-m", "motionlab.train"] and "--no-progress" in rec["command"]
    assert at.selectbox(key="training.run").value == str(run / "metrics.jsonl")
    t = time.time()
    while processes.status(run)["state"] in ("running", "stopping") and time.time() - t < 120:
        time.sleep(0.3)
    at.run()
    ok(at)
    assert processes.status(run)["state"] == "finished", processes.log_tail(run)
    assert [m.value for m in at.metric][:2] == ["finished", "2 / 2"]
    assert chart(at, "training.loss")["data"][0]["x"] == [1, 2]
    assert [t["name"] for t in chart(at, "training.sample_metrics")["data"]][:2] == ["coord_range", "dataset baseline"]
    # a second page load (new session) still knows the run; its name is taken now
    at2 = app("dataset")  # with an upload, which a refused start must not write into that run
    at2.file_uploader(key="dataset.upload").set_value(
        ("mine.json", json.dumps(demo_clip(90).to_dict()).encode(), "application/json")).run()
    at2.switch_page("lab_pages/training.py").run()
    at2.text_input(key="training.name").set_value("ui_run")
    at2.selectbox(key="training.data").set_value("uploaded")
    at2.button(key="training.start").click().run()
    assert not at2.exception and "already holds a run" in at2.error[0].value
    assert not (run / processes.UPLOADED_CLIP).exists()


def test_training_page_shows_shipped_and_run_logs(lab_env):
    at = app("training")
    runs = at.selectbox(key="training.run")
    assert [p.rsplit("/", 1)[-1] for p in runs.options] == ["tiny_run", "tiny_ship"]  # labels: the run folders
    assert chart(at, "training.loss")["data"][0]["x"] == [1, 2]
    assert [m.value for m in at.metric][0] == "external"


@pytest.mark.slow
def test_every_page_renders_with_the_real_defaults():
    """No env overrides: the project's checkpoints/ and runs/ folders and data/ as they are."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    from motionlab.lab import catalog, config
    usable = [e for e in catalog.discover(config.checkpoint_dirs(), config.runs_dir()) if e.ok]
    if usable:  # Sample opens on the most-trained shipped checkpoint
        want = max(usable, key=lambda e: (e.kind == "shipped", e.epoch))
        assert at.selectbox(key="sample.checkpoint").value == want.path
    for page in ("compare", "edit", "metrics", "dataset", "training"):
        at.switch_page(f"lab_pages/{page}.py").run()
        assert not at.exception, page
        assert not np.any([e.value.startswith("Traceback") for e in at.error])


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
