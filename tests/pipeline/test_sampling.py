"""Seeded sampling with trajectories, the evaluation rows, and the train -> sample -> evaluate CLIs end to end."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REAL_CLIP, REPO, TINY_MODEL_FLAGS, tiny_model_config
from motionlab import MotionlabError
from motionlab.formats.checkpoints import load_model
from motionlab.data.clip import load_clip
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.evaluation.markdown import baseline_markdown, checkpoints_markdown
from motionlab.pipeline.evaluating import dataset_baseline, evaluate_checkpoint
from motionlab.evaluation.metrics import METRICS
from motionlab.core.model import PositionalUNet1D
from motionlab.pipeline.sampling import Trajectory, generate, sample_checkpoint, trajectory_stride

T = 10


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return PositionalUNet1D(tiny_model_config()).eval(), GaussianDiffusion(DiffusionConfig(timesteps=T))


def test_generate_is_seeded(net):
    model, diff = net
    a = generate(model, diff, 2, 16, seed=5).x
    b = generate(model, diff, 2, 16, seed=5).x
    c = generate(model, diff, 2, 16, seed=6).x
    assert a.shape == (2, 40, 16) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_generate_keeps_a_trajectory_from_noise_to_the_sample(net):
    model, diff = net
    calls = []
    run = generate(model, diff, 2, 16, seed=5, keep_trajectory=True, on_step=calls.append)
    x, traj = run.x, run.trajectory
    assert run.sampler == f"ddpm-{T}"
    assert isinstance(traj, Trajectory)
    assert len(calls) == T and [o.t for o in calls] == list(range(T - 1, -1, -1))
    assert traj.steps.tolist() == list(range(T, -1, -1))       # every state kept at this size
    assert traj.x_t.shape == traj.pred_x0.shape == (T + 1, 2, 40, 16)
    assert traj.x_t.dtype == np.float16
    np.testing.assert_allclose(traj.x_t[-1], x.numpy(), atol=1e-2)  # the last state is the sample
    np.testing.assert_allclose(traj.x_t[0], calls[0].x_t.numpy(), atol=1e-2)  # the first is the noise
    assert torch.equal(x, generate(model, diff, 2, 16, seed=5).x)  # keeping states changes nothing
    assert traj.nearest(3) == T - 3 and traj.nearest(100) == 0
    assert traj.nbytes == traj.x_t.nbytes * 2


def test_trajectory_is_thinned_to_fit_the_budget(net):
    model, diff = net
    shape = (2, 40, 16)
    per_state = 2 * 2 * int(np.prod(shape))
    budget = 5 * per_state
    k = trajectory_stride(T, shape, budget)
    assert k > 1 and (T // k + 2) * per_state <= budget
    traj = generate(model, diff, 2, 16, seed=1, keep_trajectory=True, budget=budget).trajectory
    assert traj.steps[0] == T and traj.steps[-1] == 0
    assert np.all(np.diff(traj.steps) < 0)
    assert traj.nbytes <= budget


@pytest.mark.parametrize("n,window,match", [(0, 16, "number of samples"), (65, 16, "number of samples"),
                                            (1, 7, "at least 8 frames")])
def test_generate_rejects_bad_requests(net, n, window, match):
    with pytest.raises(MotionlabError, match=match):
        generate(*net, n, window)


def test_sample_checkpoint_returns_pixels(tiny_checkpoint):
    lm = load_model(tiny_checkpoint)
    run = sample_checkpoint(lm, num_samples=3, seed=42, keep_trajectory=True)
    px, traj = run.pixels, run.trajectory
    assert px.shape == (3, 16, 40) and np.isfinite(px).all()
    assert traj.x_t.shape[1:] == (3, 40, 16)
    np.testing.assert_array_equal(px, sample_checkpoint(lm, num_samples=3, seed=42).pixels)


def test_evaluate_checkpoint_row(tiny_checkpoint):
    row = evaluate_checkpoint(tiny_checkpoint, num_samples=2, seed=42)
    assert row["tag"] == "tiny" and row["config"] == "16 / 8 / 0 / 2"
    assert set(row["metrics"]) == set(METRICS)
    assert row["baseline"]["clips"] == 11
    table = checkpoints_markdown([row])
    assert table.count("\n") == 3 and "| tiny |" in table and "↳ dataset baseline" in table


def test_dataset_baseline_and_markdown(demo):
    m = dataset_baseline(demo, 32, 16, 0)
    assert m["clips"] == (96 - 32) // 16 + 1
    md = baseline_markdown([("dataset_32x16x0", "32 / 16 / 0", m)])
    assert md.splitlines()[0].startswith("| split | window/stride/limit | coord_range")
    assert md.splitlines()[2].endswith(f"| {m['clips']} |")


# --- the command-line tools, as a user runs them -------------------------------------------------

def _run(*args, ok=True):
    p = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


@pytest.mark.slow
def test_train_sample_evaluate_end_to_end(tmp_path):
    data = str(REAL_CLIP) if REAL_CLIP.is_file() else "demo"
    run = tmp_path / "run"
    p = _run("motionlab.train", "--data", data, "--window", "64", "--stride", "32", "--limit", "32",
             "--epochs", "1", "--timesteps", "20", *TINY_MODEL_FLAGS, "--out", str(run), "--no-progress")
    summary = json.loads(p.stdout)
    assert summary["epoch"] == 1
    assert {f.name for f in run.iterdir()} >= {"best.pt", "last.pt", "metrics.jsonl"}

    out = tmp_path / "samples"
    p = _run("motionlab.sample", "--checkpoint", str(run / "best.pt"), "--num-samples", "2", "--seed", "42",
             "--out", str(out), "--gif", "--mp4", "--grid", "--fps", "20")
    files = json.loads(p.stdout)["files"]
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == [
        "sample_00.gif", "sample_00.json", "sample_00.mp4", "sample_01.gif", "sample_01.json", "sample_01.mp4",
        "samples.gif", "samples.mp4"]
    from PIL import Image
    single, grid = Image.open(out / "sample_00.gif"), Image.open(out / "samples.gif")
    assert grid.size == (2 * single.size[0], single.size[1]) and grid.n_frames == single.n_frames == 64
    clip = load_clip(out / "sample_00.json")
    assert clip.num_frames == 64 and len(clip.joints) == 20
    assert (out / "sample_00.gif").read_bytes()[:6] == b"GIF89a"
    assert (out / "sample_00.mp4").read_bytes()[4:8] == b"ftyp"

    p = _run("motionlab.evaluate", "--spec", "--checkpoints", str(run / "best.pt"), str(run / "last.pt"),
             "--num-samples", "2", "--json")
    rows = json.loads(p.stdout)
    assert [r["config"] for r in rows] == ["64 / 32 / 32 / 1"] * 2
    assert all(set(r["metrics"]) == set(METRICS) for r in rows)
    if data != "demo":
        assert rows[0]["baseline"]["clips"] == 26

    p = _run("motionlab.evaluate", "--dataset-only", "--data", data, "--window", "64", "--stride", "32",
             "--limit", "32", "--json")
    base = json.loads(p.stdout)
    assert base["clips"] == (26 if data != "demo" else 14)
    assert base == pytest.approx(rows[0]["baseline"])


@pytest.mark.parametrize("args,match", [
    (("motionlab.sample", "--checkpoint", "/nonexistent/model.pt", "--out", "OUT"), "no such checkpoint file"),
    (("motionlab.sample", "--checkpoint", "CK", "--out", "OUT", "--num-samples", "0"), "number of samples"),
    (("motionlab.sample", "--checkpoint", "CK", "--out", "OUT", "--fps", "0"), "--fps must be 1..120"),
    (("motionlab.sample", "--checkpoint", "CK", "--out", "FILE"), "cannot create output folder"),
    (("motionlab.evaluate",), "give one of --checkpoints"),
    (("motionlab.evaluate", "--checkpoints", "CK", "/nonexistent/model.pt"), "no such checkpoint file"),
    (("motionlab.evaluate", "--dataset-only", "--data", "demo", "--window", "999"), "shorter than the window"),
])
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys, tiny_checkpoint, args, match):
    from motionlab.cli import run_main
    from motionlab.evaluate import main as evaluate_main
    from motionlab.sample import main as sample_main

    (tmp_path / "file").write_text("")
    subst = {"CK": str(tiny_checkpoint), "OUT": str(tmp_path / "out"), "FILE": str(tmp_path / "file" / "sub")}
    prog, *argv = [subst.get(a, a) for a in args]
    rc = run_main(prog, {"motionlab.sample": sample_main, "motionlab.evaluate": evaluate_main}[prog], argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "\n" not in err and err.startswith(f"{prog}: error: ") and match in err


@pytest.mark.slow
def test_cli_error_exit_code_from_a_real_process(tmp_path):
    p = _run("motionlab.sample", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path), ok=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip() == f"motionlab.sample: error: {tmp_path / 'missing.pt'}: no such checkpoint file"
