"""Shrink a run's last.pt so the device tool can carry it back, and the run can go on elsewhere.

    python scripts/resume_state.py pack RUN/last.pt state.pt    # on the GPU: Adam moments to bf16

Copy state.pt to NEW_RUN/last.pt (with metrics.jsonl) and resume there with `motionlab.train --resume`:
loading casts the moments back to fp32 and fits the optimizer to the new device.

A last.pt of the default net is 113 MiB (fp32 weights and two fp32 Adam moments); the tool brings back
64 MiB a call. bf16 moments make it 75 MiB, two calls. Weights stay fp32: an Adam step (about lr,
2e-4) is below bf16's resolution for most weights. The moments keep 8 bits of mantissa, so step sizes
move by under 1%, and the error fades as the moments update.
"""
import argparse
import sys
from pathlib import Path

import torch

from motionlab.formats.checkpoints import read_checkpoint, save_checkpoint
from motionlab.errors import CheckpointError


def pack(src: str, dst: str) -> dict:
    try:
        ck = read_checkpoint(src)
    except CheckpointError as e:
        sys.exit(str(e))
    if "optimizer_state" not in ck:
        sys.exit(f"{src}: not a resumable motionlab last.pt (no optimizer state)")
    for state in ck["optimizer_state"]["state"].values():
        for k in ("exp_avg", "exp_avg_sq"):
            state[k] = state[k].to(torch.bfloat16)
    save_checkpoint(dst, ck)
    return ck


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("pack",))
    p.add_argument("src")
    p.add_argument("dst")
    a = p.parse_args()
    ck = pack(a.src, a.dst)
    print(f"{a.dst}: epoch {ck['epoch']}, best loss {ck['best_loss']:.5f} at epoch {ck['best_epoch']}, "
          f"{Path(a.dst).stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
