"""The evaluation protocol: dataset baselines and seeded samples from checkpoints.

    python -m motionlab.evaluate --dataset-only --data data/uptown_funk.json --window 64 --stride 32 --limit 32 --json
    python -m motionlab.evaluate --checkpoints checkpoints/*.pt --num-samples 8 --seed 42
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from .checkpoints import load_model
from .cli import resolve_clip, run_main
from .dataset import DataConfig, MotionSequenceDataset
from .errors import MotionlabError
from .metrics import METRICS, all_metrics
from .sample import sample_checkpoint


def baseline_windows(clip, window: int, stride: int, limit: int, seed: int = 42) -> MotionSequenceDataset:
    """The training windows a baseline is measured on, as the trainer builds them."""
    if window < 2 or limit < 0:  # velocities need two frames; a negative limit is a typo, not "all"
        raise MotionlabError(f"window must be at least 2 frames and limit >= 0, got {window} and {limit}")
    return MotionSequenceDataset(clip, DataConfig(window=window, stride=stride, limit=limit, seed=seed))


def dataset_baseline(clip, window: int, stride: int, limit: int, seed: int = 42) -> dict:
    return all_metrics(baseline_windows(clip, window, stride, limit, seed).windows_pixels())


def evaluate_checkpoint(path, num_samples: int = 8, seed: int = 42, precision: str = "fp32") -> dict:
    """One table row: the checkpoint's sample metrics and its stored dataset baseline."""
    lm = load_model(path)
    px = sample_checkpoint(lm, num_samples, seed, precision)
    if not np.isfinite(px).all():
        raise MotionlabError(f"{path}: samples contain NaN or inf")
    d, t = lm.meta["data_config"], lm.meta["train_config"]
    return {"tag": t.get("tag") or "", "checkpoint": str(path),
            "config": f"{d['window']} / {d['stride']} / {d['limit']} / {lm.meta['train_config']['epochs']}",
            "window_stride_limit": (d["window"], d["stride"], d["limit"]),
            "epoch": lm.meta["epoch"], "metrics": {k: v for k, v in all_metrics(px).items() if k != "clips"},
            "baseline": lm.meta["baseline"], "num_samples": num_samples, "seed": seed}


def fmt(v) -> str:
    """Two decimals, as the spec's tables; 'n/a' for a missing or non-finite value."""
    return f"{v:.2f}" if isinstance(v, (int, float)) and math.isfinite(v) else "n/a"


def baseline_markdown(rows: list[tuple[str, str, dict]]) -> str:
    lines = ["| split | window/stride/limit | " + " | ".join(METRICS) + " | clips |",
             "| --- | --- | " + " | ".join("---" for _ in METRICS) + " | --- |"]
    for name, cfg, m in rows:
        lines.append(f"| {name} | {cfg} | " + " | ".join(fmt(m[k]) for k in METRICS) + f" | {m['clips']} |")
    return "\n".join(lines)


def checkpoints_markdown(rows: list[dict], baselines: bool = True) -> str:
    """The spec's "Model checkpoints evaluated" table; rows have tag, checkpoint, config, metrics
    (and baseline, printed under each row when `baselines`)."""
    lines = ["| tag | checkpoint | training config (window / stride / limit / epochs) | "
             + " | ".join(METRICS) + " |", "| --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " |"]
    for r in rows:
        lines.append(f"| {r['tag']} | `{r['checkpoint']}` | {r['config']} | "
                     + " | ".join(fmt(r["metrics"][k]) for k in METRICS) + " |")
        if baselines:
            lines.append(f"| ↳ dataset baseline | | {r['baseline']['clips']} clips | "
                         + " | ".join(fmt(r["baseline"][k]) for k in METRICS) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--dataset-only", action="store_true", help="print the dataset baseline row only")
    p.add_argument("--data", default=None, help="clip JSON or 'demo' (default: data/uptown_funk.json, else demo)")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--stride", type=int, default=32)
    p.add_argument("--limit", type=int, default=32)
    p.add_argument("--checkpoints", nargs="+", default=[])
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.dataset_only:
        clip, name = resolve_clip(a.data, min_frames=a.window)
        m = dataset_baseline(clip, a.window, a.stride, a.limit)
        if a.json:
            print(json.dumps(m))
        else:
            print(baseline_markdown([(f"dataset_{a.window}x{a.stride}x{a.limit}",
                                      f"{a.window} / {a.stride} / {a.limit}", m)]))
        return 0
    if not a.checkpoints:
        raise MotionlabError("give --checkpoints PATH ... or --dataset-only")
    rows = [evaluate_checkpoint(c, a.num_samples, a.seed, a.precision) for c in a.checkpoints]
    print(json.dumps(rows, indent=1) if a.json else checkpoints_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.evaluate", main))
