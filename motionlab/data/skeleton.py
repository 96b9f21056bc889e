"""The 20-joint skeleton of the dance clips: bones, sides and the mirror swap."""
from __future__ import annotations

JOINTS_20 = (
    "left_ankle", "left_elbow", "left_foot_index", "left_foot_mean", "left_hand",
    "left_heel", "left_hip", "left_knee", "left_shoulder", "neck_mid", "nose",
    "right_ankle", "right_elbow", "right_foot_index", "right_foot_mean", "right_hand",
    "right_heel", "right_hip", "right_knee", "right_shoulder",
)

_LIMB = [("shoulder", "elbow"), ("elbow", "hand"), ("shoulder", "hip"), ("hip", "knee"),
         ("knee", "ankle"), ("ankle", "heel"), ("heel", "foot_index"),
         ("ankle", "foot_index"), ("ankle", "foot_mean")]
BONES = tuple(
    [("nose", "neck_mid"), ("neck_mid", "left_shoulder"), ("neck_mid", "right_shoulder"),
     ("left_hip", "right_hip")]
    + [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right") for a, b in _LIMB]
)


def side(name: str) -> str:
    """'left', 'right' or 'center' from a joint (or bone end) name."""
    if name.startswith("left_"):
        return "left"
    if name.startswith("right_"):
        return "right"
    return "center"


def bone_side(a: str, b: str) -> str:
    sa, sb = side(a), side(b)
    return sa if sa == sb else "center"


def bones_for(joints: list[str] | tuple[str, ...]) -> list[tuple[int, int, str]]:
    """Bones as (index_a, index_b, side) for the joints present; others are drawn as points."""
    idx = {n: i for i, n in enumerate(joints)}
    return [(idx[a], idx[b], bone_side(a, b)) for a, b in BONES if a in idx and b in idx]


def mirror_permutation(joints: list[str] | tuple[str, ...]) -> list[int]:
    """For each joint, the index of its left/right counterpart (itself if it has none)."""
    idx = {n: i for i, n in enumerate(joints)}
    out = []
    for n in joints:
        if n.startswith("left_"):
            twin = "right_" + n[5:]
        elif n.startswith("right_"):
            twin = "left_" + n[6:]
        else:
            twin = n
        out.append(idx.get(twin, idx[n]))
    return out
