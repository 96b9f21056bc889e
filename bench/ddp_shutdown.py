"""Whether two-rank torchrun runs end as they should, run after run (prints JSON).

    python bench/ddp_shutdown.py --runs 50            # finished runs: torchrun exits 0 every time
    python bench/ddp_shutdown.py --runs 20 --kill     # rank 1 SIGKILLed at epoch 3: rank 0 says so, last.pt intact

Each run is tests/pipeline/test_distributed.py's two-rank case: `torchrun --standalone --nproc-per-node 2 -m motionlab.train`
on the tiny model, 96-frame demo clip, saving every epoch (4 epochs, or until the kill). A finished run fails
when torchrun exits non-zero (before the shutdown fix: 'terminate called without an active exception' on
one rank, about one run in three to ten); a killed run fails when rank 0's one-line error is missing
(before the fix torchrun's SIGTERM cut it short) or last.pt does not load. The JSON names each failure
and the lines of its stderr that say why.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from motionlab.data.clip import save_clip  # noqa: E402
from motionlab.data.demo import demo_clip  # noqa: E402
from motionlab.formats.checkpoints import read_checkpoint  # noqa: E402
from motionlab.testing import TINY_MODEL_FLAGS, torchrun_workers  # noqa: E402

KILLED = "motionlab.train: error: rank 0: training stopped, another rank failed"


def _command(clip: Path, out: Path, ranks: int, epochs: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
            "-m", "motionlab.train", "--data", str(clip), "--window", "16", "--stride", "8", "--limit", "0",
            "--batch-size", "5", "--timesteps", "10", *TINY_MODEL_FLAGS, "--dropout", "0", "--epochs", str(epochs),
            "--save-every", "1", "--no-progress", "--out", str(out)]


def _finished(cmd, env) -> tuple[bool, str]:
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return r.returncode == 0, r.stderr


def _killed(cmd, env, out: Path) -> tuple[bool, str]:
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ranks = torchrun_workers(p.pid, 2)
        log, end = out / "metrics.jsonl", time.time() + 120
        while not log.is_file() or log.read_text().count("\n") < 3:
            if p.poll() is not None or time.time() > end:
                return False, "the run ended or stalled before epoch 3"
            time.sleep(0.2)
        os.kill(ranks[1], signal.SIGKILL)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    try:
        read_checkpoint(out / "last.pt")
    except Exception as e:  # noqa: BLE001  (reported, not raised)
        return False, f"last.pt: {e}"
    return p.returncode != 0 and KILLED in err, err


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--kill", action="store_true", help="SIGKILL rank 1 at epoch 3 instead of finishing")
    a = p.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    failures, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "demo96.json"
        save_clip(demo_clip(frames=96), clip)
        for i in range(a.runs):
            out = Path(tmp) / f"run{i}"
            t0 = time.perf_counter()
            cmd = _command(clip, out, 2, 10_000 if a.kill else 4)
            ok, err = _killed(cmd, env, out) if a.kill else _finished(cmd, env)
            seconds.append(time.perf_counter() - t0)
            if not ok:
                why = [ln for ln in err.splitlines() if any(w in ln for w in ("terminate", "rror", "Signal", "last.pt"))]
                failures.append({"run": i + 1, "stderr": why[:6]})
    print(json.dumps({"runs": a.runs, "mode": "kill rank 1" if a.kill else "finish", "failures": len(failures),
                      "failed_runs": failures, "total_seconds": round(sum(seconds), 1),
                      "seconds_per_run": round(sum(seconds) / a.runs, 2), "load_average": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
