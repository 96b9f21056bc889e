"""Seconds for novelty + coverage of N samples against a clip (cold: with the clip's scale; warm: cached); JSON.

    python bench/novelty_speed.py [--clip data/uptown_funk.json] [--num-samples 8] [--window 256]

The samples are clip windows with noise (the timing does not depend on what they are).
"""
import argparse
import json
import time

import numpy as np

from motionlab.data.clipset import resolve_clip
from motionlab.evaluation.novelty import novelty


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clip", default=None, help="clip JSON or 'demo' (default: data/uptown_funk.json, else demo)")
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    clip, name = resolve_clip(a.clip, min_frames=2 * a.window, quiet=True)
    x = clip.channels
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(x) - a.window + 1, a.num_samples)
    samples = np.stack([x[s:s + a.window] for s in starts]) + rng.normal(0, 5, (a.num_samples, a.window, x.shape[1]))
    t = time.perf_counter()
    r = novelty(samples, x)
    cold = time.perf_counter() - t
    warm = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        novelty(samples, x)
        warm.append(time.perf_counter() - t)
    print(json.dumps({"clip": name, "frames": len(x), "window": a.window, "clip_windows": r.windows,
                      "num_samples": a.num_samples, "cold_seconds": round(cold, 3),
                      "warm_seconds_median": round(float(np.median(warm)), 4), "scale_px": round(r.scale, 3)}))


if __name__ == "__main__":
    main()
