"""Training from the command line: Adam, gradient clipping, early stopping, resumable checkpoints,
per-epoch monitoring; several processes under torchrun.

    python -m motionlab.train --data data/uptown_funk.json --window 64 --stride 32 --limit 32 \
        --epochs 1 --out runs/baseline_1epoch
"""
from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path


from motionlab.cli import run_main
from motionlab.core.model import count_parameters
from motionlab.errors import MotionlabError, one_line
from motionlab.pipeline.distributed import (_LOST_RANK, _on_sigterm, _Terminated, abandon_group, init_distributed,
                                            leave_group)
from motionlab.pipeline.train_args import build_parser, configs_from_args
from motionlab.pipeline import runlock
from motionlab.pipeline.training import Trainer


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
            re.sub(r"^\[[^\]]*\]\s*", "", one_line(e, 200))[:160]  # drop gloo's source location
        abandon_group("motionlab.train", f"rank {rank}: training stopped, another rank failed ({why}); "
                      f"{a.out}/last.pt holds the last saved epoch: continue with --resume")
    leave_group()
    return code


def _train(a, data, model, diff, train, rank: int, world: int) -> int:
    if rank == 0:  # the folder is ours from the first look at it to the last write
        runlock.acquire(a.out)
    log = (lambda s: print(s, file=sys.stderr)) if rank == 0 else (lambda s: None)
    tr = Trainer(data, model, diff, train, a.out, log=log)
    if a.resume and tr.resume():
        log(f"resumed from {a.out}/last.pt at epoch {tr.epoch}")
    else:
        tr.start_fresh()
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
