"""Training: files written, bitwise resume, early stopping, best.pt, config errors, the CLI's exit codes."""
import json
import math

import pytest
import torch

from conftest import TINY_MODEL_FLAGS, tiny_trainer
from motionlab import MotionlabError
from motionlab.formats.checkpoints import read_checkpoint
from motionlab.cli import run_main
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


def _cli(out, epochs, *extra):
    return ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "0", "--batch-size", "8",
            "--timesteps", "10", *TINY_MODEL_FLAGS, "--epochs", str(epochs), "--out", str(out),
            "--no-progress", "--save-every", "1", *extra]


def test_resume_is_bitwise_equivalent_to_a_straight_run(tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_main(_cli(straight, 4)) == 0
    assert train_main(_cli(split, 2)) == 0
    assert train_main(_cli(split, 4, "--resume")) == 0
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


@pytest.mark.parametrize("flags,match", [
    (["--channel-mults", "1,x"], "--channel-mults must be comma-separated integers"),
    (["--base-channels", "12"], "--base-channels must be a positive multiple of 8"),
    (["--beta-start", "0.5", "--beta-end", "0.1"], "--beta-start must be <= beta_end"),
    (["--data", "/nonexistent/clip.json"], "no such clip file"),
    (["--window", "500"], "shorter than the window of 500"),
])
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys, flags, match):
    rc = run_main("motionlab.train", train_main, _cli(tmp_path / "run", 1) + flags)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("motionlab.train: error: ") and "\n" not in err
    assert match in err


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
