"""The Metrics page's fixed tables: the spec's own runs in its layout, and novelty and coverage."""
from __future__ import annotations

import numpy as np
import pandas as pd

from motionlab.evaluation.metrics import METRICS
from motionlab.evaluation.novelty import NoveltyError, novelty, training_clip_mismatch
from motionlab.evaluation.spec_reference import SPEC_BASELINES, SPEC_CHECKPOINTS, SPEC_RUNS

CONFIG_COL = "training config (window / stride / limit / epochs)"


def ratios(metrics: dict, baseline: dict) -> dict:
    out = {}
    for m in METRICS:
        b = baseline.get(m)
        out[m] = float(metrics[m]) / float(b) if b else float("nan")
    return out


def novelty_of(entry, pixels, joints, mean, clip, clip_name: str = "") -> dict:
    """NoveltyResult.to_dict() (plus 'clip') of sampled pixels against `clip`, when it is the
    checkpoint's training clip (judged from the entry's data config, the joints and the stored
    normalization mean); else {'error': one line}."""
    if clip is None:
        return {"error": "no clip"}
    why = training_clip_mismatch(clip, entry.data_config, joints, mean)
    if why:
        return {"error": f"{clip_name or 'the clip'} is not this checkpoint's training clip: {why}"}
    try:
        return {**novelty(np.asarray(pixels), clip.channels).to_dict(), "clip": clip_name}
    except NoveltyError as e:
        return {"error": str(e)}


def spec_rows() -> list[dict]:
    """The spec's four runs, with ratios to the spec's own baseline for their configuration."""
    out = []
    for tag, ((w, s, l, e), m) in SPEC_RUNS.items():
        base = SPEC_BASELINES[(w, s, l)]
        out.append({"source": "spec", "name": tag, "tag": tag, "checkpoint": SPEC_CHECKPOINTS.get(tag, ""),
                    "config": f"{w} / {s} / {l} / {e}", "sampler": "ddpm-400", "metrics": dict(m),
                    "ratios": ratios(m, base), "baseline": dict(base), "baseline_config": f"{w} / {s} / {l}"})
    return out


def table(spec: list[dict]) -> pd.DataFrame:
    """The spec's 'Model checkpoints evaluated' layout of its own runs."""
    recs = [{"source": "spec", "tag": r["tag"], "checkpoint": r["checkpoint"], CONFIG_COL: r["config"],
             "sampler": r["sampler"], **{m: r["metrics"][m] for m in METRICS}} for r in spec]
    return pd.DataFrame.from_records(recs, columns=["source", "tag", "checkpoint", CONFIG_COL, "sampler", *METRICS])


def novelty_table(rows: list[dict]) -> pd.DataFrame:
    """Per checkpoint: which weights, novelty, coverage, the clip's scale and each sample's nearest offset."""
    recs = []
    for r in rows:
        n = r.get("novelty") or {"error": "not evaluated with a clip"}
        recs.append({"tag": r["name"], "weights": r.get("weights", "raw"), "novelty": n.get("novelty", float("nan")),
                     "coverage": n.get("coverage", float("nan")), "scale (px)": n.get("scale", float("nan")),
                     "nearest clip offsets": ", ".join(map(str, n.get("nearest_offsets", []))),
                     "clip": n.get("clip", ""), "note": n.get("error", "")})
    return pd.DataFrame.from_records(recs, columns=["tag", "weights", "novelty", "coverage", "scale (px)",
                                                    "nearest clip offsets", "clip", "note"])
