"""The lab's Dataset and Training pages driven through streamlit.testing.v1.AppTest on tiny checkpoints
(lab_support's lab_tree): the clip's windows and baseline, uploads and pose-file imports that follow to the other
pages, a reference dataset of several clips (MOTIONLAB_CLIP naming a folder or a manifest), and training runs
charted, started and found again by a new session. The other pages are in test_pages.py."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab_support import ROOT, app, chart, downloads, lab_env, lab_tree, ok, player_data, texts, three  # noqa: F401
from motionlab.data.clip import Clip, loads_clip, save_clip
from motionlab.data.demo import demo_clip
from motionlab.evaluation import baselines
from motionlab.evaluation.metrics import METRICS
from motionlab.lab import config, datasets, processes
from motionlab.pipeline.evaluating import baseline_windows


# -- Dataset ---------------------------------------------------------------------------------------

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


def test_dataset_page_lists_clips_windows_and_per_clip_baselines(lab_env, three, monkeypatch):
    (three.parent / "set.txt").write_text("clips/slow.json\nclips/fast.json  # two of three\n")
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three))
    at = app("dataset")
    base, table = at.dataframe[0].value, at.dataframe[1].value
    assert list(base["source"]) == [f"ours ({config.display_path(three)})", "↳ fast", "↳ mid", "↳ slow",
                                    "spec (uptown_funk.json)"]
    assert base["clips"][0] == 1 + 3 + 2
    assert list(table["clip"]) == ["fast", "mid", "slow"] and list(table["frames"]) == [90, 130, 100]
    assert list(table["windows"]) == [1, 3, 2]                       # window 64, stride 32, limit 32
    clips = datasets.load(datasets.file_key([three]))
    ds = baseline_windows(clips, 64, 32, 32)
    for m in METRICS:
        assert base[m][0] == pytest.approx(baselines.baseline(ds)[m])
    cov = json.loads(next(c for c in at.get("plotly_chart") if c.key == "dataset.coverage").proto.spec)
    assert cov["layout"]["title"]["text"].endswith("(1 windows)")   # the first clip, fast
    at.selectbox(key="dataset.clip").set_value("mid").run()
    cov = json.loads(next(c for c in at.get("plotly_chart") if c.key == "dataset.coverage").proto.spec)
    assert cov["layout"]["title"]["text"].endswith("(3 windows)")
    anim = json.loads(next(e for e in at.main if getattr(e, "key", None) == "dataset.animation").proto.json)
    assert anim["num_frames"] == 130  # the skeleton player's payload (motionlab.lab.player)
    # a manifest works the same; a clip with another joint set is named in one line
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three.parent / "set.txt"))
    at = app("dataset")
    assert list(at.dataframe[1].value["clip"]) == ["slow", "fast"]
    c = demo_clip(frames=70)
    save_clip(Clip(c.joints[1:], c.xy[:, 1:]), three / "odd.json")
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three))
    at = AppTest.from_file(str(ROOT / "lab_app.py"), default_timeout=60)
    at.run()
    at.switch_page("lab_pages/dataset.py").run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{three / 'odd.json'}: its joint set differs from "
                                           f"{three / 'fast.json'}'s: it lacks joint 'left_ankle'"]


# -- Training --------------------------------------------------------------------------------------

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
