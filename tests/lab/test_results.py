"""motionlab.lab.results: sampling that keeps a denoising trajectory and reports progress, the trajectory's
byte cap, and the session's cache of results.

Then concurrent sessions (AppTest, on app_tree): 4 sessions, each its own AppTest on its own thread, sample 4
different tiny checkpoints with different seeds at the same time; each gets exactly the samples that
motionlab's sampler gives for its own checkpoint and seed: no cross-talk through the shared model cache.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab_support import APP, N_SESSIONS, app_env, app_tree, lab_tree, run_locked, tiny_model  # noqa: F401
from motionlab import sample as sample_mod
from motionlab.cli import run_main
from motionlab.core.samplers import DEFAULT_SAMPLER
from motionlab.data.clip import load_clip
from motionlab.errors import MotionlabError
from motionlab.formats.checkpoints import load_model
from motionlab.lab import results
from motionlab.pipeline.sampling import sample_checkpoint


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


# -- concurrent sessions ---------------------------------------------------------------------------
#
# Script runs are serialized (lab_support.run_locked: AppTest's runtime is process-global); each session's
# sampling job, on its own thread through the shared st.cache_resource model, runs concurrently: a gate in
# front of generate() holds every job until all four are in flight.

def _session(i: int, path: Path, seed: int, n: int, out: dict, barrier: threading.Barrier):
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        run_locked(at)
        sb = at.selectbox(key="sample.checkpoint")
        assert str(path) in sb.options or any(f"/tiny{i}/" in o for o in sb.options), sb.options
        sb.set_value(str(path))
        at.number_input(key="sample.seed").set_value(seed)
        at.slider(key="sample.num_samples").set_value(n)
        run_locked(at)
        barrier.wait(60)  # all four press Sample together
        at.button(key="sample.run").click()
        run_locked(at)
        jobs = at.session_state["lab.jobs"] if "lab.jobs" in at.session_state else {}
        job = jobs.get("sample")
        if job is not None:
            assert job.wait(180), "sampling did not finish"
            run_locked(at)
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
