"""Data-parallel training with torchrun on gloo CPU ranks: the loss curve of one process, rank 0 alone
writing, a killed rank leaving last.pt intact, and --resume from another rank count.

Every test here is marked `ddp` (`pytest -m ddp` runs just these) and starts real processes, each with
a timeout, on the tiny model.

Tolerance: with the same global batch and seed, each step's global batch, timesteps and noise are the
same windows and numbers as in one process (motionlab.train._train_epoch_ddp); what differs is float
summation order (two half-batch backward passes summed by an allreduce instead of one), and Adam
carries that into the weights. bench/ddp_match.py measured at most 9.3e-8 relative difference of an
epoch loss over 10 epochs (4 cases, torch 2.13 CPU); LOSS_RTOL leaves two orders of magnitude of room
for other CPUs and BLAS builds while still failing on any real divergence (another batch, another
noise draw or a gradient counted twice moves the loss by more than 1e-3).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, TINY_MODEL_FLAGS
from motionlab.formats.checkpoints import read_checkpoint
from motionlab.data.clip import save_clip
from motionlab.data.demo import demo_clip
from motionlab.testing import torchrun_workers

pytestmark = [pytest.mark.ddp, pytest.mark.slow]
LOSS_RTOL = 1e-5
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("ddp") / "demo96.json"
    save_clip(demo_clip(frames=96), p)  # 11 windows of 16 frames, stride 8
    return p


def _args(clip, out, epochs, *extra):
    # batch 5 over 11 windows: batches of 5, 5 and 1, so each is split unevenly over 2 ranks and the
    # last leaves rank 1 without a window; dropout 0 so that only float order separates the runs
    return ["--data", str(clip), "--window", "16", "--stride", "8", "--limit", "0", "--batch-size", "5",
            "--timesteps", "10", *TINY_MODEL_FLAGS, "--dropout", "0", "--epochs", str(epochs),
            "--save-every", "1", "--no-progress", "--out", str(out), *extra]


def _plain(args, timeout=120):
    return subprocess.run([sys.executable, "-m", "motionlab.train", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _torchrun(args, ranks=2, timeout=180, **kw):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
           "-m", "motionlab.train", *args]
    if kw.pop("background", False):
        return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)


def _ok(r):
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def _records(run):
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def _losses(run):
    return [r["loss"] for r in _records(run)]


def test_two_ranks_follow_the_single_process_loss_curve_and_resume_from_one_process(tmp_path, clip_file):
    one, two, mixed = tmp_path / "one", tmp_path / "two", tmp_path / "mixed"
    _ok(_plain(_args(clip_file, one, 4)))
    r = _ok(_torchrun(_args(clip_file, two, 4)))
    assert "2 ranks (gloo)" in r.stderr and r.stdout.count('"best_loss"') == 1  # rank 0 alone reports
    a, b = _records(one), _records(two)
    assert [x["epoch"] for x in b] == [1, 2, 3, 4]                              # one line per epoch: rank 0 wrote
    assert [x["step"] for x in a] == [x["step"] for x in b] == [3, 6, 9, 12]    # the same global batches
    assert _losses(two) == pytest.approx(_losses(one), rel=LOSS_RTOL)
    wa, wb = (read_checkpoint(d / "last.pt")["model_state"] for d in (one, two))
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-3, atol=1e-5)
    # 2 epochs in one process, then --resume on 2 ranks: the same curve again (the kill test below
    # resumes the other way, 2 ranks -> 1)
    _ok(_plain(_args(clip_file, mixed, 2)))
    r = _ok(_torchrun(_args(clip_file, mixed, 4, "--resume")))
    assert "resumed from" in r.stderr
    assert [x["epoch"] for x in _records(mixed)] == [1, 2, 3, 4]
    assert _losses(mixed) == pytest.approx(_losses(one), rel=LOSS_RTOL)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds torchrun's workers through /proc")
def test_killing_one_rank_stops_the_run_with_last_pt_intact_and_resume_continues(tmp_path, clip_file):
    run = tmp_path / "run"
    p = _torchrun(_args(clip_file, run, 10_000), background=True)
    try:
        ranks = torchrun_workers(p.pid, 2)
        end = time.time() + 120
        log = run / "metrics.jsonl"
        while not log.is_file() or log.read_text().count("\n") < 3:  # whole lines only
            assert p.poll() is None and time.time() < end, "the run ended or stalled before epoch 3"
            time.sleep(0.2)
        os.kill(ranks[1], signal.SIGKILL)
        _, err = p.communicate(timeout=60)  # no hang: the survivor and torchrun exit
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode != 0
    assert "motionlab.train: error: rank 0: training stopped, another rank failed" in err
    last = read_checkpoint(run / "last.pt")     # loads and validates: intact
    assert 3 <= last["epoch"] < 10_000
    assert not list(run.glob(".*.tmp"))         # not left half-written by the killed run either
    # --resume continues it, here in one process
    total = last["epoch"] + 2
    r = _ok(_plain(_args(clip_file, run, total, "--resume")))
    assert f"resumed from {run}/last.pt at epoch {last['epoch']}" in r.stderr
    assert [x["epoch"] for x in _records(run)] == list(range(1, total + 1))
    assert read_checkpoint(run / "last.pt")["step"] == 3 * total
