"""scripts/resume_state.py: a CUDA-graph run's last.pt, shrunk to bf16 moments, resumes on the CPU."""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import REPO, tiny_trainer
from motionlab.formats.checkpoints import read_checkpoint, save_checkpoint

SCRIPT = REPO / "scripts" / "resume_state.py"


def _script(*args):  # a script's own folder is on its sys.path, not the checkout: name it
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_a_packed_graph_run_resumes_with_moments_within_bf16_rounding(tmp_path, demo):
    gpu, cpu = tmp_path / "gpu", tmp_path / "cpu"
    tiny_trainer(gpu, demo, epochs=2).run(progress=False)
    ck = read_checkpoint(gpu / "last.pt")
    for g in ck["optimizer_state"]["param_groups"]:
        g["capturable"] = True  # as a --cuda-graph run saves it
    save_checkpoint(gpu / "last.pt", ck)
    before = ck["optimizer_state"]["state"]

    cpu.mkdir()
    r = _script("pack", str(gpu / "last.pt"), str(cpu / "last.pt"))
    assert r.returncode == 0, r.stderr
    assert "epoch 2" in r.stdout
    packed = read_checkpoint(cpu / "last.pt")
    assert {v["exp_avg_sq"].dtype for v in packed["optimizer_state"]["state"].values()} == {torch.bfloat16}
    assert all(v.dtype == torch.float32 for v in packed["model_state"].values())  # weights kept whole
    shutil.copyfile(gpu / "metrics.jsonl", cpu / "metrics.jsonl")

    tr = tiny_trainer(cpu, demo, epochs=3)
    assert tr.resume() and tr.epoch == 2
    assert not any(g["capturable"] for g in tr.opt.param_groups)
    for i, p in enumerate(tr.model.parameters()):
        for k in ("exp_avg", "exp_avg_sq"):
            assert tr.opt.state[p][k].dtype == torch.float32
            torch.testing.assert_close(tr.opt.state[p][k], before[i][k], rtol=2 ** -8, atol=0)
    assert tr.run(progress=False)["epoch"] == 3


@pytest.mark.slow
def test_pack_refuses_a_file_without_optimizer_state(tmp_path, demo):
    tiny_trainer(tmp_path, demo, epochs=1).run(progress=False)
    r = _script("pack", str(tmp_path / "best.pt"), str(tmp_path / "state.pt"))
    assert r.returncode == 1 and "not a resumable motionlab last.pt" in r.stderr
    assert not (tmp_path / "state.pt").exists()


@pytest.mark.slow
def test_a_truncated_file_gets_one_line_and_leaves_dst_alone(tmp_path, demo):
    tiny_trainer(tmp_path, demo, epochs=1).run(progress=False)
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "state.pt").write_bytes(b"kept")
    r = _script("pack", str(tmp_path / "cut.pt"), str(tmp_path / "state.pt"))
    assert r.returncode == 1 and "not a readable checkpoint" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / "state.pt").read_bytes() == b"kept"
