"""Per-channel normalization: the one place pixels become what the network sees, and back."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STD_FLOOR = 1e-6  # a constant channel must not divide by zero


@dataclass(frozen=True)
class Normalizer:
    """mean and std per channel, (C,) float32.

    normalize: (..., W, C) pixels -> (..., C, W) normalized (the network's layout); unnormalize is
    its inverse and also takes torch tensors (a model's output).
    """
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, pixels: np.ndarray) -> "Normalizer":
        """The statistics of (..., C) pixels, pooled over everything but the channel axis (in float64)."""
        flat = np.asarray(pixels).reshape(-1, pixels.shape[-1]).astype(np.float64)
        return cls(flat.mean(0).astype(np.float32), np.maximum(flat.std(0), STD_FLOOR).astype(np.float32))

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        return np.swapaxes((pixels - self.mean) / self.std, -1, -2)

    def unnormalize(self, x) -> np.ndarray:
        if hasattr(x, "detach"):  # a torch tensor, on any device and in any float dtype
            x = x.detach().float().cpu().numpy()
        return np.swapaxes(np.asarray(x, np.float32), -1, -2) * self.std + self.mean
