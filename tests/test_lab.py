"""Unit tests for motionlab.lab (no Streamlit): catalog, figures, results, jobs, uploads, panels, tables, exports,
processes."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lab_support import lab_env, lab_tree  # noqa: F401  (fixtures)
from motionlab.formats.checkpoints import load_model
from motionlab.data.clip import load_clip, loads_clip
from motionlab.data.demo import demo_clip
from motionlab.errors import MotionlabError
from motionlab.lab import catalog, config, exports, figures, jobs, keys, panels, processes, results, scrubber, tables, uploads
from motionlab.core.samplers import SamplerChoice
from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.spec_reference import SPEC_BASELINES, SPEC_RUNS


@pytest.fixture(scope="module")
def tiny_model(lab_tree):
    return load_model(lab_tree["run_best"])


# -- config and catalog ------------------------------------------------------------------------

def test_config_reads_env_each_time(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", os.pathsep.join([str(tmp_path / "a"), "rel"]))
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("MOTIONLAB_TRAJECTORY_MB", "3")
    assert config.checkpoint_dirs() == [tmp_path / "a", config.ROOT / "rel"]
    assert config.runs_dir() == tmp_path / "r"
    assert config.trajectory_budget_bytes() == 3 * 2**20
    monkeypatch.delenv("MOTIONLAB_CHECKPOINT_DIRS")
    assert config.checkpoint_dirs() == [config.ROOT / "checkpoints"]
    monkeypatch.setenv("MOTIONLAB_CLIP", str(tmp_path / "nope.json"))
    assert "copy ../shared/data/uptown_funk.json to data/uptown_funk.json" in config.missing_clip_hint()


def test_discover_lists_shipped_then_runs_and_broken(lab_tree):
    es = catalog.discover([lab_tree["checkpoints"]], lab_tree["runs"])
    names = [e.name for e in es]
    assert names == ["checkpoints/broken/model.pt", "checkpoints/tiny_ship/model.pt",
                     "runs/tiny_run/best.pt", "runs/tiny_run/last.pt"]
    broken = es[0]
    assert not broken.ok and "not a readable checkpoint" in broken.error and "\n" not in broken.error
    assert broken.label.endswith("(broken)")
    ship = es[1]
    assert ship.ok and ship.kind == "shipped" and ship.tag == "tiny_ship" and ship.short == "tiny_ship"
    assert ship.card is not None and ship.metrics_path is not None
    run = es[2]
    assert run.kind == "run" and run.short == "tiny_run:best" and run.epoch == 2 and run.epochs == 2
    assert run.config == "32 / 16 / 0 / 2" and run.timesteps == 10
    for part in ("32/16/0", "epoch 2/2", "loss "):
        assert part in run.label
    assert set(run.baseline) >= set(METRICS)


def test_describe_is_cached_until_the_file_changes(tmp_path, lab_tree):
    p = tmp_path / "x.pt"
    p.write_bytes(Path(lab_tree["run_best"]).read_bytes())
    a = catalog.describe(p)
    assert catalog.describe(p) is a
    p.write_bytes(b"garbage")
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
    b = catalog.describe(p)
    assert a.ok and not b.ok


def test_discover_handles_missing_folders(tmp_path):
    assert catalog.discover([tmp_path / "none"], tmp_path / "none2") == []


# -- figures -----------------------------------------------------------------------------------

def _panels(n=2, frames=(40, 25)):
    c = demo_clip(64)
    return [figures.Panel(f"p{i}", c.xy[:frames[i % len(frames)]], c.joints) for i in range(n)]


def test_skeleton_animation_shares_frames_across_subplots():
    fig = figures.skeleton_figure(_panels(2), fps=25)
    lay = fig["layout"]
    assert lay["meta"] == {"frame_step": 1, "num_frames": 40, "shown_frames": 40, "panels": 2}
    assert len(fig["frames"]) == 40
    animated = fig["frames"][0]["traces"]
    assert all(f["traces"] == animated and len(f["data"]) == len(animated) for f in fig["frames"])
    # two panels, each with its own axes pair, y pointing down, equal aspect
    assert {t["xaxis"] for t in fig["data"]} == {"x", "x2"}
    for s in ("", "2"):
        assert lay[f"yaxis{s}"]["autorange"] == "reversed"
        assert lay[f"yaxis{s}"]["scaleanchor"] == f"x{s}"
    # play / pause in the browser, a frame slider with one step per frame
    labels = [b["label"] for b in lay["updatemenus"][0]["buttons"]]
    assert any("Play" in x for x in labels) and any("Pause" in x for x in labels)
    play = lay["updatemenus"][0]["buttons"][0]["args"][1]
    assert play["frame"]["duration"] == 40 and play["frame"]["redraw"] is False
    assert [s["args"][0][0] for s in lay["sliders"][0]["steps"]] == [str(t) for t in range(40)]
    # bones coloured by side, and the legend names the sides once
    sides = {t["name"]: t["line"]["color"] for t in fig["data"] if t["name"] != "bounds"}
    assert sides["left"] != sides["right"]
    assert sorted(t["name"] for t in fig["data"] if t.get("showlegend")) == ["center", "left", "right"]


def test_skeleton_figure_coordinates_and_held_last_frame():
    p = _panels(2)
    fig = figures.skeleton_figure(p)
    left = next(i for i, t in enumerate(fig["data"]) if t["name"] == "left" and t["xaxis"] == "x2")
    k = fig["frames"][0]["traces"].index(left)
    # panel 2 has 25 frames: frame 39 shows its last one
    x_last = figures.untyped(fig["frames"][39]["data"][k]["x"])
    x_24 = figures.untyped(fig["frames"][24]["data"][k]["x"])
    np.testing.assert_array_equal(x_last, x_24)
    # NaN separates bone segments: 3 values per bone
    assert np.isnan(x_last[2::3]).all() and np.isfinite(x_last[0::3]).all()
    # the bounds trace spans every frame of its panel
    b = next(t for t in fig["data"] if t["name"] == "bounds" and t["xaxis"] == "x2")
    xs = p[1].xy[..., 0]
    assert b["x"][0] <= xs.min() and b["x"][1] >= xs.max()


def test_long_clips_are_strided_and_keep_real_time_speed():
    c = demo_clip(300)
    panels = [figures.Panel(str(i), c.xy, c.joints) for i in range(8)]
    fig = figures.skeleton_figure(panels, fps=30, max_panel_frames=1200)
    k = fig["layout"]["meta"]["frame_step"]
    assert k == 2 and len(fig["frames"]) == 150
    assert fig["layout"]["updatemenus"][0]["buttons"][0]["args"][1]["frame"]["duration"] == round(1000 * k / 30)


def test_still_figure_has_no_frames_and_unknown_joints_are_points():
    xy = np.random.default_rng(0).normal(100, 10, (5, 3, 2)).astype(np.float32)
    fig = figures.skeleton_figure([figures.Panel("odd", xy, ("a", "b", "c"))], animate=False, frame=3)
    assert "frames" not in fig and "sliders" not in fig["layout"]
    pts = next(t for t in fig["data"] if t["name"] == "joints")
    assert pts["mode"] == "markers"
    np.testing.assert_allclose(figures.untyped(pts["x"])[0::2], xy[3, :, 0])


def test_streamlit_figure_skips_validation_but_serializes():
    import plotly.io as pio
    import plotly.tools

    fig = figures.skeleton_figure(_panels(1))
    wrapped = figures.streamlit_figure(fig)
    out = plotly.tools.return_figure_from_figure_or_data(wrapped, validate_figure=True)
    assert out is fig
    spec = json.loads(pio.to_json(out, validate=False))
    assert len(spec["frames"]) == 40 and spec["data"][1]["x"]["dtype"] == "f4"


def test_metric_ratio_and_training_figures():
    rows = [{"name": "a", "ratios": {m: 0.5 for m in METRICS}}]
    fig = figures.metric_ratio_figure(rows, tables.spec_rows(), log=True)
    assert len(fig["data"]) == 5 and fig["layout"]["yaxis"]["type"] == "log"
    assert fig["layout"]["shapes"][0]["y0"] == 1
    recs = [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5, "sample_metrics": {m: 1.0 for m in METRICS}}]
    assert figures.loss_figure(recs)["data"][0]["y"] == [1.0, 0.5]
    sm = figures.sample_metrics_figure(recs, {m: 2.0 for m in METRICS})
    assert [t["name"] for t in sm["data"]] == [n for m in METRICS for n in (m, "dataset baseline")]
    assert sm["data"][1]["y"] == [2.0, 2.0] and sm["layout"]["yaxis"]["type"] == "linear"
    sm = figures.sample_metrics_figure(recs, {m: 200.0 for m in METRICS})
    assert sm["layout"]["yaxis"]["type"] == "log"
    assert figures.sample_metrics_figure(recs[:1]) is None
    cov = figures.coverage_figure(100, [0, 50], 60)
    assert figures.untyped(cov["data"][0]["y"]).max() == 2


# -- results and jobs: sampling, trajectory, caches ---------------------------------------------

def test_run_sampling_keeps_a_trajectory_and_reports_progress(tiny_model):
    calls = []
    r = results.run_sampling(tiny_model, 3, seed=7, on_progress=lambda d, t, p: calls.append((d, t, p)),
                             preview_interval_s=0.0)
    assert r.pixels.shape == (3, 32, 40) and r.num_samples == 3 and r.window == 32
    assert [c[0] for c in calls] == list(range(1, 11)) and all(c[1] == 10 for c in calls)
    assert calls[-1][2].shape == (3, 32, 20, 2)
    assert r.steps[0] == 10 and r.steps[-1] == 0 and r.trajectory.x_t.dtype == np.float16
    step, xt, x0 = r.denoise_state(0, 1)
    assert step == 0 and xt.shape == (32, 20, 2)
    np.testing.assert_allclose(x0, r.xy(1), rtol=2e-3, atol=0.5)  # float16 of the final sample
    step, xt, x0 = r.denoise_state(10, 2)
    assert step == 10 and not np.allclose(xt, x0)
    again = results.run_sampling(tiny_model, 3, seed=7, keep_trajectory=False, precision=r.precision)
    np.testing.assert_array_equal(again.pixels, r.pixels)
    assert again.trajectory is None
    with pytest.raises(MotionlabError):
        r.denoise_state(0, 3)


def test_trajectory_cap_strides_the_kept_states(tiny_model):
    r = results.run_sampling(tiny_model, 16, budget=3 * 2 * 2 * 16 * 40 * 32 + 1)
    assert len(r.steps) < 11 and r.trajectory.nbytes <= 6 * 2 * 2 * 16 * 40 * 32
    assert r.steps[0] == 10 and r.steps[-1] == 0
    assert r.denoise_state(5, 0)[0] in r.steps


@pytest.mark.parametrize("sampler", [SamplerChoice("ddpm"), SamplerChoice("ddim", 4), SamplerChoice("dpmpp", 5)])
def test_scrubber_payload_holds_every_kept_step_of_any_sampler(tiny_model, sampler):
    r = results.run_sampling(tiny_model, 3, seed=3, sampler=sampler)
    d = json.loads(json.dumps(scrubber.payload(r, 2)))  # what travels to the browser
    K, M, J = len(r.steps), 6, len(r.joints)
    assert d["steps"] == r.steps and d["steps"][0] == 10 and d["steps"][-1] == 0
    assert d["frames"] == scrubber.moments(32) == [0, 6, 12, 19, 25, 31] and d["start"] == K - 1
    assert d["bytes"] == K * 2 * M * J * 2 * 2
    q = np.frombuffer(base64.b64decode(d["points"]), "<u2").reshape(K, 2, M, J, 2)
    boxes = np.asarray(d["boxes"]).reshape(K, 2, 3)
    got = scrubber.dequantize(q, boxes)
    for k in (0, K // 2, K - 1):  # each position matches the full view's state at those frames
        step, xt, x0 = r.denoise_state(r.steps[k], 2)
        assert step == r.steps[k]
        tol = boxes[k, :, 2].max() / 65534 + 0.02
        np.testing.assert_allclose(got[k, 0], xt[d["frames"]], atol=tol)
        np.testing.assert_allclose(got[k, 1], x0[d["frames"]], atol=tol)
    assert not np.allclose(got[0, 0], got[-1, 0])  # noise at T, the dancer at 0
    assert q.max() <= scrubber.SCALE and (q.reshape(K, 2, -1).max(-1) > scrubber.SCALE // 2).all()  # boxes fit
    assert scrubber.payload(r, 2, settled=r.steps[1])["start"] == 1
    assert scrubber.payload(r, 1)["id"] != d["id"]


def test_scrubber_marks_missing_values_and_rejects_bad_input(tiny_model):
    r = results.run_sampling(tiny_model, 1, seed=0, sampler=SamplerChoice("dpmpp", 3))
    traj = r.trajectory
    traj.x_t[0, 0, 0, 0] = np.nan
    q = np.frombuffer(base64.b64decode(scrubber.payload(r, 0)["points"]), "<u2")
    assert q[0] == scrubber.MISSING and (q[1:] != scrubber.MISSING).any()
    assert scrubber.moments(3) == [0, 1, 2] and scrubber.moments(1) == [0]
    with pytest.raises(MotionlabError, match="out of range"):
        scrubber.payload(r, 1)
    with pytest.raises(MotionlabError, match="no denoising trajectory"):
        scrubber.payload(results.run_sampling(tiny_model, 1, keep_trajectory=False), 0)


def test_result_cache_matches_exact_keys_and_evicts(tiny_model):
    state = {}
    r = results.run_sampling(tiny_model, 2, seed=1, precision="fp32")
    results.store_result(state, r)
    key = results.pixel_key(r.path, r.mtime_ns, 1, 2, "ddpm-10/fp32")
    assert r.key == key and results.cached_result(state, key) is r
    assert results.cached_result(state, results.pixel_key(r.path, r.mtime_ns, 1, 3, "ddpm-10/fp32")) is None
    assert results.cached_result(state, results.pixel_key(r.path, r.mtime_ns, 1, 2, "dpmpp-5/fp32")) is None
    k2 = ("other", 0, 1, 2, "fp32")
    results.remember_result(state, k2, r, max_bytes=1)
    assert results.cached_result(state, k2).trajectory is None  # kept without its trajectory
    results.remember_result(state, ("third", 0, 1, 2, "fp32"), r, max_bytes=1)
    assert results.cached_result(state, k2) is None  # evicted, the newest stays


def test_compare_panels_mixes_samples_and_real_windows():
    c = demo_clip(100)
    px = np.zeros((2, 32, 40), np.float32)
    ps = panels.compare_panels([("a", px, c.joints), ("a", px[:1], c.joints)], c, 40, 3, 10)
    assert [p.name for p in ps] == ["a #0", "a #1", "a (2) #0", "real @10", "real @50"]  # @90 runs past the end
    np.testing.assert_array_equal(ps[-1].xy, c.xy[50:90])
    assert ps[-1].clip().num_frames == 40


def test_job_runs_in_the_background_and_can_be_cancelled():
    state = {}
    j = jobs.start_job(state, "x", lambda report: (report(0.5, "half"), 42)[1])
    assert j.wait(5) and j.result == 42 and j.fraction == 1.0 and not j.error
    assert jobs.get_job(state, "x") is j

    def slow(report):
        for i in range(1000):
            report(i / 1000, f"{i}")
            time.sleep(0.01)
    j = jobs.start_job(state, "x", slow)
    with pytest.raises(MotionlabError):
        jobs.start_job(state, "x", slow)
    j.cancel()
    assert j.wait(5) and j.cancelled and j.result is None
    j = jobs.start_job(state, "y", lambda report: 1 / 0, label="boom")
    assert j.wait(5) and j.error == "boom failed: ZeroDivisionError: division by zero"
    assert jobs.pop_job(state, "y") is j and jobs.get_job(state, "y") is None


# -- tables and exports ------------------------------------------------------------------------

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


def test_exports_video_and_json():
    c = demo_clip(12)
    assert exports.video([c], "gif", ["a"])[:6] == b"GIF89a"
    mp4 = exports.video([c, c], "mp4", ["a", "b"])
    assert mp4[4:8] == b"ftyp"
    data, ext, mime = exports.clips_json([c], ["x"])
    assert ext == "json" and loads_clip(data).num_frames == 12
    data, ext, mime = exports.clips_json([c, c, c], ["a #0", "a #0", "real @5"])
    assert ext == "zip" and mime == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert names == ["a_0.json", "a_0_.json", "real_5.json"]
        assert all(loads_clip(z.read(n)).num_frames == 12 for n in names)
    with pytest.raises(ValueError):
        exports.video([], "gif")


# -- processes ---------------------------------------------------------------------------------

def test_run_names_and_commands(tmp_path):
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65, "sp ace"):
        with pytest.raises(MotionlabError):
            processes.validate_name(bad)
    assert processes.validate_name(" ok_run-1.2 ") == "ok_run-1.2"
    cmd = processes.build_command(processes.TrainOptions(data="demo", epochs=3), tmp_path / "r1", python="py")
    assert cmd[:3] == ["py", "-m", "motionlab.train"] and cmd[cmd.index("--out") + 1] == str(tmp_path / "r1")
    assert cmd[cmd.index("--tag") + 1] == "r1" and "--no-progress" in cmd
    with pytest.raises(MotionlabError):
        processes.build_command(processes.TrainOptions(channel_mults="1;2"), tmp_path)


def test_read_metrics_skips_a_half_written_line(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"epoch": 1, "loss": 1.0}\n\n{"epoch": 2, "loss": 0.5}\n{"epoch": 3, "lo')
    assert [r["epoch"] for r in processes.read_metrics(p)] == [1, 2]
    assert processes.read_metrics(tmp_path / "none") == []


ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # the CPUs are shared
TINY = dict(data="demo", window=32, stride=16, limit=0, base_channels=16, channel_mults="1,2", time_dim=32,
            timesteps=10, monitor_every=1, monitor_samples=2, save_every=1)


def _wait_state(run_dir, states, timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        s = processes.status(run_dir)
        if s["state"] in states:
            return s
        time.sleep(0.2)
    raise AssertionError(f"{run_dir}: still {processes.status(run_dir)['state']}")


@pytest.mark.slow
def test_background_run_finishes_and_is_tracked_on_disk(tmp_path):
    upload = demo_clip(64, seed=3)
    rec = processes.start_run(tmp_path, "t1", processes.TrainOptions(epochs=2, **TINY), env=ONE_THREAD, clip=upload)
    run = tmp_path / "t1"
    saved = (run / processes.UPLOADED_CLIP).read_bytes()
    assert str((run / processes.UPLOADED_CLIP).resolve()) in rec["command"]
    np.testing.assert_allclose(load_clip(run / processes.UPLOADED_CLIP).xy, upload.xy, atol=1e-3)
    assert json.loads((run / "lab_process.json").read_text())["pid"] == rec["pid"]
    s = _wait_state(run, ("finished", "failed"))
    assert s["state"] == "finished" and s["returncode"] == 0, processes.log_tail(run)
    assert [r["epoch"] for r in processes.read_metrics(run / "metrics.jsonl")] == [1, 2]
    assert (run / "best.pt").is_file() and "motionlab.train" in processes.log_tail(run)
    assert json.loads((run / "lab_process.json").read_text())["state"] == "finished"
    with pytest.raises(MotionlabError, match="already holds a run"):
        processes.start_run(tmp_path, "t1", processes.TrainOptions(epochs=2, **TINY), clip=demo_clip(32, seed=4))
    assert (run / processes.UPLOADED_CLIP).read_bytes() == saved  # a refused start keeps the run's clip
    assert run / "metrics.jsonl" in processes.list_metric_files(tmp_path)


@pytest.mark.slow
def test_background_run_survives_a_reload_and_stops(tmp_path):
    processes.start_run(tmp_path, "long", processes.TrainOptions(epochs=100000, **TINY), env=ONE_THREAD)
    run = tmp_path / "long"
    with processes._lock:  # a fresh server process knows only lab_process.json
        child = processes._children.pop(json.loads((run / "lab_process.json").read_text())["pid"])
    try:
        assert processes.status(run)["state"] == "running"
        assert processes.running_runs(tmp_path) == [run]
        with pytest.raises(MotionlabError, match="already running"):
            processes.start_run(tmp_path, "other", processes.TrainOptions(epochs=1, **TINY), max_running=1)
        t = time.time()
        while not processes.read_metrics(run / "metrics.jsonl") and time.time() - t < 60:
            time.sleep(0.2)
        assert processes.stop_run(run)
        assert processes.status(run)["state"] in ("stopping", "stopped")
        child.wait(30)
        s = _wait_state(run, ("stopped",))
        assert s["returncode"] is None  # not our child any more: exit status unknown
        assert "stopped by SIGTERM" in processes.log_tail(run)
        assert processes.stop_run(run) is False
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def test_a_recycled_pid_is_not_our_run(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        (tmp_path / "r").mkdir()
        rec = {"pid": p.pid, "pgid": p.pid, "proc_start": "1", "started": 0, "state": "running"}
        (tmp_path / "r" / "lab_process.json").write_text(json.dumps(rec))
        assert not processes.is_alive(rec)
        assert processes.stop_run(tmp_path / "r") is False
        assert p.poll() is None  # untouched
        assert processes.status(tmp_path / "r")["state"] == "ended"
    finally:
        p.kill()
        p.wait()


def test_run_baseline_comes_from_the_folders_checkpoint(lab_tree, tmp_path):
    from motionlab.formats.checkpoints import read_checkpoint
    from motionlab.lab import catalog
    want = read_checkpoint(lab_tree["run_best"])["baseline"]
    assert catalog.run_baseline(lab_tree["run_best"].parent) == want
    assert catalog.run_baseline(lab_tree["ship"].parent) == read_checkpoint(lab_tree["ship"])["baseline"]
    assert catalog.run_baseline(lab_tree["broken"].parent) == {}
    assert catalog.run_baseline(tmp_path) == {}


def test_accept_upload_validates_once_per_file_and_checks_size_before_reading():
    import json as _json

    from motionlab.data.demo import demo_clip
    state, reads = {}, []

    def reader(data):
        return lambda: reads.append(1) or data

    good = _json.dumps(demo_clip(frames=20).to_dict()).encode()
    assert uploads.accept_upload(state, "a.json", "f1", len(good), reader(good), 2**20) == ""
    assert state[keys.UPLOADED_CLIP]["clip"].num_frames == 20 and len(reads) == 1
    assert uploads.accept_upload(state, "a.json", "f1", len(good), reader(good), 2**20) == ""
    assert len(reads) == 1  # the same file is not parsed again on a rerun
    err = uploads.accept_upload(state, "big.json", "f2", 2**21, reader(b"never read"), 2**20)
    assert "exceeds the 1 MB limit" in err and len(reads) == 1
    err = uploads.accept_upload(state, "bad.json", "f3", 5, reader(b"[1,2]"), 2**20)
    assert err.startswith("bad.json:") and "\n" not in err
    assert state[keys.UPLOADED_CLIP]["name"] == "upload:a.json"  # a bad file keeps the good clip


def test_pages_reach_session_state_only_through_named_keys():
    import re

    from motionlab.lab import keys
    literal = re.compile(r"session_state(\.(get|pop|setdefault)\(|\[)\s*f?[\"']")
    files = sorted((Path(__file__).resolve().parents[1] / "lab_pages").glob("*.py"))
    files.append(Path(keys.__file__).with_name("ui.py"))
    hits = [f"{f.name}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if literal.search(line)]
    assert hits == [], f"string literals as st.session_state keys (use motionlab.lab.keys): {hits}"
    values = [v for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)]
    assert len(values) == len(set(values)), "two key constants share a value"


def test_merge_new_panels_adds_only_panels_not_offered_before():
    from motionlab.lab import keys
    state = {}
    panels.merge_new_panels(state, ["a #0", "real @0"])
    assert keys.COMPARE_PANELS not in state  # first visit: the widget's default decides
    assert state[keys.COMPARE_KNOWN] == ["a #0", "real @0"]
    state[keys.COMPARE_PANELS] = ["real @0"]  # the user dropped a #0
    panels.merge_new_panels(state, ["a #0", "real @0"])
    assert state[keys.COMPARE_PANELS] == ["real @0"]  # nothing new: the choice stands
    panels.merge_new_panels(state, ["a #0", "b #0", "b #1", "real @0"])
    assert state[keys.COMPARE_PANELS] == ["b #0", "b #1", "real @0"]  # new ones join, in the offered order
    names = [f"c #{i}" for i in range(20)]
    panels.merge_new_panels(state, names, limit=5)
    assert state[keys.COMPARE_PANELS] == names[:5] and state[keys.COMPARE_KNOWN] == names


def test_run_summary_of_a_run_started_elsewhere_and_of_a_live_one(tmp_path):
    p = tmp_path / "r" / "metrics.jsonl"
    p.parent.mkdir()
    p.write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": 0.25}\n{"epoch": 3, "loss": 0.375}\n')
    s = processes.run_summary(p)  # no lab_process.json: not started by the lab
    assert s.run_dir == p.parent and s.state == "none" and s.state_label == "external" and not s.live
    assert (s.done, s.planned, s.epochs_text) == (3, None, "3")
    assert (s.loss_text("best"), s.loss_text("last"), s.progress) == ("0.25", "0.375", None)
    live = processes.RunSummary(p.parent, {"state": "running", "options": {"epochs": 4}, "pid": 7, "started": 0},
                                s.records)
    assert live.live and live.epochs_text == "3 / 4" and live.progress == 0.75
    assert live.process_text.startswith("pid 7 · started ") and "exit status" not in live.process_text
    ended = processes.RunSummary(p.parent, {"state": "failed", "returncode": 1, "pid": 7}, [])
    assert ended.loss_text("best") == "–" and ended.done == 0 and ended.progress is None
    assert ended.process_text.endswith(" · exit status 1")


def test_training_form_data_option():
    refs = [Path("data/a.json"), Path("data/b")]
    assert processes.data_option("reference", refs, True) == ["data/a.json", "data/b"]
    assert processes.data_option("reference", refs, False) == "demo"  # missing files: the demo clip instead
    assert processes.data_option("demo", refs, True) == "demo"
    assert processes.data_option("uploaded", refs, True) == "demo"  # start_run's clip overrides it


def test_a_release_is_titled_by_its_folder_not_its_run_tag(lab_tree, tmp_path):
    """checkpoints/best_fidelity ships run jitter+zsnr_v+vel_s42: panels say best_fidelity."""
    import shutil
    dst = tmp_path / "ck" / "best_x"
    dst.mkdir(parents=True)
    for f in ("model.pt", "model.pt.sha256"):
        shutil.copyfile(lab_tree["checkpoints"] / "tiny_ship" / f, dst / f)
    e = catalog.discover([tmp_path / "ck"])[0]
    assert e.ok and e.tag == "tiny_ship" and e.short == "best_x"


def test_scrubber_payload_is_built_once_per_sample_and_rerun_moves_only_the_start(tiny_model):
    r = results.run_sampling(tiny_model, 2, seed=5, sampler=SamplerChoice("ddim", 4))
    a, b = scrubber.payload(r, 1), scrubber.payload(r, 1, settled=r.steps[0])
    assert a["points"] is b["points"] and a["start"] == len(r.steps) - 1 and b["start"] == 0
    assert {k: v for k, v in a.items() if k != "start"} == {k: v for k, v in b.items() if k != "start"}
    assert scrubber.payload(r, 0)["points"] != a["points"]
    assert dataclasses.replace(r, trajectory=None).scrub_payloads == {}  # a copy does not share them
