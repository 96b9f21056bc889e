"""Fixed-length windows of a clip, normalized per channel, as (C, T) tensors."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from .clip import Clip
from .errors import ClipError
from .skeleton import mirror_permutation

STD_FLOOR = 1e-6  # a constant channel must not divide by zero


@dataclass
class DataConfig:
    data: str = "data/uptown_funk.json"
    window: int = 64
    stride: int = 32
    limit: int = 32
    seed: int = 42
    jitter: bool = False   # random window offsets each epoch instead of the fixed grid
    mirror: bool = False   # horizontal flip with a left/right joint swap, p = 0.5 per window

    def to_dict(self) -> dict:
        return asdict(self)


def window_starts(num_frames: int, window: int, stride: int) -> np.ndarray:
    """0, stride, 2*stride, ... while start + window <= num_frames."""
    if window < 1 or stride < 1:
        raise ClipError(f"window ({window}) and stride ({stride}) must be positive")
    if num_frames < window:
        raise ClipError(f"{num_frames} frames is shorter than the window of {window} frames")
    return np.arange(0, num_frames - window + 1, stride)


class MotionSequenceDataset(torch.utils.data.Dataset):
    """Windows of one clip. Items are normalized float32 tensors (C, window)."""

    def __init__(self, clip: Clip, cfg: DataConfig):
        self.clip, self.cfg = clip, cfg
        self.joints = clip.joints
        self.channels = clip.channels.astype(np.float32)  # (T, C)
        starts = window_starts(clip.num_frames, cfg.window, cfg.stride)
        if 0 < cfg.limit < len(starts):
            rng = np.random.default_rng(cfg.seed)
            starts = np.sort(rng.choice(starts, size=cfg.limit, replace=False))
        self.starts = starts
        self.raw = np.stack([self.channels[s:s + cfg.window] for s in starts])  # (N, W, C)
        flat = self.raw.reshape(-1, self.raw.shape[-1]).astype(np.float64)
        self.mean = flat.mean(0).astype(np.float32)
        self.std = np.maximum(flat.std(0), STD_FLOOR).astype(np.float32)
        self._mirror_idx = None
        if cfg.mirror:
            perm = mirror_permutation(list(self.joints))
            self._mirror_idx = np.array([2 * perm[c // 2] + c % 2 for c in range(self.raw.shape[-1])])
            self._mirror_axis = float(self.channels[:, 0::2].mean())

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.normalize(self.raw[i]).T.copy())

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """(..., W, C) pixels -> normalized."""
        return (x - self.mean) / self.std

    def unnormalize(self, x: np.ndarray) -> np.ndarray:
        return x * self.std + self.mean

    def windows_pixels(self) -> np.ndarray:
        """(N, W, C) unnormalized training windows; the baseline metrics use these."""
        return self.raw

    def epoch_windows(self, epoch: int) -> torch.Tensor:
        """All windows for one epoch as a normalized (N, C, W) tensor.

        Augmentation draws depend only on (seed, epoch), so a resumed run sees
        the same data as an uninterrupted one.
        """
        if not (self.cfg.jitter or self.cfg.mirror):
            x = self.raw
        else:
            rng = np.random.default_rng([self.cfg.seed, epoch])
            if self.cfg.jitter:
                hi = self.clip.num_frames - self.cfg.window
                starts = rng.integers(0, hi + 1, size=len(self.starts))
                x = np.stack([self.channels[s:s + self.cfg.window] for s in starts])
            else:
                x = self.raw.copy()
            if self.cfg.mirror:
                flip = rng.random(len(x)) < 0.5
                m = x[flip][..., self._mirror_idx]
                m[..., 0::2] = 2 * self._mirror_axis - m[..., 0::2]
                x[flip] = m
        return torch.from_numpy(np.ascontiguousarray(self.normalize(x).transpose(0, 2, 1), dtype=np.float32))
