"""pipeline.evaluating: a checkpoint's evaluation row, the dataset baseline, and the windows it rebuilds from
the clips a checkpoint records (several clips end to end, an edited clip refused, checkpoints without records)."""
import hashlib
import json

import numpy as np
import pytest

from clip_files import three_clips
from conftest import TINY_MODEL_FLAGS, tiny_model_config
from motionlab import ClipError
from motionlab.core.diffusion import DiffusionConfig
from motionlab.data.clip import load_clip, save_clip
from motionlab.data.dataset import DataConfig
from motionlab.data.demo import demo_clip
from motionlab.evaluate import main as evaluate_main
from motionlab.evaluation import baselines
from motionlab.evaluation.markdown import baseline_markdown, checkpoints_markdown
from motionlab.evaluation.metrics import METRICS
from motionlab.formats.checkpoints import read_checkpoint
from motionlab.cli import run_main
from motionlab.pipeline.evaluating import checkpoint_windows, dataset_baseline, evaluate_checkpoint
from motionlab.pipeline.training import TrainConfig, Trainer
from motionlab.sample import main as sample_main
from motionlab.train import main as train_main


def test_evaluate_checkpoint_row(tiny_checkpoint):
    row = evaluate_checkpoint(tiny_checkpoint, num_samples=2, seed=42)
    assert row["tag"] == "tiny" and row["config"] == "16 / 8 / 0 / 2"
    assert set(row["metrics"]) == set(METRICS)
    assert row["baseline"]["clips"] == 11
    table = checkpoints_markdown([row])
    assert table.count("\n") == 3 and "| tiny |" in table and "↳ dataset baseline" in table


def test_dataset_baseline_and_markdown(demo):
    m = dataset_baseline(demo, 32, 16, 0)
    assert m["clips"] == (96 - 32) // 16 + 1
    md = baseline_markdown([("dataset_32x16x0", "32 / 16 / 0", m)])
    assert md.splitlines()[0].startswith("| split | window/stride/limit | coord_range")
    assert md.splitlines()[2].endswith(f"| {m['clips']} |")


# -- the clips a checkpoint records ----------------------------------------------------------------------

def test_three_clips_train_sample_and_evaluate_end_to_end(tmp_path, capsys):
    paths = three_clips(tmp_path)
    (tmp_path / "set.txt").write_text("".join(f"clips/{p.name}\n" for p in paths))
    run = tmp_path / "run"
    flags = ["--window", "16", "--stride", "8", "--limit", "4", "--batch-size", "8", "--timesteps", "10",
             *TINY_MODEL_FLAGS]
    assert train_main(["--data", str(tmp_path / "set.txt"), *flags, "--epochs", "2", "--jitter", "--mirror",
                       "--out", str(run), "--no-progress", "--save-every", "1"]) == 0
    assert "12 windows of 16 frames" in capsys.readouterr().err
    ck = read_checkpoint(run / "best.pt")
    assert ck["data_config"]["data"] == str(tmp_path / "set.txt")
    assert [(c["name"], c["frames"], c["sha256"], c["windows"]) for c in ck["clips"]] == [
        (str(tmp_path / "clips" / p.name), load_clip(p).num_frames, hashlib.sha256(p.read_bytes()).hexdigest(), 4)
        for p in paths]
    # evaluation rebuilds the same windows from the recorded clips
    ds = checkpoint_windows(ck)
    assert baselines.baseline(ds) == ck["baseline"] and baselines.clip_records(ds) == ck["clips"]
    np.testing.assert_allclose(ds.mean, ck["norm_mean"], rtol=0, atol=0)
    assert evaluate_main(["--dataset-only", "--checkpoints", str(run / "best.pt"), "--json"]) == 0
    rebuilt = json.loads(capsys.readouterr().out)[0]
    assert [r["baseline"] for r in rebuilt["per_clip"]] == [c["baseline"] for c in ck["clips"]]
    assert sample_main(["--checkpoint", str(run / "best.pt"), "--num-samples", "2", "--seed", "1",
                        "--out", str(tmp_path / "s")]) == 0
    assert load_clip(tmp_path / "s" / "sample_01.json").num_frames == 16
    capsys.readouterr()
    assert evaluate_main(["--spec", "--checkpoints", str(run / "best.pt"), "--num-samples", "2"]) == 0
    table = capsys.readouterr().out
    assert "| ↳ dataset baseline | | 12 clips |" in table
    assert all(f"| ↳ baseline of {c['name']} | | 4 clips |" in table for c in ck["clips"])
    # a clip edited since training is refused, by name
    save_clip(demo_clip(frames=120, bpm=101, seed=1), paths[0])
    with pytest.raises(ClipError, match="a_demo100.json: not the clip .* the checkpoint was trained on"):
        checkpoint_windows(ck)
    # and so is resuming the run on other clips
    rc = run_main("motionlab.train", train_main, ["--data", str(tmp_path / "set.txt"), *flags, "--epochs", "3",
                                                  "--out", str(run), "--no-progress", "--resume"])
    assert rc == 2 and "was trained on other clips" in capsys.readouterr().err


def test_a_checkpoint_without_clip_records_rebuilds_from_its_data_config(tmp_path):
    """Checkpoints made before clip records (the shipped ones) name their clip in data_config only."""
    path = three_clips(tmp_path)[0]
    Trainer(DataConfig(data=str(path), window=16, stride=8, limit=0), tiny_model_config(),
            DiffusionConfig(timesteps=10), TrainConfig(epochs=1, batch_size=8), tmp_path / "run",
            log=lambda s: None).run(progress=False)
    ck = read_checkpoint(tmp_path / "run" / "last.pt")
    assert ck["clips"][0]["name"] == str(path)
    del ck["clips"]
    assert baselines.baseline(checkpoint_windows(ck)) == ck["baseline"]
