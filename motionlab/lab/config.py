"""Where the lab looks for checkpoints, runs and the reference clip; environment overrides."""
from __future__ import annotations

import os
from pathlib import Path

from motionlab.data.clip import DEFAULT_CLIP, MAX_FILE_BYTES
from motionlab.pipeline.sampling import MAX_SAMPLES as SAMPLER_MAX
from motionlab.paths import REPO

ROOT = REPO
UPLOAD_LIMIT_MB = MAX_FILE_BYTES // 2**20  # clip uploads; loads_clip enforces the same limit
MAX_SAMPLES = SAMPLER_MAX  # the Sample page offers what one sampling call takes (the README says 1-64)
DEFAULT_TRAJECTORY_MB = 64


def _abs(p: str | Path) -> Path:
    p = Path(p).expanduser()
    return p if p.is_absolute() else ROOT / p


def checkpoint_dirs() -> list[Path]:
    env = os.environ.get("MOTIONLAB_CHECKPOINT_DIRS")
    if env is None:
        return [ROOT / "checkpoints"]
    return [_abs(p) for p in env.split(os.pathsep) if p.strip()]


def runs_dir() -> Path:
    return _abs(os.environ.get("MOTIONLAB_RUNS_DIR") or "runs")


def clip_specs() -> list[Path]:
    """The reference dataset: MOTIONLAB_CLIP's clip files, folders or .txt manifests (os.pathsep-separated)."""
    env = os.environ.get("MOTIONLAB_CLIP") or ""
    return [_abs(p) for p in env.split(os.pathsep) if p.strip()] or [DEFAULT_CLIP]


def clip_path() -> Path:
    """The first configured reference path (it may not exist)."""
    return clip_specs()[0]


def missing_spec() -> Path | None:
    """The first configured reference path that does not exist, if any."""
    return next((p for p in clip_specs() if not p.exists()), None)


def missing_clip_hint(path: Path | None = None) -> str:
    p = path or clip_path()
    where = "" if p == DEFAULT_CLIP else f" (MOTIONLAB_CLIP points at {display_path(p)}, which is missing)"
    return ("data/uptown_funk.json is missing" + where + ": copy ../shared/data/uptown_funk.json to "
            "data/uptown_funk.json in the project root and reload. Showing the procedural demo clip instead.")


def trajectory_budget_bytes() -> int:
    try:
        mb = float(os.environ.get("MOTIONLAB_TRAJECTORY_MB", DEFAULT_TRAJECTORY_MB))
    except ValueError:
        mb = DEFAULT_TRAJECTORY_MB
    return int(max(1.0, mb) * 2**20)


def max_training_runs() -> int:
    try:
        return max(1, int(os.environ.get("MOTIONLAB_MAX_TRAINING_RUNS", "2")))
    except ValueError:
        return 2


def torch_threads() -> int | None:
    """MOTIONLAB_TORCH_THREADS, or None to let motionlab.core.autotune measure 1..N threads."""
    try:
        n = int(os.environ.get("MOTIONLAB_TORCH_THREADS", "0"))
    except ValueError:
        return None
    return n if n > 0 else None


def step_options(timesteps: int) -> list[int]:
    """The sampling step counts offered in the lab, up to the full chain."""
    return sorted({n for n in (10, 15, 20, 25, 50, 100, 200) if n < timesteps} | {timesteps})


def display_path(p: str | Path) -> str:
    """Path relative to the project root when inside it, else as given."""
    p = Path(p)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)
