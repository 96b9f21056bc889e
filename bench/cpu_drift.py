"""How far the spec protocol's figures move between CPU kinds and thread counts; prints JSON.

    python bench/cpu_drift.py [--checkpoint checkpoints/baseline_1epoch/model.pt]

Each configuration evaluates the checkpoint (8 samples, seed 42, the spec's sampler) in a fresh
process with a forced instruction set (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA,
MKL_ENABLE_INSTRUCTIONS) and thread count. The output gives each run's metrics and the largest
relative difference of any metric from the native run: the tolerance tests/studies/test_report.py allows
for a committed figure is sized from it.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISAS = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                               "MKL_ENABLE_INSTRUCTIONS": "AVX2"}}
CHILD = """
import json, sys, torch
from motionlab.evaluate import evaluate_checkpoint
r = evaluate_checkpoint(sys.argv[1], num_samples=8, seed=42)
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
                  "metrics": r["metrics"]}))
"""


def run(checkpoint: str, isa: str, threads: int) -> dict:
    env = {**os.environ, **ISAS[isa], "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", CHILD, checkpoint], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return {"isa": isa, **json.loads(out.strip().splitlines()[-1])}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="checkpoints/baseline_1epoch/model.pt")
    a = p.parse_args()
    runs = [run(a.checkpoint, isa, th) for isa in ISAS for th in (1, 2)]
    ref = runs[0]["metrics"]
    for r in runs:
        r["max_rel_diff"] = max(abs(r["metrics"][k] - ref[k]) / abs(ref[k]) for k in ref)
    print(json.dumps({"checkpoint": a.checkpoint, "reference": "native, 1 thread", "runs": runs,
                      "max_rel_diff": max(r["max_rel_diff"] for r in runs)}, indent=1))


if __name__ == "__main__":
    main()
