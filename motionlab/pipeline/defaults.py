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


def faithful_default(checkpoint) -> Default:
    """The measured default of a checkpoint (cached per file version), else the fallback."""
    p = defaults_path(checkpoint)
    try:
        key = (str(p.resolve()), p.stat().st_mtime_ns, str(Path(checkpoint).resolve()), Path(checkpoint).stat().st_mtime_ns)
    except OSError:
        return fallback()
    with _lock:
        if key in _cache:
            return _cache[key]
    out = _read(p, checkpoint)
    with _lock:
        _cache[key] = out
    return out


def _read(p: Path, checkpoint) -> Default:
    try:
        doc = json.loads(p.read_text())
        choice = SamplerChoice.from_label(doc["choice"]["sampler"], int(doc["timesteps"]))
        sha = doc["checkpoint_sha256"]
    except (OSError, ValueError, KeyError, TypeError, MotionlabError):
        return fallback(f"{p.name} beside it is unreadable")
    if sha != file_sha256(checkpoint):
        return fallback(f"{p.name} beside it measured other weights")
    c = doc["choice"]
    misses = c.get("misses") or []
    why = (f"the sampler study's pick for this checkpoint: {c['evaluations']} network evaluations against "
           f"ddpm-400's {doc['timesteps']}, and " +
           ("all six spec metrics at N = {n} inside ddpm-400's 95% interval".format(n=doc["n"]) if not misses else
            "the closest of the settings measured (misses: " + ", ".join(misses) + ")"))
    return Default(choice, "study", why, doc)
