"""Markdown tables in the spec's layout: dataset baselines and checkpoint rows."""
from __future__ import annotations

import math

from motionlab.evaluation.metrics import METRICS


def fmt(v) -> str:
    """Two decimals, as the spec's tables; 'n/a' for a missing or non-finite value."""
    return f"{v:.2f}" if isinstance(v, (int, float)) and math.isfinite(v) else "n/a"


def sig(v) -> str:
    """Four significant digits, thousands grouped instead of an exponent: the judged values are stored at
    that precision, so ".2f" would print digits that are not there ("48170000.00")."""
    if not (isinstance(v, (int, float)) and math.isfinite(v)):
        return "n/a"
    v = v + 0.0  # no "-0"
    return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"


def baseline_markdown(rows: list[tuple[str, str, dict]]) -> str:
    lines = ["| split | window/stride/limit | " + " | ".join(METRICS) + " | clips |",
             "| --- | --- | " + " | ".join("---" for _ in METRICS) + " | --- |"]
    for name, cfg, m in rows:
        lines.append(f"| {name} | {cfg} | " + " | ".join(fmt(m[k]) for k in METRICS) + f" | {m['clips']} |")
    return "\n".join(lines)


def checkpoints_markdown(rows: list[dict], baselines: bool = True, extra: tuple = ()) -> str:
    """The spec's "Model checkpoints evaluated" table; rows have tag, checkpoint, config, metrics
    (and baseline, printed under each row when `baselines`). `extra` names columns of
    row["novelty"] printed after the six (blank on baseline rows)."""
    tail = "".join(f" {k} |" for k in extra)
    lines = ["| tag | checkpoint | training config (window / stride / limit / epochs) | sampler | "
             + " | ".join(METRICS) + " |" + tail,
             "| --- | --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " |" + " --- |" * len(extra)]
    for r in rows:
        lines.append(f"| {r['tag']} | `{r['checkpoint']}` | {r['config']} | {r.get('sampler', '')} | "
                     + " | ".join(fmt(r["metrics"][k]) for k in METRICS) + " |"
                     + "".join(f" {fmt(r.get('novelty', {}).get(k))} |" for k in extra))
        if baselines:
            lines.append(f"| ↳ dataset baseline | | {r['baseline']['clips']} clips | | "
                         + " | ".join(fmt(r["baseline"][k]) for k in METRICS) + " |" + "  |" * len(extra))
            per_clip = r.get("clips") or []
            for c in per_clip if len(per_clip) > 1 else []:
                lines.append(f"| ↳ baseline of {c['name']} | | {c['baseline']['clips']} clips | | "
                             + " | ".join(fmt(c["baseline"][k]) for k in METRICS) + " |" + "  |" * len(extra))
    return "\n".join(lines)
