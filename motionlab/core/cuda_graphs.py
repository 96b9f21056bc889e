"""CUDA speed-ups for training: backend flags and a whole optimizer step captured as one CUDA graph."""
from __future__ import annotations

import threading

import torch

from motionlab.core.steps import autocast

# Several trainers may share one GPU from threads (motionlab.studies.fidelity): one capture at a time, each on
# its own stream, and a capture that only forbids unsafe calls in its own thread.
_CAPTURE = threading.Lock()


def fast_cuda_backends() -> None:
    """TF32 convs and matmuls and cuDNN autotuning: the settings every CUDA run here trains with."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True


class GraphStep:
    """One optimizer step captured as a CUDA graph: kernel launches dominate this small net."""

    def __init__(self, model, opt, diffusion, cfg, shape, device):
        self.static_x0 = torch.zeros(shape, device=device)
        self.acc = torch.zeros((), device=device)
        params = [p for p in model.parameters()]

        def step():
            with autocast(device, cfg.precision):  # --precision holds in the graph too
                out = diffusion.training_losses(model, self.static_x0, vel_weight=cfg.vel_weight)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
            opt.step()
            self.acc.add_(out["loss"].detach())

        with _CAPTURE:
            self._capture(step, params, opt)

    def _capture(self, step, params, opt):
        saved_p = [p.detach().clone() for p in params]
        saved_s = {id(p): {k: v.clone() for k, v in opt.state[p].items()} for p in params if opt.state[p]}
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                step()
        torch.cuda.current_stream().wait_stream(s)
        with torch.no_grad():  # warm-up steps must not count
            for p, v in zip(params, saved_p):
                p.copy_(v)
            for p in params:
                for k, v in opt.state[p].items():
                    v.copy_(saved_s[id(p)][k]) if id(p) in saved_s else v.zero_()
        self.acc.zero_()
        self.graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph, stream=torch.cuda.Stream(), capture_error_mode="thread_local"):
            step()

    def __call__(self, x0):
        self.static_x0.copy_(x0)
        self.graph.replay()
