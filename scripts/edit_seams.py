"""The Edit page's four tasks on a checkpoint, with two samplers, their seams and generated parts (prints JSON).

    python scripts/edit_seams.py --checkpoint checkpoints/long_10000/model.pt --samplers dpmpp-20 default

Each task as docs/EDITS.md lists it (4 samples, seed 42, RePaint resampling 3, seam blend 8): in-between
300 -> 420 with 16 given frames each side, continuation at 100 with 64 given, a 30 s long dance, the upper
body regenerated in the window at 300. "default" is the checkpoint's faithful setting (pipeline.defaults).
Per task: the mean seam ratio at each seam (velocity change against the clip's own, pipeline.editing.
seam_report; for the joint edit, the bones' max deviation in clip std), and how many of the generated
part's six metrics are like as many real pieces (part_metrics).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from motionlab.core.samplers import SamplerChoice  # noqa: E402
from motionlab.data.clipset import resolve_clip  # noqa: E402
from motionlab.formats.checkpoints import load_model  # noqa: E402
from motionlab.pipeline import editing as ed  # noqa: E402
from motionlab.pipeline.defaults import faithful_default  # noqa: E402

TASKS = {"inbetween": {"start": 300, "end": 420, "context": 16},
         "continue": {"at": 100, "context": 64, "length": 256, "overlap": 64},
         "long": {"frames": 900, "overlap": 64, "at": 0, "context": 0},
         "regen": {"part": "upper", "at": 300}}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="checkpoints/long_10000/model.pt")
    p.add_argument("--samplers", nargs="+", default=["dpmpp-20", "default"])
    p.add_argument("--num-samples", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    lm = load_model(a.checkpoint)
    clip, _ = resolve_clip(None, quiet=True)
    T = lm.diffusion.num_timesteps
    out = {"checkpoint": a.checkpoint, "num_samples": a.num_samples, "seed": 42, "resample": ed.DEFAULT_RESAMPLE,
           "blend": ed.DEFAULT_BLEND, "torch": torch.__version__, "runs": []}
    for label in a.samplers:
        choice = faithful_default(a.checkpoint).choice if label == "default" else SamplerChoice.from_label(label, T)
        for task, params in TASKS.items():
            t0 = time.perf_counter()
            e = ed.run(lm, task, clip, params, num_samples=a.num_samples, seed=42, sampler=choice,
                       resample=ed.DEFAULT_RESAMPLE, blend=ed.DEFAULT_BLEND, precision="fp32", threads=a.threads)
            seams = ed.seam_report(e, clip)
            part = ed.part_metrics(e, clip, lm.window)
            judged = (part.get("judged") or {}).get("metrics", {})
            out["runs"].append({
                "sampler": choice.label(T), "asked": label, "task": task, "seconds": round(time.perf_counter() - t0, 1),
                "seams": [{"frame": s["frame"], "mean_ratio": round(s["mean_ratio"], 2)} for s in seams["seams"]],
                "bones": [{"bone": b["bone"], "max_dev_in_clip_std": round(b["max_dev_in_clip_std"], 1)}
                          for b in seams.get("bones", [])],
                "part_like_data": sum(bool(j["like_data"]) for j in judged.values()), "part_measures": len(judged),
                "part_unlike": [k for k, j in judged.items() if not j["like_data"]]})
            print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
