"""The lab on a reference dataset of several clips (MOTIONLAB_CLIP naming a folder or a manifest):
the Dataset page lists the clips with frames, windows and per-clip baselines; Compare shows real
windows from any of them; the Training page passes the dataset to motionlab.train."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from lab_support import ROOT, lab_env, lab_tree, open_page  # noqa: F401  (fixtures)
from motionlab.evaluation import baselines
from motionlab.data.clip import Clip, save_clip
from motionlab.data.demo import demo_clip
from motionlab.pipeline.evaluating import baseline_windows
from motionlab.lab import config, datasets, processes
from motionlab.evaluation.metrics import METRICS


@pytest.fixture
def three(tmp_path):
    """A folder of three clips of 100, 130 and 90 frames (the demo dancer at three tempos)."""
    d = tmp_path / "clips"
    d.mkdir()
    for name, frames, bpm in (("slow", 100, 96), ("mid", 130, 115), ("fast", 90, 140)):
        save_clip(demo_clip(frames=frames, bpm=bpm, seed=bpm), d / f"{name}.json")
    return d


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


def test_clip_specs_split_on_pathsep(monkeypatch, tmp_path):
    import os
    monkeypatch.setenv("MOTIONLAB_CLIP", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b.txt'}")
    assert config.clip_specs() == [tmp_path / "a", tmp_path / "b.txt"]
    assert config.missing_spec() == tmp_path / "a"
    monkeypatch.setenv("MOTIONLAB_CLIP", "")
    assert config.clip_specs() == [config.DEFAULT_CLIP]


def test_build_command_passes_several_data_paths(tmp_path):
    opts = processes.TrainOptions(data=["clips/a.json", "clips/b.json"])
    cmd = processes.build_command(opts, tmp_path / "run")
    i = cmd.index("--data")
    assert cmd[i:i + 4] == ["--data", "clips/a.json", "clips/b.json", "--window"]


def _app(page: str) -> AppTest:
    return open_page(page, errors=True)


def test_dataset_page_lists_clips_windows_and_per_clip_baselines(lab_env, three, monkeypatch):
    (three.parent / "set.txt").write_text("clips/slow.json\nclips/fast.json  # two of three\n")
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three))
    at = _app("dataset")
    base, table = at.dataframe[0].value, at.dataframe[1].value
    assert list(base["source"]) == [f"ours ({config.display_path(three)})", "↳ fast", "↳ mid", "↳ slow",
                                    "spec (uptown_funk.json)"]
    assert base["clips"][0] == 1 + 3 + 2
    assert list(table["clip"]) == ["fast", "mid", "slow"] and list(table["frames"]) == [90, 130, 100]
    assert list(table["windows"]) == [1, 3, 2]                       # window 64, stride 32, limit 32
    clips = datasets.load(datasets.file_key([three]))
    ds = baseline_windows(clips, 64, 32, 32)
    for m in METRICS:
        assert base[m][0] == pytest.approx(baselines.baseline(ds)[m])
    cov = json.loads(next(c for c in at.get("plotly_chart") if c.key == "dataset.coverage").proto.spec)
    assert cov["layout"]["title"]["text"].endswith("(1 windows)")   # the first clip, fast
    at.selectbox(key="dataset.clip").set_value("mid").run()
    cov = json.loads(next(c for c in at.get("plotly_chart") if c.key == "dataset.coverage").proto.spec)
    assert cov["layout"]["title"]["text"].endswith("(3 windows)")
    anim = json.loads(next(e for e in at.main if getattr(e, "key", None) == "dataset.animation").proto.json)
    assert anim["num_frames"] == 130  # the skeleton player's payload (motionlab.lab.player)
    # a manifest works the same; a clip with another joint set is named in one line
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three.parent / "set.txt"))
    at = _app("dataset")
    assert list(at.dataframe[1].value["clip"]) == ["slow", "fast"]
    c = demo_clip(frames=70)
    save_clip(Clip(c.joints[1:], c.xy[:, 1:]), three / "odd.json")
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three))
    at = AppTest.from_file(str(ROOT / "lab_app.py"), default_timeout=60)
    at.run()
    at.switch_page("lab_pages/dataset.py").run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{three / 'odd.json'}: its joint set differs from "
                                           f"{three / 'fast.json'}'s: it lacks joint 'left_ankle'"]


def test_compare_shows_real_windows_from_any_clip(lab_env, three, monkeypatch):
    monkeypatch.setenv("MOTIONLAB_CLIP", str(three))
    at = _app("compare")
    at.multiselect(key="compare.checkpoints").set_value([]).run()
    at.number_input(key="compare.real_count").set_value(2).run()
    pick = at.selectbox(key="compare.real_clip")
    assert pick.options == ["fast", "mid", "slow"]
    assert at.multiselect(key="compare.panels").options == ["real fast @0"]  # 90 frames: one window of 64 fits
    pick.set_value("mid").run()
    assert at.slider(key="compare.real_start").max == 130 - 64
    assert at.multiselect(key="compare.panels").options == ["real mid @0", "real mid @64"]
