"""python -m motionlab.sample: bad arguments, an output folder under a file, a missing checkpoint and argparse's
own errors exit 2 with one stderr line and no traceback."""
import re

import pytest

from conftest import assert_cli_error
from motionlab import sample as sample_mod
from motionlab.cli import run_main


BAD_SAMPLE_ARGS = {
    "zero_samples": (["--num-samples", "0"], r"number of samples must be 1\.\.64"),
    "negative_samples": (["--num-samples", "-3"], r"number of samples must be 1\.\.64"),
    "too_many_samples": (["--num-samples", "65"], r"number of samples must be 1\.\.64"),
    "fps_zero": (["--fps", "0"], r"--fps must be 1\.\.120"),
    "fps_huge": (["--fps", "100000"], r"--fps must be 1\.\.120"),
    "seed_2_70": (["--seed", str(2**70)], r"seed must be a 64-bit integer"),
    "seed_minus_2_70": (["--seed", str(-2**70)], r"seed must be a 64-bit integer"),
}


@pytest.mark.parametrize("name", sorted(BAD_SAMPLE_ARGS))
def test_bad_sample_arguments_exit_2(name, tiny_checkpoint, tmp_path, capsys):
    extra, pattern = BAD_SAMPLE_ARGS[name]
    out = tmp_path / "s"
    rc = run_main("motionlab.sample", sample_mod.main,
                  ["--checkpoint", str(tiny_checkpoint), "--num-samples", "2", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert len(err.splitlines()) == 1 and re.search(pattern, err), err
    assert not list(out.glob("*.json")) if out.exists() else True


def test_sample_out_under_a_file_and_missing_checkpoint(tiny_checkpoint, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = run_main("motionlab.sample", sample_mod.main,
                  ["--checkpoint", str(tiny_checkpoint), "--out", str(blocker / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.splitlines()) == 1 and "cannot create output folder" in err
    rc = run_main("motionlab.sample", sample_mod.main, ["--checkpoint", str(tmp_path / "nope.pt"), "--out", "x"])
    assert_cli_error(rc, capsys.readouterr().err, "motionlab.sample", tmp_path / "nope.pt", "no such checkpoint")


def test_argparse_errors_exit_2_without_traceback(tiny_checkpoint, capsys):
    for argv in (["--checkpoint", str(tiny_checkpoint), "--out", "x", "--num-samples", "abc"],
                 ["--checkpoint", str(tiny_checkpoint)],
                 ["--checkpoint", str(tiny_checkpoint), "--out", "x", "--precision", "fp8"]):
        with pytest.raises(SystemExit) as e:
            run_main("motionlab.sample", sample_mod.main, argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.splitlines()[-1].startswith("python -m motionlab.sample: error:")
