"""Seconds per sampler and step count against the spec's ddpm-400, in one process; prints JSON.

    python bench/sampler_speed.py [--checkpoint checkpoints/long_10000/model.pt] [--num-samples 8]

Every row uses the same precision and threads, chosen once by motionlab.core.autotune (or given), so
the ratios compare samplers only. The autotune's own cost and choice are reported too, and so is
the time of one forward pass at each setting it tried.
"""
import argparse
import json
import time

import torch

from motionlab.core import autotune
from motionlab.formats.checkpoints import load_model
from motionlab.core.samplers import DEFAULT_SAMPLER, SPEC_SAMPLER, SamplerChoice
from motionlab.pipeline.sampling import generate
from motionlab.core.samplers import SAMPLERS

STEPS = (10, 20, 25, 50, 100)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="checkpoints/long_10000/model.pt")
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--precision", default="auto")
    p.add_argument("--threads", default="auto")
    p.add_argument("--steps", default=",".join(map(str, STEPS)))
    a = p.parse_args()
    lm = load_model(a.checkpoint)
    shape = (a.num_samples, lm.model.cfg.in_channels, lm.window)
    t0 = time.perf_counter()
    choice = autotune.choose(lm.model, shape, "cpu", a.precision, a.threads)
    tune_s = time.perf_counter() - t0
    res = {"checkpoint": a.checkpoint, "torch": torch.__version__,
           "cpu_capability": torch.backends.cpu.get_cpu_capability(), "num_samples": a.num_samples,
           "window": lm.window, "precision": choice.precision, "threads": choice.threads,
           "autotune_seconds": round(tune_s, 2),
           "forward_ms": {k: round(v * 1000, 1) for k, v in choice.timings.items()}, "runs": []}

    def timed(sc: SamplerChoice) -> float:
        run = generate(lm.model, lm.diffusion, a.num_samples, lm.window, seed=42, sampler=sc,
                       precision=choice.precision, threads=choice.threads)
        return run.seconds

    spec_s = timed(SPEC_SAMPLER)
    res["runs"].append({"sampler": SPEC_SAMPLER.label(400), "seconds": round(spec_s, 2), "speedup": 1.0})
    for name in SAMPLERS:
        for n in (int(v) for v in a.steps.split(",")):
            sc = SamplerChoice(name, n)
            s = timed(sc)
            res["runs"].append({"sampler": sc.label(400), "seconds": round(s, 2), "speedup": round(spec_s / s, 1),
                                "default": sc == DEFAULT_SAMPLER})
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
