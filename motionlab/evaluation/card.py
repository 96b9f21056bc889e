"""Evaluation cards: what a judged sample set was (checkpoint, sampler, seed, N, windows, machine) and every
measure with its interval, so a rerun can be checked against it.

    card = make_card(results_doc(results), checkpoint="runs/x/best.pt", sampler="ddim", steps=50, seed=42,
                     window=256, stride=5, fps=30.0, bpm=115.0)
    write_card("card.json", card); check_against_card(read_card("card.json"), new_results)

Torch version and CPU capability are recorded because other CPU kinds move sampled values slightly
(bench/cpu_drift.py): a rerun elsewhere should land inside the card's intervals, not on its values.
"""
from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

from motionlab.errors import MotionlabError
from motionlab.io import atomic_write_json
from motionlab.data.clip import loads_json
from motionlab.evaluation.judge import results_doc
from motionlab.formats.integrity import file_sha256

FORMAT = "motionlab-evaluation-card"
VERSION = 1
MAX_BYTES = 4 * 1024 * 1024         # a card is a few kB; anything larger is not one
_SHA = re.compile(r"[0-9a-f]{64}")


def _checkpoint_sha256(checkpoint) -> str:
    if isinstance(checkpoint, str) and _SHA.fullmatch(checkpoint):
        return checkpoint
    p = Path(checkpoint)
    if not p.is_file():
        raise MotionlabError(f"checkpoint {checkpoint}: not a file nor a sha256 hex digest")
    return file_sha256(p)


def _metrics(results) -> tuple[int | None, dict]:
    """(n, {name: {value, interval, ...}}) of a results_doc or of judge_set's output."""
    if isinstance(results, dict) and isinstance(results.get("metrics"), dict):
        return results.get("n"), results["metrics"]
    doc = results_doc(results)
    return doc["n"], doc["metrics"]


def make_card(results, *, checkpoint, sampler: str, steps: int, seed: int, window: int, stride: int,
              fps: float, bpm: float | None, n: int | None = None) -> dict:
    """The card of one judged set. results: a results_doc or judge_set's output; checkpoint: its path (hashed
    here) or its sha256; n defaults to the results' set size."""
    import torch
    rn, metrics = _metrics(results)
    card = {"format": FORMAT, "version": VERSION, "checkpoint_sha256": _checkpoint_sha256(checkpoint),
            "sampler": str(sampler), "steps": int(steps), "seed": int(seed), "n": int(n if n is not None else rn),
            "window": int(window), "stride": int(stride), "fps": float(fps),
            "bpm": None if bpm is None else float(bpm), "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "metrics": metrics}
    _validate(card, "card")
    return card


def write_card(path, card: dict) -> None:
    _validate(card, str(path))
    atomic_write_json(path, card)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


_FIELDS = {  # field: (check, what it must be)
    "checkpoint_sha256": (lambda v: isinstance(v, str) and bool(_SHA.fullmatch(v)), "a sha256 hex digest"),
    "sampler": (lambda v: isinstance(v, str) and v != "", "a sampler label"),
    "steps": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "n": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "window": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2, "an integer >= 2"),
    "stride": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "fps": (lambda v: _is_num(v) and v > 0, "a positive number"),
    "bpm": (lambda v: v is None or (_is_num(v) and v > 0), "a positive number or null"),
    "torch": (lambda v: isinstance(v, str), "a string"),
    "cpu_capability": (lambda v: isinstance(v, str), "a string"),
}


def _interval_ok(iv) -> bool:
    # null ends: the set had no finite value (a diverged sample)
    return (isinstance(iv, list) and len(iv) == 2 and all(v is None or _is_num(v) for v in iv)
            and (None in iv or iv[0] <= iv[1]))


def _validate(card, source: str) -> None:
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise MotionlabError(f"{source}: not an evaluation card (no \"format\": \"{FORMAT}\")")
    if card.get("version") != VERSION:
        raise MotionlabError(f"{source}: evaluation card version {card.get('version')!r} is not supported "
                             f"(this motionlab reads version {VERSION})")
    for name, (ok, what) in _FIELDS.items():
        if name not in card:
            raise MotionlabError(f"{source}: malformed evaluation card: no {name}")
        if not ok(card[name]):
            raise MotionlabError(f"{source}: malformed evaluation card: {name} must be {what}, "
                                 f"got {card[name]!r:.60}")
    metrics = card.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise MotionlabError(f"{source}: malformed evaluation card: metrics must be a non-empty object")
    for name, r in metrics.items():
        if not (isinstance(r, dict) and (r.get("value") is None or _is_num(r.get("value")))
                and _interval_ok(r.get("interval"))):
            raise MotionlabError(f"{source}: malformed evaluation card: metric {name!r:.40} needs a number "
                                 f"\"value\" and an \"interval\" [lo, hi] with lo <= hi")


def _reject_constant(token: str):
    raise MotionlabError(f"contains {token}, which is not a finite number")


def read_card(path) -> dict:
    """A validated card; MotionlabError with one line naming the file and the problem otherwise."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise MotionlabError(f"{p}: {size} bytes is too large for an evaluation card")
        text = p.read_bytes().decode("utf-8")
    except OSError as e:
        raise MotionlabError(f"{p}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise MotionlabError(f"{p}: not an evaluation card (not UTF-8 text)") from None
    card = loads_json(text, str(p), error=MotionlabError, parse_constant=_reject_constant)
    _validate(card, str(p))
    return card


def check_against_card(card: dict, new_results) -> dict[str, dict]:
    """Per metric of the card: {"value": the new value (None when absent or not finite), "interval": the
    card's, "inside": whether the new value lies in it (None when either is missing)}. new_results: a
    results_doc, judge_set's output, or {name: value}."""
    if isinstance(new_results, dict) and isinstance(new_results.get("metrics"), dict):
        new_results = new_results["metrics"]
    out = {}
    for name, r in card["metrics"].items():
        v = new_results.get(name)
        v = v.get("value") if isinstance(v, dict) else v
        v = float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) else None
        iv = r["interval"]
        inside = None if v is None or None in iv else bool(iv[0] <= v <= iv[1])
        out[name] = {"value": v, "interval": list(iv), "inside": inside}
    return out
