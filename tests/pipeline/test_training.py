"""Training: files written, bitwise resume, early stopping, best.pt, config errors, the EMA of the weights, and
robustness: killed at random moments (SIGKILL), stopped by SIGTERM / Ctrl-C, or a full disk during a save, a run
loses nothing it saved and resumes. The train command's own errors: tools/test_train.py."""
import errno
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import (EMA_DECAY, REPO, TRAIN_ARGS, metrics_epochs, tiny_trainer,
                      train_cli_args)
from motionlab import MotionlabError
from motionlab import train as train_mod
from motionlab.formats.checkpoints import list_checkpoints, read_checkpoint, save_checkpoint
from motionlab.cli import run_main
from motionlab.pipeline import training
from motionlab.pipeline.training import TrainConfig
from motionlab.train import main as train_main


def _lines(run):
    return [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def test_a_run_writes_best_last_and_one_metrics_line_per_epoch(trained_run):
    recs = _lines(trained_run)
    assert [r["epoch"] for r in recs] == [1, 2]
    assert all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in recs)
    # 11 windows (96 frames, window 16, stride 8), batch 8 -> 2 steps per epoch
    assert [r["step"] for r in recs] == [2, 4]
    last = read_checkpoint(trained_run / "last.pt")
    assert last["epoch"] == 2 and last["step"] == 4
    best = read_checkpoint(trained_run / "best.pt")
    losses = [r["loss"] for r in recs]
    assert best["best_loss"] == pytest.approx(min(losses))
    assert best["epoch"] == 1 + losses.index(min(losses))


def test_resume_is_bitwise_equivalent_to_a_straight_run(tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_main(train_cli_args(straight, 4)) == 0
    assert train_main(train_cli_args(split, 2)) == 0
    assert train_main(train_cli_args(split, 4, "--resume")) == 0
    assert "resumed from" in capsys.readouterr().err
    a, b = _lines(straight), _lines(split)
    assert [r["epoch"] for r in b] == [1, 2, 3, 4]
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for name in ("last.pt", "best.pt"):
        ca, cb = read_checkpoint(straight / name), read_checkpoint(split / name)
        assert ca["epoch"] == cb["epoch"] and ca["best_loss"] == cb["best_loss"]
        for k, v in ca["model_state"].items():
            assert torch.equal(v, cb["model_state"][k]), f"{name}: {k} differs"


def test_resume_drops_metrics_lines_written_after_last_pt(tmp_path, demo):
    tr = tiny_trainer(tmp_path, demo, epochs=2)
    tr.run(progress=False)
    with open(tmp_path / "metrics.jsonl", "a") as f:       # as if a crash came after epoch 3's line
        f.write(json.dumps({"epoch": 3, "loss": 0.5}) + "\n")
    tr2 = tiny_trainer(tmp_path, demo, epochs=3)
    assert tr2.resume() and tr2.epoch == 2
    assert [r["epoch"] for r in _lines(tmp_path)] == [1, 2]
    tr2.run(progress=False)
    assert [r["epoch"] for r in _lines(tmp_path)] == [1, 2, 3]


def test_resume_without_last_pt_starts_fresh(tmp_path, demo):
    assert tiny_trainer(tmp_path, demo).resume() is False


def test_resume_refuses_another_window(tmp_path, demo):
    tiny_trainer(tmp_path, demo, epochs=1).run(progress=False)
    with pytest.raises(MotionlabError, match="another window"):
        tiny_trainer(tmp_path, demo, window=24, epochs=2).resume()


def test_early_stopping_stops_after_patience_epochs(tmp_path, demo):
    logs = []
    # min_delta so large that only the first epoch counts as an improvement
    tr = tiny_trainer(tmp_path, demo, epochs=10, patience=2, min_delta=1e9, log=logs.append)
    summary = tr.run(progress=False)
    assert summary["epoch"] == 3 and summary["best_epoch"] == 1
    assert len(_lines(tmp_path)) == 3
    assert read_checkpoint(tmp_path / "last.pt")["epoch"] == 3   # saved on the stop despite save_every=10
    assert read_checkpoint(tmp_path / "best.pt")["epoch"] == 1
    assert any("early stop at epoch 3" in s for s in logs)


def test_patience_zero_never_stops_early(tmp_path, demo):
    summary = tiny_trainer(tmp_path, demo, epochs=3, patience=0, min_delta=1e9).run(progress=False)
    assert summary["epoch"] == 3


def test_vel_weight_monitoring_and_bf16(tmp_path, demo):
    tr = tiny_trainer(tmp_path, demo, epochs=1, vel_weight=0.5, monitor_every=1, monitor_samples=2,
                      precision="bf16")
    tr.run(progress=False)
    rec = _lines(tmp_path)[0]
    assert math.isfinite(rec["loss"])
    assert set(rec["sample_metrics"]) == {"coord_range", "pos_std", "vel_std", "vel_energy", "com_speed",
                                          "diversity"}
    assert read_checkpoint(tmp_path / "last.pt")["train_config"]["vel_weight"] == 0.5


def test_augmented_training_runs(tmp_path, demo):
    tr = tiny_trainer(tmp_path, demo, epochs=2, data_kw=dict(jitter=True, mirror=True))
    assert tr.run(progress=False)["epoch"] == 2


@pytest.mark.parametrize("kw,match", [
    (dict(window=6), "window must be at least 8"),
    (dict(epochs=0), "must be positive"),
    (dict(precision="fp16"), "precision"),
])
def test_bad_train_configs(tmp_path, demo, kw, match):
    with pytest.raises(MotionlabError, match=match):
        tiny_trainer(tmp_path, demo, **kw)


def test_configs_check_themselves_and_the_trainer_leaves_the_callers_alone(tmp_path, demo):
    from dataclasses import replace

    from motionlab.data.dataset import DataConfig
    from motionlab.core.diffusion import MAX_TIMESTEPS, DiffusionConfig
    from motionlab.lab.processes import TrainOptions
    from motionlab.core.model import ModelConfig
    from motionlab.pipeline.training import TrainConfig, Trainer

    with pytest.raises(MotionlabError, match="base_channels must be a positive multiple of 8"):
        ModelConfig(base_channels=12)
    with pytest.raises(MotionlabError, match="stride must be positive"):
        DataConfig(stride=0)
    with pytest.raises(MotionlabError, match="save_every must be positive"):
        TrainConfig(save_every=0)
    # the lab's form takes the library's limits, in its own words
    TrainOptions(timesteps=MAX_TIMESTEPS).validate()
    with pytest.raises(MotionlabError, match="base channels must be a positive multiple of 8"):
        TrainOptions(base_channels=12).validate()
    data = DataConfig(data=None, window=16, stride=8, limit=0)
    model = ModelConfig(base_channels=16, channel_mults=(1, 2), time_dim=32, in_channels=7)
    diff, cfg = DiffusionConfig(timesteps=10), TrainConfig(epochs=1, batch_size=8)
    before = [replace(c) for c in (data, model, diff, cfg)]
    tr = Trainer(data, model, diff, cfg, tmp_path, log=lambda s: None)
    assert [data, model, diff, cfg] == before
    assert tr.model_cfg.in_channels == 2 * len(tr.ds.joints) and tr.data_cfg.data != data.data


# -- --ema-decay: the stored EMA is the EMA of the weight trajectory and resumes with the run ------------

def _ema_of(trajectory, decay):
    """Independent EMA: the first step's weights, then e = d*e + (1-d)*w after every later step."""
    out, e = [], None
    for w in trajectory:
        e = {k: v.clone() for k, v in w.items()} if e is None else {k: decay * e[k] + (1 - decay) * w[k] for k in e}
        out.append(e)
    return out


def test_stored_ema_is_the_ema_of_the_weight_trajectory(ema_run):
    out, tr, traj = ema_run
    emas = _ema_of(traj, EMA_DECAY)
    last = read_checkpoint(out / "last.pt")
    assert last["train_config"]["ema_decay"] == EMA_DECAY and last["ema_steps"] == len(traj) == tr.step
    for k, v in emas[-1].items():
        torch.testing.assert_close(last["ema_state"][k], v)
        torch.testing.assert_close(last["model_state"][k], traj[-1][k], rtol=0, atol=0)
    assert any(not torch.equal(last["ema_state"][k], traj[-1][k]) for k in emas[-1])  # it averages something
    best = read_checkpoint(out / "best.pt")  # the EMA as it was at the best epoch
    assert best["epoch"] == 1 < tr.epoch
    steps_per_epoch = tr.step // tr.epoch
    assert best["ema_steps"] == best["epoch"] * steps_per_epoch
    for k, v in emas[best["epoch"] * steps_per_epoch - 1].items():
        torch.testing.assert_close(best["ema_state"][k], v)


def test_resume_continues_the_ema(ema_run, tmp_path, demo):
    out, tr, _ = ema_run
    first = tiny_trainer(tmp_path, demo, epochs=1, ema_decay=EMA_DECAY, save_every=1)
    first.run(progress=False)
    again = tiny_trainer(tmp_path, demo, epochs=3, ema_decay=EMA_DECAY, save_every=1)
    assert again.resume() and int(again.ema.n_averaged) == first.step
    again.run(progress=False)
    a, b = read_checkpoint(tmp_path / "last.pt"), read_checkpoint(out / "last.pt")
    assert a["ema_steps"] == b["ema_steps"]
    for k in b["ema_state"]:
        assert torch.equal(a["ema_state"][k], b["ema_state"][k]), k


@pytest.mark.parametrize("decay", [0.0, 0.9])
def test_resume_with_another_decay_is_refused(ema_run, tmp_path, demo, decay):
    import shutil
    out, _, _ = ema_run
    shutil.copy(out / "last.pt", tmp_path / "last.pt")
    with pytest.raises(MotionlabError, match=f"was trained with --ema-decay {EMA_DECAY:g}, not {decay:g}"):
        tiny_trainer(tmp_path, demo, epochs=4, ema_decay=decay).resume()


def test_a_run_without_ema_is_unchanged_and_cannot_gain_one_on_resume(trained_run, tmp_path, demo):
    assert TrainConfig().ema_decay == 0.0
    ck = read_checkpoint(trained_run / "last.pt")
    assert "ema_state" not in ck and "ema_steps" not in ck
    import shutil
    shutil.copy(trained_run / "last.pt", tmp_path / "last.pt")
    with pytest.raises(MotionlabError, match="was trained with --ema-decay 0, not 0.5"):
        tiny_trainer(tmp_path, demo, epochs=4, ema_decay=0.5).resume()


def test_a_key_an_old_checkpoint_lacks_counts_as_its_default(tmp_path):
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "1", "--out", str(out)]) == 0
    ck = read_checkpoint(out / "last.pt")
    del ck["diffusion_config"]["variance"]  # written before the field existed
    save_checkpoint(out / "last.pt", ck)
    assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    assert training.diffusion_mismatch({**ck["diffusion_config"], "schedule": "cosine"},
                                        read_checkpoint(out / "last.pt")["diffusion_config"]) == \
        "schedule: 'cosine' in the checkpoint, 'linear' asked"


# -- killed at random moments, stopped by a signal, a full disk: nothing saved is lost -------------------

READY = "windows of 16 frames"  # logged right before the first epoch


KILLS = 6


def _start(out, epochs, log):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "motionlab.train", *TRAIN_ARGS, "--epochs", str(epochs), "--out", str(out), "--resume"]
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def _wait_for(p, log, text, timeout=60.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if text in log.read_text():
            return True
        if p.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError(f"no {text!r} in {timeout}s: {log.read_text()}")


def _wait_until(p, cond, timeout=60.0):
    t0 = time.monotonic()
    while not cond():
        assert p.poll() is None, "the run ended before the condition"
        assert time.monotonic() - t0 < timeout
        time.sleep(0.005)


def _check_after_kill(out, last_epoch_before) -> int:
    """best.pt / last.pt load; last.pt did not go backwards; returns last.pt's epoch (0 if absent)."""
    last_epoch = 0
    for name in ("best.pt", "last.pt"):
        p = out / name
        if p.exists():
            ck = read_checkpoint(p)  # raises on a torn file
            assert ck["epoch"] >= 1
            if name == "last.pt":
                last_epoch = ck["epoch"]
                assert "optimizer_state" in ck
    if (out / "last.pt").exists():
        assert (out / "best.pt").exists(), "best.pt is written before last.pt"
    assert last_epoch >= last_epoch_before, "a saved epoch was lost"
    assert all(r["ok"] for r in list_checkpoints(out)), list_checkpoints(out)  # temp files are not listed
    return last_epoch


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_loses_nothing(tmp_path):
    rng = random.Random(20240607)
    out = tmp_path / "run"
    last = 0
    resumed_from = []
    kills = 0
    for i in range(KILLS):
        log = tmp_path / f"seg{i}.log"
        p = _start(out, 10_000, log)  # never finishes on its own
        try:
            if i == 0:
                time.sleep(rng.uniform(0.05, 0.5))  # during imports / set-up: before anything is saved
            elif i % 2:
                # from the start of training: the first (slow, warming-up) epoch or its save
                assert _wait_for(p, log, READY), log.read_text()
                time.sleep(rng.uniform(0.0, 1.5))
            else:
                # once this segment has logged an epoch: its save, or the epochs and saves after it
                n = len(metrics_epochs(out))
                _wait_until(p, lambda: len(metrics_epochs(out)) > n)
                time.sleep(rng.uniform(0.0, 0.8))
            assert p.poll() is None, f"segment {i} ended by itself: {log.read_text()}"
            p.send_signal(signal.SIGKILL)
            kills += 1
        finally:
            p.kill()
            p.wait(30)
        text = log.read_text()
        assert "Traceback" not in text, text
        if "resumed from" in text:
            resumed_from.append(int(text.split("at epoch ")[1].split()[0]))
            assert resumed_from[-1] == last, (resumed_from, last)
        last = _check_after_kill(out, last)
    assert kills >= 5
    assert last >= 1, "no kill landed after a save: the test did not exercise resume"
    assert resumed_from, "no segment resumed"

    # the final run resumes and reaches the requested count
    target = last + 3
    log = tmp_path / "final.log"
    p = _start(out, target, log)
    assert p.wait(120) == 0, log.read_text()
    assert f"resumed from {out}/last.pt at epoch {last}" in log.read_text()
    final = read_checkpoint(out / "last.pt")
    assert final["epoch"] == target and final["step"] == target
    # one metrics line per epoch: nothing lost, nothing duplicated by the replays
    assert metrics_epochs(out) == list(range(1, target + 1))
    leftovers = [f.name for f in out.iterdir() if f.name.endswith(".tmp")]
    assert not leftovers, leftovers  # temps of writes cut by SIGKILL are removed when the next run starts

    # the interrupted chain ends on the same weights as one uninterrupted run
    ref = tmp_path / "ref"
    assert run_main("motionlab.train", train_mod.main,
                    [*_args_without_save_every(), "--save-every", "1000", "--epochs", str(target),
                     "--out", str(ref)]) == 0
    want = read_checkpoint(ref / "last.pt")
    assert want["epoch"] == target
    for k, v in want["model_state"].items():
        torch.testing.assert_close(final["model_state"][k], v, rtol=1e-5, atol=1e-6)
    assert final["best_loss"] == pytest.approx(want["best_loss"], rel=1e-5)
    print(f"kills={kills} last={last} resumed_from={resumed_from}")


def _args_without_save_every():
    a = list(TRAIN_ARGS)
    i = a.index("--save-every")
    del a[i:i + 2]
    return a


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_saves_and_stops_cleanly(tmp_path, sig):
    out = tmp_path / "run"
    log = tmp_path / "term.log"
    p = _start(out, 10_000, log)
    try:
        assert _wait_for(p, log, READY)
        time.sleep(0.4)
        p.send_signal(sig)
        assert p.wait(60) == 0, log.read_text()
    finally:
        p.kill()
    text = log.read_text()
    said = f"stopped by {sig.name} at epoch "
    assert said in text and "Traceback" not in text
    stopped = int(text.split(said)[1].split(";")[0])
    assert read_checkpoint(out / "last.pt")["epoch"] == stopped
    assert metrics_epochs(out)[-1] == stopped


def test_disk_full_during_a_save_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    """ENOSPC on the 4th checkpoint write: exit 2, one line, the earlier files still load, no temp left."""
    import motionlab.io as io_mod
    real_fsync = io_mod.os.fsync
    calls = {"n": 0}

    def fsync(fd):
        if re.search(r"\.pt\.\d+\.\w{8}\.tmp$", os.readlink(f"/proc/self/fd/{fd}")):  # a .pt's temp, not its record's
            calls["n"] += 1
            if calls["n"] == 4:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)
    out = tmp_path / "run"
    monkeypatch.setattr(io_mod.os, "fsync", fsync)
    rc = run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "5", "--out", str(out)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"motionlab.train: error: {out}/") and "No space left" in err
    assert err.splitlines()[-1].endswith(".pt: No space left on device")
    assert read_checkpoint(out / "last.pt")["epoch"] >= 1
    read_checkpoint(out / "best.pt")
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]
    # and the run resumes from what was kept
    rc = run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "4", "--out", str(out), "--resume"])
    assert rc == 0 and read_checkpoint(out / "last.pt")["epoch"] == 4
    assert metrics_epochs(out) == [1, 2, 3, 4]
