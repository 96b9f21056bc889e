"""Hardening the Streamlit lab (streamlit.testing.v1.AppTest): bad uploads, broken checkpoints, concurrency.

- invalid and oversized clip uploads on the Dataset page show one st.error line, never an exception;
- a checkpoint folder full of broken files (garbage, empty, truncated, hostile pickle, a folder
  named *.pt, ...) lists them as broken on every page and offers only the good ones;
- 4 sessions (each its own AppTest, on its own thread) sample 4 different tiny checkpoints with
  different seeds at the same time; each gets exactly the samples that motionlab's sampler gives
  for its own checkpoint and seed: no cross-talk through the shared model cache.
"""
from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from lab_support import make_tiny_run
from motionlab.formats.checkpoints import load_model
from motionlab.data.clip import MAX_FILE_BYTES, load_clip
from motionlab.cli import run_main
from motionlab import sample as sample_mod
from motionlab.core.samplers import DEFAULT_SAMPLER
from motionlab.pipeline.sampling import sample_checkpoint

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(REPO / "lab_app.py")
PAGES = "lab_pages" if (REPO / "lab_pages").is_dir() else "pages"  # the lab's page folder
N_SESSIONS = 4


class _Touch:
    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """4 tiny checkpoints (different seeds), a run folder, and broken files next to them."""
    base = tmp_path_factory.mktemp("lab_hardening")
    ck = base / "checkpoints"
    good = []
    for i in range(N_SESSIONS):
        src = make_tiny_run(base / "src" / f"tiny{i}", f"tiny{i}", epochs=1, window=16, timesteps=8, frames=96,
                            monitor_every=0, seed=i)
        (ck / f"tiny{i}").mkdir(parents=True)
        shutil.copy(src / "best.pt", ck / f"tiny{i}" / "model.pt")
        good.append(ck / f"tiny{i}" / "model.pt")
    data = good[0].read_bytes()
    marker = base / "PWNED"
    evil = _Touch()
    evil.path = str(marker)
    buf = io.BytesIO()
    torch.save({"format": "motionlab-checkpoint", "x": evil}, buf)
    broken = {
        "garbage/model.pt": b"this is not a checkpoint\n",
        "empty/model.pt": b"",
        "truncated/model.pt": data[: len(data) // 2],
        "cut_end/model.pt": data[:-10],
        "random.pth": np.random.default_rng(0).bytes(2048),
        "hostile/model.pt": buf.getvalue(),
        "pickle4.pt": pickle.dumps(evil, protocol=4),
    }
    for rel, content in broken.items():
        p = ck / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    (ck / "folder.pt").mkdir()  # a directory with a checkpoint's name: listed as broken, like list_checkpoints
    bad_paths = [str(ck / rel) for rel in broken] + [str(ck / "folder.pt")]
    # a run folder as SIGKILL can leave it: best.pt good, last.pt torn, a half-written metrics line
    runs = base / "runs"
    run = make_tiny_run(runs / "killed", "killed", epochs=2, window=16, timesteps=8, frames=96, monitor_every=0)
    (run / "last.pt").write_bytes((run / "last.pt").read_bytes()[:1000])
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "lo')
    bad_paths.append(str(run / "last.pt"))
    env = {"MOTIONLAB_CHECKPOINT_DIRS": str(ck), "MOTIONLAB_RUNS_DIR": str(runs),
           "MOTIONLAB_CLIP": str(base / "missing.json"), "MOTIONLAB_TRAJECTORY_MB": "4"}
    return {"good": good, "bad": bad_paths, "run_best": run / "best.pt", "marker": marker, "env": env}


@pytest.fixture()
def app_env(tree, monkeypatch):
    for k, v in tree["env"].items():
        monkeypatch.setenv(k, v)
    # sampling threads of 4 sessions on 2 cores: one OpenMP thread each, or they spin against each other
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tree
    torch.set_num_threads(n)


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    _run(at)
    if page:
        at.switch_page(page)
        _run(at)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _no_exception(at):
    assert not at.exception, [getattr(e, "message", e.value) for e in at.exception]


# ---- uploads ----------------------------------------------------------------------------------------

def _bad_uploads() -> dict:
    from test_hardening_clips import CORPUS
    pick = ["empty", "not_json", "top_level_list", "unequal_lengths", "nan", "null_coordinate", "triple",
            "bool_coordinate", "huge_int_5000_digits", "one_frame", "frames_50000", "duplicate_keys",
            "nested_lists_100k", "binary", "utf16", "lone_surrogate_name", "too_many_joints"]
    return {f"{k}.json": (CORPUS[k][0], CORPUS[k][1]) for k in pick}


def test_invalid_uploads_show_one_error_line(app_env):
    at = _app(f"{PAGES}/dataset.py")
    caption = [c.value for c in at.caption if c.value.startswith("Clip **")]
    uploads = _bad_uploads()
    assert len(uploads) >= 15
    for name, (data, pattern) in uploads.items():
        at.file_uploader(key="dataset.upload").set_value((name, data, "application/json"))
        at.run()
        _no_exception(at)
        errors = [e.value for e in at.error]
        assert len(errors) == 1, (name, errors)
        assert "\n" not in errors[0] and errors[0].startswith(f"{name}: "), errors
        # the 'shorter than the window' cases: the page asks for >= 8 frames
        assert re.search(pattern, errors[0]) or "shorter than the window" in errors[0], (name, errors[0])
        assert "lab.uploaded_clip" not in at.session_state
        # the page keeps working on the clip it had
        assert [c.value for c in at.caption if c.value.startswith("Clip **")] == caption


def test_oversized_upload_is_refused_before_parsing(app_env):
    at = _app(f"{PAGES}/dataset.py")
    data = b"{" + b" " * (MAX_FILE_BYTES + 10) + b"}"
    at.file_uploader(key="dataset.upload").set_value(("big.json", data, "application/json"))
    at.run()
    _no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "exceeds the 50 MB limit" in errors[0], errors
    assert "lab.uploaded_clip" not in at.session_state


def test_a_valid_upload_after_bad_ones_is_used_and_a_bad_one_keeps_it(app_env):
    at = _app(f"{PAGES}/dataset.py")
    up = at.file_uploader(key="dataset.upload")
    up.set_value(("bad.json", b"[1, 2]", "application/json"))
    at.run()
    assert len(at.error) == 1
    rng = np.random.default_rng(0)
    names = ["h\u00fcfte", "\u624b", "left_hand", "\U0001f57a"]  # names in any script are valid
    clip = {n: rng.uniform(100, 400, (120, 2)).round(2).tolist() for n in names}
    at.file_uploader(key="dataset.upload").set_value(("dancer.json", json.dumps(clip, ensure_ascii=False).encode(),
                                                      "application/json"))
    at.run()
    _no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert any("Loaded upload:dancer.json: 120 frames, 4 joints" in s.value for s in at.success)
    at.file_uploader(key="dataset.upload").set_value(("worse.json", b"\xff\xfe", "application/json"))
    at.run()
    _no_exception(at)
    assert len(at.error) == 1 and "not UTF-8" in at.error[0].value
    assert at.session_state["lab.uploaded_clip"]["name"] == "upload:dancer.json"


# ---- broken checkpoints --------------------------------------------------------------------------------

def test_picker_lists_broken_files_as_broken_and_offers_only_good_ones(app_env):
    tree = app_env
    at = _app()
    sb = at.selectbox(key="sample.checkpoint")
    offered = list(sb.options)
    assert len(offered) == N_SESSIONS + 1  # the 4 shipped + the run's best.pt
    assert not any("broken" in o for o in offered)
    warnings = " ".join(w.value for w in at.warning)
    for p in tree["bad"]:
        assert f"{p}: " in warnings, p
    assert warnings.count("(broken)") == len(tree["bad"])
    assert not tree["marker"].exists(), "a hostile pickle ran"


def test_the_selected_checkpoint_breaking_between_runs(app_env, tmp_path, monkeypatch):
    """A training run rewrites (or a crash tears) the file a session has selected."""
    folder = tmp_path / "ck" / "victim"
    folder.mkdir(parents=True)
    victim = folder / "model.pt"
    shutil.copy(app_env["good"][0], victim)
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(tmp_path / "ck"))
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path / "no_runs"))
    at = _app()
    at.selectbox(key="sample.checkpoint").set_value(str(victim))
    at.run()
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3])
    at.run()
    _no_exception(at)
    assert not at.selectbox, "a broken file must not stay selectable"
    assert any(f"{victim}: not a readable checkpoint" in w.value for w in at.warning)
    assert any("No usable checkpoint" in i.value for i in at.info)
    # pressing nothing else: the page recovers once the file is whole again
    victim.write_bytes(data)
    at.run()
    _no_exception(at)
    assert at.selectbox(key="sample.checkpoint").value == str(victim)


@pytest.mark.parametrize("page", ["sample", "compare", "metrics", "dataset", "training"])
def test_every_page_renders_with_broken_files_around(app_env, page):
    at = _app(f"{PAGES}/{page}.py")
    _no_exception(at)
    assert not app_env["marker"].exists()


# ---- concurrent sessions -------------------------------------------------------------------------------
#
# AppTest swaps a process-global mock Runtime in and out around every script run, so two AppTests
# cannot execute their scripts at the same instant (a second run clears the first one's runtime).
# Script runs are therefore serialized with a lock; the work itself, each session's sampling job
# on its own thread through the shared st.cache_resource model, runs concurrently: a gate in front
# of generate() holds every job until all four are in flight.

_RUN_LOCK = threading.Lock()


def _run(at):
    with _RUN_LOCK:
        at.run()


def _session(i: int, path: Path, seed: int, n: int, out: dict, barrier: threading.Barrier):
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        _run(at)
        sb = at.selectbox(key="sample.checkpoint")
        assert str(path) in sb.options or any(f"/tiny{i}/" in o for o in sb.options), sb.options
        sb.set_value(str(path))
        at.number_input(key="sample.seed").set_value(seed)
        at.slider(key="sample.num_samples").set_value(n)
        _run(at)
        barrier.wait(60)  # all four press Sample together
        at.button(key="sample.run").click()
        _run(at)
        jobs = at.session_state["lab.jobs"] if "lab.jobs" in at.session_state else {}
        job = jobs.get("sample")
        if job is not None:
            assert job.wait(180), "sampling did not finish"
            _run(at)
        # else: the last session to arrive opened the gate, and its job finished (and was collected)
        # within the click's own rerun
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        r = at.session_state["lab.sample.result"]
        out[i] = {"path": r.path, "seed": r.seed, "pixels": r.pixels.copy(), "precision": r.precision,
                  "final_state": r.trajectory.x_t[-1].copy() if r.trajectory is not None else None,
                  "caption": [c.value for c in at.caption if "samples from" in c.value]}
    except BaseException as e:  # reported by the main thread
        out[i] = e


@pytest.mark.slow
def test_concurrent_sessions_get_their_own_results(app_env, monkeypatch):
    from motionlab.lab import results
    tree = app_env
    monkeypatch.setenv("MOTIONLAB_MAX_JOBS", str(N_SESSIONS))  # all at once: this is about keeping results apart
    seeds = [11, 22, 33, 44]
    ns = [2, 3, 2, 3]
    gate = threading.Barrier(N_SESSIONS)
    in_flight = {"max": 0, "now": 0}
    count_lock = threading.Lock()
    real_generate = results.generate

    def gated_generate(*a, **kw):
        with count_lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
        try:
            gate.wait(120)  # every session's job is sampling at the same time from here on
            return real_generate(*a, **kw)
        finally:
            with count_lock:
                in_flight["now"] -= 1
    monkeypatch.setattr(results, "generate", gated_generate)

    out: dict = {}
    barrier = threading.Barrier(N_SESSIONS)
    threads = [threading.Thread(target=_session, args=(i, tree["good"][i], seeds[i], ns[i], out, barrier))
               for i in range(N_SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for i in range(N_SESSIONS):
        assert not isinstance(out.get(i), BaseException), f"session {i}: {out.get(i)!r}"
        assert i in out, f"session {i} did not finish"
    assert in_flight["max"] == N_SESSIONS
    for i in range(N_SESSIONS):
        r = out[i]
        assert r["path"] == str(tree["good"][i]) and r["seed"] == seeds[i]
        lm = load_model(tree["good"][i])
        want = sample_checkpoint(lm, ns[i], seeds[i], sampler=DEFAULT_SAMPLER, precision=r["precision"]).pixels
        assert r["pixels"].shape == want.shape
        np.testing.assert_allclose(r["pixels"], want, rtol=0, atol=1e-4)
        # the session's kept trajectory ends on its own samples (float16, normalized)
        np.testing.assert_allclose(lm.unnormalize(r["final_state"].astype(np.float32)), want, rtol=0,
                                   atol=5e-3 * float(lm.std.max()))
        assert any(f"tiny{i}" in c and f"seed {seeds[i]}" in c for c in r["caption"]), r["caption"]
        for j in range(N_SESSIONS):
            if j != i and r["pixels"].shape == out[j]["pixels"].shape:
                assert not np.allclose(r["pixels"], out[j]["pixels"]), (i, j)
    # and the command line agrees with the app (its JSON keeps 3 decimals)
    d = Path(tree["good"][0]).parent.parent.parent / "cli_samples"
    assert run_main("motionlab.sample", sample_mod.main, ["--checkpoint", str(tree["good"][0]), "--num-samples",
                                                          str(ns[0]), "--seed", str(seeds[0]), "--out", str(d),
                                                          "--precision", out[0]["precision"]]) == 0
    for k in range(ns[0]):
        clip = load_clip(d / f"sample_{k:02d}.json")
        np.testing.assert_allclose(clip.channels, out[0]["pixels"][k], atol=2e-3)
