"""evaluation.baselines: the dataset baseline of several clips, pooled and per clip."""
import pytest

from clip_files import three_clip_dataset
from motionlab.evaluation import baselines
from motionlab.evaluation.metrics import all_metrics


def test_baseline_pooled_and_per_clip(tmp_path):
    clips, ds = three_clip_dataset(tmp_path)
    recs = baselines.clip_records(ds)
    assert [r["name"] for r in recs] == [c.name for c in clips]
    for k, r in enumerate(recs):
        assert r["baseline"] == all_metrics(ds.clip_windows(k)) and r["windows"] == ds.window_counts()[k]
    pooled = baselines.baseline(ds)
    assert pooled["clips"] == len(ds)
    # order-free metrics equal those of all windows; diversity takes its first 32 windows from every clip
    flat = all_metrics(ds.windows_pixels())
    for k in ("coord_range", "pos_std", "vel_std", "vel_energy", "com_speed"):
        assert pooled[k] == pytest.approx(flat[k], rel=1e-12)
