"""Hypothesis strategies for valid clips, shared by data/test_clip.py and data/test_dataset.py."""
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


joint_name = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    lambda s: s.strip())


coord = st.floats(-4000, 4000, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def valid_clips(draw, min_frames=1, max_frames=40, max_joints=4):
    names = draw(st.lists(joint_name, min_size=1, max_size=max_joints, unique=True))
    t = draw(st.integers(min_frames, max_frames))
    xy = draw(st.lists(st.lists(st.tuples(coord, coord), min_size=len(names), max_size=len(names)),
                       min_size=t, max_size=t))
    return {n: [list(xy[i][j]) for i in range(t)] for j, n in enumerate(names)}
