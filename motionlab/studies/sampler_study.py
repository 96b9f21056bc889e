"""The sampler study: every registered sampler at few network evaluations against the spec's ddpm-400
at the same N, with intervals, and each checkpoint's faithful fast default (motionlab.pipeline.defaults).

    python -m motionlab.sampler_study --checkpoints checkpoints/*/model.pt --write-defaults --out docs/SAMPLERS.md

For each checkpoint: ddpm-400 draws N samples (default 64, seed 42, fp32) and each of the six spec
metrics gets its 95% bootstrap interval; every sampler of the registry, at each of its study settings and
step counts whose network evaluations are at most BUDGET, draws N samples with the same seed. A setting
passes when each of the six lies inside ddpm-400's interval; the default is the passing setting with the
fewest evaluations (ties: the smaller worst distance), or, when none passes, the one whose largest miss
beyond the interval is smallest (ties: fewer evaluations), with what it misses said. --write-defaults stores the choice and its evidence as sampler.json beside the checkpoint.
Samples are cached (motionlab.pipeline.sample_sets), so a rerun recomputes only what is new. Prose that
cannot be computed lives in docs/SAMPLERS_NOTES.md and is included verbatim.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from motionlab.core.samplers import REGISTRY, SPEC_SAMPLER, SamplerChoice
from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import bootstrap
from motionlab.evaluation.measure import Reference
from motionlab.formats.checkpoints import Checkpoint, LoadedModel, load_model
from motionlab.formats.integrity import file_sha256
from motionlab.io import atomic_write_bytes, atomic_write_json
from motionlab.pipeline.defaults import DEFAULTS_FILE, defaults_path, faithful_default, pick_row
from motionlab.pipeline.evaluating import machine_info
from motionlab.pipeline.sample_sets import sample_set
from motionlab.studies.report import save_chart

BUDGET = 25                      # network evaluations: the "25 steps or fewer", counted honestly
STEPS = (5, 8, 10, 12, 13, 15, 20, 25)  # 12 and 13 are the longest edm chains within the budget (2 x steps - 1)
N, SEED = 64, 42
SPEC = catalog.SPEC


def candidates(lm: LoadedModel, steps=STEPS, budget: int = BUDGET) -> list[tuple[SamplerChoice, int]]:
    """(choice, network evaluations) for every sampler x study setting x steps within the budget."""
    out, seen = [], set()
    for name, cls in REGISTRY.items():
        for settings in cls.study_settings:
            for n in (n for n in steps if n < lm.diffusion.num_timesteps):
                choice = SamplerChoice.of(name, n, **settings)
                evals = choice.build(lm.diffusion).num_steps
                if evals <= budget and choice not in seen:
                    seen.add(choice)
                    out.append((choice, evals))
    return out


def _blank(lm: LoadedModel) -> Reference:
    """The six read only the samples (catalog's diversity takes all N, not the spec's first 32)."""
    return Reference(np.zeros((1, lm.window, 2 * len(lm.joints))), lm.joints)


def _reference(lm: LoadedModel, n: int, seed: int, threads, log) -> dict:
    """ddpm-400's (low, high, value) per spec metric: N samples, 95% bootstrap intervals."""
    spec = sample_set(lm, n, seed, SPEC_SAMPLER, threads=threads, log=log)
    out = {}
    for k in SPEC:
        est = bootstrap(catalog.BY_NAME[k], spec.pixels, _blank(lm))
        out[k] = (*est.interval, est.value)
    return out


def _as_doc(interval: dict) -> dict:
    return {"values": {k: interval[k][2] for k in SPEC}, "intervals": {k: list(interval[k][:2]) for k in SPEC}}


def _measure(lm: LoadedModel, choice: SamplerChoice, evals: int, interval: dict, n: int, seed: int, threads,
             log) -> dict:
    """One setting's N samples against ddpm-400's intervals (NaN values where the model diverged)."""
    px = sample_set(lm, n, seed, choice, threads=threads, log=log).pixels
    values = ({k: catalog.BY_NAME[k](px, _blank(lm)) for k in SPEC} if np.isfinite(px).all()
              else dict.fromkeys(SPEC, float("nan")))
    return _judge_row(choice, evals, values, interval, lm.diffusion.num_timesteps)


def _judge_row(choice: SamplerChoice, evals: int, values: dict, interval: dict, T: int) -> dict:
    miss = {}
    for k in SPEC:
        lo, hi, _ = interval[k]
        v = values[k]
        if not lo <= v <= hi:  # how far outside, as % of ddpm-400's value at the nearer end
            edge = hi if v > hi else lo
            miss[k] = 100 * (v - edge) / (edge or 1.0)
    worst = max(abs(values[k] / interval[k][2] - 1) for k in SPEC)
    return {"sampler": choice.label(T), "name": choice.name, "evaluations": evals, "values": values,
            "inside": not miss, "misses": {k: round(v, 1) for k, v in miss.items()}, "worst_pct": 100 * worst}


def study(path: str, n: int = N, seed: int = SEED, threads=None, steps=STEPS, log=print) -> dict:
    lm = load_model(path)
    T = lm.diffusion.num_timesteps
    interval = _reference(lm, n, seed, threads, log)
    rows = [_measure(lm, choice, evals, interval, n, seed, threads, log) for choice, evals in candidates(lm, steps)]
    pick = pick_row(rows)
    choice = {"sampler": pick["sampler"], "evaluations": pick["evaluations"], "speedup_evaluations": T / pick["evaluations"],
              "misses": [f"{k} {v:+.1f}% beyond ddpm-400's interval" for k, v in pick["misses"].items()]}
    return {"tag": lm.checkpoint.tag or Path(path).parent.name, "checkpoint": str(path),
            "checkpoint_sha256": file_sha256(path), "timesteps": T, "n": n, "seed": seed, "budget": BUDGET,
            "reference": {"sampler": SPEC_SAMPLER.label(T), **_as_doc(interval)},
            "rows": rows, "choice": choice}


def confirm(s: dict, n: int, threads=None, log=print) -> dict:
    """The study's pick against ddpm-400 again at a larger N, same seed and rule: the search runs at
    N = 64, where ddpm-400's intervals are 2x wider than at 256, so a pick can pass there and miss here."""
    lm = load_model(s["checkpoint"])
    T = lm.diffusion.num_timesteps
    interval = _reference(lm, n, s["seed"], threads, log)
    pick = next(r for r in s["rows"] if r["sampler"] == s["choice"]["sampler"])
    choice = faithful_default(s["checkpoint"]).choice  # the pick as sampler.json stores it
    if choice.label(T) != pick["sampler"]:
        raise SystemExit(f"{s['checkpoint']}: sampler.json holds {choice.label(T)}, not the study's pick "
                         f"{pick['sampler']}: rerun the study with --write-defaults")
    return {"n": n, "reference": _as_doc(interval),
            "row": _measure(lm, choice, pick["evaluations"], interval, n, s["seed"], threads, log)}


def write_defaults(s: dict, command: str) -> Path:
    """sampler.json beside the checkpoint: the choice, its evidence and what made it."""
    path = defaults_path(s["checkpoint"])
    atomic_write_json(path, {**s, "command": command, "machine": machine_info()})
    return path


def interval_widths(s: dict) -> dict:
    """ddpm-400's interval width per spec metric, in points (%) of the checkpoint's dataset baseline."""
    base = Checkpoint.read(s["checkpoint"]).baseline
    iv = s["reference"]["intervals"]
    return {k: 100 * (iv[k][1] - iv[k][0]) / base[k] for k in SPEC if k in iv and base.get(k)}


def table(s: dict) -> str:
    ref = s["reference"]
    head = "| sampler | evaluations | " + " | ".join(SPEC) + " | all six inside |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1),
             f"| **{ref['sampler']}** (reference) | {s['timesteps']} | " +
             " | ".join(f"{ref['values'][k]:.4g} [{ref['intervals'][k][0]:.4g}, {ref['intervals'][k][1]:.4g}]"
                        for k in SPEC) + " | |"]
    for r in sorted(s["rows"], key=lambda r: (r["evaluations"], r["sampler"])):
        cells = [f"{100 * r['values'][k] / ref['values'][k]:.0f}%{'' if k not in r['misses'] else ' ✗'}" for k in SPEC]
        mark = "**yes**" if r["inside"] else "no"
        name = f"**{r['sampler']}**" if r["sampler"] == s["choice"]["sampler"] else r["sampler"]
        lines.append(f"| {name} | {r['evaluations']} | " + " | ".join(cells) + f" | {mark} |")
    return "\n".join(lines)


def _pct(v: float) -> str:
    return f"{v:+.1f}%" if abs(v) >= 0.05 else f"{'+' if v > 0 else '-'}<0.05%"


def confirm_lines(s: dict) -> list[str]:
    """The pick against ddpm-400 at the confirming N, in the table's terms."""
    c = s.get("confirm")
    if not c:
        return []
    r, ref = c["row"], c["reference"]
    cells = " | ".join(f"{100 * r['values'][k] / ref['values'][k]:.0f}%{' ✗' if k in r['misses'] else ''}" for k in SPEC)
    said = ("all six inside ddpm-400's intervals" if r["inside"] else
            "outside on " + "; ".join(f"{k} {_pct(r['misses'][k])} beyond" for k in SPEC if k in r["misses"]))
    widths = ", ".join(f"{k} {w:.1f}" for k, w in interval_widths({**s, "reference": ref}).items())
    return [f"**Again at N = {c['n']}** (same seed; ddpm-400's intervals span {widths} points of the baseline): "
            f"{r['sampler']} is {said}; its largest distance from ddpm-400's value is {r['worst_pct']:.1f}%.", "",
            "| sampler | N | " + " | ".join(SPEC) + " | all six inside |", "|" + " --- |" * (len(SPEC) + 3),
            f"| {r['sampler']} | {c['n']} | {cells} | {'**yes**' if r['inside'] else 'no'} |", ""]


def chart(studies: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = dict(zip(REGISTRY, plt.get_cmap("tab10").colors))  # every registered sampler gets one
    fig, axes = plt.subplots(1, len(studies), figsize=(5.5 * len(studies), 3.8), squeeze=False)
    for ax, s in zip(axes[0], studies):
        for name in REGISTRY:
            rows = sorted((r for r in s["rows"] if r["name"] == name), key=lambda r: r["evaluations"])
            if rows:
                ax.plot([r["evaluations"] for r in rows], [r["worst_pct"] for r in rows], "o", color=colors[name],
                        label=REGISTRY[name].label, alpha=0.8, ms=4)
        half = max(100 * (hi - lo) / 2 / s["reference"]["values"][k] for k, (lo, hi) in s["reference"]["intervals"].items())
        ax.axhline(half, color="k", lw=0.8, ls="--")
        ax.set_xlabel(f"network evaluations (ddpm-400: {s['timesteps']})", fontsize=8)
        ax.set_ylabel("worst spec metric's distance from ddpm-400 (%)", fontsize=8)
        ax.set_title(f"{s['tag']}: pick {s['choice']['sampler']}", fontsize=9)
        ax.legend(fontsize=6)
    save_chart(fig, path)


def build(studies: list[dict], command: str, chart_name: str, notes: str, machine: dict) -> str:
    n = studies[0]["n"] if studies else N
    out = ["# Samplers: few network evaluations that keep the motion", "",
           f"Generated by `{command}` (CPU capability {machine['cpu_capability']}, torch {machine['torch']}, fp32).", "",
           f"Each row samples {n} clips with seed {SEED}. The reference row gives ddpm-400's six spec metrics with their "
           f"95% bootstrap intervals at N = {n}; a sampler's cell is its value as % of ddpm-400's, ✗ where it lies outside "
           f"that interval. Settings with more than {BUDGET} network evaluations are not tried (edm costs 2 x steps - 1). "
           f"The pick (bold) is the passing setting with the fewest evaluations, stored as `{DEFAULTS_FILE}` beside the "
           "checkpoint; the lab, the CLIs and the monitor sample with it unless told otherwise.", ""]
    for s in studies:
        c = s["choice"]
        verdict = "all six inside" if not c["misses"] else "none passed; closest: " + "; ".join(c["misses"])
        widths = interval_widths(s)
        out += [f"## {s['tag']} (`{s['checkpoint']}`)", "",
                f"Pick: **{c['sampler']}**, {c['evaluations']} evaluations ({c['speedup_evaluations']:.0f}x fewer than "
                f"ddpm-400), {verdict}.", "",
                f"ddpm-400's 95% intervals at N = {s['n']} span " + ", ".join(f"{k} {w:.1f}" for k, w in widths.items())
                + " points of the dataset baseline (widest: " + f"{max(widths.values()):.1f}).", "", table(s), ""]
        out += confirm_lines(s)
    out += [f"![worst metric distance against network evaluations]({chart_name})", ""]
    if notes:
        out += [notes.strip(), ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.sampler_study", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--num-samples", type=int, default=N)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default="docs/SAMPLERS.md")
    p.add_argument("--notes", default="docs/SAMPLERS_NOTES.md")
    p.add_argument("--write-defaults", action="store_true", help=f"store each checkpoint's pick as {DEFAULTS_FILE} beside it")
    p.add_argument("--confirm", type=int, default=0, metavar="N",
                   help="also judge each pick against ddpm-400 again at N samples (same seed and rule; 0: no)")
    p.add_argument("--from-json", action="store_true",
                   help="rebuild the page from OUT's .json (the measured rows) and the current notes, sampling nothing "
                        "(with --confirm, only that)")
    a = p.parse_args(argv)
    out = Path(a.out)
    chart_path = out.with_name(out.stem.lower() + "_chart.png")
    notes = Path(a.notes).read_text() if Path(a.notes).is_file() else ""
    if a.from_json:
        saved = json.loads(out.with_suffix(".json").read_text())
        studies, machine, cmd = saved["studies"], saved["machine"], saved["command"]
    else:
        cmd = "python -m motionlab.sampler_study --checkpoints " + " ".join(a.checkpoints) + \
              (" --write-defaults" if a.write_defaults else "") + f" --out {a.out}" + \
              (f" --num-samples {a.num_samples}" if a.num_samples != N else "")
        studies = [study(c, a.num_samples, threads=a.threads, log=lambda m: print(m, file=sys.stderr))
                   for c in a.checkpoints]
        machine = machine_info()
        for s in studies if a.write_defaults else []:
            print(str(write_defaults(s, cmd)), file=sys.stderr)
        atomic_write_json(out.with_suffix(".json"), {"command": cmd, "machine": machine, "studies": studies})
    if a.confirm:
        for s in studies:
            s["confirm"] = confirm(s, a.confirm, threads=a.threads, log=lambda m: print(m, file=sys.stderr))
        cmd += f" --confirm {a.confirm}" if " --confirm " not in cmd else ""
        atomic_write_json(out.with_suffix(".json"), {"command": cmd, "machine": machine, "studies": studies})
    chart(studies, chart_path)
    atomic_write_bytes(out, build(studies, cmd, chart_path.name, notes, machine).encode())
    print(str(out))
    return 0
