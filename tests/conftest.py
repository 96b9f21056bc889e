"""Shared fixtures for the motionlab test suite, and the helpers that the tests of several packages use.

Everything here is tiny on purpose: the suite runs on 2 shared CPU cores.
Import the constants and helpers with `from conftest import TINY_MODEL, REAL_CLIP, needs_real_clip`
(this folder is on sys.path, so that works from tests/<package>/ too). tests/README.md has the layout.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

# One torch thread, here and in the CLI subprocesses the tests start: the tiny models gain nothing
# from two, and on 2 shared cores a second spinning OpenMP thread made tests up to 7x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO = Path(__file__).resolve().parent.parent

from motionlab.data.clip import MAX_FILE_BYTES  # noqa: E402
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


# -- helpers and fixtures shared by the tests of several packages --------------------------------------

# the tiny training command line of the robustness tests (kills, integrity records, resume checks)
TRAIN_ARGS = ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "8", "--batch-size", "8",
              "--timesteps", "10", "--save-every", "1", "--seed", "7", "--no-progress", *TINY_MODEL_FLAGS]
SHIPPED = sorted((REPO / "checkpoints").glob("*/model.pt"))  # the release checkpoints in the repository
EMA_DECAY = 0.6  # ema_run's --ema-decay


def train_cli_args(out, epochs, *extra):
    return ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "0", "--batch-size", "8",
            "--timesteps", "10", *TINY_MODEL_FLAGS, "--epochs", str(epochs), "--out", str(out),
            "--no-progress", "--save-every", "1", *extra]


def metrics_epochs(out):
    p = out / "metrics.jsonl"
    if not p.exists():
        return []
    epochs = []
    for line in p.read_text().splitlines():
        try:
            epochs.append(json.loads(line)["epoch"])
        except (ValueError, KeyError):
            epochs.append(None)  # a line cut by the kill: resume drops it
    return epochs


def flip_weight_byte(path: Path) -> str:
    """Flip the lowest bit of one value in the middle of the largest tensor (stays finite); returns its name."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
        assert info.compress_type == zipfile.ZIP_STORED
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        off = info.header_offset + 30 + n + m + (info.file_size // 2) // 4 * 4  # element-aligned: a low byte
        f.seek(off)
        b = f.read(1)[0]
        f.seek(off)
        f.write(bytes([b ^ 1]))
    return info.filename


# one-line errors of the command-line tools: `prog: error: <path>: <problem>`, exit code 2, no traceback
def assert_cli_error(rc, err, prog, path, pattern=None):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{prog}: error: {path}: "), lines[0]
    if pattern:
        assert re.search(pattern, lines[0]), lines[0]


def assert_one_line_error(rc, err, prog, path, pattern):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    head = f"{prog}: error: {path}: "
    assert lines[0].startswith(head), lines[0]
    assert re.search(pattern, lines[0][len(head):]), lines[0]
    assert len(lines[0]) < 400


@pytest.fixture(scope="session")
def ema_run(tmp_path_factory, demo):
    """A tiny run trained with --ema-decay EMA_DECAY: (run folder, its Trainer, the weights after every step)."""
    out = tmp_path_factory.mktemp("ema_run")
    # min_delta: only epoch 1 counts as best, so best.pt must hold the EMA as it was then
    tr = tiny_trainer(out, demo, epochs=3, ema_decay=EMA_DECAY, save_every=1, min_delta=1e9)
    traj = []
    tr.opt.register_step_post_hook(
        lambda opt, a, k: traj.append({n: p.detach().clone() for n, p in tr.model.state_dict().items()}))
    tr.run(progress=False)
    return out, tr, traj


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """clip_files.CORPUS written to a folder, plus an oversized file, a folder and a missing path: name -> path."""
    from clip_files import write_corpus
    d = tmp_path_factory.mktemp("bad_clips")
    paths = write_corpus(d)
    # larger than MAX_FILE_BYTES without using the disk: a sparse file, refused before it is read
    big = d / "oversized.json"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    paths["oversized"] = big
    (d / "a_directory.json").mkdir()
    paths["a_directory"] = d / "a_directory.json"
    paths["missing"] = d / "does_not_exist.json"
    return paths



def run_python(code: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`python -c code args...` in a fresh interpreter at the repository root; it must exit 0 (its
    stderr's tail is the failure message): what the exit-time tests need, whose point is the exit."""
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    return r
