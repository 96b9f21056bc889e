"""docs/RESULTS.md: our checkpoints beside the spec's table, each metric as a % of its baseline.

    python -m motionlab.report --checkpoints checkpoints/*/model.pt --num-samples 8 --seed 42 \
        --out docs/RESULTS.md

Every number is computed here except the spec's, which come from motionlab.evaluation.spec_reference.
Prose that cannot be computed lives in docs/RESULTS_NOTES.md and is included verbatim.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import bootstrap
from motionlab.evaluation.markdown import baseline_markdown, fmt, sig
from motionlab.evaluation.measure import Reference
from motionlab.pipeline import judging
from motionlab.pipeline.evaluating import evaluate_checkpoint, write_precomputed
from motionlab.core.samplers import SPEC_SAMPLER
from motionlab.cli import add_sampling_args, sampling_from_args
from motionlab.io import atomic_write_bytes
from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.novelty import COLUMNS as NOVELTY_COLUMNS
from motionlab.evaluation.spec_reference import SPEC_BASELINES, SPEC_RUNS, spec_run
from motionlab.paths import DOCS


def pct(v: float, base: float) -> str:
    return f"{100 * v / base:.0f}%" if base else "n/a"


def _key(row) -> tuple:
    return tuple(row["window_stride_limit"])


DRIFT_DIR = DOCS


def provenance(rows: list[dict], drift_dir: Path = DRIFT_DIR) -> str:
    """Where the figures were made, and how far another CPU kind or thread count moves them
    (docs/cpu_drift_*.json, each the output of `python bench/cpu_drift.py --checkpoint ...`)."""
    made = sorted({(r["sampler"], r["precision"], r["machine"]["cpu_capability"], r["machine"]["torch"],
                    r["threads"]) for r in rows})
    text = "; ".join(f"sampler {s}, {p}, CPU capability {c}, torch {t}, {n} thread{'s' * (n != 1)}"
                     for s, p, c, t, n in made)
    line = f"Made with {text}. Sampling is seeded on the CPU, so the same settings on the same kind of CPU give " \
           "these numbers again."
    drifts = []
    for f in sorted(drift_dir.glob("cpu_drift_*.json")):
        try:
            d = json.loads(f.read_text())
            drifts.append((d["max_rel_diff"], d["checkpoint"], sorted({f"{r['capability']}/{r['threads']}t"
                                                                         for r in d["runs"]}), f.name))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if drifts:
        worst = max(drifts)
        kinds = sorted({k for d in drifts for k in d[2]})
        line += (f" Across {', '.join(kinds)} (CPU capability / threads) the figures of "
                 + " and ".join(f"`{d[1]}`" for d in drifts)
                 + f" moved by at most {worst[0]:.1e} relative (`python bench/cpu_drift.py --checkpoint ...`, "
                 + ", ".join(f"docs/{d[3]}" for d in drifts)
                 + "): enough to flip a last printed digit that sits on a rounding boundary, nothing more.")
    return line


def novelty_section(rows: list[dict]) -> list[str]:
    """Lines of the novelty/coverage section: the scale and each sample's nearest clip offset."""
    out = ["## Novelty and coverage", "",
           "Beside the spec's six metrics, not part of them (exact definitions: `motionlab/novelty.py`). Each sample "
           "is matched to its nearest window of the training clip (every window of its length, stride 1, RMS "
           "distance per coordinate after removing each window's mean x and y). novelty is the median over samples "
           "of that distance divided by the clip's scale, the median distance from a clip window to its nearest "
           "non-overlapping one: near 0 means copies of the clip, near 1 as far from the clip as the clip is from "
           "itself. coverage is the fraction of the clip's windows within that scale of some sample.", "",
           "| tag | clip windows | scale (px) | novelty | coverage | nearest clip offset of each sample |",
           "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        n = r.get("novelty", {})
        if n.get("error"):
            out.append(f"| {r['tag']} | | | n/a | n/a | {n['error']} |")
        else:
            out.append(f"| {r['tag']} | {n['clip_windows']} | {fmt(n['scale'])} | {fmt(n['novelty'])} | "
                       f"{fmt(n['coverage'])} | {', '.join(map(str, n['nearest_offsets']))} |")
    return out + [""]


BAND = (0.9, 1.1)


def band_claim(doc: dict) -> tuple[str, list[str], list[str]]:
    """The spec's "within 10% of the baseline on all six", judged with intervals: 'holds' when every
    ratio's interval lies inside 0.9-1.1, 'fails' when one lies wholly outside, else 'within noise';
    with the metrics that sit across the band's edge and those outside it."""
    across, outside = [], []
    for k in METRICS:
        m = doc["metrics"][k]
        r = m.get("ratio_to_baseline")
        if r is None or not m["value"]:
            continue
        lo, hi = (b / m["value"] * r for b in m["interval"])
        if hi < BAND[0] or lo > BAND[1]:
            outside.append(f"{k} {100 * r:.0f}% [{100 * lo:.0f}–{100 * hi:.0f}]")
        elif lo < BAND[0] or hi > BAND[1]:
            across.append(f"{k} {100 * r:.0f}% [{100 * lo:.0f}–{100 * hi:.0f}]")
    return ("fails" if outside else "within noise" if across else "holds"), across, outside


def judged_section(title: str, docs: list[dict], intro: str) -> list[str]:
    """One table per measure group: each checkpoint's value [95% interval], ✓ when like the data."""
    if not docs:
        return []
    names = list(docs[0]["metrics"])
    out = [f"## {title}", "", intro, "", "| tag | sampler | N | like the data | " + " | ".join(names) + " |",
           "| --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for d in docs:
        ms = d["metrics"]
        like = sum(bool(m.get("like_data")) for m in ms.values())
        cells = []
        for k in names:
            m = ms[k]
            if m.get("value") is None:
                cells.append("n/a")
                continue
            lo, hi = m["interval"]
            cells.append(f"{sig(m['value'])} [{sig(lo)}–{sig(hi)}]{' ✓' if m.get('like_data') else ''}")
        out.append(f"| {d['tag']} | {d['sampler']} | {d['n']} | {like} of {len(ms)} | " + " | ".join(cells) + " |")
    out += ["", "| tag | real data at this N (2.5–97.5 percentile of 300 random sets): " + ", ".join(names[:6]) + " |",
            "| --- | --- |"]
    for d in docs:
        out.append(f"| {d['tag']} | " + ", ".join(f"{k} {sig(d['metrics'][k]['real_range'][0])}–"
                                               f"{sig(d['metrics'][k]['real_range'][1])}" for k in names[:6]) + " |")
    return out + [""]


def claims_section(spec_rows: list[dict], docs: list[dict]) -> list[str]:
    """Which "within 10% of the baseline" readings of the spec's protocol survive at the larger N."""
    by = {d["tag"]: d for d in docs}
    out = ["## Which earlier claims hold", "",
           "The spec's protocol reads ratios to the baseline at a small N (8: a 95% interval is then 13–22 points "
           "wide). Below, each checkpoint's six ratios at that N (the table above) against the same sampler at the larger N, "
           "with the intervals: \"holds\" when every interval lies inside 90–110%, \"within noise\" when one straddles "
           "the band's edge, \"fails\" when one lies wholly outside.", "",
           "| tag | spec protocol | at larger N | across the edge | outside |", "| --- | --- | --- | --- | --- |"]
    for r in spec_rows:
        d = by.get(r["tag"])
        if d is None:
            continue
        small = band_claim({"metrics": {k: {"value": r["metrics"][k], "interval": r["intervals"][k],
                                            "ratio_to_baseline": r["metrics"][k] / r["baseline"][k]} for k in METRICS}})
        big = band_claim(d)
        out.append(f"| {r['tag']} | {small[0]} (N = {r['num_samples']}) | {big[0]} (N = {d['n']}) | {'; '.join(big[1]) or '—'} | "
                   f"{'; '.join(big[2]) or '—'} |")
    return out + [""]


def checkpoints_section(rows: list[dict], novelty: bool) -> list[str]:
    """Our rows beside the spec's, each metric with its % of the baseline of its training config."""
    out = []
    with_spec = any(r["tag"] in SPEC_RUNS for r in rows)
    extra = NOVELTY_COLUMNS if novelty else ()
    out += ["", "## Checkpoints: ours and the spec's" if with_spec else "## Checkpoints", "",
            "Each cell is the value and, in brackets, its % of the dataset baseline of that training config"
            + (" (ours against our baseline, the spec's against the spec's)." if with_spec else ".")
            + (" novelty and coverage (see below) are not ratios; the spec has no such figures." if novelty else ""),
            "", "| tag | source | epoch | sampler | " + " | ".join(METRICS) + " |" + "".join(f" {k} |" for k in extra),
            "| --- | --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " |" + " --- |" * len(extra)]
    for r in rows:
        b = r["baseline"]
        out.append(f"| {r['tag']} | ours `{r['checkpoint']}` | {r['epoch']} | {r['sampler']} | "
                   + " | ".join(f"{fmt(r['metrics'][k])} ({pct(r['metrics'][k], b[k])})" for k in METRICS) + " |"
                   + "".join(f" {fmt(r.get('novelty', {}).get(k))} |" for k in extra))
        if ref := spec_run(r["tag"]):
            epochs, sm, sb = ref
            out.append(f"| {r['tag']} | spec | {epochs} | ddpm-400 | "
                       + " | ".join(f"{fmt(sm[k])} ({pct(sm[k], sb[k])})" for k in METRICS) + " |" + " — |" * len(extra))
    missing = [t for t in SPEC_RUNS if t not in {r["tag"] for r in rows}]
    if missing and with_spec:
        out += ["", "Not evaluated here (no shipped checkpoint yet): " + ", ".join(missing) + "."]
    return out


def build_report(rows: list[dict], chart_name: str, notes: str, command: str,
                 title: str = "Reproduction results", novelty: bool = False, judged_spec: list[dict] | None = None,
                 judged_default: list[dict] | None = None) -> str:
    """The report; with `novelty` (rows carry evaluate's "novelty"), novelty and coverage columns
    follow the six and a section below the table gives the scale and nearest offsets."""
    out = [f"# {title}", "",
           f"Generated by `{command}`. " + provenance(rows),
           "", "## Dataset baselines", "",
           "Computed from each checkpoint's own training windows (stored in the checkpoint at training time).", ""]
    seen = {}
    for r in rows:
        seen.setdefault(_key(r), r["baseline"])
    out.append(baseline_markdown([(f"dataset_{w}x{s}x{l}", f"{w} / {s} / {l}", m) for (w, s, l), m in seen.items()]))
    out.append("")
    for k, m in seen.items():
        spec = SPEC_BASELINES.get(k)
        if spec:
            same = all(fmt(m[n]) == fmt(spec[n]) for n in METRICS) and m["clips"] == spec["clips"]
            out.append(f"- {k[0]} / {k[1]} / {k[2]}: {'equal to' if same else 'DIFFERENT FROM'} the spec's row.")
    out += checkpoints_section(rows, novelty)
    if all("intervals" in r for r in rows):
        ns = "/".join(sorted({str(r["num_samples"]) for r in rows}))
        out += ["", f"95% bootstrap intervals of the spec-protocol rows (N = {ns}, so wide):", ""] + [
            f"- {r['tag']}: " + ", ".join(f"{k} {fmt(lo)}–{fmt(hi)}" for k, (lo, hi) in r["intervals"].items())
            for r in rows]
    out += ["", f"![metrics as % of baseline]({chart_name})", ""]
    if judged_spec:
        n = judged_spec[0]["n"]
        out += judged_section(f"The spec's sampler at N = {n}, judged", judged_spec,
                              f"ddpm-400, seed 42, fp32, {n} samples per checkpoint against its training clip: each "
                              "measure's value with its 95% bootstrap interval; ✓ where the interval meets the range "
                              f"random sets of {n} real windows score (docs/MEASURES.md defines the measures after the "
                              "spec's six).")
        out += claims_section(rows, judged_spec)
    if judged_default:
        n = judged_default[0]["n"]
        out += judged_section(f"Each checkpoint's faithful fast sampler at N = {n}", judged_default,
                              "What the lab shows at once on its Metrics page (evaluation.json `judged`): each "
                              "checkpoint's sampler.json pick (docs/SAMPLERS.md), same judge.")
    if novelty:
        out += novelty_section(rows)
    if notes:
        out += [notes.strip(), ""]
    return "\n".join(out)


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = len(rows)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False, sharey=False)
    x = np.arange(len(METRICS))
    for ax, r in zip(axes[0], rows):
        ours = [100 * r["metrics"][k] / r["baseline"][k] for k in METRICS]
        ax.bar(x - 0.2, ours, 0.4, label="ours", color="#2a6fdb")
        if ref := spec_run(r["tag"]):
            _, sm, sb = ref
            ax.bar(x + 0.2, [100 * sm[k] / sb[k] for k in METRICS], 0.4, label="spec", color="#e66100")
        ax.axhline(100, color="k", lw=0.8, ls="--")
        ax.set_xticks(x, METRICS, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{r['tag']} (epoch {r['epoch']})", fontsize=9)
        if max(ours) > 1000:
            ax.set_yscale("log")
        ax.set_ylabel("% of dataset baseline", fontsize=8)
    axes[0][0].legend(fontsize=8)
    save_chart(fig, path)


def save_chart(fig, path: Path) -> None:
    """A docs chart as PNG, written atomically, without a software stamp so an unchanged chart
    rewrites to the same bytes (report, sampler_study and fidelity_report charts)."""
    import io

    import matplotlib.pyplot as plt
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def evaluate_all(a, choice) -> tuple[list, list, list]:
    """The spec-protocol rows (with their intervals) and the two judged sets of every checkpoint."""
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    rows, judged_spec, judged_default = [], [], []
    for c in a.checkpoints:
        r = evaluate_checkpoint(c, a.num_samples, a.seed, a.precision, choice, a.threads,
                                with_novelty=a.novelty, data=a.data, keep_pixels=True)
        px = r.pop("pixels")
        ref = Reference(np.zeros((1,) + px.shape[1:]), ())
        r["intervals"] = {k: list(bootstrap(catalog.BY_NAME[k], px, ref).interval) for k in METRICS}
        rows.append(r)
        nov = r.get("novelty", {})
        log(f"{r['tag']}: " + ", ".join(f"{k}={fmt(r['metrics'][k])}" for k in METRICS)
            + "".join(f", {k}={fmt(nov.get(k))}" for k in (NOVELTY_COLUMNS if a.novelty else ()))
            + (f" (no novelty: {nov['error']})" if nov.get("error") else ""))
        if a.judge_n:
            for sampler, out in ((SPEC_SAMPLER, judged_spec), (None, judged_default)):
                d = judging.judge_checkpoint(c, a.judge_n, a.seed, sampler, "fp32", a.threads, a.data, log=log)
                d.pop("pixels")
                d["tag"] = r["tag"]
                out.append(d)
    return rows, judged_spec, judged_default


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.report", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--num-samples", type=int, default=8, help="the spec protocol's samples (its table)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--judge-n", type=int, default=256,
                   help="also judge N samples with the spec's sampler and with each checkpoint's faithful one "
                        "(intervals, the real range at N, every measure); 0 = the spec table only")
    p.add_argument("--out", default="docs/RESULTS.md")
    p.add_argument("--notes", default="docs/RESULTS_NOTES.md")
    p.add_argument("--title", default="Reproduction results")
    p.add_argument("--write-evaluations", action="store_true",
                   help="also store each checkpoint's rows as evaluation.json beside it (release folders)")
    # a committed document: the spec's sampler, fp32 and one thread, so a rerun here prints the same digits
    add_sampling_args(p, SPEC_SAMPLER, precision_default="fp32")
    p.set_defaults(threads="1")
    p.add_argument("--novelty", action="store_true",
                   help="add novelty and coverage (motionlab/novelty.py) against each checkpoint's training clip")
    p.add_argument("--data", default=None, help="with --novelty: the training clip (default: each checkpoint's own)")
    a = p.parse_args(argv)
    choice = sampling_from_args(a)
    rows, judged_spec, judged_default = evaluate_all(a, choice)
    order = list(SPEC_RUNS)  # the spec's runs in its order, then the rest as given
    rank = lambda r: order.index(r["tag"]) if r["tag"] in order else len(order)  # noqa: E731
    rows, judged_spec, judged_default = (sorted(x, key=rank) for x in (rows, judged_spec, judged_default))
    out = Path(a.out)
    chart_path = out.with_name(out.stem.lower() + "_chart.png")
    chart(rows, chart_path)
    notes = Path(a.notes).read_text() if Path(a.notes).is_file() else ""
    flags = [(f"--{k.replace('_', '-')} {getattr(a, k)}" if getattr(a, k) != p.get_default(k) else "")
             for k in ("sampler", "steps", "precision", "threads", "judge_n")]
    cmd = "python -m motionlab.report --checkpoints " + " ".join(a.checkpoints) + \
          f" --num-samples {a.num_samples} --seed {a.seed} --out {a.out}" + "".join(" " + f for f in flags if f) + \
          (f" --notes {a.notes}" if a.notes != p.get_default("notes") else "") + \
          (f' --title "{a.title}"' if a.title != p.get_default("title") else "") + \
          (" --novelty" if a.novelty else "") + (f" --data {a.data}" if a.data else "")
    atomic_write_bytes(out, build_report(rows, chart_path.name, notes, cmd, a.title, a.novelty, judged_spec,
                                         judged_default).encode())
    if a.write_evaluations:
        by = {d["checkpoint"]: d for d in judged_default}
        for r in rows:
            print(str(write_precomputed(r, cmd + " --write-evaluations", by.get(r["checkpoint"]))), file=sys.stderr)
    print(str(out))
    return 0
