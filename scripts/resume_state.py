"""Move a run's last.pt between machines when the device tool cannot carry it whole.

    python scripts/resume_state.py pack   RUN/last.pt  state.pt   # on the GPU: Adam moments to bf16
    python scripts/resume_state.py unpack state.pt     RUN/last.pt  # here: fp32 moments, CPU optimizer

A last.pt of the default net is 113 MiB (fp32 weights and two fp32 Adam moments); the tool brings back
64 MiB a call. bf16 moments make it 75 MiB, two calls. Weights stay fp32: an Adam step (about lr,
2e-4) is below bf16's resolution for most weights. The moments keep 8 bits of mantissa, so step sizes
move by under 1%, and the error fades as the moments update.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from motionlab.checkpoints import save_checkpoint  # noqa: E402

MOMENTS = ("exp_avg", "exp_avg_sq")


def convert(src: str, dst: str, dtype: torch.dtype, capturable: bool | None) -> dict:
    try:  # a CUDA run saves CUDA optimizer tensors
        ck = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:
        sys.exit(f"{src}: cannot be read as a checkpoint ({' '.join(str(e).split())[:120]})")
    if not isinstance(ck, dict) or ck.get("format") != "motionlab-checkpoint" or "optimizer_state" not in ck:
        sys.exit(f"{src}: not a resumable motionlab last.pt")
    opt = ck["optimizer_state"]
    for state in opt["state"].values():
        for k in MOMENTS:
            state[k] = state[k].to(dtype)
    if capturable is not None:  # a CUDA-graph run's Adam is capturable; a CPU Adam must not be
        for g in opt["param_groups"]:
            g["capturable"] = capturable
    save_checkpoint(dst, ck)
    return ck


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("pack", "unpack"))
    p.add_argument("src")
    p.add_argument("dst")
    a = p.parse_args()
    dtype, capturable = (torch.bfloat16, None) if a.mode == "pack" else (torch.float32, False)
    ck = convert(a.src, a.dst, dtype, capturable)
    print(f"{a.dst}: epoch {ck['epoch']}, best loss {ck['best_loss']:.5f} at epoch {ck['best_epoch']}, "
          f"{Path(a.dst).stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
