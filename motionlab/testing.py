"""Tiny models for tests and benches: ~46k parameters, a second or two of training on a CPU.

    from motionlab.testing import tiny_trainer, tiny_run
    best = tiny_run(out, epochs=1) / "best.pt"

The one builder of tiny checkpoints: tests/conftest.py, tests/lab_support.py and the benches use it.
"""
from __future__ import annotations

from pathlib import Path

from .dataset import DataConfig
from .demo import demo_clip
from .diffusion import DiffusionConfig
from .model import ModelConfig
from .train import TrainConfig, Trainer

TINY_MODEL = dict(base_channels=16, channel_mults=(1, 2), time_dim=32)
TINY_MODEL_FLAGS = ["--base-channels", "16", "--channel-mults", "1,2", "--time-dim", "32"]
TINY_TIMESTEPS = 10


def tiny_model_config(**kw) -> ModelConfig:
    return ModelConfig(**{**TINY_MODEL, **kw})


def tiny_trainer(out_dir, clip=None, *, window: int = 16, stride: int = 8, limit: int = 0, epochs: int = 2,
                 timesteps: int = TINY_TIMESTEPS, frames: int = 96, log=None, data_kw=None, model_kw=None,
                 **train_kw) -> Trainer:
    """A Trainer of the tiny network on `clip` (default: the demo dancer, `frames` long).
    train_kw go to TrainConfig (batch_size 8 unless given), data_kw to DataConfig, model_kw to ModelConfig."""
    train_kw.setdefault("batch_size", 8)
    data = DataConfig(data="demo", window=window, stride=stride, limit=limit, **(data_kw or {}))
    return Trainer(data, tiny_model_config(**(model_kw or {})), DiffusionConfig(timesteps=timesteps),
                   TrainConfig(epochs=epochs, **train_kw), out_dir, clip=demo_clip(frames) if clip is None else clip,
                   log=log or (lambda s: None))


def tiny_run(out_dir, clip=None, **kw) -> Path:
    """tiny_trainer(out_dir, clip, **kw) trained to its last epoch; returns the run folder
    (best.pt, last.pt, metrics.jsonl)."""
    tiny_trainer(out_dir, clip, **kw).run(progress=False)
    return Path(out_dir)


def wait_until_healthy(url: str, proc, timeout: float) -> bool:
    """Poll a `streamlit run` server's health endpoint until it answers ok (True), or until its
    process `proc` exits or `timeout` seconds pass (False)."""
    import time
    import urllib.request

    t = time.time()
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return True
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t > timeout:
            return False
        time.sleep(0.3)
