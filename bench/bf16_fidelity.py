"""Do bf16 samples measure like fp32 ones? Prints JSON: for every measure of motionlab.evaluation.catalog,
the fp32 set's value and bootstrap interval, the bf16 set's value and interval, and whether the bf16
value lies inside the fp32 interval.

    python bench/bf16_fidelity.py [--checkpoint checkpoints/long_10000/model.pt] [--n 64] [--steps 20]

Without --steps the checkpoint's own default sampler (its sampler.json pick, as the lab and CLIs use it);
with it, ddpm with that many steps. Same checkpoint, seed, sampler and noise for both sets; only the precision differs (bf16 forced, so it
runs here even where auto would not take it). The reference is every stride-1 window of the real clip
(motionlab.evaluation.judge.judge_set's pool), 30 fps, 115 BPM.
"""
import argparse
import json
import time

import numpy as np
import torch

from motionlab.core.samplers import SamplerChoice
from motionlab.data.clip import load_clip
from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import bootstrap, real_pool
from motionlab.evaluation.measure import Reference
from motionlab.formats.checkpoints import load_model
from motionlab.paths import DATA
from motionlab.pipeline.defaults import faithful_default
from motionlab.pipeline.sampling import sample_checkpoint


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="checkpoints/long_10000/model.pt")
    p.add_argument("--clip", default=str(DATA / "uptown_funk.json"))
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--steps", type=int, default=None, help="ddpm with this many steps (default: the checkpoint's pick)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--n-boot", type=int, default=1000)
    a = p.parse_args()
    lm = load_model(a.checkpoint)
    clip = load_clip(a.clip)
    ref = Reference(real_pool(clip, lm.window), clip.joints, 30.0, 115.0)
    choice = faithful_default(a.checkpoint).choice if a.steps is None else SamplerChoice("ddpm", a.steps)
    sets, seconds = {}, {}
    for precision in ("fp32", "bf16"):
        run = sample_checkpoint(lm, a.n, a.seed, sampler=choice, precision=precision, threads=1)
        sets[precision], seconds[precision] = np.asarray(run.pixels, np.float64), round(run.seconds, 2)
    diff = np.abs(sets["bf16"] - sets["fp32"])
    rows, inside = {}, 0
    for m in catalog.ALL:
        t0 = time.perf_counter()
        f, b = (bootstrap(m, sets[k], ref, a.n_boot) for k in ("fp32", "bf16"))
        ok = bool(f.interval[0] <= b.value <= f.interval[1])
        inside += ok
        rows[m.name] = {"fp32": f.value, "fp32_interval": list(f.interval), "bf16": b.value,
                        "bf16_interval": list(b.interval), "bf16_inside_fp32": ok,
                        "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps({"checkpoint": a.checkpoint, "n": a.n, "sampler": choice.label(lm.diffusion.num_timesteps), "seed": a.seed,
                      "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "sampling_seconds": seconds, "pixel_diff": {"median": float(np.median(diff)),
                                                                   "p99": float(np.percentile(diff, 99)),
                                                                   "max": float(diff.max())},
                      "measures": len(rows), "bf16_inside_fp32": inside, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
