"""What docs/SAMPLERS.md measured for a checkpoint: does the lab's fast default sample like the spec's
ddpm-400 there, and if not, which fast setting does (python -m motionlab.sampler_study writes the JSON).

The default ddpm-20 was chosen on the eps-prediction releases; a v-prediction, zero-terminal-SNR
checkpoint (best_fidelity) overshoots its velocities with it while DPM-Solver++ stays close, so the
answer is per checkpoint and read from measurements, never assumed.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from motionlab.core.samplers import SamplerChoice
from motionlab.lab import config

STUDY = config.ROOT / "docs" / "SAMPLERS.json"
_cache: dict = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Advice:
    default_ok: bool
    choice: SamplerChoice | None  # a measured-faithful setting when the default is not; None if none is
    text: str


def studies(path: Path = STUDY) -> dict[Path, dict]:
    """The sampler study's per-checkpoint results keyed by resolved checkpoint path (cached by mtime)."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    with _lock:
        hit = _cache.get(path)
        if hit and hit[0] == mtime:
            return hit[1]
    try:
        doc = json.loads(path.read_text())
        out = {_repo_path(s["checkpoint"]).resolve(): s for s in doc["studies"]}
    except (OSError, ValueError, KeyError, TypeError):
        out = {}
    with _lock:
        _cache[path] = (mtime, out)
    return out


def _repo_path(p: str) -> Path:
    return Path(p) if Path(p).is_absolute() else config.ROOT / p  # the study names checkpoints from the repo root


def _worst(row: dict) -> float:
    return max(abs(v - 1.0) for v in row["vs_ddpm"].values())


def advise(checkpoint, default: SamplerChoice, timesteps: int, found: dict | None = None) -> Advice | None:
    """None when the study has no row for this checkpoint and default; else whether the default stays
    within ddpm-400's seed spread and, when it does not, the passing setting with no more steps than the
    default and the smallest worst deviation (or the passing one with the fewest steps)."""
    s = (studies() if found is None else found).get(Path(checkpoint).resolve())
    if s is None or s.get("timesteps") != timesteps:
        return None
    rows = {r["sampler"]: r for r in s["rows"]}
    label = default.label(timesteps)
    d = rows.get(label)
    if d is None:
        return None
    if d["close"]:
        return Advice(True, None, f"docs/SAMPLERS.md: {label} stays within ddpm-400's seed spread for this checkpoint.")
    k = max(d["vs_ddpm"], key=lambda m: abs(d["vs_ddpm"][m] - 1.0))
    passing = [r for r in s["rows"] if r["close"] and r["steps"] < timesteps]
    few = [r for r in passing if r["steps"] <= (default.steps or timesteps)]
    pick = min(few, key=_worst) if few else min(passing, key=lambda r: (r["steps"], _worst(r)), default=None)
    text = (f"docs/SAMPLERS.md: for this checkpoint {label} is outside ddpm-400's seed spread "
            f"({k} {100 * d['vs_ddpm'][k]:.0f}% of ddpm-400's); "
            + (f"{pick['sampler']} stays within it." if pick else "no faster setting measured stays within it."))
    return Advice(False, SamplerChoice.from_label(pick["sampler"], timesteps) if pick else None, text)
