"""The Edit page's logic: run an edit (motionlab.edit) as a job, and turn it into panels and tables."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, MutableMapping

import numpy as np

from motionlab.lab.results import kept
from motionlab.pipeline import editing as ed
from motionlab.pipeline.defaults import faithful_default
from motionlab.formats.checkpoints import LoadedModel
from motionlab.data.clip import Clip
from motionlab.errors import MotionlabError
from motionlab.evaluation.metrics import METRICS
from motionlab.core.samplers import SamplerChoice
from motionlab.lab.figures import Panel
from motionlab.lab.keys import EDIT_RESULT

TASK_LABELS = {"inbetween": "In-between", "continue": "Continue", "long": "Long dance", "regen": "Regenerate joints"}


@dataclass
class EditRun:
    edit: ed.Edit
    seams: dict
    metrics: dict
    name: str          # checkpoint label
    tag: str
    source: str        # "clip name" or "sample #i"
    params: dict

    def titles(self) -> list[str]:
        return [f"{self.tag} {self.edit.task} #{i}" for i in range(self.edit.num_samples)]

    @property
    def base(self) -> str:
        return f"{self.tag}_{self.edit.task}_seed{self.edit.seed}"


def windows_needed(task: str, params: dict, window: int) -> int:
    """How many windows an edit samples (for progress): chained tasks need more than one."""
    if task == "long" or (task == "continue" and params.get("length", window) > window):
        frames = params["frames"] if task == "long" else params["length"]
        return 1 + max(0, math.ceil((frames - window) / (window - params["overlap"])))  # the first gives a window
    return 1


def run_edit(lm: LoadedModel, task: str, source: Clip, params: dict, reference: Clip, num_samples: int = 1,
             seed: int = 42, sampler: SamplerChoice | None = None, precision: str = "fp32", resample: int = 1,
             blend: int = 0, report: Callable | None = None, name: str = "", tag: str = "",
             source_name: str = "clip", threads=None) -> EditRun:
    """One edit with its seam report and generated-part metrics; report(fraction, text) after each step."""
    sampler = sampler or faithful_default(lm.path, rewindable=resample > 1).choice
    per_window = sampler.build(lm.diffusion).num_steps
    total = windows_needed(task, params, lm.window) * per_window
    done = [0]

    def on_step(out):
        done[0] += 1
        if report is not None:
            w = (done[0] - 1) // per_window + 1
            report(min(done[0] / total, 1.0), f"window {w}: step {per_window - (done[0] - 1) % per_window - 1} "
                                              f"of {per_window} left")
    e = ed.run(lm, task, source, params, num_samples=num_samples, seed=seed, sampler=sampler, resample=resample,
               blend=blend, precision=precision, threads=threads, on_step=on_step)
    if not np.isfinite(e.xy).all():
        raise MotionlabError("the edit contains NaN or inf")
    return EditRun(e, ed.seam_report(e, reference), ed.part_metrics(e, reference, lm.window), name or lm.path,
                   tag or lm.checkpoint.tag or "model", source_name, dict(params))


def panels(run: EditRun, max_samples: int = 4) -> list[Panel]:
    """The given motion (where there is one) and the samples, each with its held joints marked."""
    e = run.edit
    out = []
    if np.isfinite(e.given).all(axis=(1, 2)).any():
        given = e.given.copy()
        bad = ~np.isfinite(given).all(axis=(1, 2))
        if bad.any():  # past the source's end: hold the last frame it has
            last = np.nonzero(~bad)[0][-1]
            given[bad] = given[last]
        label = "given (reference between)" if e.task == "inbetween" else (
            "given (the source's own)" if e.task in ("continue", "regen") else "given context")
        out.append(Panel(f"{label}: {run.source}", given, e.joints, e.known))
    for i, t in enumerate(run.titles()[:max_samples]):
        out.append(Panel(t, e.xy[i], e.joints, e.known))
    return out


def seam_rows(seams: dict) -> list[dict]:
    return [{"seam at frame": s["frame"], "velocity change / clip median": round(s["mean_ratio"], 2),
             "median percentile in clip": round(s["median_percentile"], 1),
             "joints above clip p95": s["joints_above_p95"], "worst joint": s["worst_joint"],
             "speed / clip median": round(s["speed_ratio"], 2)} for s in seams.get("seams", [])]


def bone_rows(seams: dict) -> list[dict]:
    return [{"bone": b["bone"], "length (px)": b["length"], "clip mean": b["clip_mean"], "clip std": b["clip_std"],
             "max deviation (clip std)": b["max_dev_in_clip_std"]} for b in seams.get("bones", [])]


def metric_rows(metrics: dict) -> list[dict]:
    """The generated part's six metrics: value, 95% interval, the range as many real pieces of the same
    length score, and whether it is like them (pipeline.editing.part_metrics)."""
    if not metrics:
        return []
    judged = (metrics.get("judged") or {}).get("metrics", {})
    rows = []
    for m in METRICS:
        j = judged.get(m)
        row = {"metric": m, "generated part": round(metrics["generated"][m], 3)}
        if j:
            row.update({"95% interval": f"{j['interval'][0]:.3g} – {j['interval'][1]:.3g}",
                        f"real pieces (N = {metrics['pieces']})": f"{j['real_range'][0]:.3g} – {j['real_range'][1]:.3g}",
                        "like the data": "yes" if j["like_data"] else "no"})
        rows.append(row)
    return rows


def store(state: MutableMapping, run: EditRun) -> None:
    state[EDIT_RESULT] = run


def get(state: MutableMapping) -> EditRun | None:
    return kept(state, EDIT_RESULT, EditRun)
