"""Shared fixtures for the motionlab test suite.

Everything here is tiny on purpose: the suite runs on 2 shared CPU cores.
Import the constants with `from conftest import TINY_MODEL, REAL_CLIP, needs_real_clip`.
"""
from __future__ import annotations

import os
from pathlib import Path

# One torch thread, here and in the CLI subprocesses the tests start: the tiny models gain nothing
# from two, and on 2 shared cores a second spinning OpenMP thread made tests up to 7x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO = Path(__file__).resolve().parent.parent

from motionlab.data.demo import demo_clip  # noqa: E402
# the tiny network every test uses (~46k parameters instead of ~9.9M); tests import them from here
from motionlab.testing import (TINY_MODEL, TINY_MODEL_FLAGS, TINY_TIMESTEPS, tiny_model_config,  # noqa: E402,F401
                               tiny_trainer)

REAL_CLIP = REPO / "data" / "uptown_funk.json"
needs_real_clip = pytest.mark.skipif(
    not REAL_CLIP.is_file(),
    reason="data/uptown_funk.json is absent (copy it from ../shared/data/; .ci/run does)")


@pytest.fixture(scope="session")
def demo():
    """The procedural dancer, 96 frames (20 joints, 40 channels)."""
    return demo_clip(frames=96)


@pytest.fixture(scope="session")
def real_clip_path():
    if not REAL_CLIP.is_file():
        pytest.skip("data/uptown_funk.json is absent (copy it from ../shared/data/; .ci/run does)")
    return REAL_CLIP


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, demo):
    """A tiny run trained once per session: 2 epochs on 16-frame windows of the demo clip.

    Returns the run folder holding best.pt, last.pt and metrics.jsonl. Treat it as read-only.
    """
    out = tmp_path_factory.mktemp("tiny_run")
    tr = tiny_trainer(out, demo, epochs=2, tag="tiny")
    tr.run(progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(trained_run):
    """Path of the session's tiny best.pt (read-only)."""
    return trained_run / "best.pt"
