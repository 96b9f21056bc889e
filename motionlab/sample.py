"""Seeded sampling from a checkpoint, with any sampler.

    python -m motionlab.sample --checkpoint checkpoints/long_10000/model.pt --num-samples 8 --seed 42 --out samples/ --gif
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from motionlab.cli import add_sampling_args, run_main, sampling_from_args
from motionlab.pipeline.defaults import faithful_default
from motionlab.data.clip import clip_from_channels, save_clip
from motionlab.errors import MotionlabError
from motionlab.formats.checkpoints import load_model
from motionlab.pipeline.sampling import sample_checkpoint
from motionlab.formats.render import write_video


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.sample", description="Sample motion clips from a checkpoint.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True)
    add_sampling_args(p, None)
    p.add_argument("--gif", action="store_true")
    p.add_argument("--mp4", action="store_true")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--grid", action="store_true", help="also one side-by-side video of all samples (samples.gif/.mp4)")
    a = p.parse_args(argv)
    choice = sampling_from_args(a) or faithful_default(a.checkpoint).choice
    if not 1 <= a.fps <= 120:
        raise MotionlabError(f"--fps must be 1..120, got {a.fps}")
    lm = load_model(a.checkpoint)
    out = Path(a.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MotionlabError(f"cannot create output folder {out}: {e.strerror}") from None
    run = sample_checkpoint(lm, a.num_samples, a.seed, sampler=choice, precision=a.precision, threads=a.threads)
    px = run.pixels
    if not np.isfinite(px).all():  # such files would not load back as clips
        raise MotionlabError(f"{a.checkpoint}: samples contain NaN or inf; nothing written")
    exts = [e for e, on in (("gif", a.gif), ("mp4", a.mp4)) if on]
    written, clips = [], []
    for i, s in enumerate(px):
        clip = clip_from_channels(s, lm.joints)
        clips.append(clip)
        save_clip(clip, out / f"sample_{i:02d}.json")
        written.append(str(out / f"sample_{i:02d}.json"))
        for ext in exts:
            write_video(out / f"sample_{i:02d}.{ext}", [clip], fps=a.fps)
            written.append(str(out / f"sample_{i:02d}.{ext}"))
    for ext in exts if a.grid else []:
        write_video(out / f"samples.{ext}", clips, fps=a.fps, titles=[f"#{i}" for i in range(len(clips))])
        written.append(str(out / f"samples.{ext}"))
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, "sampler": run.sampler,
                      "precision": run.precision, "threads": run.threads, "seconds": round(run.seconds, 2),
                      "files": written}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.sample", main))
