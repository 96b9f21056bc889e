"""What the pages open on: the checkpoint closest to the data, the faithful sampler of the chosen
checkpoint (reset when the checkpoint changes), Compare's best-and-spec pair, Training's newest run."""
import json
import os
import shutil
import time
from pathlib import Path

from lab_support import lab_env, lab_tree, open_page  # noqa: F401  (fixtures)
from motionlab.formats.integrity import file_sha256
from motionlab.io import atomic_write_json
from motionlab.lab import processes, ui
from motionlab.lab.catalog import discover
from motionlab.pipeline.defaults import DEFAULTS_FILE, faithful_default
from motionlab.pipeline.evaluating import judged_rank


def _judged(folder: Path, like: int, dist: float):
    ms = {f"m{i}": {"value": 1.0, "real_median": 1.0, "like_data": i < like} for i in range(10)}
    ms["coord_range"] = {"value": 1.0 + dist, "real_median": 1.0, "like_data": True}
    atomic_write_json(folder / "evaluation.json", {"metrics": {k: 1.0 for k in (
        "coord_range", "pos_std", "vel_std", "vel_energy", "com_speed", "diversity")}, "judged": {"metrics": ms}})


def test_the_closest_to_the_data_ranks_first_and_ties_go_to_the_smaller_distance(tmp_path):
    for name, like, dist in (("a", 3, 0.0), ("b", 7, 0.5), ("c", 7, 0.1)):
        (tmp_path / name).mkdir()
        _judged(tmp_path / name, like, dist)
    ranks = {n: judged_rank(tmp_path / n / "model.pt") for n in "abc"}
    assert sorted(ranks, key=ranks.get, reverse=True) == ["c", "b", "a"]
    assert judged_rank(tmp_path / "none" / "model.pt") is None


def test_the_sample_page_opens_on_the_faithful_setting_and_resets_it_with_the_checkpoint(lab_env, tmp_path):
    ship = lab_env["ship"]
    shutil.copy(ship, tmp_path / "model.pt")  # the tree is shared: write sampler.json beside a copy
    other = Path(lab_env["checkpoints"]) / "tiny_study"
    other.mkdir(exist_ok=True)
    shutil.copy(ship, other / "model.pt")
    atomic_write_json(other / DEFAULTS_FILE, {"checkpoint_sha256": file_sha256(other / "model.pt"), "timesteps": 10,
                                              "n": 64, "choice": {"sampler": "ddim-5", "evaluations": 5}})
    try:
        assert faithful_default(other / "model.pt").choice.label(10) == "ddim-5"
        at = open_page("sample")
        at.selectbox(key="sample.checkpoint").set_value(str(other / "model.pt")).run()
        assert at.selectbox(key="sample.sampler").value == "ddim" and at.select_slider(key="sample.steps").value == 5
        assert any("the sampler study's pick for this checkpoint" in c.value for c in at.caption)
        at.selectbox(key="sample.sampler").set_value("dpmpp").run()
        assert any("your choice" in c.value for c in at.caption)
        at.selectbox(key="sample.checkpoint").set_value(str(ship)).run()  # no study: the fallback, reset
        assert at.selectbox(key="sample.sampler").value == "ddpm" and at.select_slider(key="sample.steps").value == 10
        assert any("the fallback for checkpoints without a sampler study" in c.value for c in at.caption)
    finally:
        shutil.rmtree(other)


def test_compare_opens_on_the_best_and_the_spec_s_longest_run(tmp_path, monkeypatch):
    from motionlab.testing import tiny_run
    src = tiny_run(tmp_path / "src", epochs=1)
    for tag in ("long_10000", "long_1000", "best_fidelity"):
        (tmp_path / "ck" / tag).mkdir(parents=True)
        shutil.copy(src / "best.pt", tmp_path / "ck" / tag / "model.pt")
    _judged(tmp_path / "ck" / "best_fidelity", 9, 0.0)
    _judged(tmp_path / "ck" / "long_10000", 4, 0.0)
    entries = discover([tmp_path / "ck"])
    pair = ui.best_and_spec_pair(entries)
    assert [Path(p).parent.name for p in pair] == ["best_fidelity", "long_10000"]


def test_training_opens_on_the_newest_run_or_the_longest_shipped_curve(tmp_path):
    runs, ck = tmp_path / "runs", tmp_path / "ck"
    for d, lines in ((ck / "one", 1), (ck / "long", 50), (runs / "old", 3), (runs / "new", 2)):
        d.mkdir(parents=True)
        (d / "metrics.jsonl").write_text("".join(json.dumps({"epoch": i + 1, "loss": 1.0}) + "\n" for i in range(lines)))
    past = time.time() - 100
    os.utime(runs / "old" / "metrics.jsonl", (past, past))
    files = processes.list_metric_files(runs, [ck])
    assert processes.default_metric_file(files, runs) == runs / "new" / "metrics.jsonl"
    shipped = processes.list_metric_files(tmp_path / "none", [ck])
    assert processes.default_metric_file(shipped, tmp_path / "none") == ck / "long" / "metrics.jsonl"
