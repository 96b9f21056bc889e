"""Evaluation cards: written, read back, refused when malformed or foreign, checked against a rerun."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from motionlab.errors import MotionlabError
from motionlab.evaluation import catalog
from motionlab.evaluation.card import (
    FORMAT,
    check_against_card,
    make_card,
    read_card,
    write_card,
)
from motionlab.evaluation.intervals import real_pool
from motionlab.evaluation.judge import judge_set, results_doc
from motionlab.evaluation.measure import Reference

SHA = "ab" * 32
SIX = catalog.SPEC
FIELDS = {"sampler": "ddim", "steps": 50, "seed": 42, "window": 8, "stride": 5, "fps": 30.0, "bpm": 115.0}


@pytest.fixture(scope="module")
def results(demo):
    pool = Reference(real_pool(demo, 16), demo.joints, 30.0, 115.0)
    x = pool.windows[::7] + np.random.default_rng(0).normal(size=(12, 16, 40))
    return judge_set(x, pool, pool, catalog.ALL, 100, 50)


def test_a_card_round_trips_with_every_field(tmp_path, results):
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"weights")
    card = make_card(results_doc(results), checkpoint=ckpt, **FIELDS)
    assert card["checkpoint_sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert (card["n"], card["torch"], card["cpu_capability"]) == (12, torch.__version__,
                                                                  torch.backends.cpu.get_cpu_capability())
    assert set(card["metrics"]) == {m.name for m in catalog.ALL}
    write_card(tmp_path / "card.json", card)
    assert read_card(tmp_path / "card.json") == card
    assert make_card(results, checkpoint=SHA, **FIELDS)["metrics"] == card["metrics"]   # judge_set's output too


def _bad(tmp_path, text: str | bytes):
    p = tmp_path / "card.json"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(MotionlabError) as e:
        read_card(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg
    return msg


def test_malformed_and_foreign_files_are_refused_in_one_line(tmp_path, results):
    good = make_card(results_doc(results), checkpoint=SHA, **FIELDS)
    assert "not valid JSON" in _bad(tmp_path, "{ nope")
    assert "not an evaluation card" in _bad(tmp_path, json.dumps({"left_ankle": [[1, 2]]}))   # a clip file
    assert "not an evaluation card" in _bad(tmp_path, "[1, 2]")
    assert "not an evaluation card" in _bad(tmp_path, b"\xff\xfe")
    assert "version" in _bad(tmp_path, json.dumps({**good, "version": 99}))
    assert "no steps" in _bad(tmp_path, json.dumps({k: v for k, v in good.items() if k != "steps"}))
    assert "checkpoint_sha256" in _bad(tmp_path, json.dumps({**good, "checkpoint_sha256": "xyz"}))
    assert "steps" in _bad(tmp_path, json.dumps({**good, "steps": True}))
    bad_iv = {**good, "metrics": {"vel_energy": {"value": 1.0, "interval": [2.0, 1.0]}}}
    assert "vel_energy" in _bad(tmp_path, json.dumps(bad_iv))
    assert "metrics" in _bad(tmp_path, json.dumps({**good, "metrics": {}}))
    assert "finite" in _bad(tmp_path, json.dumps(good).replace('"fps": 30.0', '"fps": NaN'))
    with pytest.raises(MotionlabError, match="cannot read"):
        read_card(tmp_path / "absent.json")
    with pytest.raises(MotionlabError, match="checkpoint"):
        make_card(results, checkpoint=tmp_path / "absent.pt", **FIELDS)


def test_a_rerun_is_checked_against_the_card_intervals(results):
    card = make_card(results, checkpoint=SHA, **FIELDS)
    same = check_against_card(card, results)
    finite = {k for k, r in results.items() if np.isfinite(r["value"])}
    assert set(SIX) <= finite and all(same[k]["inside"] for k in finite)    # its own values, rounded, stay inside
    iv = card["metrics"]["vel_energy"]["interval"]
    moved = check_against_card(card, {"vel_energy": iv[1] * 1.5, "pos_std": np.float32(card["metrics"]["pos_std"]["value"])})
    assert moved["vel_energy"] == {"value": iv[1] * 1.5, "interval": iv, "inside": False}
    assert moved["pos_std"]["inside"] is True
    assert moved["diversity"] == {"value": None, "interval": card["metrics"]["diversity"]["interval"], "inside": None}
    assert check_against_card(card, results_doc(results))["vel_std"]["inside"]
    assert card["format"] == FORMAT
