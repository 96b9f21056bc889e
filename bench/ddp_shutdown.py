"""Whether a finished torchrun run exits cleanly on every rank, run after run (prints JSON).

    python bench/ddp_shutdown.py --runs 50

Each run is tests/test_ddp.py's two-rank case: `torchrun --standalone --nproc-per-node 2 -m motionlab.train`
on the tiny model, 96-frame demo clip, 4 epochs, saving every epoch. A run fails when torchrun exits
non-zero; the JSON names each failure and the lines of its stderr that say why (before the shutdown fix,
'terminate called without an active exception' on one rank, about one run in three to ten).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from motionlab.data.clip import save_clip  # noqa: E402
from motionlab.data.demo import demo_clip  # noqa: E402
from motionlab.testing import TINY_MODEL_FLAGS  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--ranks", type=int, default=2)
    a = p.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    failures, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "demo96.json"
        save_clip(demo_clip(frames=96), clip)
        for i in range(a.runs):
            out = Path(tmp) / f"run{i}"
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(a.ranks),
                   "-m", "motionlab.train", "--data", str(clip), "--window", "16", "--stride", "8", "--limit", "0",
                   "--batch-size", "5", "--timesteps", "10", *TINY_MODEL_FLAGS, "--dropout", "0", "--epochs", "4",
                   "--save-every", "1", "--no-progress", "--out", str(out)]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            seconds.append(time.perf_counter() - t0)
            if r.returncode != 0:
                why = [ln for ln in r.stderr.splitlines() if "terminate" in ln or "Error" in ln or "Signal" in ln]
                failures.append({"run": i + 1, "returncode": r.returncode, "stderr": why[:6]})
    print(json.dumps({"runs": a.runs, "ranks": a.ranks, "failures": len(failures), "failed_runs": failures,
                      "total_seconds": round(sum(seconds), 1), "seconds_per_run": round(sum(seconds) / a.runs, 2),
                      "load_average": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
