"""docs/FIDELITY.md and its chart from the JSON that `python -m motionlab.fidelity run` writes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from motionlab.evaluation.markdown import fmt
from motionlab.io import atomic_write_bytes
from motionlab.evaluation.metrics import METRICS
from motionlab.studies.report import save_chart
from motionlab.evaluation.spec_reference import spec_run
from motionlab.paths import CHECKPOINTS
from motionlab.pipeline.evaluating import read_precomputed

PHASE1 = "One change at a time"
PHASE2 = "The combination"


def _pct(row, k) -> str:
    return f"{100 * row['metrics'][k] / row['baseline'][k]:.0f}%"


def _within(row, target) -> str:
    return "yes" if row["worst"] <= target else "no"


def _nov(row, key) -> str:
    n = row.get("novelty") or {}
    return f"{n[key]:.2f}" if key in n else "n/a"


def table(doc: dict, rows: list[dict]) -> list[str]:
    head = ["arm", "run", "weights", "epochs", *METRICS, "score", "worst", f"all within {doc['target']:.0%}",
            "novelty", "coverage", "training wall time"]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        run = doc["runs"][r["run"]]
        if r["metrics"] is None:
            cells = ["non-finite"] * len(METRICS) + ["n/a", "n/a", "no"]
        else:
            cells = [_pct(r, k) for k in METRICS] + [f"{r['score']:.3f}", f"{r['worst']:.3f}", _within(r, doc["target"])]
        wall = f"{run['seconds']:.0f} s ({run['together']} runs at once)"
        out.append("| " + " | ".join([r["arm"], f"`{r['run']}`", r["weights"], str(run["epochs"]), *cells,
                                      _nov(r, "novelty"), _nov(r, "coverage"), wall]) + " |")
    return out


def spread(doc: dict, rows: list[dict]) -> list[str]:
    """Mean and standard deviation over seeds of each metric's % of baseline, for plain and the combination."""
    import numpy as np
    groups = {"plain": [r for r in rows if r["arm"] == "plain" or r["arm"].startswith("plain (seed")],
              "best combination": [r for r in rows if r["arm"].startswith("best combination") and "[" not in r["arm"]]}
    out = ["| recipe | seeds | " + " | ".join(METRICS) + " | score |", "|" + " --- |" * (len(METRICS) + 3)]
    for name, g in groups.items():
        g = [r for r in g if r["metrics"] is not None]
        if len(g) < 2:
            continue
        seeds = ", ".join(str(doc["runs"][r["run"]]["seed"]) for r in g)
        cells = []
        for k in METRICS:
            v = np.array([100 * r["metrics"][k] / r["baseline"][k] for r in g])
            cells.append(f"{v.mean():.0f}% ± {v.std(ddof=1):.0f}")
        sc = np.array([r["score"] for r in g])
        out.append(f"| {name} | {seeds} | " + " | ".join(cells) + f" | {sc.mean():.3f} ± {sc.std(ddof=1):.3f} |")
    return out


def chart(doc: dict, rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in rows if r["metrics"] is not None]
    lo, hi = 40, 160  # bars beyond are cut at the edge and marked: one exploded arm must not hide the rest
    fig, ax = plt.subplots(figsize=(11, 4.2))
    x = np.arange(len(METRICS))
    w = 0.8 / max(len(rows), 1)
    cmap = plt.get_cmap("tab10")
    for i, r in enumerate(rows):
        v = np.array([100 * r["metrics"][k] / r["baseline"][k] for k in METRICS])
        off = (v > hi).any()
        xs = x - 0.4 + w * (i + 0.5)
        color = "#111111" if r["arm"].startswith("best") else cmap(i % 10)
        ax.bar(xs, np.clip(v, lo, hi), w, label=r["arm"] + (" (off scale)" if off else ""), color=color)
        for xi, vi in zip(xs, v):
            if vi > hi:
                ax.text(xi, hi, "▲", ha="center", va="bottom", fontsize=7, color=cmap(i % 10))
    ax.axhspan(100 * (1 - doc["target"]), 100 * (1 + doc["target"]), color="0.85", zorder=0,
               label=f"baseline ±{doc['target']:.0%}")
    ax.axhline(100, color="k", lw=0.8, ls="--")
    ax.set_ylim(lo, hi + 8)
    ax.set_xticks(x, METRICS)
    ax.set_ylabel("% of dataset baseline")
    ax.set_title(f"Spec protocol (ddpm-400, 8 samples, seed 42) after {doc['epochs']} epochs", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save_chart(fig, path)


def monitor_chart(doc: dict, path: Path) -> bool:
    """Each run's monitor samples (EMA weights, ddpm-20, 4 samples, seed 0) as a score over epochs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = doc["rows"][0]["baseline"]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    drawn = 0
    for name, run in sorted(doc["runs"].items()):
        pts = [(m["epoch"], sum(abs(m[k] / base[k] - 1) for k in METRICS) / len(METRICS)) for m in run["monitor"]
               if all(k in m for k in METRICS)]
        if not pts:
            continue
        combo = run["changes"] == doc.get("combination", {}).get("changes")
        style = dict(color="#2a6fdb", lw=1.6) if combo else dict(color="0.55", lw=1.0) if not run["changes"] \
            else dict(lw=1.0, ls="--")
        above = min(p[1] for p in pts) > 300
        ax.plot(*zip(*pts), label=name + (" (above the plot)" if above else ""), **style)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return False
    ax.axhline(doc["target"], color="k", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_ylim(0.03, 300)
    ax.set_xlabel("epoch")
    ax.set_ylabel("score (mean |value/baseline - 1|)")
    ax.set_title("Training monitor: EMA weights, ddpm-20, 4 samples, seed 0", fontsize=10)
    ax.legend(fontsize=6, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save_chart(fig, path)
    return True


def score(metrics: dict, baseline: dict) -> tuple[float, float]:
    """(mean, worst) over the six metrics of |value / baseline - 1|: 0 is the data itself."""
    d = [abs(metrics[k] / baseline[k] - 1.0) for k in METRICS]
    return float(np.mean(d)), float(max(d))


def spec_scale() -> str:
    """The spec's own 256-frame runs on the same score, for scale (motionlab.evaluation.spec_reference)."""
    parts = []
    for tag in ("earlystop_500", "long_1000", "long_10000"):
        _, m, b = spec_run(tag)
        mean, worst = score(m, b)
        parts.append(f"{tag} {mean:.3f} (worst {worst:.3f})")
    return "For scale, the spec's runs score " + ", ".join(parts) + "."


def _machine(doc) -> str:
    m = doc["machine"]
    return ", ".join(f"{k} {v}" for k, v in m.items())


RELEASE = CHECKPOINTS / "best_fidelity" / "model.pt"


def release_line(release: Path) -> list[str]:
    """The shipped fp16 weights on the CPU (their evaluation.json): the spec's protocol, and the judged set
    at N = 256 with the release's faithful sampler, each measure against the real data at that N."""
    ev = read_precomputed(release)
    if ev is None:
        return []
    m, b, mc = ev["metrics"], ev["baseline"], ev["machine"]
    cells = ", ".join(f"{k} {100 * m[k] / b[k]:.1f}%" for k in METRICS)
    nov = (ev.get("novelty") or {}).get("novelty")
    out = [f"The release itself (fp16 weights) on the CPU, from its `evaluation.json` ({ev['sampler']}, "
           f"{ev['num_samples']} samples, seed {ev['seed']}, {ev['precision']}, CPU capability {mc['cpu_capability']}, "
           f"torch {mc['torch']}, {mc['threads']} thread): {cells}" + (f"; novelty {nov:.2f}." if nov is not None else "."), ""]
    j = ev.get("judged")
    if j:
        ms = j["metrics"]
        unlike = [k for k, r in ms.items() if r.get("value") is not None and not r.get("like_data")]
        ratios = ", ".join(f"{k} {100 * ms[k]['ratio_to_baseline']:.0f}% "
                           f"[{100 * ms[k]['interval'][0] / ms[k]['value'] * ms[k]['ratio_to_baseline']:.0f}–"
                           f"{100 * ms[k]['interval'][1] / ms[k]['value'] * ms[k]['ratio_to_baseline']:.0f}]"
                           for k in METRICS if ms[k].get("ratio_to_baseline") and ms[k]["value"])
        out += [f"Judged at N = {j['n']} with its faithful sampler ({j['sampler']}; docs/SAMPLERS.md): "
                f"{len(ms) - len(unlike)} of {len(ms)} measures like the data"
                + (f" (not: {', '.join(unlike)})" if unlike else "") + f"; the six as % of the baseline with their "
                f"95% intervals: {ratios} (docs/RESULTS.md has every measure).", ""]
    return out


def _phase2_lines(doc: dict, main_rows: list[dict]) -> list[str]:
    lines: list[str] = []
    combo = doc.get("combination")
    if combo is None:
        return lines
    lines += [f"## {PHASE2}", "",
              f"Training changes {' + '.join(combo['changes']) or '(none)'}, {combo['weights']} weights"
              + (" (the schedules are exclusive: the better of cosine and zero-SNR+v is kept)" if combo["changes"] else "")
              + ", with seeds " + ", ".join(sorted({str(doc["runs"][r["run"]]["seed"]) for r in main_rows
                                                    if r["arm"].startswith("best")})) + ".", ""]
    best = [r for r in main_rows if r["arm"].startswith("best")]
    lines += table(doc, best) if best else ["Phase 2 did not run: " + doc.get("phase2_error", "see the log"), ""]
    lines += ["", "### Spread over seeds", "",
              "Mean ± standard deviation over the training seeds (same sampling seed, 42) of each metric's "
              "% of baseline:", "", *spread(doc, main_rows), ""]
    return lines


def _repeat_lines(repeat: dict, repeat_path: str) -> list[str]:
    lines: list[str] = []
    asked = repeat["epochs"]
    got = sorted({r["epochs"] for r in repeat["runs"].values()})
    lines += ["## A repeat", "",
              f"`python -m motionlab.fidelity confirm` trained the plain recipe and the combination again, "
              f"seeds {', '.join(sorted({str(r['seed']) for r in repeat['runs'].values()}))}, "
              f"{len(repeat['runs'])} runs at once on {_machine(repeat)}, asking for {asked} epochs"
              + (f"; its time limit stopped them at {got[0]}-{got[-1]} epochs, so read it as a second, "
                 "independent training near the study's budget, not as the 1000-epoch point" if got[-1] < asked else "")
              + f" ({repeat_path}). Same protocol and columns; each run with both weights:", "",
              *table(repeat, repeat["rows"]), ""]
    return lines


def _shipped_lines(doc: dict, by_arm: dict, release: Path) -> list[str]:
    lines: list[str] = []
    s = doc["shipped"]
    r = by_arm[s["arm"]]
    lines += ["## Shipped", "",
              f"`checkpoints/best_fidelity/` holds the {s['weights']} weights of `{s['run']}` (arm \"{s['arm']}\": "
              f"score {r['score']:.3f}, worst {r['worst']:.3f}, novelty {_nov(r, 'novelty')}), the lowest score "
              "among the seed-42 runs. The study ran it in a thread of `motionlab.fidelity run`; as one command:", "", f"    {s['command']}", "", *release_line(release)]
    return lines


def write_report(doc: dict, out: Path, notes: Path, json_path: str, repeat: dict | None = None,
                 repeat_path: str = "", release: Path = RELEASE) -> Path:
    rows = doc["rows"]
    by_arm = {r["arm"]: r for r in rows}
    main_rows = [r for r in rows if not r["arm"].endswith("(EMA)") and "[" not in r["arm"]]
    ema_rows = [r for r in rows if r["arm"].endswith("(EMA)") or "[" in r["arm"]]
    chart_name = out.with_name(out.stem.lower() + "_chart.png")
    chart(doc, [r for r in main_rows if r["phase"] == 1 or r["arm"] == "best combination"], chart_name)
    base = rows[0]["baseline"]
    lines = [
        "# Fidelity study: samples that move like the data",
        "",
        f"Generated by `python -m motionlab.fidelity report --json {json_path} --out {out.as_posix()}` from the JSON "
        f"that `python -m motionlab.fidelity run` wrote (on the device: `scripts/fidelity_gpu.sh`). "
        f"Training and evaluation ran on {_machine(doc)} ({doc['device']}"
        f"{', CUDA graphs' if doc.get('cuda_graph') else ''}); the whole study took {doc.get('seconds', 0):.0f} s.",
        "",
        f"Recipe of every run: `{' '.join(doc['recipe'])}`, seed 42 unless stated, {doc['epochs']} epochs "
        f"each (ceiling {doc['max_epochs']}), every run keeping an EMA of its weights (decay {doc['ema_readout']}) "
        "as a read-out. Each row evaluates a run's final weights by the spec's protocol: ddpm-400, 8 samples, "
        "seed 42, fp32 (TF32 off). Cells are % of the dataset baseline; **score** is the mean over the six "
        "metrics of |value / baseline − 1| and **worst** the largest (the target is every metric within "
        f"±{doc['target']:.0%}, i.e. worst ≤ {doc['target']}). novelty and coverage: `motionlab/novelty.py` "
        "(near 0 = copies of the clip; 1 = as far from the clip as the clip is from itself).",
        "",
        "Dataset baseline: " + ", ".join(f"{k} {fmt(base[k])}" for k in METRICS) + ". " + spec_scale(),
        "",
        f"## {PHASE1}",
        "",
        *table(doc, [r for r in main_rows if r["phase"] == 1 and not r["arm"].startswith("best")]),
        "",
        "Changes that lowered the plain recipe's score: "
        + (", ".join(f"**{a}**" for a in doc.get("helped", [])) or "none") + ".",
        "",
    ]
    lines += _phase2_lines(doc, main_rows)
    if ema_rows:
        lines += ["## The other weights of each run", "",
                  "The EMA read-out of every run, and the weights the combination did not choose.", "",
                  *table(doc, ema_rows), ""]
    lines += [f"![% of baseline per arm]({chart_name.name})", ""]
    mon = out.with_name(out.stem.lower() + "_monitor.png")
    if monitor_chart(doc, mon):
        lines += ["Per-epoch monitoring: every 100 epochs each run sampled 4 clips (ddpm-20, seed 0) from its EMA "
                  "weights; the score of those against the baseline (the dotted line is the 10% target; four "
                  "samples at 20 steps read higher than the table's protocol, so read them for trend):", "",
                  f"![monitor score over epochs]({mon.name})", ""]
    lines += _repeat_lines(repeat, repeat_path) if repeat is not None else []
    lines += _shipped_lines(doc, by_arm, release) if "shipped" in doc else []
    if notes.is_file():
        lines += [notes.read_text().strip(), ""]
    atomic_write_bytes(out, "\n".join(lines).encode())
    return out
