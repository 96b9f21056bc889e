"""motionlab.lab.scrubber: the denoising view's payload holds every kept step of any sampler (quantized in a box
per step, missing values marked), is built once per sample, and a rerun moves only its start."""
from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pytest

from lab_support import lab_tree, tiny_model  # noqa: F401  (fixtures)
from motionlab.core.samplers import SamplerChoice
from motionlab.errors import MotionlabError
from motionlab.lab import results, scrubber


@pytest.mark.parametrize("sampler", [SamplerChoice("ddpm"), SamplerChoice("ddim", 4), SamplerChoice("dpmpp", 5)])
def test_scrubber_payload_holds_every_kept_step_of_any_sampler(tiny_model, sampler):
    r = results.run_sampling(tiny_model, 3, seed=3, sampler=sampler)
    d = json.loads(json.dumps(scrubber.payload(r, 2)))  # what travels to the browser
    K, M, J = len(r.steps), 6, len(r.joints)
    assert d["steps"] == r.steps and d["steps"][0] == 10 and d["steps"][-1] == 0
    assert d["frames"] == scrubber.moments(32) == [0, 6, 12, 19, 25, 31] and d["start"] == K - 1
    assert d["bytes"] == K * 2 * M * J * 2 * 2
    q = np.frombuffer(base64.b64decode(d["points"]), "<u2").reshape(K, 2, M, J, 2)
    boxes = np.asarray(d["boxes"]).reshape(K, 2, 3)
    got = scrubber.dequantize(q, boxes)
    for k in (0, K // 2, K - 1):  # each position matches the full view's state at those frames
        step, xt, x0 = r.denoise_state(r.steps[k], 2)
        assert step == r.steps[k]
        tol = boxes[k, :, 2].max() / 65534 + 0.02
        np.testing.assert_allclose(got[k, 0], xt[d["frames"]], atol=tol)
        np.testing.assert_allclose(got[k, 1], x0[d["frames"]], atol=tol)
    assert not np.allclose(got[0, 0], got[-1, 0])  # noise at T, the dancer at 0
    assert q.max() <= scrubber.SCALE and (q.reshape(K, 2, -1).max(-1) > scrubber.SCALE // 2).all()  # boxes fit
    assert scrubber.payload(r, 2, settled=r.steps[1])["start"] == 1
    assert scrubber.payload(r, 1)["id"] != d["id"]


def test_scrubber_marks_missing_values_and_rejects_bad_input(tiny_model):
    r = results.run_sampling(tiny_model, 1, seed=0, sampler=SamplerChoice("dpmpp", 3))
    traj = r.trajectory
    traj.x_t[0, 0, 0, 0] = np.nan
    q = np.frombuffer(base64.b64decode(scrubber.payload(r, 0)["points"]), "<u2")
    assert q[0] == scrubber.MISSING and (q[1:] != scrubber.MISSING).any()
    assert scrubber.moments(3) == [0, 1, 2] and scrubber.moments(1) == [0]
    with pytest.raises(MotionlabError, match="out of range"):
        scrubber.payload(r, 1)
    with pytest.raises(MotionlabError, match="no denoising trajectory"):
        scrubber.payload(results.run_sampling(tiny_model, 1, keep_trajectory=False), 0)


def test_scrubber_payload_is_built_once_per_sample_and_rerun_moves_only_the_start(tiny_model):
    r = results.run_sampling(tiny_model, 2, seed=5, sampler=SamplerChoice("ddim", 4))
    a, b = scrubber.payload(r, 1), scrubber.payload(r, 1, settled=r.steps[0])
    assert a["points"] is b["points"] and a["start"] == len(r.steps) - 1 and b["start"] == 0
    assert {k: v for k, v in a.items() if k != "start"} == {k: v for k, v in b.items() if k != "start"}
    assert scrubber.payload(r, 0)["points"] != a["points"]
    assert dataclasses.replace(r, trajectory=None).scrub_payloads == {}  # a copy does not share them
