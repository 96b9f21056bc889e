"""Checkpoint discovery for the pickers: shipped releases and training runs, broken files included.

Summaries are cached per (path, mtime, size), so a page rerun does not reload a 100 MB last.pt;
a file rewritten by a running training is summarized again.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from pathlib import Path

from motionlab.formats.checkpoints import CheckpointSummary, checkpoint_files, summarize


@dataclass(frozen=True)
class CheckpointEntry(CheckpointSummary):
    """A checkpoint as the pickers list it: its summary (motionlab.formats.checkpoints) plus where it sits."""
    name: str = ""            # folder-relative display name, e.g. "checkpoints/long_1000/model.pt"
    kind: str = "run"         # "shipped" or "run"

    @property
    def short(self) -> str:
        """A panel title: a release's folder name, else the tag, plus the file stem for run folders (best / last)."""
        stem = Path(self.path).stem
        if self.kind == "shipped" and stem == "model":  # checkpoints/best_fidelity holds run jitter+zsnr_v+vel_s42
            return Path(self.path).parent.name
        return self.tag if stem in ("model", self.tag) else f"{self.tag}:{stem}"

    @property
    def label(self) -> str:
        if not self.ok:
            return f"{self.name} (broken)"
        loss = f"{self.best_loss:.4g}" if self.best_loss == self.best_loss else "n/a"
        return (f"{self.name} · {self.tag} · {self.window}/{self.stride}/{self.limit} · "
                f"epoch {self.epoch}/{self.epochs} · loss {loss}")

    @property
    def card(self) -> Path | None:
        p = Path(self.path).parent / "CARD.md"
        return p if p.is_file() else None

    @property
    def metrics_path(self) -> Path | None:
        p = Path(self.path).parent / "metrics.jsonl"
        return p if p.is_file() else None

    def facts(self) -> dict:
        """A small table for the page (config, epoch, loss, sampler)."""
        m = self.model_config
        return {"tag": self.tag, "file": self.name, "training config (window / stride / limit / epochs)": self.config,
                "epoch": self.epoch, "best loss": self.best_loss, "diffusion steps": self.timesteps,
                "model": f"base {m.get('base_channels')} × {tuple(m.get('channel_mults', ()))}, "
                         f"time {m.get('time_dim')}", "parameters": f"{self.num_params:,}",
                "size": f"{self.size_mb:.1f} MB",
                "sha256": f"matches {Path(self.path).name}.sha256" if self.verified else "no record (not verified)",
                "sampling weights": self.weights_label}


_cache: dict[tuple, CheckpointEntry] = {}
_lock = threading.Lock()
_CACHE_MAX = 256


def describe(path, name: str | None = None, kind: str = "run") -> CheckpointEntry:
    """Summary of one checkpoint file; a bad file gives ok=False and a one-line error."""
    p = Path(path)
    name = name or p.name
    try:
        st = p.stat()
    except OSError as e:
        return CheckpointEntry(str(p), False, f"{p}: {e.strerror or 'cannot be read'}", name=name, kind=kind)
    key = (str(p), st.st_mtime_ns, st.st_size, name, kind)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    s = summarize(p)
    e = CheckpointEntry(**{f.name: getattr(s, f.name) for f in fields(s)}, name=name, kind=kind)
    with _lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = e
    return e


def discover(checkpoint_dirs, runs_dir=None) -> list[CheckpointEntry]:
    """Shipped checkpoints (sorted by tag folder), then run checkpoints; broken ones included."""
    out, seen = [], set()
    for kind, folders in (("shipped", list(checkpoint_dirs)), ("run", [runs_dir] if runs_dir else [])):
        for folder in folders:
            folder = Path(folder)
            for p in checkpoint_files(folder):
                rp = p.resolve()
                if rp in seen:
                    continue
                seen.add(rp)
                out.append(describe(p, f"{folder.name}/{p.relative_to(folder)}", kind))
    return out


def run_baseline(run_dir) -> dict:
    """The dataset baseline stored in a run or release folder's checkpoint ({} when none loads)."""
    for fn in ("best.pt", "last.pt", "model.pt"):
        if (Path(run_dir) / fn).is_file():
            e = describe(Path(run_dir) / fn)
            if e.ok:
                return e.baseline
    return {}
