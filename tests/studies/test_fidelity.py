"""motionlab.studies.fidelity: the study's rules (score, combination, budget), its runs, and the committed document."""
import json
import time

import pytest
import torch

from conftest import REPO
from motionlab.studies import fidelity
from motionlab.formats.checkpoints import load_model, read_checkpoint, release_copy
from motionlab.errors import MotionlabError
from motionlab.studies.fidelity_report import write_report
from motionlab.evaluation.metrics import METRICS
from motionlab.testing import TINY_MODEL_FLAGS, tiny_trainer
from motionlab.pipeline.train_args import build_parser, configs_from_args

BASE = dict(zip(METRICS, (200.0, 40.0, 7.0, 60.0, 5.0, 50.0)))
TINY = ("--window", "32", "--stride", "16", "--limit", "0", "--batch-size", "8", "--lr", "2e-4", "--timesteps", "50",
        "--beta-start", "1e-4", "--beta-end", "0.02", "--patience", "0", *TINY_MODEL_FLAGS)


def _row(score, **kw):
    return {"score": score, **kw}


def test_score_is_the_mean_and_worst_relative_miss():
    m = {k: v * f for (k, v), f in zip(BASE.items(), (1.0, 0.9, 1.2, 1.0, 1.0, 0.7))}
    mean, worst = fidelity.score(m, BASE)
    assert mean == pytest.approx((0.1 + 0.2 + 0.3) / 6) and worst == pytest.approx(0.3)
    assert fidelity.score(BASE, BASE) == (0.0, 0.0)


def test_combination_takes_what_helped_and_the_better_schedule():
    rows = {"plain": _row(0.25), "ema": _row(0.22), "jitter": _row(0.26), "cosine": _row(0.20),
            "zsnr_v": _row(0.09), "vel": _row(0.21)}
    changes, weights, helped = fidelity.combination(rows)
    assert helped == ["ema", "cosine", "zsnr_v", "vel"]
    assert changes == ("zsnr_v", "vel") and weights == "ema"  # cosine and zsnr_v both set the schedule
    rows.update(ema=_row(0.3), cosine=_row(0.05))
    assert fidelity.combination(rows)[:2] == (("cosine", "vel"), "raw")


def test_nothing_helped_means_the_plain_recipe():
    rows = {a: _row(0.3) for a in ("ema", *fidelity.CHANGES)} | {"plain": _row(0.2)}
    assert fidelity.combination(rows) == ((), "raw", [])


def test_planned_budget_fits_both_phases_and_respects_the_ceiling():
    # 6 runs at 30 epochs/s together, 400 s left, 600 epochs done: (400*30 + 600) / 12 = 1050 -> ceiling 1000
    assert fidelity._planned_epochs(30.0, 600, 6, 400, 1000) == 1000
    e = fidelity._planned_epochs(10.0, 60, 6, 400, 1000)  # (4000 + 60) / 12 = 338 -> 300
    assert e == 300 and (6 * e - 60) / 10.0 + 6 * e / 10.0 <= 400
    assert fidelity._planned_epochs(0.01, 0, 6, 10, 1000) == 50  # never below one step of the grid


def test_recipes_parse_in_a_fixed_order_and_unknown_changes_fail():
    assert fidelity.parse_recipe("vel+jitter") == ("jitter", "vel")
    assert fidelity.parse_recipe("plain") == ()
    with pytest.raises(MotionlabError, match="unknown change 'ema'"):
        fidelity.parse_recipe("ema+vel")


@pytest.mark.parametrize("changes", [(), ("jitter",), ("cosine",), ("zsnr_v",), ("vel",), ("jitter", "zsnr_v", "vel")])
def test_every_run_is_a_valid_train_command(tmp_path, changes):
    spec = fidelity.RunSpec(changes, 43)
    argv = spec.argv("demo", 800, "cpu", tmp_path, False, 100)
    data, _, diff, train = configs_from_args(build_parser().parse_args(argv))
    assert (data.window, data.stride, data.limit, train.batch_size, diff.timesteps) == (256, 5, 1024, 16, 400)
    assert train.seed == 43 and train.epochs == 800 and train.ema_decay == fidelity.EMA_READOUT
    assert data.jitter == ("jitter" in changes) and (train.vel_weight == 1.0) == ("vel" in changes)
    want = {"cosine": ("cosine", "eps"), "zsnr_v": ("linear_zero_snr", "v")}
    sched = next((want[c] for c in changes if c in want), ("linear", "eps"))
    assert (diff.schedule, diff.prediction) == sched
    assert argv[argv.index("--out") + 1] == str(tmp_path / spec.name)


def test_the_ema_read_out_leaves_the_raw_trajectory_alone(tmp_path, demo):
    """What lets one run stand for both the plain arm (raw weights) and the EMA arm."""
    runs = {}
    for decay in (0.0, 0.9):
        tr = tiny_trainer(tmp_path / str(decay), demo, epochs=2, ema_decay=decay)
        tr.run(progress=False)
        runs[decay] = tr.model.state_dict()
    assert all(torch.equal(runs[0.0][k], runs[0.9][k]) for k in runs[0.0])


def test_prepare_graph_is_a_no_op_off_cuda(tmp_path, demo):
    tr = tiny_trainer(tmp_path, demo, cuda_graph=True)
    tr.prepare_graph()
    assert tr._graph is None


def test_a_raw_only_release_drops_the_ema(tmp_path, demo):
    tiny_trainer(tmp_path / "r", demo, epochs=1, ema_decay=0.9).run(progress=False)
    release_copy(tmp_path / "r/last.pt", tmp_path / "raw.pt", raw_only=True)
    ck = read_checkpoint(tmp_path / "raw.pt")
    assert "ema_state" not in ck and load_model(tmp_path / "raw.pt").weights == "raw"
    with pytest.raises(ValueError, match="exclude"):
        release_copy(tmp_path / "r/last.pt", tmp_path / "x.pt", raw_only=True, ema_only=True)


@pytest.mark.slow
def test_the_study_runs_both_phases_on_one_budget_and_reports(tmp_path):
    saved = []
    doc = fidelity.study("demo", tmp_path / "runs", "cpu", 2, 0, False, 1, recipe=TINY,
                         on_phase=lambda d: saved.append(json.loads(json.dumps(d))))
    assert len(saved) == 2 and "shipped" not in saved[0] and "combination" in saved[0]
    assert {r["epochs"] for r in doc["runs"].values()} == {2}
    assert set(doc["runs"]) >= {s.name for s in fidelity.phase1_runs()}
    arms = {r["arm"] for r in doc["rows"]}
    assert {"plain", "ema", *fidelity.CHANGES, "plain (seed 43)", "best combination"} <= arms
    for r in doc["rows"]:  # each row is its run's own evaluation
        assert r["epoch"] == 2 and r["weights"] in ("raw", "ema") and set(r["metrics"]) == set(METRICS)
        assert r["score"] == pytest.approx(fidelity.score(r["metrics"], r["baseline"])[0])
    s = doc["shipped"]
    assert doc["runs"][s["run"]]["seed"] == fidelity.SEED
    assert s["command"].startswith("python -m motionlab.train ") and "--seed 42" in s["command"]
    seed42 = [r["score"] for r in doc["rows"] if doc["runs"][r["run"]]["seed"] == fidelity.SEED]
    assert next(r for r in doc["rows"] if r["arm"] == s["arm"])["score"] == min(seed42)
    md = write_report(doc, tmp_path / "FIDELITY.md", tmp_path / "none.md", "x.json")
    text = md.read_text()
    assert "## One change at a time" in text and "### Spread over seeds" in text and "## Shipped" in text
    assert (tmp_path / "fidelity_chart.png").stat().st_size > 1000


def test_the_committed_document_is_made_from_the_committed_json(tmp_path):
    doc = json.loads((REPO / "docs/FIDELITY.json").read_text())
    repeat = json.loads((REPO / "docs/FIDELITY_REPEAT.json").read_text())
    out = write_report(doc, tmp_path / "FIDELITY.md", REPO / "docs/FIDELITY_NOTES.md", "docs/FIDELITY.json",
                       repeat, "docs/FIDELITY_REPEAT.json")
    made = out.read_text().replace(f"--out {out.as_posix()}", "--out docs/FIDELITY.md")
    assert made == (REPO / "docs/FIDELITY.md").read_text()


def test_the_shipped_checkpoint_is_the_study_pick():
    doc = json.loads((REPO / "docs/FIDELITY.json").read_text())
    ck = read_checkpoint(REPO / "checkpoints/best_fidelity/model.pt")
    s = doc["shipped"]
    assert ck["train_config"]["tag"] == s["run"] and ck["epoch"] == doc["epochs"]
    assert (ck.get("weights_from") == "ema") == (s["weights"] == "ema")
    rows = [r for r in doc["rows"] if doc["runs"][r["run"]]["seed"] == fidelity.SEED]
    assert s["arm"] == min(rows, key=lambda r: r["score"])["arm"]


def test_confirm_trains_each_recipe_and_seed_and_evaluates_both_weights(tmp_path):
    specs = [fidelity.RunSpec((), 42), fidelity.RunSpec(("vel",), 43)]
    doc = fidelity.confirm("demo", tmp_path, "cpu", specs, 1, 0, False, 0, recipe=TINY)
    assert [r["arm"] for r in doc["rows"]] == ["plain_s42 [raw]", "plain_s42 [ema]", "vel_s43 [raw]", "vel_s43 [ema]"]
    assert {r["epochs"] for r in doc["runs"].values()} == {1} and doc["runs"]["vel_s43"]["seed"] == 43


def test_a_deadline_stops_every_run_after_its_epoch_and_keeps_it(tmp_path):
    specs = [fidelity.RunSpec((), 42), fidelity.RunSpec((), 43)]
    doc = fidelity.confirm("demo", tmp_path, "cpu", specs, 10_000, 0.01, False, 0, recipe=TINY)
    for name, run in doc["runs"].items():
        assert 1 <= run["epochs"] < 10_000
        assert read_checkpoint(run["last"])["epoch"] == run["epochs"]  # saved where it stopped


def test_one_failing_run_stops_the_others_and_is_named(tmp_path, demo):
    def make(spec):
        tr = tiny_trainer(tmp_path / spec.name, demo, epochs=10_000)
        if spec.seed == 43:
            def boom(*a, **k):
                raise RuntimeError("CUDA error: an illegal memory access")
            tr._train_epoch = boom
        return tr
    t0 = time.time()
    with pytest.raises(MotionlabError, match=r"plain_s43: RuntimeError: CUDA error"):
        fidelity.train_together([fidelity.RunSpec((), 42), fidelity.RunSpec((), 43)], make)
    assert time.time() - t0 < 60  # not 10000 epochs of the healthy run


def test_an_ema_only_copy_can_be_released_again(tmp_path, demo):
    """The device packs an EMA-only fp16 copy; make_release then copies it into checkpoints/."""
    tiny_trainer(tmp_path / "r", demo, epochs=1, ema_decay=0.9).run(progress=False)
    first = release_copy(tmp_path / "r/last.pt", tmp_path / "a.pt", ema_only=True)
    again = release_copy(tmp_path / "a.pt", tmp_path / "b.pt", ema_only=True)
    assert again.weights_from == "ema" and again.ema_state is None
    assert all(torch.equal(first.model_state[k], again.model_state[k]) for k in first.model_state)
    assert load_model(tmp_path / "b.pt").weights == "ema"
