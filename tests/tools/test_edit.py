"""python -m motionlab.edit: the files an in-between writes (exports and a report) and its one-line errors."""
import json
import subprocess
import sys

import numpy as np

from conftest import REPO
from motionlab.core.samplers import SamplerChoice


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "motionlab.edit", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_cli_inbetween_writes_exports_and_a_report(tiny_checkpoint, tmp_path):
    r = _cli("inbetween", "--checkpoint", tiny_checkpoint, "--data", "demo", "--from", 40, "--to", 46,
             "--context", 3, "--out", tmp_path, "--export", "json,openpose,csv,npy", "--fps", 15)
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "edit_report.json").read_text())
    assert rep["task"] == "inbetween" and [s["frame"] for s in rep["seam"]["seams"]] == [3, 8]
    assert "seam @3" in r.stderr
    assert (tmp_path / "inbetween_00_30fps.json").is_file()
    arr = np.load(tmp_path / "inbetween_00_15fps.npy")
    assert arr.shape == (6, 20, 2)  # 11 frames at 30 fps span 1/3 s: 6 frames at 15 fps
    assert len(list((tmp_path / "inbetween_00_15fps_openpose").glob("*_keypoints.json"))) == 6


def test_cli_errors_are_one_line(tiny_checkpoint, tmp_path):
    r = _cli("inbetween", "--checkpoint", tiny_checkpoint, "--data", "demo", "--out", tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "motionlab.edit: error: inbetween needs --from and --to"
    r = _cli("regen", "--checkpoint", tiny_checkpoint, "--data", "demo", "--at", 99999, "--out", tmp_path)
    assert r.returncode == 2 and "outside the motion" in r.stderr and "Traceback" not in r.stderr
    r = _cli("long", "--checkpoint", tiny_checkpoint, "--data", "demo", "--export", "webm", "--out", tmp_path)
    assert r.returncode == 2 and "unknown format 'webm'" in r.stderr


def test_every_release_edits_with_its_defaults(tmp_path):
    """The defaults resample (RePaint) and a release's sampling pick may not allow it (edm with churn):
    editing then takes the study's closest setting that does, and says which."""
    for ck in sorted((REPO / "checkpoints").glob("*/model.pt")):
        r = _cli("inbetween", "--checkpoint", ck, "--data", "demo", "--from", 20, "--to", 26, "--num-samples", 1,
                 "--out", tmp_path / ck.parent.name, "--export", "json")
        assert r.returncode == 0, (ck, r.stderr)
        assert SamplerChoice.from_label(json.loads(r.stdout.strip().splitlines()[-1])["sampler"], 400).rewindable
