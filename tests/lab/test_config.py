"""motionlab.lab.config: the environment is read on each call (checkpoint folders, runs folder, trajectory budget,
the clip or clips, split on os.pathsep), and the hint for a missing clip."""
from __future__ import annotations

import os

from motionlab.lab import config


def test_config_reads_env_each_time(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", os.pathsep.join([str(tmp_path / "a"), "rel"]))
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("MOTIONLAB_TRAJECTORY_MB", "3")
    assert config.checkpoint_dirs() == [tmp_path / "a", config.ROOT / "rel"]
    assert config.runs_dir() == tmp_path / "r"
    assert config.trajectory_budget_bytes() == 3 * 2**20
    monkeypatch.delenv("MOTIONLAB_CHECKPOINT_DIRS")
    assert config.checkpoint_dirs() == [config.ROOT / "checkpoints"]
    monkeypatch.setenv("MOTIONLAB_CLIP", str(tmp_path / "nope.json"))
    assert "copy ../shared/data/uptown_funk.json to data/uptown_funk.json" in config.missing_clip_hint()


def test_clip_specs_split_on_pathsep(monkeypatch, tmp_path):
    import os
    monkeypatch.setenv("MOTIONLAB_CLIP", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b.txt'}")
    assert config.clip_specs() == [tmp_path / "a", tmp_path / "b.txt"]
    assert config.missing_spec() == tmp_path / "a"
    monkeypatch.setenv("MOTIONLAB_CLIP", "")
    assert config.clip_specs() == [config.DEFAULT_CLIP]
