"""Dataset baselines: the spec's metrics of the training windows, pooled and per clip."""
from __future__ import annotations

from motionlab.data.dataset import MotionSequenceDataset
from motionlab.evaluation.metrics import all_metrics


def baseline(ds: MotionSequenceDataset) -> dict:
    """The metrics of all windows pooled (MotionSequenceDataset.baseline_order)."""
    return all_metrics(ds.baseline_order())


def clip_records(ds: MotionSequenceDataset) -> list[dict]:
    """Per clip: name, frames, sha256, windows and its own baseline (what a checkpoint keeps)."""
    return [{**c.record(), "windows": int(n), "baseline": all_metrics(ds.clip_windows(k))}
            for k, (c, n) in enumerate(zip(ds.clips, ds.window_counts()))]
