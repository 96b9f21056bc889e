"""What every command-line tool shares (motionlab.cli): train -> sample -> evaluate as a user runs them, exit
code 2 with one stderr line `prog: error: ...` and no traceback for bad input, in-process and as real processes,
and clips with odd but valid joint names through all three."""
import json
import os
import subprocess
import sys

import pytest

from clip_files import VALID, WINDOW, eval_argv, expected, train_argv
from conftest import REAL_CLIP, REPO, TINY_MODEL_FLAGS, assert_one_line_error
from motionlab import evaluate as evaluate_mod
from motionlab import sample as sample_mod
from motionlab import train as train_mod
from motionlab.cli import run_main
from motionlab.data.clip import load_clip
from motionlab.evaluation.metrics import METRICS
from motionlab.formats.checkpoints import read_checkpoint


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


# -- a corpus of malformed clip files (clip_files.CORPUS) as real processes ------------------------------

def _env():
    # one OpenMP thread: these runs only reach the error path, and 7 of them share 2 cores
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("PYTHONSTARTUP", None)
    return env


SUBPROCESS_TRAIN = ["empty", "nan", "nested_lists_100k", "frames_50000"]


SUBPROCESS_EVAL = ["utf16", "duplicate_keys", "oversized"]


@pytest.mark.slow
def test_real_subprocesses_exit_2_with_one_line(corpus, tmp_path):
    """`python -m motionlab.train/evaluate` on a representative subset, all started at once."""
    procs = []
    for name in SUBPROCESS_TRAIN:
        argv = [sys.executable, "-m", "motionlab.train", *train_argv(corpus[name], tmp_path / name)]
        procs.append(("motionlab.train", name, subprocess.Popen(argv, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                                                                  stderr=subprocess.PIPE, text=True)))
    for name in SUBPROCESS_EVAL:
        argv = [sys.executable, "-m", "motionlab.evaluate", *eval_argv(corpus[name])]
        procs.append(("motionlab.evaluate", name, subprocess.Popen(argv, cwd=REPO, env=_env(),
                                                                     stdout=subprocess.PIPE,
                                                                     stderr=subprocess.PIPE, text=True)))
    for prog, name, p in procs:
        out, err = p.communicate(timeout=120)
        assert_one_line_error(p.returncode, err, prog, corpus[name], expected(name, cli=True))
        assert out == "", (name, out)


def test_non_ascii_joint_names_survive_train_sample_and_reload(tmp_path, capsys):
    p = tmp_path / "names.json"
    p.write_bytes(VALID["non_ascii_names"])
    names = tuple(sorted(json.loads(VALID["non_ascii_names"])))
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, train_argv(p, out)) == 0
    assert run_main("motionlab.evaluate", evaluate_mod.main, eval_argv(p)) == 0
    ck = read_checkpoint(out / "best.pt")
    assert tuple(ck["joints"]) == names
    assert run_main("motionlab.sample", sample_mod.main,
                    ["--checkpoint", str(out / "best.pt"), "--num-samples", "2", "--out", str(tmp_path / "s")]) == 0
    back = load_clip(tmp_path / "s" / "sample_01.json")
    assert back.joints == names and back.num_frames == WINDOW
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error" not in err
