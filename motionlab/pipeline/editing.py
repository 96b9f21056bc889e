"""Editing by masked sampling: in-betweening, continuation, long dances and joint masks, with seam checks.

A mask is (frames x joints), True where the motion is known (held to given pixels). The model
samples one window of its own length; the known region is held by replacement at every step
(GaussianDiffusion.sample_steps) and pasted back in pixels at the end, so it comes back exactly.
Quality: `seam_report` (velocity change at each joint where generated frames meet given ones,
against the clip's own frame-to-frame changes) and `part_metrics` (the six metrics of the generated
part only, beside the same part of the clip's windows).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from motionlab.formats.checkpoints import LoadedModel
from motionlab.data.clip import Clip
from motionlab.errors import MotionlabError
from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import real_pool
from motionlab.evaluation.judge import judge_set, results_doc
from motionlab.evaluation.measure import Reference
from motionlab.evaluation.metrics import all_metrics
from motionlab.core.samplers import SamplerChoice
from motionlab.pipeline.sampling import generate
from motionlab.data.skeleton import BONES

TASKS = ("inbetween", "continue", "long", "regen")
PARTS = {"upper": ("nose", "neck_mid", "shoulder", "elbow", "hand"),
         "legs": ("hip", "knee", "ankle", "heel", "foot_index", "foot_mean")}
MAX_EDIT_FRAMES = 20 * 60 * 30  # 20 minutes at 30 fps
DEFAULT_OVERLAP = 64
# the CLI's and lab's defaults: together they cut the seams' velocity jump on long_10000 from ~4-6x
# the clip's median to ~1-2x (README); the library's functions default to plain replacement
DEFAULT_RESAMPLE = 3
DEFAULT_BLEND = 8

# the seam figures in the README were measured with this sampler; sampling's own default is ddpm-20
EDIT_SAMPLER = SamplerChoice("dpmpp", 20)


def part_joints(joints, part: str) -> np.ndarray:
    """(J,) bool: the joints of 'upper' (head, neck, arms) or 'legs' (hips down)."""
    if part not in PARTS:
        raise MotionlabError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    keys = PARTS[part]
    sel = np.array([j in keys or j.split("_", 1)[-1] in keys for j in joints])
    if not sel.any():
        raise MotionlabError(f"no joint of this skeleton belongs to '{part}' ({', '.join(joints)})")
    return sel


@dataclass
class Edit:
    """An edit's result: (N, W, J, 2) pixels, the (W, J) known mask, and what was given."""
    task: str
    xy: np.ndarray            # (N, W, J, 2)
    known: np.ndarray         # (W, J) bool
    given: np.ndarray         # (W, J, 2): the held pixels where known; elsewhere the reference motion or NaN
    joints: tuple
    seams: list[int]          # frames where generated and given frames meet (the later frame of each pair)
    sampler: str
    seed: int
    seconds: float
    windows: int = 1
    notes: dict = field(default_factory=dict)

    @property
    def num_samples(self) -> int:
        return len(self.xy)  # xy: (samples, frames, joints, 2)

    @property
    def num_frames(self) -> int:
        return self.xy.shape[1]

    def clips(self) -> list[Clip]:
        return [Clip(self.joints, np.ascontiguousarray(x, np.float32)) for x in self.xy]

    def given_clip(self) -> Clip:
        return Clip(self.joints, np.ascontiguousarray(self.given, np.float32))


def masked_sample(lm: LoadedModel, given: np.ndarray, known: np.ndarray, num_samples: int = 1, seed: int = 42, *,
                  sampler: SamplerChoice = EDIT_SAMPLER, resample: int = 1, blend: int = 0,
                  precision: str = "fp32", threads=None, on_step: Callable | None = None) -> tuple[np.ndarray, object]:
    """One window of masked sampling. given: (W, J, 2) or (N, W, J, 2) pixels (any value where not
    known); known: (W, J) bool. Returns ((N, W, J, 2) pixels with the known region exactly `given`,
    the SampleRun). blend > 0 smooths temporal seams afterwards (`blend_seams`)."""
    j = len(lm.joints)
    g = np.asarray(given, np.float32)
    if g.ndim == 3:
        g = g[None]
    known = np.asarray(known, bool)
    if g.ndim != 4 or g.shape[2:] != (j, 2) or g.shape[0] not in (1, num_samples):
        raise MotionlabError(f"given motion must be (W, {j}, 2) pixels, got shape {np.shape(given)}")
    w = g.shape[1]
    if known.shape != (w, j):
        raise MotionlabError(f"mask must be (frames, joints) = ({w}, {j}), got {known.shape}")
    if not np.isfinite(g[:, known]).all():
        raise MotionlabError("the known part of the given motion contains NaN or inf")
    if not isinstance(resample, int) or isinstance(resample, bool) or not 1 <= resample <= 50:
        raise MotionlabError(f"resample must be 1..50, got {resample!r}")
    gc = np.where(known[None, :, :, None], g, 0.0).reshape(g.shape[0], w, 2 * j)
    x0 = torch.from_numpy(lm.normalizer.normalize(gc).astype(np.float32))
    m = torch.from_numpy(np.repeat(known, 2, axis=1).T.copy())[None]  # (1, C, W): x and y of a joint together
    if not isinstance(blend, int) or isinstance(blend, bool) or not 0 <= blend <= w:
        raise MotionlabError(f"blend must be 0..{w} frames, got {blend!r}")
    last = {}

    def step(out):
        last["x0"] = out.pred_x0
        if on_step is not None:
            on_step(out)
    run = generate(lm.model, lm.diffusion, num_samples, w, seed=seed, sampler=sampler, precision=precision,
                   threads=threads, on_step=step, known=x0, mask=m, resample=resample)
    px = lm.unnormalize(run.x).reshape(num_samples, w, j, 2)
    if blend:
        px = blend_seams(px, np.broadcast_to(g, px.shape), known,
                         lm.unnormalize(last["x0"]).reshape(num_samples, w, j, 2), blend)
    px = np.where(known[None, :, :, None], np.broadcast_to(g, px.shape), px)  # exact pixels, not x*std+mean
    return px.astype(np.float32), run


def blend_seams(px: np.ndarray, given: np.ndarray, known: np.ndarray, pred: np.ndarray, frames: int) -> np.ndarray:
    """Carry each temporal seam's offset into the generated side, fading linearly over `frames` frames.

    At the last given frame before a generated run (or the first after it), the model's final x0
    estimate `pred` misses the given pose by some offset; the generated frames follow `pred`, so
    pasting the given pose back leaves that offset as a jump. Adding offset * (1 - k / (frames + 1))
    to the k-th generated frame from the seam (k = 1, 2, ...) closes the jump (an offset blend, as
    inertialization does in animation). Given frames are not touched; joint masks have no such seam.
    """
    out = np.array(px, np.float64)
    w = known.shape[0]
    ramp = 1.0 - np.arange(1, frames + 1) / (frames + 1)
    for jnt in range(known.shape[1]):
        col = known[:, jnt]
        edges = np.nonzero(col[1:] != col[:-1])[0]
        for e in edges:
            # given e, generated from e + 1: fade forward; else generated up to e, given from e + 1: backward
            anchor, d = (e, 1) if col[e] else (e + 1, -1)
            idx, f = [], anchor + d
            while 0 <= f < w and not col[f] and len(idx) < frames:
                idx.append(f)
                f += d
            off = given[:, anchor, jnt] - pred[:, anchor, jnt]                  # (N, 2)
            out[:, idx, jnt] += off[:, None, :] * ramp[:len(idx)][None, :, None]
    return out.astype(np.float32)


def _seams(known: np.ndarray) -> list[int]:
    """Frames s where frame s-1 and s differ in being all-known (a temporal seam)."""
    full = known.all(1)
    return [int(s) for s in np.nonzero(full[1:] != full[:-1])[0] + 1]


def _check_clip(lm: LoadedModel, clip: Clip) -> None:
    if tuple(clip.joints) != tuple(lm.joints):
        raise MotionlabError(f"the motion's joints ({len(clip.joints)}) are not the checkpoint's ({len(lm.joints)})")


def _frames(clip: Clip, start: int, count: int, what: str) -> np.ndarray:
    if count < 0 or start < 0 or start + count > clip.num_frames:
        raise MotionlabError(f"{what}: frames {start}..{start + count - 1} are outside the motion's "
                             f"0..{clip.num_frames - 1}")
    return clip.xy[start:start + count]


def inbetween(lm: LoadedModel, source: Clip, start: int, end: int, context: int = 8, num_samples: int = 1,
              seed: int = 42, **kw) -> Edit:
    """Generate frames start+1 .. end-1 of `source`; the `context` frames up to `start` and from `end`
    on are held. The window is the model's; frames after the end context are generated and dropped."""
    _check_clip(lm, source)
    if context < 1:
        raise MotionlabError(f"context must be at least 1 frame, got {context}")
    gap = end - start - 1
    if gap < 1:
        raise MotionlabError(f"--to must be at least 2 frames after --from (got {start} and {end})")
    if 2 * context + gap > lm.window:
        raise MotionlabError(f"gap of {gap} frames plus 2 x {context} context frames exceeds the model's "
                             f"window of {lm.window} frames")
    first = start - context + 1
    a = _frames(source, first, context, "start context")
    b = _frames(source, end, context, "end context")
    n = 2 * context + gap
    given = np.full((lm.window, len(lm.joints), 2), np.nan, np.float32)
    given[:n] = source.xy[first:first + n]  # the reference between them too, for side-by-side display
    known = np.zeros((lm.window, len(lm.joints)), bool)
    known[:context], known[context + gap:n] = True, True
    given[:context], given[context + gap:n] = a, b
    t0 = time.perf_counter()
    px, run = masked_sample(lm, np.nan_to_num(given), known, num_samples, seed, **kw)
    return Edit("inbetween", px[:, :n], known[:n], given[:n], tuple(lm.joints), _seams(known[:n]), run.sampler,
                seed, time.perf_counter() - t0, notes={"from": start, "to": end, "context": context,
                                                       "first_frame": first})


def _chain(lm: LoadedModel, frames: int, context: np.ndarray | None, overlap: int, num_samples: int, seed: int,
           on_window: Callable | None = None, **kw) -> tuple[np.ndarray, list[int], str, int]:
    """Windows of the model's length, each holding the previous output's last `overlap` frames (the
    first holds `context`, if any) until `frames` frames exist. Window i uses seed + i."""
    w, j = lm.window, len(lm.joints)
    if frames > w and not 1 <= overlap < w:  # one window needs no overlap
        raise MotionlabError(f"overlap must be 1..{w - 1} frames (the window is {w}), got {overlap}")
    if context is not None and not 1 <= len(context) < w:
        raise MotionlabError(f"context must be 1..{w - 1} frames (the window is {w}), got {len(context)}")
    if not 1 <= frames <= MAX_EDIT_FRAMES:
        raise MotionlabError(f"length must be 1..{MAX_EDIT_FRAMES} frames, got {frames}")
    out = None if context is None else np.broadcast_to(context[None], (num_samples, *context.shape)).copy()
    seams, sampler, i = [], "", 0
    while out is None or out.shape[1] < frames:
        given = np.zeros((num_samples, w, j, 2), np.float32)
        known = np.zeros((w, j), bool)
        if out is not None:
            k = min(overlap, out.shape[1]) if i else out.shape[1]
            given[:, :k] = out[:, -k:]
            known[:k] = True
        if on_window is not None:
            on_window(i)
        px, run = masked_sample(lm, given, known, num_samples, seed + i, **kw)
        sampler = run.sampler
        if out is None:
            out = px
        else:
            k = int(known.all(1).sum())
            seams.append(out.shape[1])
            out = np.concatenate([out, px[:, k:]], axis=1)
        i += 1
    return out[:, :frames], [s for s in seams if s < frames], sampler, i


def continuation(lm: LoadedModel, source: Clip, at: int, context: int, length: int | None = None,
                 num_samples: int = 1, seed: int = 42, overlap: int = DEFAULT_OVERLAP, **kw) -> Edit:
    """Frames at .. at+context-1 of `source` are given; generate the rest up to `length` frames
    (default: the model's window). Longer than a window chains windows (as `long_dance`)."""
    _check_clip(lm, source)
    length = length or lm.window
    if length <= context:
        raise MotionlabError(f"length ({length}) must exceed the context ({context} frames)")
    ctx = _frames(source, at, context, "context")
    t0 = time.perf_counter()
    xy, seams, sampler, nwin = _chain(lm, length, ctx, overlap, num_samples, seed, **kw)
    known = np.zeros((length, len(lm.joints)), bool)
    known[:context] = True
    given = np.full((length, len(lm.joints), 2), np.nan, np.float32)
    ref = source.xy[at:at + length]
    given[:len(ref)] = ref
    return Edit("continue", xy, known, given, tuple(lm.joints), seams, sampler, seed,
                time.perf_counter() - t0, nwin, {"at": at, "context": context, "overlap": overlap})


def long_dance(lm: LoadedModel, frames: int, overlap: int = DEFAULT_OVERLAP, num_samples: int = 1, seed: int = 42,
               source: Clip | None = None, at: int = 0, context: int = 0, **kw) -> Edit:
    """A dance of `frames` frames: a free first window (or `context` frames of `source` from `at`),
    then windows that continue the last one's tail of `overlap` frames."""
    ctx = None
    if context:
        if source is None:
            raise MotionlabError("a context needs a source motion")
        _check_clip(lm, source)
        ctx = _frames(source, at, context, "context")
    t0 = time.perf_counter()
    xy, seams, sampler, nwin = _chain(lm, frames, ctx, overlap, num_samples, seed, **kw)
    known = np.zeros((frames, len(lm.joints)), bool)
    given = np.full((frames, len(lm.joints), 2), np.nan, np.float32)
    if ctx is not None:
        known[:context] = True
        given[:context] = ctx
    return Edit("long", xy, known, given, tuple(lm.joints), seams, sampler, seed, time.perf_counter() - t0, nwin,
                {"overlap": overlap, "context": context})


def regenerate(lm: LoadedModel, source: Clip, part: str, at: int = 0, num_samples: int = 1, seed: int = 42,
               **kw) -> Edit:
    """Regenerate the joints of `part` over one window of `source` from frame `at`; keep the others."""
    _check_clip(lm, source)
    given = _frames(source, at, lm.window, "window")
    known = np.broadcast_to(~part_joints(lm.joints, part), (lm.window, len(lm.joints))).copy()
    t0 = time.perf_counter()
    px, run = masked_sample(lm, given, known, num_samples, seed, **kw)
    return Edit("regen", px, known, given.copy(), tuple(lm.joints), [], run.sampler, seed,
                time.perf_counter() - t0, notes={"part": part, "at": at})


# -- quality -----------------------------------------------------------------------------------

def _jerk(xy: np.ndarray) -> np.ndarray:
    """(T, J, 2) -> (T-2, J): |p[t+1] - 2 p[t] + p[t-1]|, the velocity change at frame t (px/frame)."""
    return np.linalg.norm(np.diff(np.asarray(xy, np.float64), n=2, axis=0), axis=-1)


def seam_report(edit: Edit, reference: Clip) -> dict:
    """Velocity change across each temporal seam, per joint, against the clip's own.

    At a seam at frame s (frames s-1 and s on different sides), the velocity change is the larger of
    |p[s] - 2 p[s-1] + p[s-2]| and |p[s+1] - 2 p[s] + p[s-1]| (px/frame, per joint, mean over
    samples). The reference is the same statistic over every frame pair of the clip: its per-joint
    median and 95th percentile, and where the seam falls in that distribution (percentile). A seam
    as smooth as the clip's own motion has ratio ~1 and percentile ~50. Also the speed across the
    seam |p[s] - p[s-1]| against the clip's median speed, so a seam that freezes shows too.
    Joint edits (no temporal seam) report the bones between kept and regenerated joints instead.
    """
    j = list(edit.joints)
    ref = _jerk(reference.xy)
    ref_pair = np.maximum(ref[1:], ref[:-1])                      # (T-3, J)
    ref_speed = np.linalg.norm(np.diff(reference.xy.astype(np.float64), axis=0), axis=-1)
    med, p95 = np.median(ref_pair, 0), np.percentile(ref_pair, 95, axis=0)
    speed_med = np.median(ref_speed, 0)
    seams = []
    for s in edit.seams:
        if not 2 <= s <= edit.num_frames - 2:
            continue
        jk = _jerk(edit.xy.transpose(1, 0, 2, 3)[s - 2:s + 2].reshape(4, -1, 2)).reshape(2, edit.num_samples, -1)
        dv = np.maximum(jk[0], jk[1]).mean(0)                    # (J,)
        sp = np.linalg.norm(edit.xy[:, s] - edit.xy[:, s - 1], axis=-1).mean(0)
        pct = np.array([(ref_pair[:, k] < dv[k]).mean() * 100 for k in range(len(j))])
        ratio = dv / np.maximum(med, 1e-9)
        seams.append({"frame": int(s), "mean_ratio": float(ratio.mean()), "median_percentile": float(np.median(pct)),
                      "joints_above_p95": int((dv > p95).sum()), "worst_joint": j[int(ratio.argmax())],
                      "speed_ratio": float((sp / np.maximum(speed_med, 1e-9)).mean()),
                      "per_joint": {n: {"dv": round(float(dv[k]), 3), "clip_median": round(float(med[k]), 3),
                                        "clip_p95": round(float(p95[k]), 3), "percentile": round(float(pct[k]), 1)}
                                    for k, n in enumerate(j)}})
    out = {"seams": seams, "clip_frames": reference.num_frames}
    if edit.task == "regen":
        out["bones"] = bone_report(edit, reference)
    return out


def bone_report(edit: Edit, reference: Clip) -> list[dict]:
    """Bones with one end kept and one regenerated: their length in the edit against the clip's
    (mean and std over the clip); a joint edit that tears the body apart shows here."""
    idx = {n: i for i, n in enumerate(edit.joints)}
    kept = edit.known.all(0)
    out = []
    for a, b in BONES:
        if a not in idx or b not in idx or kept[idx[a]] == kept[idx[b]]:
            continue
        ia, ib = idx[a], idx[b]
        ref = np.linalg.norm(reference.xy[:, ia] - reference.xy[:, ib], axis=-1)
        got = np.linalg.norm(edit.xy[:, :, ia] - edit.xy[:, :, ib], axis=-1)
        out.append({"bone": f"{a}-{b}", "length": round(float(got.mean()), 2), "clip_mean": round(float(ref.mean()), 2),
                    "clip_std": round(float(ref.std()), 2),
                    "max_dev_in_clip_std": round(float(np.abs(got - ref.mean()).max() / max(ref.std(), 1e-9)), 2)})
    return out


def generated_region(known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, joints) of the generated part: frames with any generated joint; joints generated anywhere."""
    gen = ~np.asarray(known, bool)
    return np.nonzero(gen.any(1))[0], np.nonzero(gen.any(0))[0]


def part_metrics(edit: Edit, reference: Clip, window: int, n_boot: int = 500, draws: int = 200) -> dict:
    """The spec's six metrics of the generated part only, judged like any sample set: each value with its
    95% interval against the range the same number of real pieces of the same length and joints score.

    The generated frames (a contiguous block for these tasks) are cut into pieces of at most `window`
    frames (a long dance gives several per sample); the real pool is every stride-1 piece of the clip
    over the same joints, so two 86-frame pieces are held against random pairs of 86-frame real pieces,
    not against all of the clip's windows (which made coord_range and diversity look halved before).
    """
    frames, joints = generated_region(edit.known)
    if len(frames) < 2:
        return {}
    length = min(len(frames), window)
    cols = np.concatenate([[2 * k, 2 * k + 1] for k in joints])
    px = edit.xy.reshape(edit.num_samples, edit.num_frames, -1)[:, frames][:, :, cols]
    pieces = np.concatenate([px[:, s:s + length] for s in range(0, px.shape[1] - length + 1, length)])
    out = {"frames": int(len(frames)), "joints": [edit.joints[k] for k in joints], "piece_frames": length,
           "pieces": int(len(pieces)), "generated": all_metrics(pieces)}
    if reference.num_frames >= length:
        names = tuple(edit.joints[k] for k in joints)
        pool = Reference(real_pool(reference.channels[:, cols], length), names)
        six = [catalog.BY_NAME[k] for k in catalog.SPEC]
        out["judged"] = results_doc(judge_set(pieces, pool, pool, six, n_boot, draws))
    return out


def run(lm: LoadedModel, task: str, source: Clip, params: dict, **kw) -> Edit:
    """One edit task by name, the one dispatch the CLI and the lab share. params per task:
    inbetween {start, end, context}; continue {at, context, length, overlap}; long {frames, overlap,
    at, context}; regen {part, at}. kw: num_samples, seed, sampler, resample, blend, precision, threads, on_step."""
    if task not in TASKS:
        raise MotionlabError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if task == "inbetween":
        return inbetween(lm, source, params["start"], params["end"], params.get("context", 8), **kw)
    if task == "continue":
        return continuation(lm, source, params["at"], params["context"], params.get("length"),
                            overlap=params.get("overlap", DEFAULT_OVERLAP), **kw)
    if task == "long":
        return long_dance(lm, params["frames"], params.get("overlap", DEFAULT_OVERLAP), source=source,
                          at=params.get("at", 0), context=params.get("context", 0), **kw)
    return regenerate(lm, source, params["part"], params.get("at", 0), **kw)
