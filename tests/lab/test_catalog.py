"""motionlab.lab.catalog: discovering checkpoints (shipped releases, then runs, and broken files listed as broken),
describing one (cached until the file changes), a run's dataset baseline, a release titled by its folder.

Then the broken checkpoints in the app (AppTest, on app_tree): a folder full of broken files (garbage, empty,
truncated, hostile pickle, a folder named *.pt, a torn last.pt, ...) lists them as broken on every page and
offers only the good ones, and a selected file that breaks between reruns is dropped until it is whole again.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from lab_support import N_SESSIONS, PAGES, app_env, app_tree, lab_tree, no_exception, open_locked  # noqa: F401
from motionlab.evaluation.metrics import METRICS
from motionlab.lab import catalog


def test_discover_lists_shipped_then_runs_and_broken(lab_tree):
    es = catalog.discover([lab_tree["checkpoints"]], lab_tree["runs"])
    names = [e.name for e in es]
    assert names == ["checkpoints/broken/model.pt", "checkpoints/tiny_ship/model.pt",
                     "runs/tiny_run/best.pt", "runs/tiny_run/last.pt"]
    broken = es[0]
    assert not broken.ok and "not a readable checkpoint" in broken.error and "\n" not in broken.error
    assert broken.label.endswith("(broken)")
    ship = es[1]
    assert ship.ok and ship.kind == "shipped" and ship.tag == "tiny_ship" and ship.short == "tiny_ship"
    assert ship.card is not None and ship.metrics_path is not None
    run = es[2]
    assert run.kind == "run" and run.short == "tiny_run:best" and run.epoch == 2 and run.epochs == 2
    assert run.config == "32 / 16 / 0 / 2" and run.timesteps == 10
    for part in ("32/16/0", "epoch 2/2", "loss "):
        assert part in run.label
    assert set(run.baseline) >= set(METRICS)


def test_describe_is_cached_until_the_file_changes(tmp_path, lab_tree):
    p = tmp_path / "x.pt"
    p.write_bytes(Path(lab_tree["run_best"]).read_bytes())
    a = catalog.describe(p)
    assert catalog.describe(p) is a
    p.write_bytes(b"garbage")
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
    b = catalog.describe(p)
    assert a.ok and not b.ok


def test_discover_handles_missing_folders(tmp_path):
    assert catalog.discover([tmp_path / "none"], tmp_path / "none2") == []


def test_run_baseline_comes_from_the_folders_checkpoint(lab_tree, tmp_path):
    from motionlab.formats.checkpoints import read_checkpoint
    from motionlab.lab import catalog
    want = read_checkpoint(lab_tree["run_best"])["baseline"]
    assert catalog.run_baseline(lab_tree["run_best"].parent) == want
    assert catalog.run_baseline(lab_tree["ship"].parent) == read_checkpoint(lab_tree["ship"])["baseline"]
    assert catalog.run_baseline(lab_tree["broken"].parent) == {}
    assert catalog.run_baseline(tmp_path) == {}


def test_a_release_is_titled_by_its_folder_not_its_run_tag(lab_tree, tmp_path):
    """checkpoints/best_fidelity ships run jitter+zsnr_v+vel_s42: panels say best_fidelity."""
    import shutil
    dst = tmp_path / "ck" / "best_x"
    dst.mkdir(parents=True)
    for f in ("model.pt", "model.pt.sha256"):
        shutil.copyfile(lab_tree["checkpoints"] / "tiny_ship" / f, dst / f)
    e = catalog.discover([tmp_path / "ck"])[0]
    assert e.ok and e.tag == "tiny_ship" and e.short == "best_x"


# -- broken checkpoints in the app ---------------------------------------------------------------

def test_picker_lists_broken_files_as_broken_and_offers_only_good_ones(app_env):
    tree = app_env
    at = open_locked()
    sb = at.selectbox(key="sample.checkpoint")
    offered = list(sb.options)
    assert len(offered) == N_SESSIONS + 1  # the 4 shipped + the run's best.pt
    assert not any("broken" in o for o in offered)
    warnings = " ".join(w.value for w in at.warning)
    for p in tree["bad"]:
        assert f"{p}: " in warnings, p
    assert warnings.count("(broken)") == len(tree["bad"])
    assert not tree["marker"].exists(), "a hostile pickle ran"


def test_the_selected_checkpoint_breaking_between_runs(app_env, tmp_path, monkeypatch):
    """A training run rewrites (or a crash tears) the file a session has selected."""
    folder = tmp_path / "ck" / "victim"
    folder.mkdir(parents=True)
    victim = folder / "model.pt"
    shutil.copy(app_env["good"][0], victim)
    monkeypatch.setenv("MOTIONLAB_CHECKPOINT_DIRS", str(tmp_path / "ck"))
    monkeypatch.setenv("MOTIONLAB_RUNS_DIR", str(tmp_path / "no_runs"))
    at = open_locked()
    at.selectbox(key="sample.checkpoint").set_value(str(victim))
    at.run()
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3])
    at.run()
    no_exception(at)
    assert not at.selectbox, "a broken file must not stay selectable"
    assert any(f"{victim}: not a readable checkpoint" in w.value for w in at.warning)
    assert any("No usable checkpoint" in i.value for i in at.info)
    # pressing nothing else: the page recovers once the file is whole again
    victim.write_bytes(data)
    at.run()
    no_exception(at)
    assert at.selectbox(key="sample.checkpoint").value == str(victim)


@pytest.mark.parametrize("page", ["sample", "compare", "metrics", "dataset", "training"])
def test_every_page_renders_with_broken_files_around(app_env, page):
    at = open_locked(f"{PAGES}/{page}.py")
    no_exception(at)
    assert not app_env["marker"].exists()
