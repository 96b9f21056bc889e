"""A tiny checkpoint trained for one epoch on the demo clip: benches that measure the lab, not the network."""
from __future__ import annotations

from pathlib import Path


def tiny_checkpoint(out: Path, window: int, timesteps: int, stride: int = 16, limit: int = 8,
                    frames: int = 480, tag: str = "") -> Path:
    from motionlab.dataset import DataConfig
    from motionlab.demo import demo_clip
    from motionlab.diffusion import DiffusionConfig
    from motionlab.model import ModelConfig
    from motionlab.train import TrainConfig, Trainer

    Trainer(DataConfig(data="demo", window=window, stride=stride, limit=limit),
            ModelConfig(base_channels=16, channel_mults=(1, 2), time_dim=32), DiffusionConfig(timesteps=timesteps),
            TrainConfig(epochs=1, batch_size=8, tag=tag), out, clip=demo_clip(frames),
            log=lambda *_: None).run(progress=False)
    return Path(out) / "best.pt"
