"""Checkpoint files: round trip, the release copy, listing, one-line errors for bad files, clip records, and
EMA weights (load_model picks them, release copies keep them, broken ones are refused).
Hostile and broken files in bulk: test_checkpoints_hostile.py; sha256 records: test_integrity.py."""
import numpy as np
import pytest
import torch

from conftest import EMA_DECAY, tiny_model_config, tiny_trainer
from motionlab import CheckpointError, MotionlabError
from motionlab.formats.checkpoints import (FORMAT, REQUIRED, list_checkpoints, load_model, read_checkpoint, release_copy,
                                   save_checkpoint, summarize)
from motionlab.core.model import PositionalUNet1D
from motionlab.pipeline.sampling import sample_checkpoint


def test_trained_checkpoint_has_everything(tiny_checkpoint, trained_run):
    ck = read_checkpoint(tiny_checkpoint)
    assert set(REQUIRED) <= set(ck)
    assert ck["format"] == FORMAT and ck["window"] == 16 and len(ck["joints"]) == 20
    assert len(ck["norm_mean"]) == len(ck["norm_std"]) == 40 == ck["model_config"]["in_channels"]
    assert ck["diffusion_config"]["timesteps"] == 10
    assert ck["train_config"]["tag"] == "tiny"
    assert set(ck["baseline"]) >= {"coord_range", "diversity", "clips"}
    assert "optimizer_state" not in ck                          # best.pt: weights only
    assert "optimizer_state" in read_checkpoint(trained_run / "last.pt")


def test_load_model_is_ready_to_sample(tiny_checkpoint):
    lm = load_model(tiny_checkpoint)
    assert not lm.model.training
    assert not any(p.requires_grad for p in lm.model.parameters())
    assert lm.window == 16 and len(lm.joints) == 20 and lm.diffusion.num_timesteps == 10
    assert not lm.checkpoint.model_state
    px = sample_checkpoint(lm, num_samples=2, seed=0).pixels
    assert px.shape == (2, 16, 40) and np.isfinite(px).all()
    # unnormalize: (N, C, W) normalized -> (N, W, C) pixels
    z = torch.zeros(1, 40, 16)
    np.testing.assert_allclose(lm.unnormalize(z)[0], np.broadcast_to(lm.mean, (16, 40)))


def test_save_read_round_trip(tiny_checkpoint, tmp_path):
    ck = read_checkpoint(tiny_checkpoint)
    ck["epoch"] = 123
    save_checkpoint(tmp_path / "x" / "copy.pt", ck)
    back = read_checkpoint(tmp_path / "x" / "copy.pt")
    assert back["epoch"] == 123 and back["joints"] == ck["joints"]
    for k, v in ck["model_state"].items():
        assert torch.equal(back["model_state"][k], v)
    a, b = load_model(tiny_checkpoint), load_model(tmp_path / "x" / "copy.pt")
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)


def test_save_refuses_an_incomplete_payload(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        save_checkpoint(tmp_path / "x.pt", {"format": FORMAT})
    assert not (tmp_path / "x.pt").exists()


def test_release_copy_is_fp16_weights_only_and_samples_the_same(trained_run, tmp_path):
    dst = tmp_path / "checkpoints" / "tiny" / "model.pt"
    release_copy(trained_run / "last.pt", dst)
    ck = read_checkpoint(dst)
    assert "optimizer_state" not in ck
    assert all(v.dtype == torch.float16 for v in ck["model_state"].values() if v.is_floating_point())
    assert dst.stat().st_size < (trained_run / "last.pt").stat().st_size
    full, rel = load_model(trained_run / "last.pt"), load_model(dst)
    assert next(rel.model.parameters()).dtype == torch.float32   # loaded back as fp32
    a = sample_checkpoint(full, num_samples=2, seed=1).pixels
    b = sample_checkpoint(rel, num_samples=2, seed=1).pixels
    assert np.abs(a - b).mean() < 0.05 * np.abs(a - a.mean()).mean() + 1e-3


def test_summarize_and_list(trained_run, tmp_path):
    s = summarize(trained_run / "best.pt")
    assert s["ok"] and s["tag"] == "tiny" and s["window"] == 16 and s["joints"] == 20
    assert s["stride"] == 8 and s["limit"] == 0 and s["epoch"] in (1, 2)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    bad = summarize(tmp_path / "junk.pt")
    assert not bad["ok"] and "junk.pt" in bad["error"]
    rows = list_checkpoints(trained_run, tmp_path, tmp_path / "missing")
    names = [r["path"].rsplit("/", 1)[-1] for r in rows]
    assert names == ["best.pt", "last.pt", "junk.pt"]


# --- bad files -------------------------------------------------------------------------------

def _bad(path, match):
    with pytest.raises(CheckpointError, match=match) as ei:
        read_checkpoint(path)
    msg = str(ei.value)
    assert "\n" not in msg and str(path) in msg and len(msg) < 400
    # load_model and summarize report the same problem
    with pytest.raises(CheckpointError):
        load_model(path)
    assert summarize(path)["ok"] is False


def _edited(tiny_checkpoint, tmp_path, edit):
    ck = torch.load(tiny_checkpoint, weights_only=True)
    edit(ck)
    p = tmp_path / "edited.pt"
    torch.save(ck, p)
    return p


def test_missing_and_empty_files(tmp_path):
    _bad(tmp_path / "nope.pt", "no such checkpoint file")
    (tmp_path / "empty.pt").write_bytes(b"")
    _bad(tmp_path / "empty.pt", "empty")


def test_truncated_file(tiny_checkpoint, tmp_path):
    data = tiny_checkpoint.read_bytes()
    p = tmp_path / "trunc.pt"
    p.write_bytes(data[: len(data) // 2])
    _bad(p, "not a readable checkpoint")


def test_garbage_bytes(tmp_path):
    p = tmp_path / "garbage.pt"
    p.write_bytes(bytes(range(256)) * 8)
    _bad(p, "checkpoint")


def test_missing_key(tiny_checkpoint, tmp_path):
    _bad(_edited(tiny_checkpoint, tmp_path, lambda ck: ck.pop("norm_std")), "missing norm_std")


def test_channel_mismatch(tiny_checkpoint, tmp_path):
    _bad(_edited(tiny_checkpoint, tmp_path, lambda ck: ck.update(norm_mean=ck["norm_mean"][:-2])), "channel mismatch")
    _bad(_edited(tiny_checkpoint, tmp_path, lambda ck: ck.update(joints=ck["joints"][:-1])), "channel mismatch")


def test_wrong_version(tiny_checkpoint, tmp_path):
    _bad(_edited(tiny_checkpoint, tmp_path, lambda ck: ck.update(version=99)), "version 99")


def test_not_ours(tmp_path):
    p = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3), "epoch": 1}, p)
    _bad(p, "not a motionlab checkpoint")


def test_plain_state_dict(tmp_path):
    p = tmp_path / "state_dict.pth"
    torch.save(PositionalUNet1D(tiny_model_config()).state_dict(), p)
    _bad(p, "not a motionlab checkpoint")


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_unsafe_pickle_is_refused_without_running_it(tmp_path, capsys):
    p = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "x": _Evil()}, p)
    _bad(p, "refused to load")
    assert "must never run" not in capsys.readouterr().out


def test_weights_that_do_not_fit_the_config(tiny_checkpoint, tmp_path):
    def edit(ck):
        ck["model_config"]["base_channels"] = 32
    p = _edited(tiny_checkpoint, tmp_path, edit)
    with pytest.raises(CheckpointError, match="incompatible checkpoint"):
        load_model(p)


# -- clip records and EMA weights ------------------------------------------------------------------------

def test_a_malformed_clip_record_is_refused(tmp_path, demo):
    from motionlab.formats.checkpoints import save_checkpoint
    tr = tiny_trainer(tmp_path, demo, epochs=1)
    tr.run(progress=False)
    ck = read_checkpoint(tmp_path / "last.pt")
    ck["clips"] = [{"name": "x", "frames": "many", "sha256": "0"}]
    save_checkpoint(tmp_path / "bad.pt", ck)
    with pytest.raises(MotionlabError, match="malformed checkpoint: clips must be"):
        read_checkpoint(tmp_path / "bad.pt")


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
    assert summarize(out / "best.pt")["ema_decay"] == EMA_DECAY


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
