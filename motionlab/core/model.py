"""PositionalUNet1D: the epsilon-prediction network. It knows nothing of diffusion."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from motionlab.errors import ConfigError
from motionlab.settings import is_int, check, register, setting

MIN_WINDOW = 8  # the shortest window the network trains and samples on


def parse_channel_mults(text) -> tuple:
    """'1,2,4' -> (1, 2, 4), as the CLI and the lab take them."""
    try:
        return tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise ConfigError("channel_mults", f"must be comma-separated integers, got {text!r}") from None


@register
@dataclass
class ModelConfig:
    in_channels: int = setting(40, "2 x joints (set from the data)", low=1, cli=False, must="positive")
    base_channels: int = setting(128, "width of the first level (a multiple of 8)", low=8, lab=32,
                                 must="a positive multiple of 8")
    channel_mults: tuple = setting((1, 2, 4), "width multiplier of each level", parse=parse_channel_mults,
                                   show=lambda v: ",".join(map(str, v)), lab=(1, 2), label="Channel mults")
    time_dim: int = setting(256, "timestep embedding size", low=1, lab=64, label="Time dim", must="positive")
    dropout: float = setting(0.1, "dropout in the residual blocks", low=0.0, high=1.0, high_open=True,
                             must="in [0, 1)")
    groups: int = setting(8, "GroupNorm groups (divides base_channels)", low=1, cli=False)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """The one place network settings are checked (CLI, trainer, lab and checkpoint loading);
        the rest would fail deep inside torch, some only after an epoch of work."""
        check(self)
        if self.base_channels % 8:
            raise ConfigError("base_channels", f"must be a positive multiple of 8, got {self.base_channels!r}")
        if not isinstance(self.channel_mults, (tuple, list)) or not self.channel_mults \
                or not all(is_int(m) and m >= 1 for m in self.channel_mults):
            raise ConfigError("channel_mults", f"must be positive integers, got {self.channel_mults!r}")
        if self.base_channels % self.groups:
            raise ConfigError("groups", f"must divide base_channels, got {self.groups!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channel_mults"] = list(self.channel_mults)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["channel_mults"] = tuple(d["channel_mults"])
        return cls(**d)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps, (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


class ResBlock1D(nn.Module):
    def __init__(self, cin: int, cout: int, time_dim: int, dropout: float, groups: int):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, cout)
        self.time = nn.Linear(time_dim, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.norm1(self.conv1(x)) + self.time(temb)[:, :, None]
        h = self.drop(F.silu(h))
        h = F.silu(self.norm2(self.conv2(h)))
        return h + self.skip(x)


def _resize(x: torch.Tensor, length: int) -> torch.Tensor:
    return x if x.shape[-1] == length else F.interpolate(x, size=length, mode="linear", align_corners=False)


class PositionalUNet1D(nn.Module):
    """(B, C, T) noisy motion + (B,) timesteps -> (B, C, T) predicted noise. Any T >= 8."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        base, tdim = cfg.base_channels, cfg.time_dim
        self.time_mlp = nn.Sequential(nn.Linear(base, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.inp = nn.Conv1d(cfg.in_channels, base, 3, padding=1)
        block = lambda i, o: ResBlock1D(i, o, tdim, cfg.dropout, cfg.groups)
        widths = [base * m for m in cfg.channel_mults]
        self.down = nn.ModuleList()
        ch = base
        for w in widths:
            self.down.append(block(ch, w))
            ch = w
        self.mid = nn.ModuleList([block(ch, ch), block(ch, ch)])
        self.up = nn.ModuleList()
        for w in reversed(widths):
            self.up.append(block(ch + w, w))
            ch = w
        self.out = nn.Sequential(nn.GroupNorm(cfg.groups, ch), nn.SiLU(), nn.Conv1d(ch, cfg.in_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(timestep_embedding(t, self.cfg.base_channels))
        h = self.inp(x)
        skips = []
        for i, blk in enumerate(self.down):
            h = blk(h, temb)
            skips.append(h)
            if i < len(self.down) - 1:
                h = _resize(h, max(1, h.shape[-1] // 2))
        for blk in self.mid:
            h = blk(h, temb)
        for blk in self.up:
            skip = skips.pop()
            h = blk(torch.cat([_resize(h, skip.shape[-1]), skip], dim=1), temb)
        return self.out(h)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
