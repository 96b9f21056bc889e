"""python -m motionlab.train: one-line errors with exit code 2 for bad flags, malformed clips, broken or mismatched
last.pt on --resume, unwritable output folders (before any training) and a finished run folder without --resume."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from clip_files import ALL_CASES, VALID, expected, train_argv
from conftest import REPO, TRAIN_ARGS, assert_cli_error, assert_one_line_error, metrics_epochs, train_cli_args
from motionlab import train as train_mod
from motionlab.cli import run_main
from motionlab.train import main as train_main


@pytest.mark.parametrize("flags,match", [
    (["--channel-mults", "1,x"], "--channel-mults must be comma-separated integers"),
    (["--base-channels", "12"], "--base-channels must be a positive multiple of 8"),
    (["--beta-start", "0.5", "--beta-end", "0.1"], "--beta-start must be <= beta_end"),
    (["--data", "/nonexistent/clip.json"], "no such clip file"),
    (["--window", "500"], "shorter than the window of 500"),
])
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys, flags, match):
    rc = run_main("motionlab.train", train_main, train_cli_args(tmp_path / "run", 1) + flags)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("motionlab.train: error: ") and "\n" not in err
    assert match in err


@pytest.mark.parametrize("value", ["1", "-0.1", "nan"])
def test_bad_ema_decay_is_a_one_line_error(tmp_path, capsys, value):
    rc = run_main("motionlab.train", train_main, ["--data", "demo", "--window", "16", "--epochs", "1",
                                                  "--ema-decay", value, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("motionlab.train: error: --ema-decay must be in [0, 1)") and "\n" not in err


# -- malformed and odd clips (clip_files.py) -------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_CASES)
def test_train_cli_in_process(corpus, name, tmp_path, capsys):
    out = tmp_path / "run"
    rc = run_main("motionlab.train", train_mod.main, train_argv(corpus[name], out))
    cap = capsys.readouterr()
    assert_one_line_error(rc, cap.err, "motionlab.train", corpus[name], expected(name, cli=True))
    assert cap.out == ""
    assert not list(out.glob("*.pt")), "nothing may be trained on a bad clip"


def test_bom_clip_trains(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(VALID["utf8_bom"])
    assert run_main("motionlab.train", train_mod.main, train_argv(p, tmp_path / "run")) == 0
    assert (tmp_path / "run" / "best.pt").is_file()


# -- --resume onto a broken or another model's last.pt ---------------------------------------------------

def test_broken_last_pt_makes_resume_exit_2(tmp_path, tiny_checkpoint, capsys):
    from conftest import TINY_MODEL_FLAGS
    out = tmp_path / "run"
    out.mkdir()
    data = tiny_checkpoint.read_bytes()
    (out / "last.pt").write_bytes(data[: len(data) // 3])
    rc = run_main("motionlab.train", train_mod.main,
                  ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "4", "--epochs", "1",
                   "--timesteps", "10", "--no-progress", "--out", str(out), "--resume", *TINY_MODEL_FLAGS])
    assert_cli_error(rc, capsys.readouterr().err, "motionlab.train", out / "last.pt", r"not a readable checkpoint")


def test_resume_onto_another_model_config_exits_2(trained_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(trained_run, out)
    rc = run_main("motionlab.train", train_mod.main,
                  ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "0", "--epochs", "3",
                   "--timesteps", "10", "--no-progress", "--out", str(out), "--resume",
                   "--base-channels", "24", "--channel-mults", "1,2", "--time-dim", "32"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"motionlab.train: error: {out / 'last.pt'}: does not fit")


def test_resume_refuses_other_diffusion_settings_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "1", "--out", str(out)]) == 0
    before = (out / "last.pt").read_bytes()
    for flags, what in ((["--timesteps", "20"], "timesteps: 10 in the checkpoint, 20 asked"),
                        (["--variance", "posterior"], "variance: 'beta' in the checkpoint, 'posterior' asked"),
                        (["--beta-end", "0.03"], "beta_end: 0.02 in the checkpoint, 0.03 asked")):
        capsys.readouterr()
        rc = run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, *flags, "--epochs", "2", "--out", str(out), "--resume"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1, err
        assert err[0].startswith(f"motionlab.train: error: {out / 'last.pt'}: diffusion settings differ (") and what in err[0]
    assert (out / "last.pt").read_bytes() == before


# -- output folders --------------------------------------------------------------------------------------

def _train(out, capsys, extra=()):
    t0 = time.monotonic()
    rc = run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "1", "--out", str(out), *extra])
    return rc, capsys.readouterr(), time.monotonic() - t0


def test_out_under_a_regular_file_is_reported_before_training(tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    for out in (blocker / "run", blocker / "deeper" / "run", blocker):
        rc, cap, secs = _train(out, capsys)
        assert rc == 2 and "Traceback" not in cap.err
        lines = cap.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"motionlab.train: error: output folder {out} is not writable")
        assert "windows of" not in cap.err  # nothing was set up or trained
        assert secs < 5
    assert blocker.read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_is_reported_before_training(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        rc, cap, _ = _train(ro / "run", capsys)
        assert rc == 2 and "not writable" in cap.err and len(cap.err.splitlines()) == 1
    finally:
        ro.chmod(0o700)


@pytest.mark.slow
def test_unwritable_out_as_a_real_subprocess_is_quick(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "motionlab.train", *TRAIN_ARGS, "--epochs", "50", "--out", str(blocker / "o")],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    secs = time.monotonic() - t0
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [f"motionlab.train: error: output folder {blocker / 'o'} is not writable: "
                                     "Not a directory"]
    assert secs < 20  # start-up only: 50 epochs with a save each would take far longer


def test_a_fresh_run_into_a_finished_run_folder_is_refused(tmp_path, capsys):
    """Forgetting --resume must not overwrite the folder's best.pt or mix two runs in metrics.jsonl."""
    import hashlib
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "2", "--out", str(out)]) == 0
    before = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir()}
    capsys.readouterr()
    rc = run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "3", "--seed", "8", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.splitlines() == [
        f"motionlab.train: error: {out} already holds a run (last.pt); pass --resume to continue it "
        "or choose another --out"]
    assert {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir()} == before
    # with --resume it continues
    assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "3", "--out", str(out), "--resume"]) == 0
    assert metrics_epochs(out) == [1, 2, 3]
