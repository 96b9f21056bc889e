"""Shared helpers for the lab's tests: tiny checkpoints in a tmp folder and an env pointing the app at them.

    from lab_support import lab_env, make_tiny_run   # lab_env is a pytest fixture

lab_env (session scope) trains two tiny models on the demo clip (window 32, 10 diffusion steps,
base 16 x (1, 2), time dim 32; a second or two each on a CPU) and lays out:

    <tmp>/checkpoints/tiny_ship/model.pt     a release copy (fp16 weights), with metrics.jsonl and CARD.md
    <tmp>/checkpoints/broken/model.pt        garbage bytes: must be listed as broken, never crash a page
    <tmp>/runs/tiny_run/{best,last}.pt       a run folder with metrics.jsonl (monitored sample metrics)

and returns a dict of paths plus "env", the environment variables for the app
(MOTIONLAB_CHECKPOINT_DIRS, MOTIONLAB_RUNS_DIR, MOTIONLAB_CLIP pointing at a missing file so the
pages use the demo clip, MOTIONLAB_TRAJECTORY_MB).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from motionlab.formats.checkpoints import release_copy
from motionlab.testing import tiny_run

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "lab_app.py")


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


def make_tiny_run(out, tag: str, epochs: int = 2, window: int = 32, timesteps: int = 10, frames: int = 160,
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
