"""--ema-decay: the stored EMA is the EMA of the weight trajectory, resumes with the run, and samples."""
import pytest
import torch

from conftest import tiny_trainer
from motionlab.formats.checkpoints import load_model, read_checkpoint, release_copy, save_checkpoint, summarize
from motionlab.cli import run_main
from motionlab.errors import CheckpointError, MotionlabError
from motionlab.pipeline.training import TrainConfig
from motionlab.train import main as train_main

DECAY = 0.6


def _ema_of(trajectory, decay):
    """Independent EMA: the first step's weights, then e = d*e + (1-d)*w after every later step."""
    out, e = [], None
    for w in trajectory:
        e = {k: v.clone() for k, v in w.items()} if e is None else {k: decay * e[k] + (1 - decay) * w[k] for k in e}
        out.append(e)
    return out


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory, demo):
    out = tmp_path_factory.mktemp("ema_run")
    # min_delta: only epoch 1 counts as best, so best.pt must hold the EMA as it was then
    tr = tiny_trainer(out, demo, epochs=3, ema_decay=DECAY, save_every=1, min_delta=1e9)
    traj = []
    tr.opt.register_step_post_hook(
        lambda opt, a, k: traj.append({n: p.detach().clone() for n, p in tr.model.state_dict().items()}))
    tr.run(progress=False)
    return out, tr, traj


def test_stored_ema_is_the_ema_of_the_weight_trajectory(ema_run):
    out, tr, traj = ema_run
    emas = _ema_of(traj, DECAY)
    last = read_checkpoint(out / "last.pt")
    assert last["train_config"]["ema_decay"] == DECAY and last["ema_steps"] == len(traj) == tr.step
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
    first = tiny_trainer(tmp_path, demo, epochs=1, ema_decay=DECAY, save_every=1)
    first.run(progress=False)
    again = tiny_trainer(tmp_path, demo, epochs=3, ema_decay=DECAY, save_every=1)
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
    with pytest.raises(MotionlabError, match=f"was trained with --ema-decay {DECAY:g}, not {decay:g}"):
        tiny_trainer(tmp_path, demo, epochs=4, ema_decay=decay).resume()


def test_a_run_without_ema_is_unchanged_and_cannot_gain_one_on_resume(trained_run, tmp_path, demo):
    assert TrainConfig().ema_decay == 0.0
    ck = read_checkpoint(trained_run / "last.pt")
    assert "ema_state" not in ck and "ema_steps" not in ck
    import shutil
    shutil.copy(trained_run / "last.pt", tmp_path / "last.pt")
    with pytest.raises(MotionlabError, match="was trained with --ema-decay 0, not 0.5"):
        tiny_trainer(tmp_path, demo, epochs=4, ema_decay=0.5).resume()


def test_load_model_picks_the_ema_and_says_so(ema_run, tiny_checkpoint):
    out, _, _ = ema_run
    ck = read_checkpoint(out / "best.pt")
    lm = load_model(out / "best.pt")
    assert lm.weights == "ema" and lm.checkpoint.ema_state is None
    for k, v in lm.model.state_dict().items():
        assert torch.equal(v, ck["ema_state"][k].float())
    raw = load_model(out / "best.pt", weights="raw")
    assert raw.weights == "raw" and all(torch.equal(v, ck["model_state"][k]) for k, v in raw.model.state_dict().items())
    old = load_model(tiny_checkpoint)  # no EMA: loads as before
    assert old.weights == "raw"
    with pytest.raises(CheckpointError, match="has no EMA weights"):
        load_model(tiny_checkpoint, weights="ema")
    assert summarize(out / "best.pt")["weights"] == "ema" and summarize(tiny_checkpoint)["weights"] == "raw"
    assert summarize(out / "best.pt")["ema_decay"] == DECAY


def test_release_copies_keep_the_ema(ema_run, tmp_path, tiny_checkpoint):
    out, _, _ = ema_run
    release_copy(out / "best.pt", tmp_path / "both.pt")
    both = read_checkpoint(tmp_path / "both.pt")
    assert all(v.dtype == torch.float16 for v in both["ema_state"].values() if v.is_floating_point())
    assert load_model(tmp_path / "both.pt").weights == "ema"
    release_copy(out / "best.pt", tmp_path / "ema.pt", ema_only=True)
    only = read_checkpoint(tmp_path / "ema.pt")
    assert "ema_state" not in only and only["weights_from"] == "ema"
    src = read_checkpoint(out / "best.pt")
    for k, v in only["model_state"].items():
        assert torch.equal(v, src["ema_state"][k].half())
    assert load_model(tmp_path / "ema.pt").weights == "ema"
    assert (tmp_path / "ema.pt").stat().st_size < 0.6 * (tmp_path / "both.pt").stat().st_size
    with pytest.raises(CheckpointError, match="EMA-only release"):
        load_model(tmp_path / "ema.pt", weights="raw")
    with pytest.raises(CheckpointError, match="has no EMA weights to release"):
        release_copy(tiny_checkpoint, tmp_path / "x.pt", ema_only=True)


@pytest.mark.parametrize("damage,match", [
    (lambda s: s.__setitem__(next(iter(s)), torch.full_like(s[next(iter(s))], float("nan"))), "EMA weight .* NaN"),
    (lambda s: s.pop(next(iter(s))), "EMA weights do not fit"),
])
def test_broken_ema_weights_are_refused(ema_run, tmp_path, damage, match):
    out, _, _ = ema_run
    ck = read_checkpoint(out / "best.pt")
    damage(ck["ema_state"])
    save_checkpoint(tmp_path / "bad.pt", ck)
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(tmp_path / "bad.pt")


@pytest.mark.parametrize("value", ["1", "-0.1", "nan"])
def test_bad_ema_decay_is_a_one_line_error(tmp_path, capsys, value):
    rc = run_main("motionlab.train", train_main, ["--data", "demo", "--window", "16", "--epochs", "1",
                                                  "--ema-decay", value, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("motionlab.train: error: --ema-decay must be in [0, 1)") and "\n" not in err
