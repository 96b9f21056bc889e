"""motionlab.lab.datasets: a reference dataset of several clips (a folder or a manifest): the files' key, the
clips' short names (colliding stems kept apart), each clip's windows and the per-clip baseline rows."""
from __future__ import annotations

from lab_support import three  # noqa: F401  (fixture)
from motionlab.data.clip import save_clip
from motionlab.data.demo import demo_clip
from motionlab.evaluation import baselines
from motionlab.lab import datasets
from motionlab.pipeline.evaluating import baseline_windows


def test_file_key_load_and_rows(three, tmp_path):
    key = datasets.file_key([three])
    assert [p.split("/")[-1] for p, _, _ in key] == ["fast.json", "mid.json", "slow.json"]
    clips = datasets.load(key)
    names = datasets.short_names(clips)
    assert names == ["fast", "mid", "slow"]
    summary = datasets.summarize(clips, 32, 16, 3)
    ds = baseline_windows(clips, 32, 16, 3)
    assert [r["starts"] for r in summary["clips"]] == [ds.starts[ds.clip_ids == k].tolist() for k in range(3)]
    recs = datasets.baseline_records(summary, "ours (clips)", "32 / 16 / 3", names)
    assert [r["source"] for r in recs] == ["ours (clips)", "↳ fast", "↳ mid", "↳ slow"]
    assert recs[0]["clips"] == 9 and recs[0]["pos_std"] == baselines.baseline(ds)["pos_std"]
    assert [r["clips"] for r in recs[1:]] == [3, 3, 3]
    rows = datasets.clip_rows(summary, names)
    assert [(r["clip"], r["frames"], r["windows"]) for r in rows] == [("fast", 90, 3), ("mid", 130, 3), ("slow", 100, 3)]
    # a clip added to the folder changes the key; one clip gives one baseline row, as before
    save_clip(demo_clip(frames=80), three / "zz.json")
    assert datasets.file_key([three]) != key
    one = datasets.summarize(clips[:1], 32, 16, 3)
    assert [r["source"] for r in datasets.baseline_records(one, "ours", "", ["fast"])] == ["ours"]


def test_short_names_keep_colliding_stems_apart(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        save_clip(demo_clip(frames=40), tmp_path / sub / "take.json")
    clips = datasets.load(datasets.file_key([tmp_path / "a" / "take.json", tmp_path / "b" / "take.json"]))
    assert datasets.short_names(clips) == [str(tmp_path / "a" / "take.json"), str(tmp_path / "b" / "take.json")]
