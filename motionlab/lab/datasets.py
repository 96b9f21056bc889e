"""The lab's reference dataset: one clip or several (MOTIONLAB_CLIP names files, folders or manifests).

Loading, per-clip windows and the rows the Dataset and Compare pages show; no Streamlit here.
"""
from __future__ import annotations

import os
from pathlib import Path

from motionlab.evaluation import baselines
from motionlab.data.clipset import NamedClip, expand, load_clip_set
from motionlab.errors import ClipError
from motionlab.pipeline.evaluating import baseline_windows
from motionlab.evaluation.metrics import METRICS


def file_key(specs) -> tuple:
    """((path, mtime_ns, size), ...) of every clip file the specs name: a cache key that changes
    when a file is edited, added to a folder or dropped from a manifest."""
    out = []
    for p in expand([str(s) for s in specs]):
        try:
            st = os.stat(p)
        except OSError as e:
            raise ClipError(f"{p}: {e.strerror or 'cannot be read'}") from None
        out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


def load(key: tuple) -> list[NamedClip]:
    """The clips of a file_key, checked (one joint set)."""
    return load_clip_set([p for p, _, _ in key])


def short_names(clips: list[NamedClip]) -> list[str]:
    """File stems, or whole names where two stems collide."""
    stems = [Path(c.name).stem or c.name for c in clips]
    return [s if stems.count(s) == 1 else c.name for s, c in zip(stems, clips)]


def summarize(clips: list[NamedClip], window: int, stride: int, limit: int) -> dict:
    """Pooled baseline and, per clip, name, frames, sha256, windows, baseline and window starts."""
    ds = baseline_windows(clips, window, stride, limit)
    recs = baselines.clip_records(ds)
    for k, r in enumerate(recs):
        r["starts"] = ds.starts[ds.clip_ids == k].tolist()
    return {"pooled": baselines.baseline(ds), "clips": recs}


def baseline_records(summary: dict, label: str, config: str, names: list[str]) -> list[dict]:
    """The pooled row (as for one clip), then one row per clip when there are several."""
    rows = [(label, summary["pooled"])]
    if len(summary["clips"]) > 1:
        rows += [(f"↳ {n}", r["baseline"]) for n, r in zip(names, summary["clips"])]
    return [{"source": s, "window/stride/limit": config, **{k: m[k] for k in METRICS}, "clips": m["clips"]}
            for s, m in rows]


def clip_rows(summary: dict, names: list[str]) -> list[dict]:
    """One row per clip: its name, frames, training windows and the start of its sha256."""
    return [{"clip": n, "frames": r["frames"], "windows": r["windows"], "sha256": r["sha256"][:12]}
            for n, r in zip(names, summary["clips"])]
