"""The Sample page's sampler advice: read from the sampler study's measurements, per checkpoint."""
import json

import pytest

from motionlab.lab import sampler_advice
from motionlab.lab.config import ROOT
from motionlab.evaluation.metrics import METRICS
from motionlab.core.samplers import DEFAULT_SAMPLER, SamplerChoice


def _row(label, close, dev):
    steps = int(label.rsplit("-", 1)[1])
    return {"sampler": label, "steps": steps, "close": close, "vs_ddpm": {k: 1.0 + (dev if k == "vel_energy" else 0)
                                                                          for k in METRICS}}


def _study(tmp_path, rows, timesteps=400):
    ck = tmp_path / "ck" / "model.pt"
    ck.parent.mkdir(parents=True, exist_ok=True)
    ck.write_bytes(b"x")
    path = tmp_path / "SAMPLERS.json"
    path.write_text(json.dumps({"studies": [{"checkpoint": str(ck), "timesteps": timesteps,
                                             "rows": rows + [_row("ddpm-400", True, 0.0)]}]}))
    return ck, sampler_advice.studies(path)


def test_a_faithful_default_needs_no_other_setting(tmp_path):
    ck, found = _study(tmp_path, [_row("ddpm-20", True, 0.05), _row("dpmpp-10", True, 0.01)])
    a = sampler_advice.advise(ck, DEFAULT_SAMPLER, 400, found)
    assert a.default_ok and a.choice is None and "ddpm-20 stays within" in a.text


def test_a_missing_default_points_at_the_closest_setting_with_no_more_steps(tmp_path):
    rows = [_row("ddpm-20", False, 0.34), _row("ddim-20", True, 0.12), _row("dpmpp-10", True, 0.09),
            _row("dpmpp-20", True, 0.10), _row("ddpm-100", True, 0.02)]
    ck, found = _study(tmp_path, rows)
    a = sampler_advice.advise(ck, DEFAULT_SAMPLER, 400, found)
    assert not a.default_ok and a.choice == SamplerChoice("dpmpp", 10)
    assert "vel_energy 134% of ddpm-400's" in a.text and "dpmpp-10 stays within" in a.text


def test_when_only_slower_settings_pass_the_fewest_steps_win(tmp_path):
    rows = [_row("ddpm-20", False, 0.3), _row("ddpm-100", True, 0.01), _row("ddpm-50", True, 0.04)]
    ck, found = _study(tmp_path, rows)
    assert sampler_advice.advise(ck, DEFAULT_SAMPLER, 400, found).choice == SamplerChoice("ddpm", 50)
    ck, found = _study(tmp_path, [_row("ddpm-20", False, 0.3)])
    a = sampler_advice.advise(ck, DEFAULT_SAMPLER, 400, found)
    assert a.choice is None and "no faster setting" in a.text


def test_no_measurement_means_no_advice(tmp_path):
    ck, found = _study(tmp_path, [_row("ddpm-20", False, 0.3)])
    assert sampler_advice.advise(tmp_path / "other.pt", DEFAULT_SAMPLER, 400, found) is None
    assert sampler_advice.advise(ck, DEFAULT_SAMPLER, 1000, found) is None  # another schedule length
    assert sampler_advice.studies(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("{")
    assert sampler_advice.studies(tmp_path / "bad.json") == {}


@pytest.mark.parametrize("tag,ok", [("long_10000", True), ("best_fidelity", False)])
def test_the_shipped_checkpoints_as_measured(tag, ok):
    """docs/SAMPLERS.json: ddpm-20 is faithful on long_10000; on best_fidelity (v-prediction,
    zero terminal SNR) it overshoots the velocities and a deterministic solver is offered instead."""
    a = sampler_advice.advise(ROOT / "checkpoints" / tag / "model.pt", DEFAULT_SAMPLER, 400)
    assert a is not None and a.default_ok == ok
    if not ok:
        assert a.choice.name in ("ddim", "dpmpp") and a.choice.steps <= 20
