"""docs/SAMPLERS.md: every sampler at several step counts against the spec's ddpm-400, per checkpoint.

    python -m motionlab.sampler_study --checkpoints checkpoints/long_1000/model.pt \
        checkpoints/long_10000/model.pt --out docs/SAMPLERS.md

Each cell is the spec's protocol (8 samples, seed 42, fp32) with one sampler and step count. The
six metrics are given as % of ddpm-400's and of the dataset baseline; ddpm-400 is also run with
seeds 43 and 44, so its seed-to-seed spread tells a real difference from noise. Seconds are wall
time of the sampling in this process (same threads and precision for every row), so compare them
as ratios. Prose that cannot be computed lives in docs/SAMPLERS_NOTES.md and is included verbatim.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from motionlab.formats.checkpoints import load_model
from motionlab.pipeline.evaluating import machine_info
from motionlab.io import atomic_write_bytes
from motionlab.evaluation.metrics import METRICS, sample_metrics
from motionlab.studies.report import save_chart
from motionlab.core.samplers import SPEC_SAMPLER, SamplerChoice
from motionlab.pipeline.sampling import sample_checkpoint
from motionlab.core.samplers import SAMPLERS

STEPS = (10, 20, 50, 100)
SPREAD_SEEDS = (42, 43, 44)
# a fast sampler passes where every metric is within this of ddpm-400, or within ddpm-400's own spread
CLOSE = 0.05


def run_cell(lm, choice: SamplerChoice, seed: int, num_samples: int, threads: int) -> dict:
    run = sample_checkpoint(lm, num_samples, seed, sampler=choice, precision="fp32", threads=threads)
    m = sample_metrics(run.pixels) or {k: float("nan") for k in METRICS}
    return {"sampler": run.sampler, "seed": seed, "metrics": m, "seconds": run.seconds,
            "steps": choice.steps_for(lm.diffusion.num_timesteps)}


def study(path: str, num_samples: int, threads: int, steps=STEPS, log=print) -> dict:
    lm = load_model(path)
    T = lm.diffusion.num_timesteps
    spec = [run_cell(lm, SPEC_SAMPLER, s, num_samples, threads) for s in SPREAD_SEEDS]
    for c in spec:
        log(f"{path} {c['sampler']} seed {c['seed']}: {c['seconds']:.1f} s")
    ref = spec[0]
    # seed-to-seed spread of ddpm-400, per metric, as a fraction of its seed-42 value
    spread = {k: (max(c["metrics"][k] for c in spec) - min(c["metrics"][k] for c in spec)) / ref["metrics"][k]
              for k in METRICS}
    rows = []
    for name in SAMPLERS:
        for n in steps:
            if n >= T:
                continue
            c = run_cell(lm, SamplerChoice(name, n), ref["seed"], num_samples, threads)
            log(f"{path} {c['sampler']}: {c['seconds']:.1f} s")
            rows.append(c)
    rows.append(ref)
    for c in rows:
        c["vs_ddpm"] = {k: c["metrics"][k] / ref["metrics"][k] for k in METRICS}
        c["vs_data"] = {k: c["metrics"][k] / lm.checkpoint.baseline[k] for k in METRICS}
        c["speedup"] = ref["seconds"] / c["seconds"]
        c["close"] = all(abs(c["vs_ddpm"][k] - 1) <= max(CLOSE, spread[k]) for k in METRICS)
    tag = lm.checkpoint.tag or Path(path).parent.name
    return {"tag": tag, "checkpoint": path, "timesteps": T, "rows": rows, "spread": spread, "spec_seeds": spec}


def table(s: dict) -> str:
    head = "| sampler | steps | seconds | speed-up | " + " | ".join(METRICS) + " | within 5% or spread |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for c in s["rows"]:
        cells = [f"{100 * c['vs_ddpm'][k]:.0f}% / {100 * c['vs_data'][k]:.0f}%" for k in METRICS]
        lines.append(f"| {c['sampler'].rsplit('-', 1)[0]} | {c['steps']} | {c['seconds']:.1f} | "
                     f"{c['speedup']:.1f}x | " + " | ".join(cells) + f" | {'yes' if c['close'] else 'no'} |")
    spread = " | ".join(f"{100 * s['spread'][k]:.1f}%" for k in METRICS)
    lines.append(f"| ddpm seeds {'/'.join(map(str, SPREAD_SEEDS))}: spread | 400 | | | {spread} | |")
    return "\n".join(lines)


def chart(studies: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(studies), figsize=(6 * len(studies), 3.8), squeeze=False)
    for ax, s in zip(axes[0], studies):
        for name, color in zip(SAMPLERS, ("#2a6fdb", "#e66100", "#1a9850")):
            rows = [c for c in s["rows"] if c["sampler"].startswith(name + "-") and c["steps"] < s["timesteps"]]
            worst = [max(abs(c["vs_ddpm"][k] - 1) for k in METRICS) * 100 for c in rows]
            ax.plot([c["seconds"] for c in rows], worst, "o-", color=color, label=name)
            for c, w in zip(rows, worst):
                ax.annotate(str(c["steps"]), (c["seconds"], w), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(100 * CLOSE, color="k", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel(f"seconds (ddpm-400: {s['rows'][-1]['seconds']:.0f} s)", fontsize=8)
        ax.set_ylabel("worst metric's distance from ddpm-400 (%)", fontsize=8)
        ax.set_title(s["tag"], fontsize=9)
        ax.legend(fontsize=8)
    save_chart(fig, path)


def build(studies: list[dict], command: str, chart_name: str, notes: str, machine: dict, num_samples: int) -> str:
    out = ["# Samplers: speed against fidelity", "",
           f"Generated by `{command}` (CPU capability {machine['cpu_capability']}, torch {machine['torch']}, "
           f"{machine['threads']} thread(s), fp32).", "",
           f"Each row samples {num_samples} clips with seed 42. A metric cell is its value as % of ddpm-400's (same seed) "
           "/ as % of the dataset baseline. `within 5% or spread` says whether every metric is within 5% of "
           "ddpm-400's, or within ddpm-400's own spread over seeds 42, 43 and 44 where that is wider (last row). "
           "Seconds are this process's wall time for the sampling alone; compare them as ratios.", ""]
    for s in studies:
        out += [f"## {s['tag']} (`{s['checkpoint']}`)", "", table(s), ""]
    out += [f"![worst metric distance against seconds]({chart_name})", ""]
    if notes:
        out += [notes.strip(), ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.sampler_study", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", default=",".join(map(str, STEPS)))
    p.add_argument("--out", default="docs/SAMPLERS.md")
    p.add_argument("--notes", default="docs/SAMPLERS_NOTES.md")
    p.add_argument("--from-json", action="store_true",
                   help="rebuild the page from OUT's .json (the measured rows) and the current notes, sampling nothing")
    a = p.parse_args(argv)
    steps = tuple(int(v) for v in a.steps.split(","))
    out = Path(a.out)
    if a.from_json:
        saved = json.loads(out.with_suffix(".json").read_text())
        studies, machine, cmd = saved["studies"], saved["machine"], saved["command"]
        chart_path = out.with_name(out.stem.lower() + "_chart.png")
        chart(studies, chart_path)
        notes = Path(a.notes).read_text() if Path(a.notes).is_file() else ""
        atomic_write_bytes(out, build(studies, cmd, chart_path.name, notes, machine, saved["num_samples"]).encode())
        print(str(out))
        return 0
    studies = [study(c, a.num_samples, a.threads, steps, log=lambda m: print(m, file=sys.stderr))
               for c in a.checkpoints]
    chart_path = out.with_name(out.stem.lower() + "_chart.png")
    chart(studies, chart_path)
    notes = Path(a.notes).read_text() if Path(a.notes).is_file() else ""
    cmd = "python -m motionlab.sampler_study --checkpoints " + " ".join(a.checkpoints) + f" --out {a.out}" + \
          (f" --threads {a.threads}" if a.threads != 1 else "") + \
          (f" --steps {a.steps}" if steps != STEPS else "") + \
          (f" --num-samples {a.num_samples}" if a.num_samples != 8 else "")
    machine = machine_info()
    atomic_write_bytes(out, build(studies, cmd, chart_path.name, notes, machine, a.num_samples).encode())
    atomic_write_bytes(out.with_suffix(".json"), json.dumps({"command": cmd, "machine": machine,
                                                             "num_samples": a.num_samples, "studies": studies},
                                                            indent=1).encode())
    print(str(out))
    return 0

