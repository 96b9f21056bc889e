"""The 20-joint skeleton: the left/right mirror permutation and the bones drawn between present joints."""
from motionlab.data.skeleton import BONES, JOINTS_20, bones_for, mirror_permutation, side


def test_skeleton_mirror_permutation_is_an_involution_swapping_sides():
    perm = mirror_permutation(JOINTS_20)
    assert sorted(perm) == list(range(20))
    assert [perm[p] for p in perm] == list(range(20))
    for i, n in enumerate(JOINTS_20):
        twin = JOINTS_20[perm[i]]
        if side(n) == "center":
            assert twin == n
        else:
            assert side(twin) != side(n) and twin.split("_", 1)[1] == n.split("_", 1)[1]
    # a joint without a twin maps to itself
    assert mirror_permutation(["left_hand", "nose"]) == [0, 1]


def test_bones_for_only_uses_present_joints():
    full = bones_for(JOINTS_20)
    assert len(full) == len(BONES)
    assert all(0 <= a < 20 and 0 <= b < 20 for a, b, _ in full)
    part = bones_for(["nose", "neck_mid", "left_hand"])
    assert part == [(0, 1, "center")]
    sides = {s for _, _, s in full}
    assert sides == {"left", "right", "center"}
