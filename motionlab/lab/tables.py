"""Metrics rows for the Metrics page: ratios to the dataset baseline and the spec's table layout."""
from __future__ import annotations

import numpy as np
import pandas as pd

from motionlab.evaluation.markdown import baseline_markdown, checkpoints_markdown
from motionlab.pipeline.evaluating import read_precomputed
from motionlab.evaluation.metrics import METRICS, sample_metrics
from motionlab.evaluation.novelty import COLUMNS as NOVELTY_COLUMNS, NoveltyError, novelty, training_clip_mismatch
from motionlab.evaluation.spec_reference import SPEC_BASELINES, SPEC_CHECKPOINTS, SPEC_RUNS
from motionlab.core.samplers import SPEC_SAMPLER, SamplerChoice
from motionlab.lab.results import sample_entries

CONFIG_COL = "training config (window / stride / limit / epochs)"


def ratios(metrics: dict, baseline: dict) -> dict:
    out = {}
    for m in METRICS:
        b = baseline.get(m)
        out[m] = float(metrics[m]) / float(b) if b else float("nan")
    return out


def _row(entry, metrics: dict | None, seed: int, num_samples: int, precision: str, sampler: str,
         error: str = "") -> dict:
    row = {"source": "ours", "name": entry.tag, "tag": entry.tag, "checkpoint": entry.name, "path": entry.path,
           "config": entry.config, "epoch": entry.epoch, "seed": int(seed), "num_samples": int(num_samples),
           "precision": precision, "sampler": sampler, "weights": entry.weights, "baseline": dict(entry.baseline),
           "baseline_config": f"{entry.window} / {entry.stride} / {entry.limit}", "error": error}
    if metrics is None:
        metrics = {m: float("nan") for m in METRICS}
    row.update(metrics=metrics, ratios=ratios(metrics, entry.baseline))
    return row


def metrics_row(entry, pixels, seed: int, precision: str = "fp32", sampler: str = "") -> dict:
    """Our row for a checkpoint entry (catalog.CheckpointEntry) from its sampled (N, W, C) pixels."""
    px = np.asarray(pixels)
    m = sample_metrics(px)
    return _row(entry, m, seed, px.shape[0], precision, sampler, "" if m is not None else "samples contain NaN or inf")


def precomputed_row(entry, seed: int, num_samples: int, sampler: str) -> dict | None:
    """The row a release folder's evaluation.json holds for exactly these settings (fp32), else None."""
    doc = read_precomputed(entry.path)
    if doc is None or (doc.get("seed"), doc.get("num_samples"), doc.get("sampler"), doc.get("precision")) \
            != (int(seed), int(num_samples), sampler, "fp32"):
        return None
    row = _row(entry, {k: float(doc["metrics"][k]) for k in METRICS}, seed, num_samples, "fp32", sampler)
    m = doc.get("machine", {})
    if isinstance(doc.get("novelty"), dict):
        row["novelty"] = doc["novelty"]
    row.update(precomputed=True, name=f"{entry.short} (precomputed)",
               note=f"precomputed by `{doc.get('command', '?')}` on {m.get('cpu_capability', '?')}, "
                    f"torch {m.get('torch', '?')}")
    return row


def fill_precomputed(store: dict, chosen: list, keys: dict, seed: int, num_samples: int, sampler,
                     precision: str, skip: set) -> list:
    """Put release evaluations that match these settings into `store` (unless their key is in `skip`,
    i.e. the user asked to recompute); returns the entries still to evaluate."""
    if precision == "fp32":
        for e in chosen:
            k = keys[e.path]
            if k not in store and k not in skip:
                row = precomputed_row(e, seed, num_samples, sampler.label(e.timesteps))
                if row is not None:
                    store[k] = row
    return [e for e in chosen if keys[e.path] not in store]


def novelty_of(entry, result, clip, clip_name: str = "") -> dict:
    """NoveltyResult.to_dict() (plus 'clip') of a sampled result against `clip`, when it is the
    checkpoint's training clip; else {'error': one line}."""
    if clip is None:
        return {"error": "no clip"}
    why = training_clip_mismatch(clip, entry.data_config, result.joints, result.mean)
    if why:
        return {"error": f"{clip_name or 'the clip'} is not this checkpoint's training clip: {why}"}
    try:
        return {**novelty(result.pixels, clip.channels).to_dict(), "clip": clip_name}
    except NoveltyError as e:
        return {"error": str(e)}


def evaluate_entries(report, items: list[tuple], num_samples: int, seed: int, precision: str,
                     clip=None, clip_name: str = "", sampler: SamplerChoice = SPEC_SAMPLER) -> list[tuple]:
    """Metrics rows for (entry, pixel_key, cached SampleResult or None, LoadedModel or None) items, as one job.

    Samples only the entries without a cached result. With a clip, each row gets "novelty"
    (novelty_of). Returns (pixel_key, SampleResult, row) triples.
    """
    drawn = dict(sample_entries(report, [(e, lm) for e, _, r, lm in items if r is None],
                                num_samples, seed, precision, sampler))
    out = []
    for e, key, r, _ in items:
        r = r or drawn[key]
        row = metrics_row(e, r.pixels, seed, r.precision, r.sampler)
        row["name"] = e.short
        if clip is not None:
            row["novelty"] = novelty_of(e, r, clip, clip_name)
        out.append((key, r, row))
    return out


def spec_rows() -> list[dict]:
    """The spec's four runs, with ratios to the spec's own baseline for their configuration."""
    out = []
    for tag, ((w, s, l, e), m) in SPEC_RUNS.items():
        base = SPEC_BASELINES[(w, s, l)]
        out.append({"source": "spec", "name": tag, "tag": tag, "checkpoint": SPEC_CHECKPOINTS.get(tag, ""),
                    "config": f"{w} / {s} / {l} / {e}", "sampler": "ddpm-400", "metrics": dict(m),
                    "ratios": ratios(m, base),
                    "baseline": dict(base), "baseline_config": f"{w} / {s} / {l}", "error": ""})
    return out


def _extra(ours: list[dict]) -> tuple:
    """The novelty columns, when any of our rows was evaluated with a clip."""
    return NOVELTY_COLUMNS if any("novelty" in r for r in ours) else ()


def table(ours: list[dict], spec: list[dict] | None = None, with_baselines: bool = True) -> pd.DataFrame:
    """The spec's 'Model checkpoints evaluated' layout, with a source column and baseline rows.

    Novelty and coverage follow the six when rows carry them (empty on baseline and spec rows)."""
    extra = _extra(ours)
    recs = []
    for r in ours:
        n = r.get("novelty", {})
        recs.append({"source": "ours", "tag": r["tag"], "checkpoint": r["checkpoint"], CONFIG_COL: r["config"],
                     "sampler": r.get("sampler", ""), **{m: r["metrics"][m] for m in METRICS},
                     **{k: n.get(k, float("nan")) for k in extra}})
        if with_baselines:
            recs.append({"source": "ours: dataset baseline", "tag": r["tag"], "checkpoint": "", "sampler": "",
                         CONFIG_COL: f"{r['baseline_config']} ({r['baseline'].get('clips', '?')} clips)",
                         **{m: r["baseline"].get(m, float("nan")) for m in METRICS}})
    for r in spec or []:
        recs.append({"source": "spec", "tag": r["tag"], "checkpoint": r["checkpoint"], CONFIG_COL: r["config"],
                     "sampler": r["sampler"], **{m: r["metrics"][m] for m in METRICS}})
    cols = ["source", "tag", "checkpoint", CONFIG_COL, "sampler", *METRICS, *extra]
    return pd.DataFrame.from_records(recs, columns=cols)


def novelty_table(ours: list[dict]) -> pd.DataFrame:
    """Per checkpoint: which weights, novelty, coverage, the clip's scale and each sample's nearest offset."""
    recs = []
    for r in ours:
        n = r.get("novelty") or {"error": "not evaluated with a clip"}
        recs.append({"tag": r["name"], "weights": r.get("weights", "raw"), "novelty": n.get("novelty", float("nan")),
                     "coverage": n.get("coverage", float("nan")), "scale (px)": n.get("scale", float("nan")),
                     "nearest clip offsets": ", ".join(map(str, n.get("nearest_offsets", []))),
                     "clip": n.get("clip", ""), "note": n.get("error", "")})
    return pd.DataFrame.from_records(recs, columns=["tag", "weights", "novelty", "coverage", "scale (px)",
                                                    "nearest clip offsets", "clip", "note"])


def ratio_table(rows: list[dict]) -> pd.DataFrame:
    recs = [{"source": r["source"], "tag": r["tag"], "sampler": r.get("sampler", ""),
             **{m: r["ratios"][m] for m in METRICS}} for r in rows]
    return pd.DataFrame.from_records(recs, columns=["source", "tag", "sampler", *METRICS])


def to_csv(ours: list[dict], spec: list[dict] | None = None) -> str:
    return table(ours, spec).to_csv(index=False, float_format="%.4f")


def to_markdown(ours: list[dict], spec: list[dict] | None = None) -> str:
    """Markdown in the spec's layout: dataset baselines, our checkpoints, and the spec's rows."""
    parts = []
    seen, base_rows = set(), []
    for r in ours:
        key = r["baseline_config"]
        if key not in seen and r["baseline"]:
            seen.add(key)
            w, s, l = (int(v) for v in key.split(" / "))
            base_rows.append((f"dataset_{w}x{s}x{l}", key, r["baseline"]))
    if base_rows:
        parts += ["## Dataset baselines (ours)", "", baseline_markdown(base_rows), ""]
    if ours:
        seeds = sorted({r["seed"] for r in ours})
        n = sorted({r["num_samples"] for r in ours})
        parts += ["## Model checkpoints evaluated (ours)", "",
                  f"{'/'.join(map(str, n))} samples per checkpoint, seed {'/'.join(map(str, seeds))}.", "",
                  checkpoints_markdown(ours, baselines=False, extra=_extra(ours)), ""]
    if spec:
        parts += ["## Reported in the spec (motion_diffusion_experiments.md)", "",
                  baseline_markdown([(f"dataset_{w}x{s}x{l}", f"{w} / {s} / {l}", m)
                                     for (w, s, l), m in SPEC_BASELINES.items()]), "",
                  checkpoints_markdown(spec, baselines=False), ""]
    return "\n".join(parts)
