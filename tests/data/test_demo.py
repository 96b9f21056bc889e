"""The procedural demo dancer: deterministic and in the real clip's format."""
import numpy as np

from motionlab.data.clip import Clip
from motionlab.data.demo import demo_clip
from motionlab.data.skeleton import JOINTS_20


def test_demo_clip_is_deterministic_and_in_the_real_format():
    a, b = demo_clip(frames=64), demo_clip(frames=64)
    assert isinstance(a, Clip) and a.joints == JOINTS_20
    assert a.xy.shape == (64, 20, 2) and a.xy.dtype == np.float32
    np.testing.assert_array_equal(a.xy, b.xy)
    assert not np.array_equal(a.xy, demo_clip(frames=64, seed=1).xy)
    assert demo_clip().num_frames == 480
    # the dancer moves: frame-to-frame motion is non-zero, but smooth (no teleporting joints)
    step = np.abs(np.diff(a.xy, axis=0))
    assert step.mean() > 0.5 and step.max() < 60
