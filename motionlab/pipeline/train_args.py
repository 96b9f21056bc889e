"""motionlab.train's command language: its flags (derived from the settings' declarations) and the
configs they make. The train tool, the studies that launch runs and the lab's command lines share it."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from motionlab import settings
from motionlab.errors import ConfigError, MotionlabError
from motionlab.pipeline.training import CONFIGS, build_configs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m motionlab.train", description="Train a motion DDPM on a keypoint clip.")
    p.add_argument("--data", nargs="+", default=None,
                   help="clip JSON files, folders of them or .txt manifests listing them, or 'demo' "
                        "(default: data/uptown_funk.json, else demo)")
    settings.add_arguments(p, *CONFIGS)
    p.add_argument("--out", required=True, help="run folder for best.pt, last.pt, metrics.jsonl")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--no-progress", action="store_true")
    return p


def configs_from_args(a):
    """The four configs of the command line, validated (each by itself, then check_together)."""
    values = dict(vars(a))
    values["data"] = a.data[0] if a.data and len(a.data) == 1 else a.data  # one path is recorded as before: a string
    values["tag"] = a.tag or Path(a.out).name
    try:
        data, model, diff, train = build_configs(values)
    except ConfigError as e:
        raise MotionlabError(settings.in_flags(e)) from None
    if torch.device(a.device).type == "cuda" and not torch.cuda.is_available():
        raise MotionlabError(f"--device {a.device}: CUDA is not available on this machine")
    return data, model, diff, train
