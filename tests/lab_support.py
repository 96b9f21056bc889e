"""Shared helpers for the lab's tests (tests/lab/): tiny checkpoints in a tmp folder, an env pointing the app at
them, and what the AppTest page tests share.

    from lab_support import lab_env, lab_tree, make_tiny_run   # lab_env and lab_tree are pytest fixtures

lab_env (lab_tree: session scope) trains two tiny models on the demo clip (window 32, 10 diffusion steps,
base 16 x (1, 2), time dim 32; a second or two each on a CPU) and lays out:

    <tmp>/checkpoints/tiny_ship/model.pt     a release copy (fp16 weights), with metrics.jsonl and CARD.md
    <tmp>/checkpoints/broken/model.pt        garbage bytes: must be listed as broken, never crash a page
    <tmp>/runs/tiny_run/{best,last}.pt       a run folder with metrics.jsonl (monitored sample metrics)

and returns a dict of paths plus "env", the environment variables for the app
(MOTIONLAB_CHECKPOINT_DIRS, MOTIONLAB_RUNS_DIR, MOTIONLAB_CLIP pointing at a missing file so the
pages use the demo clip, MOTIONLAB_TRAJECTORY_MB).

Also here, each used by several test modules (import a fixture together with the fixtures it asks for):

- tiny_model (module scope): lab_tree's runs/tiny_run/best.pt loaded; TRAIN_FRAMES, the length of the demo clip
  the tiny models train on;
- three: a folder of three clips (the demo dancer at three tempos) for the datasets of several clips;
- the page tests' AppTest helpers: app (open_page, failing on an st.error too), ok, wait_job, chart,
  player_data, texts and the downloads fixture;
- app_env (app_tree: module scope): four tiny checkpoints of different seeds, a run folder as SIGKILL leaves it and
  broken files beside them (garbage, empty, truncated, a hostile pickle, a folder named *.pt, ...), with
  open_locked, run_locked and no_exception for AppTests that may run on several threads (tests of uploads,
  of the catalog's broken checkpoints and of concurrent sessions' results).
"""
from __future__ import annotations

import io
import json
import pickle
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from motionlab.data.clip import save_clip
from motionlab.data.demo import demo_clip
from motionlab.formats.checkpoints import load_model, release_copy
from motionlab.testing import tiny_run

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "lab_app.py")
PAGES = "lab_pages" if (ROOT / "lab_pages").is_dir() else "pages"  # the lab's page folder
TRAIN_FRAMES = 160  # make_tiny_run trains its tiny models on demo_clip(TRAIN_FRAMES)
N_SESSIONS = 4  # app_tree's good checkpoints, one per concurrent session


def open_page(page: str | None = None, *, errors: bool = False, timeout: int = 60):
    """The lab run once, then switched to lab_pages/<page>.py; fails on an exception the run raised
    (and, with errors=True, on an st.error it showed)."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(f"lab_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    if errors:
        assert not at.error, [e.value for e in at.error]
    return at


def make_tiny_run(out, tag: str, epochs: int = 2, window: int = 32, timesteps: int = 10, frames: int = TRAIN_FRAMES,
                  monitor_every: int = 1, seed: int = 0) -> Path:
    """Train a tiny model on the demo clip into `out` (best.pt, last.pt, metrics.jsonl)."""
    return tiny_run(out, window=window, stride=16, limit=0, epochs=epochs, timesteps=timesteps, frames=frames,
                    data_kw=dict(seed=seed), model_kw=dict(dropout=0.0), monitor_every=monitor_every,
                    monitor_samples=2, save_every=1, tag=tag, seed=seed)


def build_lab_tree(base) -> dict:
    base = Path(base)
    ck, runs = base / "checkpoints", base / "runs"
    run = make_tiny_run(runs / "tiny_run", "tiny_run", epochs=2)
    ship_src = make_tiny_run(base / "src" / "tiny_ship", "tiny_ship", epochs=1, seed=1)
    (ck / "tiny_ship").mkdir(parents=True)
    release_copy(ship_src / "best.pt", ck / "tiny_ship" / "model.pt")
    shutil.copy(ship_src / "metrics.jsonl", ck / "tiny_ship" / "metrics.jsonl")
    (ck / "tiny_ship" / "CARD.md").write_text("# tiny_ship\n\nA test checkpoint.\n")
    (ck / "broken").mkdir()
    (ck / "broken" / "model.pt").write_bytes(b"this is not a checkpoint")
    env = {"MOTIONLAB_CHECKPOINT_DIRS": str(ck), "MOTIONLAB_RUNS_DIR": str(runs),
           "MOTIONLAB_CLIP": str(base / "data" / "missing.json"), "MOTIONLAB_TRAJECTORY_MB": "8"}
    return {"base": base, "checkpoints": ck, "runs": runs, "ship": ck / "tiny_ship" / "model.pt",
            "broken": ck / "broken" / "model.pt", "run_best": run / "best.pt", "run_last": run / "last.pt",
            "env": env}


@pytest.fixture(scope="session")
def lab_tree(tmp_path_factory):
    return build_lab_tree(tmp_path_factory.mktemp("lab"))


@pytest.fixture
def lab_env(lab_tree, monkeypatch):
    for k, v in lab_tree["env"].items():
        monkeypatch.setenv(k, v)
    return lab_tree


@pytest.fixture(scope="module")
def tiny_model(lab_tree):
    return load_model(lab_tree["run_best"])


@pytest.fixture
def three(tmp_path):
    """A folder of three clips of 100, 130 and 90 frames (the demo dancer at three tempos)."""
    d = tmp_path / "clips"
    d.mkdir()
    for name, frames, bpm in (("slow", 100, 96), ("mid", 130, 115), ("fast", 90, 140)):
        save_clip(demo_clip(frames=frames, bpm=bpm, seed=bpm), d / f"{name}.json")
    return d


# -- the page tests (AppTest): sampling runs on a background thread (jobs.Job); the tests wait for it and
# rerun, as the page's polling fragment does in a browser ---------------------------------------------

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


# -- app_tree: good and broken checkpoints side by side, and AppTests on several threads -----------------

class _Touch:
    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def app_tree(tmp_path_factory):
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
def app_env(app_tree, monkeypatch):
    for k, v in app_tree["env"].items():
        monkeypatch.setenv(k, v)
    # sampling threads of 4 sessions on 2 cores: one OpenMP thread each, or they spin against each other
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield app_tree
    torch.set_num_threads(n)


# AppTest swaps a process-global mock Runtime in and out around every script run, so two AppTests
# cannot execute their scripts at the same instant (a second run clears the first one's runtime).
# Script runs are therefore serialized with a lock; the work itself, each session's sampling job
# on its own thread through the shared st.cache_resource model, runs concurrently
# (test_results.py's concurrent sessions).

_RUN_LOCK = threading.Lock()


def run_locked(at):
    with _RUN_LOCK:
        at.run()


def open_locked(page: str | None = None) -> AppTest:
    """The lab run once, then switched to `page` (a path such as f"{PAGES}/dataset.py"); fails on an exception."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=120)
    run_locked(at)
    if page:
        at.switch_page(page)
        run_locked(at)
    assert not at.exception, [e.value for e in at.exception]
    return at


def no_exception(at):
    assert not at.exception, [getattr(e, "message", e.value) for e in at.exception]
