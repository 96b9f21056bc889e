"""The sampler a checkpoint samples with unless the user picks another, and why.

A checkpoint's folder keeps the sampler study's choice with its evidence in sampler.json
(`python -m motionlab.sampler_study --checkpoints PATH --write-defaults` writes it): the setting with the
fewest network evaluations, at most 25, whose six spec metrics at N = 64 lie inside ddpm-400's 95%
interval at N = 64. The file names the sha256 of the checkpoint it measured, so a rewritten last.pt does
not inherit a choice made for other weights. Without one (a run just trained, or a study where nothing
passed and none was written) the fallback is the spec's own ancestral sampler respaced to 20 steps
(core.samplers.DEFAULT_SAMPLER), the fast setting that was closest on the spec's eps-prediction releases.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from motionlab.core.samplers import DEFAULT_SAMPLER, SamplerChoice
from motionlab.errors import MotionlabError
from motionlab.formats.integrity import file_sha256

DEFAULTS_FILE = "sampler.json"
_cache: dict = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Default:
    choice: SamplerChoice
    source: str          # "study" or "fallback"
    why: str             # one line for captions
    evidence: dict | None = None


def defaults_path(checkpoint) -> Path:
    return Path(checkpoint).with_name(DEFAULTS_FILE)


def fallback(reason: str = "") -> Default:
    why = ("the fallback for checkpoints without a sampler study (python -m motionlab.sampler_study "
           "--checkpoints PATH --write-defaults measures one)")
    return Default(DEFAULT_SAMPLER, "fallback", f"{why}{'; ' + reason if reason else ''}")


def pick_row(rows: list[dict]) -> dict:
    """The study's rule: the passing row with the fewest evaluations (ties: smaller worst distance), else the
    row whose largest miss beyond the interval is smallest (ties: fewer evaluations)."""
    passing = [r for r in rows if r["inside"]]
    if passing:
        return min(passing, key=lambda r: (r["evaluations"], r["worst_pct"]))
    return min(rows, key=lambda r: (max((abs(v) for v in r["misses"].values()), default=0.0), r["evaluations"]))


def faithful_default(checkpoint, rewindable: bool = False) -> Default:
    """The measured default of a checkpoint (cached per file version), else the fallback. rewindable: the
    same rule among the settings RePaint resampling can use (the Edit page and CLI)."""
    p = defaults_path(checkpoint)
    try:
        key = (str(p.resolve()), p.stat().st_mtime_ns, str(Path(checkpoint).resolve()),
               Path(checkpoint).stat().st_mtime_ns, rewindable)
    except OSError:
        return fallback()
    with _lock:
        if key in _cache:
            return _cache[key]
    out = _read(p, checkpoint, rewindable)
    with _lock:
        _cache[key] = out
    return out


def _read(p: Path, checkpoint, rewindable: bool) -> Default:
    try:
        doc = json.loads(p.read_text())
        T = int(doc["timesteps"])
        choice = SamplerChoice.from_label(doc["choice"]["sampler"], T)
        sha = doc["checkpoint_sha256"]
        c = doc["choice"]
        evaluations, misses, prefix = c["evaluations"], c.get("misses") or [], "the sampler study's pick"
        if rewindable and not choice.rewindable:
            rows = [r for r in doc["rows"] if SamplerChoice.from_label(r["sampler"], T).rewindable]
            if not rows:
                return fallback(f"the study's pick, {choice.label(T)}, cannot be resampled")
            r = pick_row(rows)
            prefix = f"the sampler study's closest setting that editing can resample ({choice.label(T)} cannot)"
            choice, evaluations = SamplerChoice.from_label(r["sampler"], T), r["evaluations"]
            misses = [f"{k} {v:+.1f}% beyond ddpm-400's interval" for k, v in r["misses"].items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, MotionlabError):
        return fallback(f"{p.name} beside it is unreadable")
    if sha != file_sha256(checkpoint):
        return fallback(f"{p.name} beside it measured other weights")
    why = (f"{prefix} for this checkpoint: {evaluations} network evaluations against ddpm-400's {T}, and " +
           ("all six spec metrics at N = {n} inside ddpm-400's 95% interval".format(n=doc["n"]) if not misses else
            "the closest of the settings measured (misses: " + ", ".join(misses) + ")"))
    return Default(choice, "study", why, doc)
