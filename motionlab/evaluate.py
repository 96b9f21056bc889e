"""The evaluation protocol: dataset baselines and seeded samples from checkpoints.

    python -m motionlab.evaluate --dataset-only --data data/uptown_funk.json --window 64 --stride 32 --limit 32 --json
    python -m motionlab.evaluate --checkpoints checkpoints/*.pt --num-samples 8 --seed 42
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from .checkpoints import load_model
from .cli import resolve_clip, run_main
from .dataset import DataConfig, MotionSequenceDataset
from .errors import MotionlabError
from .metrics import METRICS, all_metrics
from .novelty import COLUMNS as NOVELTY_COLUMNS, NoveltyError, novelty, training_clip_mismatch
from .sample import sample_checkpoint

REPO = Path(__file__).resolve().parent.parent


def baseline_windows(clip, window: int, stride: int, limit: int, seed: int = 42) -> MotionSequenceDataset:
    """The training windows a baseline is measured on, as the trainer builds them."""
    if window < 2 or limit < 0:  # velocities need two frames; a negative limit is a typo, not "all"
        raise MotionlabError(f"window must be at least 2 frames and limit >= 0, got {window} and {limit}")
    return MotionSequenceDataset(clip, DataConfig(window=window, stride=stride, limit=limit, seed=seed))


def dataset_baseline(clip, window: int, stride: int, limit: int, seed: int = 42) -> dict:
    return all_metrics(baseline_windows(clip, window, stride, limit, seed).windows_pixels())


def evaluate_checkpoint(path, num_samples: int = 8, seed: int = 42, precision: str = "fp32",
                        with_novelty: bool = False, data: str | None = None) -> dict:
    """One table row: the checkpoint's sample metrics and its stored dataset baseline.

    with_novelty adds row["novelty"] (novelty_columns: against `data`, else the training clip found).
    """
    lm = load_model(path)
    px = sample_checkpoint(lm, num_samples, seed, precision)
    if not np.isfinite(px).all():
        raise MotionlabError(f"{path}: samples contain NaN or inf")
    d, t = lm.meta["data_config"], lm.meta["train_config"]
    return {"tag": t.get("tag") or "", "checkpoint": str(path),
            "config": f"{d['window']} / {d['stride']} / {d['limit']} / {lm.meta['train_config']['epochs']}",
            "window_stride_limit": (d["window"], d["stride"], d["limit"]),
            "epoch": lm.meta["epoch"], "metrics": {k: v for k, v in all_metrics(px).items() if k != "clips"},
            "baseline": lm.meta["baseline"], "num_samples": num_samples, "seed": seed, "weights": lm.weights,
            **({"novelty": novelty_columns(lm, px, data)} if with_novelty else {})}


def training_clip(lm, data: str | None = None):
    """(clip, name, reason): the clip a loaded checkpoint was trained on, for novelty.

    `data` (a clip path or 'demo') must be that clip, else MotionlabError. Without it, the
    checkpoint's own data path (as given, then under the repository) and then the default clip are
    tried; when neither is the training clip (novelty.training_clip_mismatch) clip is None and
    reason says why.
    """
    d = lm.meta["data_config"]
    if data is not None:
        clip, name = resolve_clip(data, quiet=True)
        why = training_clip_mismatch(clip, d, lm.joints, lm.mean)
        if why:
            raise MotionlabError(f"{name} is not the clip {lm.path} was trained on: {why}")
        return clip, name, ""
    src = str(d.get("data") or "")
    tries = ["demo"] if src == "demo" else [str(p) for p in (Path(src), REPO / src) if src and p.is_file()][:1]
    for spec in dict.fromkeys([*tries, None]):
        try:
            clip, name = resolve_clip(spec, quiet=True)
        except MotionlabError:
            continue
        if not training_clip_mismatch(clip, d, lm.joints, lm.mean):
            return clip, name, ""
    return None, "", f"its training clip ({src or 'unknown'}) is not here; pass --data with that clip"


def novelty_columns(lm, pixels, data: str | None = None) -> dict:
    """NoveltyResult.to_dict() of samples against the training clip, plus 'clip' (its name);
    {'error': reason} when that clip is not here or gives no novelty (too short, ...)."""
    clip, name, why = training_clip(lm, data)
    if clip is None:
        return {"error": why}
    try:
        return {**novelty(pixels, clip.channels).to_dict(), "clip": name}
    except NoveltyError as e:
        return {"error": str(e)}


def fmt(v) -> str:
    """Two decimals, as the spec's tables; 'n/a' for a missing or non-finite value."""
    return f"{v:.2f}" if isinstance(v, (int, float)) and math.isfinite(v) else "n/a"


def baseline_markdown(rows: list[tuple[str, str, dict]]) -> str:
    lines = ["| split | window/stride/limit | " + " | ".join(METRICS) + " | clips |",
             "| --- | --- | " + " | ".join("---" for _ in METRICS) + " | --- |"]
    for name, cfg, m in rows:
        lines.append(f"| {name} | {cfg} | " + " | ".join(fmt(m[k]) for k in METRICS) + f" | {m['clips']} |")
    return "\n".join(lines)


def checkpoints_markdown(rows: list[dict], baselines: bool = True, extra: tuple = ()) -> str:
    """The spec's "Model checkpoints evaluated" table; rows have tag, checkpoint, config, metrics
    (and baseline, printed under each row when `baselines`). `extra` names columns of
    row["novelty"] printed after the six (blank on baseline rows)."""
    tail = "".join(f" {k} |" for k in extra)
    lines = ["| tag | checkpoint | training config (window / stride / limit / epochs) | "
             + " | ".join(METRICS) + " |" + tail,
             "| --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " |" + " --- |" * len(extra)]
    for r in rows:
        lines.append(f"| {r['tag']} | `{r['checkpoint']}` | {r['config']} | "
                     + " | ".join(fmt(r["metrics"][k]) for k in METRICS) + " |"
                     + "".join(f" {fmt(r.get('novelty', {}).get(k))} |" for k in extra))
        if baselines:
            lines.append(f"| ↳ dataset baseline | | {r['baseline']['clips']} clips | "
                         + " | ".join(fmt(r["baseline"][k]) for k in METRICS) + " |" + "  |" * len(extra))
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
    p.add_argument("--no-novelty", action="store_true",
                   help="leave out novelty and coverage (by default computed against the training clip: --data, "
                        "else the checkpoint's own clip)")
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
    rows = [evaluate_checkpoint(c, a.num_samples, a.seed, a.precision, not a.no_novelty, a.data)
            for c in a.checkpoints]
    for r in rows:
        if r.get("novelty", {}).get("error"):
            print(f"motionlab.evaluate: note: no novelty for {r['checkpoint']}: {r['novelty']['error']}", file=sys.stderr)
    extra = () if a.no_novelty else NOVELTY_COLUMNS
    print(json.dumps(rows, indent=1) if a.json else checkpoints_markdown(rows, extra=extra))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.evaluate", main))
