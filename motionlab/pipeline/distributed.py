"""Several processes under torchrun: joining the group, and leaving it cleanly whether the run finished or a peer died."""
from __future__ import annotations

import os
import re
import sys

import torch


# gloo and nccl raise plain RuntimeErrors when a peer goes away; these words tell them from other errors
_LOST_RANK = re.compile(r"gloo|nccl|connection|peer|socket|timed out|closed", re.IGNORECASE)


def init_distributed(device: str) -> tuple[int, int]:
    """Join torchrun's process group (gloo on the CPU, nccl on CUDA); (rank, world size). (0, 1) and
    nothing initialized when not started by torchrun with several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


class _Terminated(Exception):
    """torchrun's SIGTERM: it stops the surviving ranks this way once one of them has failed."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def leave_group() -> None:
    """After a finished run: every rank meets here before the group goes, so that no rank tears gloo
    down while a peer still talks to it (that aborted in C++ after a finished run: 'terminate called
    without an active exception', and torchrun reported the run as failed)."""
    import gc
    import torch.distributed as dist
    gc.collect()  # the DDP wrapper's reducer holds the group: let it go first
    dist.barrier()
    dist.destroy_process_group()


def abandon_group(prog: str, message: str) -> None:
    """A peer is gone: say so at once and leave without tearing the group down (a teardown can hang or
    abort on a broken group). Rank 0 writes only whole epochs, atomically, so nothing is half-saved."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    os._exit(2)
