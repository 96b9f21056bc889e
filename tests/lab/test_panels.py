"""motionlab.lab.panels: Compare's panels (samples and real windows), new panels joining the user's choice,
and each sample's nearest real window."""
from __future__ import annotations

import numpy as np

from motionlab.data.demo import demo_clip
from motionlab.lab import panels


def test_compare_panels_mixes_samples_and_real_windows():
    c = demo_clip(100)
    px = np.zeros((2, 32, 40), np.float32)
    ps = panels.compare_panels([("a", px, c.joints), ("a", px[:1], c.joints)], c, 40, 3, 10)
    assert [p.name for p in ps] == ["a #0", "a #1", "a (2) #0", "real @10", "real @50"]  # @90 runs past the end
    np.testing.assert_array_equal(ps[-1].xy, c.xy[50:90])
    assert ps[-1].clip().num_frames == 40


def test_merge_new_panels_adds_only_panels_not_offered_before():
    from motionlab.lab import keys
    state = {}
    panels.merge_new_panels(state, ["a #0", "real @0"])
    assert keys.COMPARE_PANELS not in state  # first visit: the widget's default decides
    assert state[keys.COMPARE_KNOWN] == ["a #0", "real @0"]
    state[keys.COMPARE_PANELS] = ["real @0"]  # the user dropped a #0
    panels.merge_new_panels(state, ["a #0", "real @0"])
    assert state[keys.COMPARE_PANELS] == ["real @0"]  # nothing new: the choice stands
    panels.merge_new_panels(state, ["a #0", "b #0", "b #1", "real @0"])
    assert state[keys.COMPARE_PANELS] == ["b #0", "b #1", "real @0"]  # new ones join, in the offered order
    names = [f"c #{i}" for i in range(20)]
    panels.merge_new_panels(state, names, limit=5)
    assert state[keys.COMPARE_PANELS] == names[:5] and state[keys.COMPARE_KNOWN] == names


def test_nearest_panels_find_a_moved_window():
    clip = demo_clip(120)
    moved = clip.xy[37:69] + np.array([20.0, -9.0], np.float32)
    ps = panels.compare_panels([("s", moved.reshape(1, 32, -1), clip.joints)], clip, 32, 1, 0)
    assert [p.name for p in ps] == ["s #0", "real @0"]
    near = panels.nearest_panels(ps, clip)
    assert list(near) == ["s #0"]  # real windows get none
    q = near["s #0"]
    assert q.name == "real @37, nearest to s #0" and q.meta["start"] == 37 and q.meta["distance"] < 1e-4
    np.testing.assert_array_equal(q.xy, clip.xy[37:69])
    other = panels.ComparePanel("x #0", moved, tuple(reversed(clip.joints)), "x")
    nan = panels.ComparePanel("n #0", np.full_like(moved, np.nan), clip.joints, "n")
    assert panels.nearest_panels([other, nan], clip) == {}  # other joints, or NaN: no match
    assert panels.nearest_panels(ps, demo_clip(20)) == {}  # the clip is shorter than the window
