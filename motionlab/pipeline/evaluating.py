"""The evaluation protocol: dataset baselines, seeded samples from checkpoints, and the rows a release keeps."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from motionlab.evaluation import baselines
from motionlab.core.samplers import SPEC_SAMPLER, SamplerChoice
from motionlab.data.clipset import named, resolve_clip, resolve_clips
from motionlab.data.demo import demo_clip
from motionlab.data.dataset import DataConfig, MotionSequenceDataset
from motionlab.errors import ClipError, MotionlabError
from motionlab.evaluation.metrics import METRICS, sample_metrics
from motionlab.evaluation.novelty import NoveltyError, novelty, training_clip_mismatch
from motionlab.formats.checkpoints import load_model
from motionlab.io import atomic_write_bytes, atomic_write_json
from motionlab.paths import REPO
from motionlab.pipeline.sampling import sample_checkpoint


def baseline_windows(clip, window: int, stride: int, limit: int, seed: int = 42) -> MotionSequenceDataset:
    """The training windows a baseline is measured on, as the trainer builds them (clip: a Clip or a list)."""
    return MotionSequenceDataset(clip, DataConfig(window=window, stride=stride, limit=limit, seed=seed))


def dataset_baseline(clip, window: int, stride: int, limit: int, seed: int = 42) -> dict:
    """The pooled baseline (for one clip, the metrics of its windows)."""
    return baselines.baseline(baseline_windows(clip, window, stride, limit, seed))


def checkpoint_windows(meta: dict, data=None) -> MotionSequenceDataset:
    """Rebuild the windows a checkpoint was trained on, from `data` (default: the clips it records, by
    their recorded paths). Each clip must match the recorded frame count and sha256."""
    fields = set(DataConfig.__dataclass_fields__)
    cfg = DataConfig(**{k: v for k, v in meta["data_config"].items() if k in fields})
    records = meta.get("clips")
    spec = data if data is not None else ([r["name"] for r in records] if records else cfg.data)
    if spec in (["demo"], "demo") and records and len(records) == 1:  # the procedural dancer, at its length
        clips = [named(demo_clip(frames=records[0]["frames"]), "demo")]
    else:
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
    rows = [(name, cfg, baselines.baseline(ds))]
    if len(ds.clips) > 1:
        rows += [(f"↳ {r['name']}", cfg, r["baseline"]) for r in baselines.clip_records(ds)]
    return rows


PRECOMPUTED = "evaluation.json"  # a release folder's spec-protocol evaluation


def machine_info() -> dict:
    """Where figures were computed: other CPU kinds and thread counts move them slightly (bench/cpu_drift.py)."""
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}


def evaluate_checkpoint(path, num_samples: int = 8, seed: int = 42, precision: str = "fp32",
                        sampler: SamplerChoice = SPEC_SAMPLER, threads=None, with_novelty: bool = False,
                        data: str | None = None, keep_pixels: bool = False) -> dict:
    """One table row: the checkpoint's sample metrics and its stored dataset baseline (and the samples'
    pixels when keep_pixels, for intervals).

    with_novelty adds row["novelty"] (novelty_columns: against `data`, else the training clip found).
    """
    lm = load_model(path)
    run = sample_checkpoint(lm, num_samples, seed, sampler=sampler, precision=precision, threads=threads)
    px = run.pixels
    if not np.isfinite(px).all():
        raise MotionlabError(f"{path}: samples contain NaN or inf")
    d, t = lm.checkpoint.data_config, lm.checkpoint.train_config
    return {"tag": t.get("tag") or "", "checkpoint": str(path),
            "config": f"{d['window']} / {d['stride']} / {d['limit']} / {t['epochs']}",
            "window_stride_limit": (d["window"], d["stride"], d["limit"]),
            "epoch": lm.checkpoint.epoch, "metrics": sample_metrics(px),
            "baseline": lm.checkpoint.baseline, "num_samples": num_samples, "seed": seed,
            "sampler": run.sampler, "precision": run.precision, "threads": run.threads,
            "seconds": round(run.seconds, 2), "machine": machine_info(),
            "clips": lm.checkpoint.clips or [], "weights": lm.weights,
            **({"novelty": novelty_columns(lm, px, data)} if with_novelty else {}),
            **({"pixels": px} if keep_pixels else {})}


def precomputed_path(checkpoint) -> Path:
    return Path(checkpoint).with_name(PRECOMPUTED)


def write_precomputed(row: dict, command: str, judged: dict | None = None) -> Path:
    """Store a release's evaluation beside its model.pt, full precision, with what made it: the spec-protocol
    row, and (judged) the faithful sampler's judged set the Metrics page shows at once."""
    keep = ("tag", "epoch", "config", "window_stride_limit", "metrics", "intervals", "novelty", "baseline",
            "num_samples", "seed", "sampler", "precision", "threads", "seconds", "machine", "weights")
    path = precomputed_path(row["checkpoint"])
    doc = {**{k: row[k] for k in keep if k in row}, "command": command}
    if judged is not None:
        doc["judged"] = {k: judged[k] for k in ("sampler", "n", "seed", "precision", "window", "fps", "bpm", "real",
                                                "machine", "metrics")}
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
    d = lm.checkpoint.data_config
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


def judged_rank(checkpoint) -> tuple | None:
    """How close a release's precomputed judged set (evaluation.json, its faithful sampler) is to the data,
    larger is closer: (measures like the data, minus the mean distance to the real median over the spec's
    six). Every measure weighs the same, so where they disagree (closer on the six, farther on foot
    contact) the count decides; None without a judged set."""
    doc = read_precomputed(checkpoint) or {}
    ms = (doc.get("judged") or {}).get("metrics")
    if not isinstance(ms, dict):
        return None
    like = sum(bool(m.get("like_data")) for m in ms.values() if isinstance(m, dict))
    dist = [abs(ms[k]["value"] / ms[k]["real_median"] - 1) for k in METRICS
            if k in ms and ms[k].get("real_median") and ms[k].get("value") is not None]
    return like, -(sum(dist) / len(dist)) if dist else 0.0
