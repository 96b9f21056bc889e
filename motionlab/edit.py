"""Editing from the command line (motionlab.pipeline.editing does the work).

    python -m motionlab.edit inbetween --checkpoint CK --from 300 --to 420 --out edits/ib
    python -m motionlab.edit continue  --checkpoint CK --at 100 --context 64 --out edits/cont
    python -m motionlab.edit long      --checkpoint CK --seconds 30 --out edits/long30
    python -m motionlab.edit regen     --checkpoint CK --part upper --at 300 --out edits/upper
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from motionlab.cli import add_sampling_args, run_main, sampling_from_args
from motionlab.data.clip import Clip, load_clip, save_clip
from motionlab.data.clipset import resolve_clip
from motionlab.errors import MotionlabError
from motionlab.formats.checkpoints import LoadedModel, load_model
from motionlab.core.samplers import SamplerChoice
from motionlab.pipeline.editing import (DEFAULT_BLEND, DEFAULT_OVERLAP, DEFAULT_RESAMPLE, MAX_EDIT_FRAMES,
                                        PARTS, TASKS, Edit, part_metrics, run, seam_report)
from motionlab.io import atomic_write_bytes
from motionlab.pipeline.defaults import faithful_default
from motionlab.formats.export import at_fps, check_fps, files_for, fps_tag, write_files
from motionlab.formats.render import write_video


# -- command line -------------------------------------------------------------------------------

def _source(spec: str | None, data: str | None) -> tuple[Clip, str]:
    if spec and spec != "clip":
        return load_clip(spec), spec
    return resolve_clip(data)


def run_task(a, lm: LoadedModel, source: Clip, choice: SamplerChoice) -> Edit:
    params = {"inbetween": {"start": a.from_frame, "end": a.to_frame, "context": a.context},
              "continue": {"at": a.at, "context": a.context, "length": a.length, "overlap": a.overlap},
              "long": {"frames": a.length or round(a.seconds * a.source_fps), "overlap": a.overlap, "at": a.at,
                       "context": a.context},
              "regen": {"part": a.part, "at": a.at}}[a.task]
    return run(lm, a.task, source, params, num_samples=a.num_samples, seed=a.seed, sampler=choice,
               resample=a.resample, blend=a.blend, precision=a.precision, threads=a.threads)


def summary_lines(edit: Edit, seams: dict, metrics: dict) -> list[str]:
    """Short human-readable lines for a report or the terminal."""
    lines = [f"{edit.task}: {edit.num_samples} x {edit.num_frames} frames, {edit.sampler}, seed {edit.seed}, "
             f"{edit.windows} window(s), {edit.seconds:.1f} s"]
    for s in seams["seams"]:
        lines.append(f"  seam @{s['frame']}: velocity change {s['mean_ratio']:.2f}x the clip's median "
                     f"(median percentile {s['median_percentile']:.0f}, {s['joints_above_p95']}/{len(edit.joints)} "
                     f"joints above the clip's p95, worst {s['worst_joint']}); speed {s['speed_ratio']:.2f}x")
    for b in seams.get("bones", []):
        lines.append(f"  bone {b['bone']}: {b['length']:.1f} px (clip {b['clip_mean']:.1f} ± {b['clip_std']:.1f}), "
                     f"max deviation {b['max_dev_in_clip_std']:.1f} clip std")
    judged = (metrics.get("judged") or {}).get("metrics", {})
    if judged:
        lines.append(f"  generated part ({metrics['pieces']} pieces of {metrics['piece_frames']} frames) against as many "
                     "real pieces: " + ", ".join(f"{m} {'like' if j['like_data'] else 'unlike'} the data"
                                                 for m, j in judged.items() if m != "diversity" or edit.num_samples > 1))
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m motionlab.edit",
                                description="In-betweening, continuation, long dances and joint regeneration "
                                            "by masked sampling.")
    p.add_argument("task", choices=TASKS)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", default=None, help="the reference clip (default data/uptown_funk.json, else demo)")
    p.add_argument("--source", default="clip",
                   help="where given frames come from: 'clip' (--data) or a clip JSON such as a saved sample")
    p.add_argument("--out", required=True)
    p.add_argument("--num-samples", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    add_sampling_args(p, None, precision_default="fp32")
    p.add_argument("--resample", type=int, default=DEFAULT_RESAMPLE,
                   help=f"RePaint resampling: tries per step (default {DEFAULT_RESAMPLE}; 1: none)")
    p.add_argument("--blend", type=int, default=DEFAULT_BLEND,
                   help=f"frames over which each seam's offset fades into the generated side (default "
                        f"{DEFAULT_BLEND}; 0: plain replacement)")
    p.add_argument("--from", dest="from_frame", type=int, default=None,
                   help="inbetween: last given frame before the gap")
    p.add_argument("--to", dest="to_frame", type=int, default=None, help="inbetween: first given frame after the gap")
    p.add_argument("--context", type=int, default=None,
                   help="given frames: each side (inbetween, default 8), the start (continue, default 64; "
                        "long, default 0: a free first window)")
    p.add_argument("--at", type=int, default=0, help="first source frame used (continue, long, regen)")
    p.add_argument("--length", type=int, default=None, help="total frames (continue, long)")
    p.add_argument("--seconds", type=float, default=30.0, help="long: length in seconds at --source-fps")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help="frames each window continues (continue, long)")
    p.add_argument("--part", choices=tuple(PARTS), default="upper", help="regen: which joints to regenerate")
    p.add_argument("--source-fps", type=float, default=30.0, help="frame rate of the clip and of the model's frames")
    p.add_argument("--export", default="gif", help="comma list of gif, mp4, json, openpose, openpose_coco, "
                                                   "pose_png, csv, npy (default gif)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of the exports (default --source-fps)")
    return p


def _write_exports(out: Path, edit, exports: list[str], fps: float, src_fps: float) -> list[str]:
    """Each edited clip in each asked format; the frame rate is in every file name."""
    written = []
    clips = edit.clips()
    names = [f"{edit.task}_{i:02d}" for i in range(len(clips))]
    for c, n in zip(clips, names):
        for e in exports:
            if e == "json":  # the clip format has no frame rate field: it is in the name
                save_clip(c, out / f"{n}_{fps_tag(src_fps)}.json")
                written.append(str(out / f"{n}_{fps_tag(src_fps)}.json"))
            elif e in ("gif", "mp4"):
                path = out / f"{n}_{fps_tag(fps)}.{e}"
                write_video(path, [at_fps(c, fps, src_fps)], fps=max(1, round(fps)))
                written.append(str(path))
            else:
                fmt, layout = ("openpose", "COCO_18") if e == "openpose_coco" else (e, "BODY_25")
                written += write_files(out, files_for(c, n + ("_coco18" if e == "openpose_coco" else ""), fmt,
                                                      fps=fps, src_fps=src_fps, layout=layout))
    return written


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    choice = sampling_from_args(a) or faithful_default(a.checkpoint, rewindable=a.resample > 1).choice
    src_fps = check_fps(a.source_fps, "--source-fps")
    fps = check_fps(a.fps if a.fps is not None else src_fps, "--fps")
    exports = [e for e in a.export.split(",") if e]
    allowed = ("gif", "mp4", "json", "openpose", "openpose_coco", "pose_png", "csv", "npy")
    bad = [e for e in exports if e not in allowed]
    if bad:
        raise MotionlabError(f"--export: unknown format {bad[0]!r} (choose from {', '.join(allowed)})")
    if not 1 <= a.num_samples <= 16:
        raise MotionlabError(f"--num-samples must be 1..16, got {a.num_samples}")
    if a.task == "inbetween" and (a.from_frame is None or a.to_frame is None):
        raise MotionlabError("inbetween needs --from and --to")
    if a.context is None:
        a.context = {"inbetween": 8, "continue": 64}.get(a.task, 0)
    if a.task == "long" and a.length is None and not 0 < a.seconds <= MAX_EDIT_FRAMES / src_fps:
        raise MotionlabError(f"--seconds must be in (0, {MAX_EDIT_FRAMES / src_fps:g}], got {a.seconds}")
    lm = load_model(a.checkpoint)
    source, source_name = _source(a.source, a.data)
    reference, _ = resolve_clip(a.data, quiet=True)
    out = Path(a.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MotionlabError(f"cannot create output folder {out}: {e.strerror}") from None
    edit = run_task(a, lm, source, choice)
    if not np.isfinite(edit.xy).all():
        raise MotionlabError(f"{a.checkpoint}: the edit contains NaN or inf; nothing written")
    seams = seam_report(edit, reference)
    metrics = part_metrics(edit, reference, lm.window)
    written = _write_exports(out, edit, exports, fps, src_fps)
    report = {"task": edit.task, "checkpoint": a.checkpoint, "source": source_name, "seed": a.seed,
              "sampler": edit.sampler, "resample": a.resample, "blend": a.blend, "frames": edit.num_frames,
              "samples": edit.num_samples,
              "windows": edit.windows, "seconds": round(edit.seconds, 2), "fps": src_fps, "notes": edit.notes,
              "known_frames": int(edit.known.all(1).sum()), "seam": seams, "part_metrics": metrics}
    atomic_write_bytes(out / "edit_report.json", json.dumps(report, indent=1).encode())
    written.append(str(out / "edit_report.json"))
    for line in summary_lines(edit, seams, metrics):
        print(line, file=sys.stderr)
    print(json.dumps({k: report[k] for k in ("task", "checkpoint", "sampler", "frames", "windows", "seconds")}
                     | {"files": len(written), "report": str(out / "edit_report.json")}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.edit", main))
