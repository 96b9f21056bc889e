"""Seconds to judge one checkpoint at N = 64 and N = 256 with its faithful sampler (prints JSON).

    python bench/eval_speed.py --checkpoint checkpoints/long_10000/model.pt --sizes 64 256

Each size starts from nothing (the model loaded, the real pool built and autotune's choice measured anew, no
sample cache), then judges every measure of the catalog with 1000 bootstrap resamples against 300 random
real sets of the same N: what `python -m motionlab.evaluate --checkpoints CK` costs the first time. The split says where the time goes. Targets (issue 20): N = 64 in at most 20 s,
N = 256 in at most 60 s on the project's 2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from motionlab.core import autotune  # noqa: E402
from motionlab.formats.checkpoints import load_model  # noqa: E402
from motionlab.pipeline import judging  # noqa: E402
from motionlab.pipeline.defaults import faithful_default  # noqa: E402
from motionlab.pipeline.evaluating import machine_info  # noqa: E402
from motionlab.pipeline.sample_sets import sample_set  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="checkpoints/long_10000/model.pt")
    p.add_argument("--sizes", nargs="+", type=int, default=[64, 256])
    p.add_argument("--threads", default="auto")
    a = p.parse_args()
    choice = faithful_default(a.checkpoint).choice
    out = {"checkpoint": a.checkpoint, **machine_info(), "runs": []}
    for n in a.sizes:
        judging.forget()
        autotune.forget()
        t0 = time.perf_counter()
        lm = load_model(a.checkpoint)
        out["sampler"] = choice.label(lm.diffusion.num_timesteps)
        s = sample_set(lm, n, 42, choice, precision="fp32", threads=a.threads, cache=None)
        t1 = time.perf_counter()
        judging.judge_pixels(s.pixels, judging.real_data_for(lm))
        t2 = time.perf_counter()
        out["runs"].append({"n": n, "sampling_s": round(t1 - t0, 2), "judging_s": round(t2 - t1, 2),
                            "total_s": round(t2 - t0, 2)})
    out["load_average"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
