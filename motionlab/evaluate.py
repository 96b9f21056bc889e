"""The evaluation protocol: dataset baselines and seeded samples from checkpoints.

    python -m motionlab.evaluate --dataset-only --data data/uptown_funk.json --window 64 --stride 32 --limit 32 --json
    python -m motionlab.evaluate --checkpoints checkpoints/*.pt --num-samples 8 --seed 42
    python -m motionlab.evaluate --dataset-only --checkpoints runs/NAME/best.pt   # its windows, rebuilt
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from motionlab.formats.checkpoints import load_model, read_checkpoint
from motionlab.cli import resolve_clip, resolve_clips, run_main
from motionlab.data.dataset import DataConfig, MotionSequenceDataset
from motionlab.errors import ClipError, MotionlabError
from motionlab.io import atomic_write_bytes, atomic_write_json
from motionlab.evaluation.metrics import METRICS, sample_metrics
from motionlab.evaluation.novelty import COLUMNS as NOVELTY_COLUMNS, NoveltyError, novelty, training_clip_mismatch
from motionlab.sample import SPEC_SAMPLER, SamplerChoice, add_sampling_args, sample_checkpoint, sampling_from_args
from motionlab.paths import REPO



def baseline_windows(clip, window: int, stride: int, limit: int, seed: int = 42) -> MotionSequenceDataset:
    """The training windows a baseline is measured on, as the trainer builds them (clip: a Clip or a list)."""
    return MotionSequenceDataset(clip, DataConfig(window=window, stride=stride, limit=limit, seed=seed))


def dataset_baseline(clip, window: int, stride: int, limit: int, seed: int = 42) -> dict:
    """The pooled baseline (for one clip, the metrics of its windows)."""
    return baseline_windows(clip, window, stride, limit, seed).baseline()


def checkpoint_windows(meta: dict, data=None) -> MotionSequenceDataset:
    """Rebuild the windows a checkpoint was trained on, from `data` (default: the clips it records, by
    their recorded paths). Each clip must match the recorded frame count and sha256."""
    fields = set(DataConfig.__dataclass_fields__)
    cfg = DataConfig(**{k: v for k, v in meta["data_config"].items() if k in fields})
    records = meta.get("clips")
    spec = data if data is not None else ([r["name"] for r in records] if records else cfg.data)
    clips, _ = resolve_clips(spec, min_frames=cfg.window, quiet=True)
    if records:
        if len(clips) != len(records):
            raise ClipError(f"{len(clips)} clips given; the checkpoint was trained on {len(records)}")
        for c, r in zip(clips, records):
            if (c.clip.num_frames, c.sha256) != (r["frames"], r["sha256"]):
                raise ClipError(f"{c.name}: not the clip {r['name']} the checkpoint was trained on "
                                f"({c.clip.num_frames} frames, sha256 {c.sha256[:12]}; expected {r['frames']}, "
                                f"{r['sha256'][:12]})")
        clips = [replace(c, name=r["name"]) for c, r in zip(clips, records)]
    return MotionSequenceDataset(clips, cfg)


def baseline_rows(ds: MotionSequenceDataset, name: str, cfg: str) -> list[tuple[str, str, dict]]:
    """The pooled row, then one per clip when there are several."""
    rows = [(name, cfg, ds.baseline())]
    if len(ds.clips) > 1:
        rows += [(f"↳ {r['name']}", cfg, r["baseline"]) for r in ds.clip_records()]
    return rows


PRECOMPUTED = "evaluation.json"  # a release folder's spec-protocol evaluation


def machine_info() -> dict:
    """Where figures were computed: other CPU kinds and thread counts move them slightly (bench/cpu_drift.py)."""
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}


def evaluate_checkpoint(path, num_samples: int = 8, seed: int = 42, precision: str = "fp32",
                        sampler: SamplerChoice = SPEC_SAMPLER, threads=None, with_novelty: bool = False,
                        data: str | None = None) -> dict:
    """One table row: the checkpoint's sample metrics and its stored dataset baseline.

    with_novelty adds row["novelty"] (novelty_columns: against `data`, else the training clip found).
    """
    lm = load_model(path)
    run = sample_checkpoint(lm, num_samples, seed, sampler=sampler, precision=precision, threads=threads)
    px = run.pixels
    if not np.isfinite(px).all():
        raise MotionlabError(f"{path}: samples contain NaN or inf")
    d, t = lm.meta["data_config"], lm.meta["train_config"]
    return {"tag": t.get("tag") or "", "checkpoint": str(path),
            "config": f"{d['window']} / {d['stride']} / {d['limit']} / {lm.meta['train_config']['epochs']}",
            "window_stride_limit": (d["window"], d["stride"], d["limit"]),
            "epoch": lm.meta["epoch"], "metrics": sample_metrics(px),
            "baseline": lm.meta["baseline"], "num_samples": num_samples, "seed": seed,
            "sampler": run.sampler, "precision": run.precision, "threads": run.threads,
            "seconds": round(run.seconds, 2), "machine": machine_info(),
            "clips": lm.meta.get("clips") or [], "weights": lm.weights,
            **({"novelty": novelty_columns(lm, px, data)} if with_novelty else {})}


def precomputed_path(checkpoint) -> Path:
    return Path(checkpoint).with_name(PRECOMPUTED)


def write_precomputed(row: dict, command: str) -> Path:
    """Store a release's evaluation beside its model.pt, full precision, with what made it."""
    keep = ("tag", "epoch", "config", "window_stride_limit", "metrics", "novelty", "baseline", "num_samples",
            "seed", "sampler", "precision", "threads", "seconds", "machine", "weights")
    path = precomputed_path(row["checkpoint"])
    doc = {**{k: row[k] for k in keep if k in row}, "command": command}
    atomic_write_json(path, doc)
    note_in_card(row["checkpoint"], doc)
    return path


CARD_LINE = "**Evaluation**: "


def note_in_card(checkpoint, doc: dict) -> bool:
    """Keep the release card's one evaluation line in step with evaluation.json (where it was made)."""
    card = Path(checkpoint).with_name("CARD.md")
    if not card.is_file():
        return False
    m = doc["machine"]
    line = (f"{CARD_LINE}`{PRECOMPUTED}` beside this card holds the spec-protocol metrics ({doc['sampler']}, "
            f"{doc['num_samples']} samples, seed {doc['seed']}, {doc['precision']}), computed on CPU capability "
            f"{m['cpu_capability']}, torch {m['torch']}, {m['threads']} thread(s), by `{doc['command']}`.")
    kept = "\n".join(ln for ln in card.read_text().splitlines() if not ln.startswith(CARD_LINE)).rstrip()
    atomic_write_bytes(card, (kept + "\n\n" + line + "\n").encode())  # rewriting it leaves the card as it was
    return True


def read_precomputed(checkpoint) -> dict | None:
    """The stored evaluation of a release checkpoint, or None when there is none or it is unreadable."""
    try:
        doc = json.loads(precomputed_path(checkpoint).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict) \
            or any(not isinstance(doc["metrics"].get(k), (int, float)) for k in METRICS):
        return None
    return doc


def training_clip(lm, data: str | None = None):
    """(clip, name, reason): the clip a loaded checkpoint was trained on, for novelty.

    `data` (a clip path or 'demo') must be that clip, else MotionlabError. Without it, the
    checkpoint's own data path (as given, then under the repository) and then the default clip are
    tried; when neither is the training clip (novelty.training_clip_mismatch) clip is None and
    reason says why.
    """
    d = lm.meta["data_config"]
    if data is not None:
        clip, name = resolve_clip(data, quiet=True)
        why = training_clip_mismatch(clip, d, lm.joints, lm.mean)
        if why:
            raise MotionlabError(f"{name} is not the clip {lm.path} was trained on: {why}")
        return clip, name, ""
    src = str(d.get("data") or "")
    tries = ["demo"] if src == "demo" else [str(p) for p in (Path(src), REPO / src) if src and p.is_file()][:1]
    for spec in dict.fromkeys([*tries, None]):
        try:
            clip, name = resolve_clip(spec, quiet=True)
        except MotionlabError:
            continue
        if not training_clip_mismatch(clip, d, lm.joints, lm.mean):
            return clip, name, ""
    return None, "", f"its training clip ({src or 'unknown'}) is not here; pass --data with that clip"


def novelty_columns(lm, pixels, data: str | None = None) -> dict:
    """NoveltyResult.to_dict() of samples against the training clip, plus 'clip' (its name);
    {'error': reason} when that clip is not here or gives no novelty (too short, ...)."""
    clip, name, why = training_clip(lm, data)
    if clip is None:
        return {"error": why}
    try:
        return {**novelty(pixels, clip.channels).to_dict(), "clip": name}
    except NoveltyError as e:
        return {"error": str(e)}


def fmt(v) -> str:
    """Two decimals, as the spec's tables; 'n/a' for a missing or non-finite value."""
    return f"{v:.2f}" if isinstance(v, (int, float)) and math.isfinite(v) else "n/a"


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlab.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--dataset-only", action="store_true", help="print the dataset baseline row only")
    p.add_argument("--data", nargs="+", default=None,
                   help="clip JSON files, folders of them or .txt manifests, or 'demo' (default: "
                        "data/uptown_funk.json, else demo); with --dataset-only --checkpoints, where the clips are")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--stride", type=int, default=32)
    p.add_argument("--limit", type=int, default=32)
    p.add_argument("--checkpoints", nargs="+", default=[])
    p.add_argument("--num-samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    # the spec's protocol by default: its sampler, fp32 (threads only change summation order)
    add_sampling_args(p, SPEC_SAMPLER, precision_default="fp32")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-novelty", action="store_true",
                   help="leave out novelty and coverage (by default computed against the training clip: --data, "
                        "else the checkpoint's own clip)")
    a = p.parse_args(argv)
    if a.dataset_only and a.checkpoints:  # rebuild each checkpoint's own windows from its clips
        rows = []
        for c in a.checkpoints:
            meta = read_checkpoint(c)
            ds = checkpoint_windows(meta, a.data)
            d = ds.cfg
            rows.append((c, ds, baseline_rows(ds, f"`{c}`", f"{d.window} / {d.stride} / {d.limit}")))
        if a.json:
            print(json.dumps([{"checkpoint": c, **_baseline_json(ds)} for c, ds, _ in rows], indent=1))
        else:
            print(baseline_markdown([r for _, _, rs in rows for r in rs]))
        return 0
    if a.dataset_only:
        clips, _ = resolve_clips(a.data, min_frames=a.window)
        ds = baseline_windows(clips, a.window, a.stride, a.limit)
        if a.json:
            print(json.dumps(_baseline_json(ds)))
        else:
            print(baseline_markdown(baseline_rows(ds, f"dataset_{a.window}x{a.stride}x{a.limit}",
                                                  f"{a.window} / {a.stride} / {a.limit}")))
        return 0
    if not a.checkpoints:
        raise MotionlabError("give --checkpoints PATH ... or --dataset-only")
    choice = sampling_from_args(a)
    rows = [evaluate_checkpoint(c, a.num_samples, a.seed, a.precision, choice, a.threads, not a.no_novelty, a.data)
            for c in a.checkpoints]
    for r in rows:
        if r.get("novelty", {}).get("error"):
            print(f"motionlab.evaluate: note: no novelty for {r['checkpoint']}: {r['novelty']['error']}", file=sys.stderr)
    extra = () if a.no_novelty else NOVELTY_COLUMNS
    print(json.dumps(rows, indent=1) if a.json else checkpoints_markdown(rows, extra=extra))
    return 0


def _baseline_json(ds: MotionSequenceDataset) -> dict:
    """The pooled metrics; with several clips also per_clip (name, frames, sha256, windows, baseline)."""
    m = ds.baseline()
    return {**m, "per_clip": ds.clip_records()} if len(ds.clips) > 1 else m


if __name__ == "__main__":
    sys.exit(run_main("motionlab.evaluate", main))
