"""The Metrics page's judge: each checkpoint's samples with every measure's interval against the real
data's range at the same N (motionlab.pipeline.judging), rows kept by release folders, and the figure.

A row: {"name", "path", "sampler", "n", "seed", "precision", "doc" (judge.results_doc), "provenance",
"command", "precomputed", "error"}. Precomputed rows come from a release's evaluation.json ("judged"),
written by `python -m motionlab.report --write-evaluations`, and show at once.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from motionlab.errors import one_line
from motionlab.evaluation import catalog
from motionlab.evaluation.spec_reference import SPEC_BASELINES, SPEC_RUNS
from motionlab.pipeline.evaluating import read_precomputed
from motionlab.pipeline.judging import judge_pixels, real_data_for

OFF_SCALE = 2.5  # ratios beyond this are drawn at the edge, labelled with their value


def row(entry, doc: dict | None, sampler: str, n: int, seed: int, precision: str, error: str = "", **extra) -> dict:
    return {"name": entry.short, "tag": entry.tag, "path": entry.path, "weights": entry.weights, "sampler": sampler, "n": int(n),
            "seed": int(seed), "precision": precision, "doc": doc, "error": error, "precomputed": False,
            "provenance": "computed here", "command": "", **extra}


def judge_pixels_row(entry, lm, pixels, sampler: str, n: int, seed: int, precision: str) -> dict:
    """A row judging sampled pixels against the checkpoint's own training clip(s); its error, if any."""
    try:
        return row(entry, judge_pixels(pixels, real_data_for(lm)), sampler, n, seed, precision)
    except Exception as e:  # noqa: BLE001  (a row says why, the page goes on)
        return row(entry, None, sampler, n, seed, precision, error=one_line(e))


def precomputed(entry, sampler: str, n: int, seed: int, precision: str) -> dict | None:
    """The release's stored judged row for exactly these settings (fp32), else None."""
    if precision != "fp32":
        return None
    doc = read_precomputed(entry.path) or {}
    j = doc.get("judged")
    if not isinstance(j, dict) or \
            (j.get("sampler"), j.get("n"), j.get("seed"), j.get("precision")) != (sampler, int(n), int(seed), "fp32"):
        return None
    m = j.get("machine", {})
    return row(entry, {"n": j["n"], "metrics": j["metrics"]}, sampler, n, seed, "fp32", precomputed=True,
               provenance=f"precomputed on {m.get('cpu_capability', '?')}, torch {m.get('torch', '?')}",
               command=doc.get("command", ""))


def spec_ratio(tag: str, name: str) -> float | None:
    """The spec's reported value for its run of this tag, as a ratio to the spec's own baseline."""
    if tag not in SPEC_RUNS or name not in catalog.SPEC:
        return None
    (w, s, l, _), m = SPEC_RUNS[tag]
    return m[name] / SPEC_BASELINES[(w, s, l)][name]


def interval_figure(rows: list[dict], names: list[str]) -> dict:
    """One panel per measure, one line per checkpoint: the value and its 95% interval over the real data's
    range at the same N (shaded), all divided by the real median so every measure reads around 1; the
    spec's reported value (as a ratio to its baseline) as a diamond. Off-scale values sit at the edge,
    labelled, instead of stretching a log axis."""
    ok = [r for r in rows if r.get("doc")]
    panels = len(names)
    cols = 2 if panels > 1 else 1
    nrows = math.ceil(panels / cols)
    data, shapes, ann = [], [], []
    height = max(120, 36 * len(ok) + 60)
    layout = {"height": int(height * nrows), "margin": {"l": 110, "r": 10, "t": 20, "b": 40},
              "shapes": shapes, "annotations": ann, "showlegend": False}
    for i, name in enumerate(names):
        ax = "" if i == 0 else str(i + 1)
        col, rw = i % cols, i // cols
        x0, x1 = col / cols + 0.06, (col + 1) / cols - 0.02
        y1, y0 = 1 - rw / nrows - 0.06 / nrows, 1 - (rw + 1) / nrows + 0.12 / nrows
        for k, r in enumerate(ok):
            m = r["doc"]["metrics"].get(name)
            if not m or m.get("value") is None or not m.get("real_median"):
                continue
            med = m["real_median"]
            lo_r, hi_r = (v / med for v in m["real_range"])
            shapes.append({"type": "rect", "xref": f"x{ax}", "yref": f"y{ax}", "x0": max(lo_r, 0), "x1": min(hi_r, OFF_SCALE),
                           "y0": k - 0.35, "y1": k + 0.35, "fillcolor": "rgba(120,120,120,0.22)", "line": {"width": 0}})
            v, (lo, hi) = m["value"] / med, (b / med for b in m["interval"])
            clipped = min(v, OFF_SCALE)
            color = "#1f77b4" if m.get("like_data") else "#d62728"
            data.append({"type": "scatter", "x": [clipped], "y": [k], "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                         "mode": "markers", "marker": {"color": color, "size": 8}, "showlegend": False,
                         "error_x": {"type": "data", "symmetric": False, "array": [max(min(hi, OFF_SCALE) - clipped, 0)],
                                     "arrayminus": [max(clipped - lo, 0)], "color": color},
                         "hovertemplate": f"{r['name']} ({r['sampler']}, N = {r['n']})<br>{name} {m['value']:.4g} "
                                          f"[{m['interval'][0]:.4g}, {m['interval'][1]:.4g}]<br>real at this N: "
                                          f"{m['real_range'][0]:.4g}–{m['real_range'][1]:.4g}<extra></extra>"})
            if v > OFF_SCALE:
                ann.append({"xref": f"x{ax}", "yref": f"y{ax}", "x": OFF_SCALE, "y": k, "text": f"→ {v:.3g}×",
                            "showarrow": False, "xanchor": "right", "yanchor": "bottom", "font": {"size": 10}})
            sr = spec_ratio(r["tag"], name)
            if sr is not None:
                base = r["doc"]["metrics"][name].get("ratio_to_baseline")
                # the spec's ratio to its baseline, put on this axis through ours: baseline / real median
                scale = (m["value"] / base) / med if base else None
                if scale:
                    data.append({"type": "scatter", "x": [min(sr * scale, OFF_SCALE)], "y": [k], "xaxis": f"x{ax}",
                                 "yaxis": f"y{ax}", "mode": "markers", "showlegend": False,
                                 "marker": {"symbol": "diamond-open", "color": "#444", "size": 9},
                                 "hovertemplate": f"spec's reported {r['tag']}: {sr:.3g}× its baseline<extra></extra>"})
        data.append({"type": "scatter", "x": [1, 1], "y": [-0.5, len(ok) - 0.5], "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                     "mode": "lines", "line": {"color": "black", "dash": "dot", "width": 1}, "showlegend": False,
                     "hoverinfo": "skip"})
        ann.append({"xref": "paper", "yref": "paper", "x": (x0 + x1) / 2, "y": y1 + 0.01, "text": f"<b>{name}</b>",
                    "showarrow": False, "yanchor": "bottom", "font": {"size": 11}})
        layout[f"xaxis{ax}"] = {"domain": [x0, x1], "range": [0, OFF_SCALE * 1.02], "anchor": f"y{ax}", **(
            {"title": {"text": "÷ real median at this N", "font": {"size": 9}}} if rw == nrows - 1 else {})}
        layout[f"yaxis{ax}"] = {"domain": [y0, y1], "anchor": f"x{ax}", "tickvals": list(range(len(ok))),
                                "ticktext": [r["name"] for r in ok] if col == 0 else [""] * len(ok),
                                "range": [len(ok) - 0.4, -0.6]}
    return {"data": data, "layout": layout}


def table(rows: list[dict], names: list[str]) -> pd.DataFrame:
    """Measures down, checkpoints across: 'value [lo–hi]', with the real range and the verdict."""
    recs = []
    for r in rows:
        if not r.get("doc"):
            continue
        for name in names:
            m = r["doc"]["metrics"].get(name) or {}
            v = m.get("value")
            recs.append({"checkpoint": r["name"], "sampler": r["sampler"], "N": r["n"], "measure": name,
                         "value": np.nan if v is None else v,
                         "95% interval": _span(m.get("interval")), "real data at this N": _span(m.get("real_range")),
                         "like the data": ("yes" if m.get("like_data") else "no") if v is not None else "n/a",
                         "÷ baseline": m.get("ratio_to_baseline", np.nan)})
    return pd.DataFrame.from_records(recs, columns=["checkpoint", "sampler", "N", "measure", "value", "95% interval",
                                                    "real data at this N", "like the data", "÷ baseline"])


def _span(iv) -> str:
    if not iv or iv[0] is None or iv[1] is None:
        return "–"
    return f"{iv[0]:.4g} – {iv[1]:.4g}"


def verdict_table(res: dict) -> pd.DataFrame:
    """judging.compare_pixels' metrics as rows."""
    return pd.DataFrame.from_records(
        [{"measure": k, "A's distance": r["distance_a"], "B's distance": r["distance_b"],
          "A − B": r["difference"], "95% interval": _span(r["interval"]), "verdict": r["verdict"]}
         for k, r in res["metrics"].items()])
