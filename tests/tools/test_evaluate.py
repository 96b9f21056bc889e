"""python -m motionlab.evaluate: one-line refusals (a flipped checkpoint, malformed clips) and the dataset-only
table of several clips, pooled and per clip."""
import json
import shutil

import pytest

from clip_files import ALL_CASES, eval_argv, expected, three_clips
from conftest import SHIPPED, assert_one_line_error, flip_weight_byte
from motionlab import evaluate as evaluate_mod
from motionlab.cli import run_main
from motionlab.data.clip import load_clip
from motionlab.data.dataset import DataConfig, MotionSequenceDataset
from motionlab.evaluate import main as evaluate_main
from motionlab.evaluation.metrics import all_metrics
from motionlab.formats import integrity


def test_the_evaluate_cli_refuses_a_flipped_checkpoint_in_one_line(tmp_path, capsys):
    from motionlab import evaluate
    bad = tmp_path / "model.pt"
    shutil.copy(SHIPPED[0], bad)
    shutil.copy(integrity.sidecar(SHIPPED[0]), integrity.sidecar(bad))
    flip_weight_byte(bad)
    assert run_main("motionlab.evaluate", evaluate.main, ["--checkpoints", str(bad), "--num-samples", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"motionlab.evaluate: error: {bad}: sha256 ")


@pytest.mark.parametrize("name", ALL_CASES)
def test_evaluate_dataset_only_in_process(corpus, name, capsys):
    rc = run_main("motionlab.evaluate", evaluate_mod.main, eval_argv(corpus[name]))
    cap = capsys.readouterr()
    assert_one_line_error(rc, cap.err, "motionlab.evaluate", corpus[name], expected(name, cli=True))
    assert cap.out == ""


def test_dataset_only_prints_pooled_and_per_clip_rows(tmp_path, capsys):
    paths = three_clips(tmp_path)
    assert evaluate_main(["--dataset-only", "--data", *map(str, paths), "--window", "16", "--stride", "8",
                          "--limit", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[2].startswith("| dataset_16x8x3 | 16 / 8 / 3 |") and lines[2].endswith("| 9 |")
    assert [ln.split("|")[1].strip() for ln in lines[3:]] == [f"↳ {p}" for p in paths]
    # one clip: one row, as before
    assert evaluate_main(["--dataset-only", "--data", str(paths[0]), "--window", "16", "--stride", "8",
                          "--limit", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == all_metrics(
        MotionSequenceDataset(load_clip(paths[0]), DataConfig(window=16, stride=8, limit=3)).raw)


def test_a_card_reruns_against_the_checkpoint_at_a_new_path_and_refuses_another(tiny_checkpoint, tmp_path, capsys):
    """--card reruns an evaluation; --checkpoints names where its checkpoint is now (it was refused as a
    second mode), and a different checkpoint is refused before any sampling."""
    cards = tmp_path / "cards"
    assert evaluate_main(["--checkpoints", str(tiny_checkpoint), "--num-samples", "4", "--sampler", "ddim",
                          "--steps", "3", "--cards", str(cards), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)["card"]
    moved = tmp_path / "moved" / "model.pt"
    moved.parent.mkdir()
    shutil.copy(tiny_checkpoint, moved)
    assert evaluate_main(["--card", str(card), "--checkpoints", str(moved), "--json"]) == 0
    checks = json.loads(capsys.readouterr().out)["checks"]
    # the same samples again: every measure inside, but those 4 tiny samples cannot measure (tempo)
    assert all(c["inside"] is True or c["value"] is None for c in checks.values())
    assert sum(c["inside"] is True for c in checks.values()) >= len(checks) - 1
    other = tmp_path / "other.pt"
    shutil.copy(SHIPPED[0], other)
    rc = run_main("motionlab.evaluate", evaluate_main, ["--card", str(card), "--checkpoints", str(other)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not the checkpoint" in err[0]
