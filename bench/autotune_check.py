"""Is `--precision auto --threads auto` within 10% of the fastest setting the CLI offers? Prints JSON.

    python bench/autotune_check.py [--checkpoint checkpoints/long_10000/model.pt] [--num-samples 8] [--repeat 3]
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
        python bench/autotune_check.py --tune-only      # an AVX2-only CPU: bf16 emulated

Runs `python -m motionlab.sample ... --sampler ddpm --steps 20` for every precision x thread count and
for auto/auto, interleaved (round r runs them all, in a rotated order), and compares the sampling
seconds each prints (median over rounds; on a loaded machine also the fastest run of each, and
whether each setting auto picked is within 10% by the fixed runs). Each auto run is a fresh process,
so it measures anew: "auto_choices" lists what it picked each time. In this process it then times
autotune.choose itself (fresh cache each time): what it picked, the seconds it spent, and that as a
share of the sampling.
--tune-only skips the CLI runs and times fp32 and bf16 passes on 1 thread instead (min of 3).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from motionlab.core import autotune
from motionlab.formats.checkpoints import load_model


def cli(a, precision, threads) -> dict:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "motionlab.sample", "--checkpoint", a.checkpoint,
                            "--num-samples", str(a.num_samples), "--out", out, "--sampler", "ddpm",
                            "--steps", str(a.steps), "--precision", precision, "--threads", str(threads)],
                           capture_output=True, text=True, check=True)
        r = json.loads(p.stdout)
        return {"seconds": r["seconds"], "precision": r["precision"], "threads": r["threads"],
                "wall": time.perf_counter() - t0}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="checkpoints/long_10000/model.pt")
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tune-only", action="store_true")
    a = p.parse_args()
    lm = load_model(a.checkpoint)
    shape = (a.num_samples, lm.model.cfg.in_channels, lm.window)
    res = {"checkpoint": a.checkpoint, "num_samples": a.num_samples, "sampler": f"ddpm-{a.steps}",
           "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if a.tune_only:
        tm = autotune.pass_timer(lm.model, "cpu")
        per_pass = {f"{pr}/1": min(tm(pr, 1, shape) for _ in range(3)) for pr in ("fp32", "bf16")}
        res["ms_per_pass_min_of_3"] = {k: round(v * 1000, 1) for k, v in per_pass.items()}
        res["autotune_in_process"] = tune(a, lm, shape, {k: v * a.steps for k, v in per_pass.items()})
        print(json.dumps(res, indent=1))
        return
    settings = [(pr, n) for pr in ("fp32", "bf16") for n in autotune.thread_options(autotune.max_threads())]
    settings.append(("auto", "auto"))
    runs = {f"{pr}/{n}": [] for pr, n in settings}
    for r in range(a.repeat):
        for pr, n in settings[r % len(settings):] + settings[:r % len(settings)]:
            runs[f"{pr}/{n}"].append(cli(a, pr, n))
    med = {k: statistics.median(x["seconds"] for x in v) for k, v in runs.items()}
    fixed = {k: v for k, v in med.items() if k != "auto/auto"}
    best = min(fixed, key=fixed.get)
    print(json.dumps({
        **res, "sampling_seconds_median": {k: round(v, 3) for k, v in med.items()},
        "fastest_offered": best, "auto_choices": [f"{x['precision']}/{x['threads']}" for x in runs["auto/auto"]],
        "auto_over_fastest": round(med["auto/auto"] / fixed[best], 3),
        "auto_within_10_percent": med["auto/auto"] <= 1.1 * fixed[best],
        # on a loaded machine one setting's runs differ 2x: the fastest run of each, and what auto picked
        "auto_over_fastest_best_runs": round(min(x["seconds"] for x in runs["auto/auto"])
                                             / min(min(x["seconds"] for x in runs[k]) for k in fixed), 3),
        "auto_picks_within_10_percent": [fixed[f"{x['precision']}/{x['threads']}"] <= 1.1 * fixed[best]
                                         for x in runs["auto/auto"]],
        "wall_seconds_median": {k: round(statistics.median(x["wall"] for x in v), 2) for k, v in runs.items()},
        "runs": {k: [x["seconds"] for x in v] for k, v in runs.items()},
        "autotune_in_process": tune(a, lm, shape, fixed)}, indent=1))


def tune(a, lm, shape, sampling_s: dict) -> list:
    """autotune.choose with a fresh cache, --repeat times: choice, cost, cost / that choice's sampling."""
    out = []
    for _ in range(a.repeat):
        autotune.forget()
        t0 = time.perf_counter()
        c = autotune.choose(lm.model, shape, "cpu", passes=a.steps)
        got = f"{c.precision}/{c.threads}"
        out.append({"choice": got, "spent_s": round(c.spent, 3), "wall_s": round(time.perf_counter() - t0, 3),
                    "share_of_sampling": round(c.spent / sampling_s[got], 2) if got in sampling_s else None,
                    "ms_per_pass": {k: round(v * 1000, 1) for k, v in c.timings.items()}})
    return out


if __name__ == "__main__":
    main()
