"""The evaluation protocol: dataset baselines and seeded samples from checkpoints.

    python -m motionlab.evaluate --dataset-only --data data/uptown_funk.json --window 64 --stride 32 --limit 32 --json
    python -m motionlab.evaluate --checkpoints checkpoints/*.pt --num-samples 8 --seed 42
    python -m motionlab.evaluate --dataset-only --checkpoints runs/NAME/best.pt   # its windows, rebuilt
"""
from __future__ import annotations

import argparse
import json
import sys

from motionlab.evaluation import baselines
from motionlab.cli import add_sampling_args, run_main, sampling_from_args
from motionlab.core.samplers import SPEC_SAMPLER
from motionlab.data.clipset import resolve_clips
from motionlab.data.dataset import MotionSequenceDataset
from motionlab.errors import MotionlabError
from motionlab.evaluation.markdown import baseline_markdown, checkpoints_markdown
from motionlab.evaluation.novelty import COLUMNS as NOVELTY_COLUMNS
from motionlab.formats.checkpoints import read_checkpoint
from motionlab.pipeline.evaluating import baseline_rows, baseline_windows, checkpoint_windows, evaluate_checkpoint


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--dataset-only", action="store_true", help="print the dataset baseline row only")
    p.add_argument("--data", nargs="+", default=None,
                   help="clip JSON files, folders of them or .txt manifests, or 'demo' (default: "
                        "data/uptown_funk.json, else demo); with --dataset-only --checkpoints, where the clips are")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--stride", type=int, default=32)
    p.add_argument("--limit", type=int, default=32)
    p.add_argument("--checkpoints", nargs="+", default=[])
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    # the spec's protocol by default: its sampler, fp32 (threads only change summation order)
    add_sampling_args(p, SPEC_SAMPLER, precision_default="fp32")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-novelty", action="store_true",
                   help="leave out novelty and coverage (by default computed against the training clip: --data, "
                        "else the checkpoint's own clip)")
    a = p.parse_args(argv)
    if a.dataset_only and a.checkpoints:  # rebuild each checkpoint's own windows from its clips
        rows = []
        for c in a.checkpoints:
            meta = read_checkpoint(c)
            ds = checkpoint_windows(meta, a.data)
            d = ds.cfg
            rows.append((c, ds, baseline_rows(ds, f"`{c}`", f"{d.window} / {d.stride} / {d.limit}")))
        if a.json:
            print(json.dumps([{"checkpoint": c, **_baseline_json(ds)} for c, ds, _ in rows], indent=1))
        else:
            print(baseline_markdown([r for _, _, rs in rows for r in rs]))
        return 0
    if a.dataset_only:
        clips, _ = resolve_clips(a.data, min_frames=a.window)
        ds = baseline_windows(clips, a.window, a.stride, a.limit)
        if a.json:
            print(json.dumps(_baseline_json(ds)))
        else:
            print(baseline_markdown(baseline_rows(ds, f"dataset_{a.window}x{a.stride}x{a.limit}",
                                                  f"{a.window} / {a.stride} / {a.limit}")))
        return 0
    if not a.checkpoints:
        raise MotionlabError("give --checkpoints PATH ... or --dataset-only")
    choice = sampling_from_args(a)
    rows = [evaluate_checkpoint(c, a.num_samples, a.seed, a.precision, choice, a.threads, not a.no_novelty, a.data)
            for c in a.checkpoints]
    for r in rows:
        if r.get("novelty", {}).get("error"):
            print(f"motionlab.evaluate: note: no novelty for {r['checkpoint']}: {r['novelty']['error']}", file=sys.stderr)
    extra = () if a.no_novelty else NOVELTY_COLUMNS
    print(json.dumps(rows, indent=1) if a.json else checkpoints_markdown(rows, extra=extra))
    return 0


def _baseline_json(ds: MotionSequenceDataset) -> dict:
    """The pooled metrics; with several clips also per_clip (name, frames, sha256, windows, baseline)."""
    m = baselines.baseline(ds)
    return {**m, "per_clip": baselines.clip_records(ds)} if len(ds.clips) > 1 else m


if __name__ == "__main__":
    sys.exit(run_main("motionlab.evaluate", main))
