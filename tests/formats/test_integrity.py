"""formats.integrity: sha256 records (PATH.sha256) of shipped and run checkpoints; a flipped bit in a weight is
refused in one line, a save killed at any point leaves a file that verifies, digests are computed once per file
version, and malformed records are one-line errors."""
import os
import re
import shutil
import time

import pytest
import torch

from conftest import SHIPPED, TRAIN_ARGS, flip_weight_byte
from motionlab import train as train_mod
from motionlab.cli import run_main
from motionlab.errors import CheckpointError
from motionlab.formats import integrity
from motionlab.formats.checkpoints import load_model, read_checkpoint, release_copy, save_checkpoint
from motionlab.lab import catalog


def test_every_shipped_checkpoint_has_a_matching_sha256_record():
    assert len(SHIPPED) >= 4
    for p in SHIPPED:
        assert integrity.recorded(p), f"{p} has no {p.name}.sha256"
        assert integrity.verify(p) is True
    # sha256sum's own format: `sha256sum -c model.pt.sha256` works in the folder
    line = integrity.sidecar(SHIPPED[0]).read_text()
    assert re.fullmatch(r"[0-9a-f]{64}  model\.pt\n", line)


def test_a_flipped_bit_in_a_shipped_weight_is_refused(tmp_path):
    src = SHIPPED[0]
    folder = tmp_path / "checkpoints" / src.parent.name
    folder.mkdir(parents=True)
    bad = folder / "model.pt"
    shutil.copy(src, bad)
    shutil.copy(integrity.sidecar(src), integrity.sidecar(bad))
    flip_weight_byte(bad)
    # torch alone loads it: the flipped value is finite and torch does not check the zip CRC
    bare = tmp_path / "bare.pt"
    shutil.copy(bad, bare)
    a = read_checkpoint(src)["model_state"]
    b = torch.load(bare, map_location="cpu", weights_only=True)["model_state"]
    assert sum(int((a[k] != b[k]).sum()) for k in a) == 1
    # without its sha256 record, the zip's own CRC-32 of the entry catches it
    with pytest.raises(CheckpointError, match=r"bare\.pt: fails the zip's own checks \(Bad CRC-32 for file '[^']+'\)"):
        read_checkpoint(bare)
    for load in (read_checkpoint, load_model):
        with pytest.raises(CheckpointError) as e:
            load(bad)
        msg = str(e.value)
        assert msg.startswith(f"{bad}: sha256 ") and "does not match its record in model.pt.sha256" in msg
        assert "\n" not in msg
    [entry] = catalog.discover([tmp_path / "checkpoints"])
    assert not entry.ok and entry.label.endswith("(broken)") and "does not match" in entry.error


def test_release_copy_records_a_sha256_and_the_lab_shows_it(trained_run, tmp_path):
    dst = tmp_path / "ck" / "tiny" / "model.pt"
    release_copy(trained_run / "best.pt", dst)
    assert integrity.verify(dst)
    [e] = catalog.discover([tmp_path / "ck"])
    assert e.ok and e.verified and e.facts()["sha256"] == "matches model.pt.sha256"
    integrity.sidecar(dst).unlink()
    catalog._cache.clear()
    [e] = catalog.discover([tmp_path / "ck"])
    assert e.ok and not e.verified  # loads, but says it is unverified


def test_training_records_best_and_last_and_resume_verifies_last(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "2", "--out", str(out)]) == 0
    for name in ("best.pt", "last.pt"):
        assert integrity.verify(out / name) is True
    flip_weight_byte(out / "last.pt")
    capsys.readouterr()
    assert run_main("motionlab.train", train_mod.main, [*TRAIN_ARGS, "--epochs", "3", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"motionlab.train: error: {out / 'last.pt'}: sha256 ") and len(err) == 1


def test_a_crash_at_any_point_of_a_save_leaves_a_file_that_verifies(tmp_path, trained_run, monkeypatch):
    """write_verified: the record lists old and new digests while the file is swapped."""
    p = tmp_path / "last.pt"
    shutil.copy(trained_run / "last.pt", p)
    shutil.copy(integrity.sidecar(trained_run / "last.pt"), integrity.sidecar(p))
    ck = read_checkpoint(p)
    real = integrity.atomic_write_bytes
    for crash_at in (1, 2, 3):
        calls = []

        def write(path, data):
            calls.append(path)
            if len(calls) == crash_at:
                raise KeyboardInterrupt("killed")
            real(path, data)
        monkeypatch.setattr(integrity, "atomic_write_bytes", write)
        ck["step"] += 1
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(p, ck)
        monkeypatch.setattr(integrity, "atomic_write_bytes", real)
        integrity._cache.clear()
        assert read_checkpoint(p)["step"] in (ck["step"] - 1, ck["step"])  # old or new, and it verifies
        assert integrity.verify(p)
        ck = read_checkpoint(p)
    save_checkpoint(p, ck)
    assert len(integrity.recorded(p)) == 1


def test_digests_are_computed_once_per_file_version(tmp_path, trained_run, monkeypatch):
    p = tmp_path / "best.pt"
    shutil.copy(trained_run / "best.pt", p)
    integrity.write_record(p)
    integrity._cache.clear()
    calls = []
    real = integrity.hashlib.file_digest
    monkeypatch.setattr(integrity.hashlib, "file_digest", lambda f, d: calls.append(1) or real(f, d))
    for _ in range(3):
        read_checkpoint(p)
    assert len(calls) == 1
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))  # a rewritten file is hashed again
    read_checkpoint(p)
    assert len(calls) == 2


def test_malformed_records_are_one_line_errors(tmp_path, trained_run):
    p = tmp_path / "best.pt"
    shutil.copy(trained_run / "best.pt", p)
    for text in ("", "nothex  best.pt\n", "0" * 64 + "  other.pt\n"):
        integrity.sidecar(p).write_text(text)
        with pytest.raises(CheckpointError, match=r"best\.pt\.sha256 is (malformed|empty)") as e:
            read_checkpoint(p)
        assert str(e.value).startswith(f"{p}: ") and "\n" not in str(e.value)
