"""Training from the command line: Adam, gradient clipping, early stopping, resumable checkpoints,
per-epoch monitoring; several processes under torchrun.

    python -m motionlab.train --data data/uptown_funk.json --window 64 --stride 32 --limit 32 \
        --epochs 1 --out runs/baseline_1epoch
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from dataclasses import fields
from pathlib import Path

import torch

from motionlab.cli import run_main
from motionlab.core.diffusion import PREDICTIONS, VARIANCES, DiffusionConfig
from motionlab.core.model import ModelConfig, count_parameters, parse_channel_mults
from motionlab.core.samplers import SAMPLERS
from motionlab.core.schedules import SCHEDULES
from motionlab.data.dataset import DataConfig
from motionlab.errors import ConfigError, MotionlabError
from motionlab.pipeline.distributed import (_LOST_RANK, _on_sigterm, _Terminated, abandon_group, init_distributed,
                                            leave_group)
from motionlab.pipeline.training import TrainConfig, Trainer, check_together


def build_parser() -> argparse.ArgumentParser:
    d, m, f, t = DataConfig(), ModelConfig(), DiffusionConfig(), TrainConfig()
    p = argparse.ArgumentParser(prog="python -m motionlab.train", description="Train a motion DDPM on a keypoint clip.")
    p.add_argument("--data", nargs="+", default=None,
                   help="clip JSON files, folders of them or .txt manifests listing them, or 'demo' "
                        "(default: data/uptown_funk.json, else demo)")
    p.add_argument("--window", type=int, default=d.window)
    p.add_argument("--stride", type=int, default=d.stride)
    p.add_argument("--limit", type=int, default=d.limit, help="keep a seeded random subset of windows (0 = all)")
    p.add_argument("--jitter", action="store_true", help="random window offsets each epoch")
    p.add_argument("--mirror", action="store_true", help="random horizontal mirroring with left/right swap")
    p.add_argument("--batch-size", type=int, default=t.batch_size)
    p.add_argument("--epochs", type=int, default=t.epochs)
    p.add_argument("--lr", type=float, default=t.lr)
    p.add_argument("--timesteps", type=int, default=f.timesteps)
    p.add_argument("--beta-start", type=float, default=f.beta_start)
    p.add_argument("--beta-end", type=float, default=f.beta_end)
    p.add_argument("--variance", choices=VARIANCES, default=f.variance)
    p.add_argument("--schedule", choices=SCHEDULES, default=f.schedule,
                   help="noise schedule (linear_zero_snr needs --prediction v)")
    p.add_argument("--prediction", choices=PREDICTIONS, default=f.prediction, help="network target: eps or v")
    p.add_argument("--patience", type=int, default=t.patience, help="0 = early stopping off")
    p.add_argument("--min-delta", type=float, default=t.min_delta)
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("--vel-weight", type=float, default=t.vel_weight)
    p.add_argument("--precision", choices=("fp32", "bf16"), default=t.precision)
    p.add_argument("--device", default=t.device)
    p.add_argument("--cuda-graph", action="store_true", help="capture each training step as a CUDA graph")
    p.add_argument("--compile", action="store_true", help="torch.compile the training forward pass")
    p.add_argument("--ema-decay", type=float, default=t.ema_decay,
                   help="keep an exponential moving average of the weights (e.g. 0.999 per step), stored in "
                        "best.pt/last.pt and used for sampling; 0 = off")
    p.add_argument("--base-channels", type=int, default=m.base_channels)
    p.add_argument("--channel-mults", default=",".join(map(str, m.channel_mults)))
    p.add_argument("--time-dim", type=int, default=m.time_dim)
    p.add_argument("--dropout", type=float, default=m.dropout)
    p.add_argument("--save-every", type=int, default=t.save_every)
    p.add_argument("--monitor-every", type=int, default=t.monitor_every, help="epochs between sample metrics; 0 = off")
    p.add_argument("--monitor-samples", type=int, default=t.monitor_samples)
    p.add_argument("--monitor-sampler", choices=SAMPLERS, default=t.monitor_sampler)
    p.add_argument("--monitor-steps", type=int, default=t.monitor_steps, help="0 = the full chain")
    p.add_argument("--tag", default="")
    p.add_argument("--out", required=True, help="run folder for best.pt, last.pt, metrics.jsonl")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--no-progress", action="store_true")
    return p


_FIELDS = {f.name for c in (DataConfig, ModelConfig, DiffusionConfig, TrainConfig) for f in fields(c)}
_FIELD_RE = re.compile(r"\b(" + "|".join(sorted(_FIELDS, key=len, reverse=True)) + r")\b")


def as_flags(message: str, count: int = 0) -> str:
    """A ConfigError's message in the CLI's words: the field names become the flags that set them."""
    return _FIELD_RE.sub(lambda m: "--" + m.group(1).replace("_", "-"), message, count=count)


def as_words(message: str) -> str:
    """A ConfigError's message in a form's words: base_channels -> base channels."""
    return _FIELD_RE.sub(lambda m: m.group(1).replace("_", " "), message)


def configs_from_args(a):
    """The four configs of the command line, validated (each by itself, then check_together)."""
    spec = a.data[0] if a.data and len(a.data) == 1 else a.data  # one path is recorded as before: a string
    try:
        data = DataConfig(spec, a.window, a.stride, a.limit, a.seed, a.jitter, a.mirror)
        model = ModelConfig(base_channels=a.base_channels, channel_mults=parse_channel_mults(a.channel_mults),
                            time_dim=a.time_dim, dropout=a.dropout)
        train = TrainConfig(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, grad_clip=1.0, patience=a.patience,
                            min_delta=a.min_delta, seed=a.seed, vel_weight=a.vel_weight, precision=a.precision,
                            device=a.device, save_every=max(1, a.save_every), monitor_every=a.monitor_every,
                            monitor_samples=a.monitor_samples, monitor_sampler=a.monitor_sampler,
                            monitor_steps=a.monitor_steps, cuda_graph=a.cuda_graph, compile=a.compile,
                            ema_decay=a.ema_decay, tag=a.tag or Path(a.out).name)
    except ConfigError as e:
        raise MotionlabError(as_flags(str(e))) from None
    try:
        diff = DiffusionConfig(a.timesteps, a.beta_start, a.beta_end, a.variance, a.schedule, a.prediction)
    except ValueError as e:  # a leading field becomes its flag; the beta message keeps beta_start's name
        raise MotionlabError(as_flags(str(e), count=1) if _FIELD_RE.match(str(e)) else str(e)) from None
    try:
        check_together(data, diff, train)
    except ConfigError as e:
        raise MotionlabError(as_flags(str(e))) from None
    if torch.device(a.device).type == "cuda" and not torch.cuda.is_available():
        raise MotionlabError(f"--device {a.device}: CUDA is not available on this machine")
    return data, model, diff, train


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    data, model, diff, train = configs_from_args(a)
    if not a.resume and (Path(a.out) / "last.pt").is_file():
        # a fresh run here would overwrite that run's best.pt and mix its metrics.jsonl with ours
        raise MotionlabError(f"{a.out} already holds a run (last.pt); pass --resume to continue it "
                             "or choose another --out")
    rank, world = init_distributed(train.device)  # torchrun: one process per rank
    if world == 1:
        return _train(a, data, model, diff, train, rank, world)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = _train(a, data, model, diff, train, rank, world)
    except (RuntimeError, _Terminated) as e:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # torchrun's SIGTERM must not cut the message short
        if isinstance(e, RuntimeError) and not _LOST_RANK.search(str(e)):
            raise
        # a collective failed, or torchrun is stopping us because a peer did
        why = "torchrun sent SIGTERM" if isinstance(e, _Terminated) else \
            re.sub(r"^\[[^\]]*\]\s*", "", " ".join(str(e).split()))[:160]  # drop gloo's source location
        abandon_group("motionlab.train", f"rank {rank}: training stopped, another rank failed ({why}); "
                      f"{a.out}/last.pt holds the last saved epoch: continue with --resume")
    leave_group()
    return code


def _train(a, data, model, diff, train, rank: int, world: int) -> int:
    log = (lambda s: print(s, file=sys.stderr)) if rank == 0 else (lambda s: None)
    tr = Trainer(data, model, diff, train, a.out, log=log)
    if a.resume and tr.resume():
        log(f"resumed from {a.out}/last.pt at epoch {tr.epoch}")
    if world > 1:
        import torch.distributed as dist
        seen = [None] * world
        dist.all_gather_object(seen, (tr.epoch, tr.step))
        if len(set(seen)) > 1:
            raise MotionlabError(f"the ranks found different runs in {a.out} (epoch, step: {seen}); "
                                 "--out must be one folder that every rank sees")
    ranks = f", {world} ranks ({'nccl' if tr.device.type == 'cuda' else 'gloo'})" if world > 1 else ""
    log(f"{len(tr.ds)} windows of {data.window} frames, {count_parameters(tr.model):,} parameters, "
        f"device {train.device}{ranks}")
    summary = tr.run(progress=not a.no_progress)
    if rank == 0:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("motionlab.train", main))
