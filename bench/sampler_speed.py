"""Seconds of each checkpoint's faithful sampler against the spec's ddpm-400, in one process; prints JSON.

    python bench/sampler_speed.py --checkpoints checkpoints/*/model.pt [--num-samples 8] [--repeat 3]

For every checkpoint: its faithful setting (sampler.json, else the fallback) and ddpm-400, sampled in
alternation `--repeat` times with the same seed, precision and threads (chosen once by
motionlab.core.autotune, or given), so the ratio compares the samplers only; the median seconds of each
and their ratio. The target (issue 21): the faithful setting at least 15x faster than ddpm-400.
"""
import argparse
import json
import os
import statistics

from motionlab.core import autotune
from motionlab.core.samplers import SPEC_SAMPLER
from motionlab.formats.checkpoints import load_model
from motionlab.pipeline.defaults import faithful_default
from motionlab.pipeline.evaluating import machine_info
from motionlab.pipeline.sampling import generate


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoints", nargs="+", default=["checkpoints/long_10000/model.pt"])
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--precision", default="auto")
    p.add_argument("--threads", default="auto")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    res = {**machine_info(), "num_samples": a.num_samples, "repeat": a.repeat, "checkpoints": []}
    for path in a.checkpoints:
        lm = load_model(path)
        shape = (a.num_samples, lm.model.cfg.in_channels, lm.window)
        # tuned once for both samplers, its budget sized by the longer (ddpm-400)
        tuned = autotune.choose(lm.model, shape, "cpu", a.precision, a.threads, passes=lm.diffusion.num_timesteps)
        default = faithful_default(path)
        seconds = {"default": [], "spec": []}
        for _ in range(a.repeat):
            for key, choice in (("default", default.choice), ("spec", SPEC_SAMPLER)):
                run = generate(lm.model, lm.diffusion, a.num_samples, lm.window, seed=42, sampler=choice,
                               precision=tuned.precision, threads=tuned.threads)
                seconds[key].append(run.seconds)
        d, s = statistics.median(seconds["default"]), statistics.median(seconds["spec"])
        T = lm.diffusion.num_timesteps
        res["checkpoints"].append({
            "checkpoint": path, "default": default.choice.label(T), "source": default.source,
            "evaluations": default.choice.build(lm.diffusion).num_steps, "precision": tuned.precision,
            "threads": tuned.threads, "autotune": tuned.source, "autotune_seconds": round(tuned.spent, 2),
            "default_seconds": round(d, 3), "ddpm400_seconds": round(s, 3), "speedup": round(s / d, 1)})
    res["load_average"] = os.getloadavg()
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
