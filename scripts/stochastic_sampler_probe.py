"""A quick probe (not the study): the stochastic samplers' metrics as % of ddpm-400's, per checkpoint.

    python scripts/stochastic_sampler_probe.py --cache /tmp/probe.json > probe.json

16 samples at seed 42, fp32, one thread: only a guide for the later study (N=64 with intervals), so a
row's distance from 100% means little below ddpm-400's seed spread (docs/SAMPLERS.md: 10-20% at N=8).
Cells are cached by (checkpoint, label) in --cache, so the slow ddpm-400 reference runs once and can
be computed alone first (--rows ddpm-400). Prints one JSON object: per checkpoint, each row's metrics,
its network evaluations and seconds, and each metric as % of ddpm-400's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from motionlab.core.samplers import SamplerChoice
from motionlab.evaluation.metrics import METRICS, sample_metrics
from motionlab.formats.checkpoints import load_model
from motionlab.pipeline.sampling import sample_checkpoint

CHECKPOINTS = ("checkpoints/long_10000/model.pt", "checkpoints/best_fidelity/model.pt")
REFERENCE = "ddpm-400"
STEPS = (10, 15, 20, 25)


def default_rows() -> list[str]:
    rows = [REFERENCE, "ddpm-20", "dpmpp-20", "ddim-20 eta 1"]          # ddim eta 1 is Euler ancestral
    rows += [f"dpmpp_sde-{n}" for n in STEPS]
    rows += [f"ddim-{n} eta 1" for n in STEPS if n != 20]
    # edm-N is N noise levels, 2N - 1 network evaluations: edm-10 costs what dpmpp-19 does. Churn per level
    # is gamma = min(s_churn / N, 0.414): 40 is the cap at every N here, 5 is 0.41 at N = 10 and 0.2 at 25,
    # 2 is 0.2 at N = 10 and 0.08 at 25
    for churn in (0, 2, 5, 40):
        rows += [f"edm-{n}" + (f" s_churn {churn}" if churn else "") for n in STEPS]
    return rows


def cell(lm, label: str, seed: int, num_samples: int) -> dict:
    choice = SamplerChoice.from_label(label, lm.diffusion.num_timesteps)
    sampler = choice.build(lm.diffusion)
    run = sample_checkpoint(lm, num_samples, seed, sampler=choice, precision="fp32", threads=1)
    m = sample_metrics(run.pixels) or {k: float("nan") for k in METRICS}
    return {"sampler": run.sampler, "evaluations": sampler.num_steps, "seconds": round(run.seconds, 2), "metrics": m}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", nargs="+", default=list(CHECKPOINTS))
    p.add_argument("--rows", nargs="+", default=None, help="sampler labels (default: the probe's set)")
    p.add_argument("--num-samples", type=int, default=16)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--cache", default=None, help="JSON file of computed cells, read and extended")
    a = p.parse_args(argv)
    rows = a.rows or default_rows()
    cache_path = Path(a.cache) if a.cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.is_file() else {}
    out = {"num_samples": a.num_samples, "seed": a.seed, "reference": REFERENCE, "checkpoints": {}}
    for ck in a.checkpoints:
        lm = load_model(ck)
        cells = {}
        for label in rows:
            key = f"{ck}|{label}|{a.seed}|{a.num_samples}"
            if key not in cache:
                cache[key] = cell(lm, label, a.seed, a.num_samples)
                print(f"{ck} {label}: {cache[key]['seconds']} s", file=sys.stderr, flush=True)
                if cache_path:
                    cache_path.write_text(json.dumps(cache, indent=1))
            cells[label] = cache[key]
        ref = cache.get(f"{ck}|{REFERENCE}|{a.seed}|{a.num_samples}")
        for c in cells.values():
            if ref:
                c["vs_ddpm_pct"] = {k: round(100 * c["metrics"][k] / ref["metrics"][k], 1) for k in METRICS}
        out["checkpoints"][ck] = cells
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
