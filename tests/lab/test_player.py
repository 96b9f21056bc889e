"""The skeleton player's payload (motionlab.lab.player.encode): clips as uint16 in a box per panel,
held joints as bits, shared or per-panel display bounds."""
import json

import numpy as np
import pytest

from motionlab.data.demo import demo_clip
from motionlab.formats.render import square_bounds
from motionlab.lab import player
from motionlab.lab.figures import PAD, Panel


def _panels(n=3, frames=40, shift=50.0):
    c = demo_clip(frames * n)
    return [Panel(f"clip #{i}", c.xy[i * frames:(i + 1) * frames] + np.float32(i * shift), c.joints)
            for i in range(n)]


def test_round_trip_within_the_quantization_error():
    ps = _panels()
    d = player.encode(ps)
    assert d["num_frames"] == 40 and d["step"] == 1 and len(d["panels"]) == 3
    assert [p["title"] for p in d["panels"]] == ["clip #0", "clip #1", "clip #2"]
    for p, e, back in zip(ps, d["panels"], player.decode(d)):
        assert back.shape == p.xy.shape
        tol = e["box"][2] / player.SCALE / 2 + 1e-3  # half a step of the box, plus its rounding to 4 places
        assert np.abs(back - p.xy).max() <= tol
    assert json.loads(json.dumps(d)) == d  # JSON-ready
    assert d["bytes"] == 3 * 40 * 20 * 2 * 2


def test_nan_joints_arrive_missing_and_an_empty_panel_gets_a_default_box():
    ps = _panels(2)
    ps[0].xy[5, 3] = np.nan
    ps[0].xy[7, :, 1] = np.inf
    ps[1] = Panel("nothing", np.full_like(ps[1].xy, np.nan), ps[1].joints)
    d = player.encode(ps)
    a, b = player.decode(d)
    assert np.isnan(a[5, 3]).all() and np.isnan(a[7]).all()
    assert np.isfinite(np.delete(a, [5, 7], 0)).all() and np.isfinite(a[5, :3]).all()
    assert np.isnan(b).all() and d["panels"][1]["box"] == [0.0, 0.0, 512.0]


def test_shared_bounds_or_each_panels_own():
    ps = _panels(shift=300.0)
    shared = player.encode(ps)
    assert all(p["bounds"] == list(square_bounds([q.xy for q in ps], PAD)) for p in shared["panels"])
    own = player.encode(ps, shared_bounds=False)
    assert [p["bounds"] for p in own["panels"]] == [list(square_bounds([q.xy], PAD)) for q in ps]
    assert own["id"] != shared["id"] and player.encode(ps)["id"] == shared["id"]


def test_held_joints_as_bits_and_a_short_panel_holds_its_last_frame():
    c = demo_clip(100)
    known = np.zeros((100, 20), bool)
    known[:10] = True
    known[:, 4] = True
    ps = [Panel("long", c.xy, c.joints, known), Panel("short", c.xy[:33], c.joints)]
    d = player.encode(ps, max_panel_frames=50)  # 2 panels x 100 frames: every 4th frame is sent
    assert d["step"] == 4 and d["num_frames"] == 100
    assert d["panels"][0]["frames"] == 25 and d["panels"][1]["frames"] == 9  # 0, 4, .., 32: its last frame
    held = player.held(d, 0)
    assert held.shape == (25, 20) and held[:3].all() and held[:, 4].all() and not held[3:, 5].any()
    assert player.held(d, 1) is None
    ps[1] = Panel("short", c.xy[:31], c.joints)  # 0, 4, .., 28, then frame 30 held for the rest
    d = player.encode(ps, max_panel_frames=50)
    assert d["panels"][1]["frames"] == 9
    np.testing.assert_allclose(player.decode(d)[1][-1], c.xy[30], atol=0.01)


def test_no_panels_is_an_error():
    with pytest.raises(ValueError):
        player.encode([])
