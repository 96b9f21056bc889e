"""How closely a DDP run on gloo CPU ranks follows the single-process loss curve (prints JSON).

    python bench/ddp_match.py --ranks 2 --epochs 10

Each case trains the tiny test model twice, `python -m motionlab.train` and `torchrun --nproc-per-node R`,
with the same global batch and seed, and reports the largest relative difference of an epoch loss and
of a final weight. The tests' tolerance (tests/pipeline/test_distributed.py) is set from these figures.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TINY = ["--base-channels", "16", "--channel-mults", "1,2", "--time-dim", "32", "--timesteps", "10", "--dropout", "0"]
CASES = {
    "batch8": ["--batch-size", "8"],
    "batch5_ragged": ["--batch-size", "5"],
    "vel_jitter_mirror": ["--batch-size", "8", "--vel-weight", "0.1", "--jitter", "--mirror"],
    "seed7_batch16": ["--batch-size", "16", "--seed", "7"],
}


def losses(run: Path) -> list[float]:
    return [json.loads(ln)["loss"] for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--epochs", type=int, default=10)
    a = p.parse_args()
    import torch
    from motionlab.formats.checkpoints import read_checkpoint
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in CASES.items():
            args = ["--data", "demo", "--window", "16", "--stride", "8", "--limit", "0", *TINY, *extra,
                    "--epochs", str(a.epochs), "--no-progress"]
            one, many = Path(tmp) / f"{name}_1", Path(tmp) / f"{name}_{a.ranks}"
            subprocess.run([sys.executable, "-m", "motionlab.train", *args, "--out", str(one)], env=env, check=True,
                           capture_output=True, timeout=600)
            subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                            str(a.ranks), "-m", "motionlab.train", *args, "--out", str(many)], env=env, check=True,
                           capture_output=True, timeout=600)
            la, lb = losses(one), losses(many)
            wa = read_checkpoint(one / "last.pt")["model_state"]
            wb = read_checkpoint(many / "last.pt")["model_state"]
            w_rel = max(float((wa[k] - wb[k]).abs().max() / wa[k].abs().max().clamp_min(1e-12)) for k in wa)
            out[name] = {"epochs": len(la), "max_rel_loss_diff": max(abs(x - y) / abs(x) for x, y in zip(la, lb)),
                         "max_rel_weight_diff": w_rel, "first_losses": [la[0], lb[0]]}
    print(json.dumps({"ranks": a.ranks, "torch": torch.__version__, "cases": out}, indent=1))


if __name__ == "__main__":
    main()
