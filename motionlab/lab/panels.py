"""The compare page's panels: samples of checkpoints, real clip windows and nearest real windows."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import MutableMapping

import numpy as np

from motionlab.data.clip import Clip
from motionlab.lab.keys import COMPARE_KNOWN, COMPARE_PANELS


@dataclass
class ComparePanel:
    """One panel of the compare page: a sample of a checkpoint or a window of the real clip."""
    name: str
    xy: np.ndarray       # (T, J, 2)
    joints: tuple
    source: str = ""     # checkpoint path or clip name
    meta: dict = field(default_factory=dict)

    def clip(self) -> Clip:
        return Clip(tuple(self.joints), np.ascontiguousarray(self.xy, dtype=np.float32))


def nearest_panels(panels: list[ComparePanel], clip: Clip | None, clip_name: str = "real") -> dict[str, ComparePanel]:
    """For each sample panel, the clip window nearest to it (motionlab.evaluation.novelty: stride 1, centred RMS).

    Keys are the sample panel names; meta holds start, distance (pixels per coordinate) and of (the
    sample's name). Samples whose joints or length the clip cannot match get none.
    """
    from motionlab.evaluation.novelty import NoveltyError, clip_windows

    out: dict[str, ComparePanel] = {}
    if clip is None:
        return out
    by_len: dict[int, list[ComparePanel]] = {}
    for p in panels:
        if "start" not in p.meta and tuple(p.joints) == tuple(clip.joints) and np.isfinite(p.xy).all():
            by_len.setdefault(p.xy.shape[0], []).append(p)
    for w, group in by_len.items():
        try:
            offs, dist = clip_windows(clip.channels, w).nearest(np.stack([p.xy.reshape(w, -1) for p in group]))
        except NoveltyError:  # a clip shorter than the window, or NaN in a sample
            continue
        for p, o, d in zip(group, offs, dist):
            o = int(o)
            out[p.name] = ComparePanel(f"{clip_name} @{o}, nearest to {p.name}", clip.xy[o:o + w], clip.joints,
                                       clip_name, {"start": o, "distance": float(d), "of": p.name})
    return out


def compare_panels(samples: list[tuple[str, np.ndarray, tuple]], clip: Clip | None, real_window: int,
                   real_count: int, real_start: int, clip_name: str = "real") -> list[ComparePanel]:
    """Panels for every sample of every checkpoint, then `real_count` consecutive real windows.

    samples: (tag, (N, W, C) pixels, joints) per checkpoint. Real windows start at real_start and
    follow each other; windows that would run past the clip's end are left out.
    """
    out = []
    tags_seen: dict[str, int] = {}
    for tag, px, joints in samples:
        n = tags_seen[tag] = tags_seen.get(tag, 0) + 1
        label = tag if n == 1 else f"{tag} ({n})"
        j = len(joints)
        for i in range(px.shape[0]):
            out.append(ComparePanel(f"{label} #{i}", px[i].reshape(px.shape[1], j, 2), tuple(joints), tag))
    if clip is not None and real_count > 0:
        for k in range(real_count):
            s = int(real_start) + k * int(real_window)
            if s < 0 or s + real_window > clip.num_frames:
                break
            out.append(ComparePanel(f"{clip_name} @{s}", clip.xy[s:s + real_window], clip.joints, clip_name,
                                    {"start": s}))
    return out


def merge_new_panels(state: MutableMapping, names: list[str], limit: int = 12) -> None:
    """Panels the compare page did not offer on its last run (newly sampled, more real windows) join the selection.

    Works on the multiselect's key (keys.COMPARE_PANELS) before the widget is drawn; a first visit (no
    selection yet) is left to the widget's default. The selection keeps `names`' order, at most `limit`.
    """
    known = state.get(COMPARE_KNOWN, [])
    fresh = [x for x in names if x not in known]
    if fresh and COMPARE_PANELS in state:
        keep = set(state[COMPARE_PANELS]) | set(fresh)
        state[COMPARE_PANELS] = [x for x in names if x in keep][:limit]
    state[COMPARE_KNOWN] = list(names)
