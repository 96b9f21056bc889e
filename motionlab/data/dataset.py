"""Fixed-length windows of a clip, normalized per channel, as (C, T) tensors."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from motionlab.data.clip import Clip
from motionlab.errors import ClipError
from motionlab.settings import check, register, setting
from motionlab.data.normalize import STD_FLOOR, Normalizer  # noqa: F401  (STD_FLOOR: re-exported)
from motionlab.data.skeleton import mirror_permutation
from motionlab.data.clipset import NamedClip, check_clips, named


@register
@dataclass
class DataConfig:
    data: str | list = setting("data/uptown_funk.json", "a clip, folder or manifest; a list of them for several",
                               cli=False)
    window: int = setting(64, "frames per training window", low=2, lab=64, must="at least 2 frames")
    stride: int = setting(32, "frames between window starts", low=1, lab=32, must="positive")
    limit: int = setting(32, "keep a seeded random subset of windows (0 = all)", low=0, lab=32,
                         label="Limit (0 = all)", must="0 (all windows) or positive")
    seed: int = setting(42, "seed of the window subset, the weights and the noise", lab=42)
    jitter: bool = setting(False, "random window offsets each epoch")
    mirror: bool = setting(False, "random horizontal mirroring with left/right swap")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """The one place data settings are checked (CLI, trainer, lab); training adds model.MIN_WINDOW."""
        check(self)

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
    """Windows of one clip or of several. Items are normalized float32 tensors (C, window).

    With several clips the window grid, the seeded `limit` subset (the same seed for every clip) and
    jitter work per clip, so no window straddles two clips; windows are stored clip by clip
    (`clip_ids`, `starts`). Normalization pools every kept window of every clip.
    """

    def __init__(self, clips, cfg: DataConfig):
        self.clips = _named_clips(clips, cfg)
        self.cfg = cfg
        self.joints = self.clips[0].clip.joints
        self._channels = [c.clip.channels.astype(np.float32) for c in self.clips]  # (T, C) each
        per_clip = []
        for c, ch in zip(self.clips, self._channels):
            try:
                starts = window_starts(len(ch), cfg.window, cfg.stride)
            except ClipError as e:
                raise ClipError(f"{c.name}: {e}" if len(self.clips) > 1 else str(e)) from None
            if 0 < cfg.limit < len(starts):
                rng = np.random.default_rng(cfg.seed)
                starts = np.sort(rng.choice(starts, size=cfg.limit, replace=False))
            per_clip.append(starts)
        self.starts = np.concatenate(per_clip)
        self.clip_ids = np.concatenate([np.full(len(s), k) for k, s in enumerate(per_clip)])
        self.raw = np.stack([self._channels[k][s:s + cfg.window]
                             for k, s in zip(self.clip_ids, self.starts)])  # (N, W, C)
        self.normalizer = Normalizer.fit(self.raw)
        self.mean, self.std = self.normalizer.mean, self.normalizer.std
        self._mirror_idx = None
        if cfg.mirror:
            perm = mirror_permutation(list(self.joints))
            self._mirror_idx = np.array([2 * perm[c // 2] + c % 2 for c in range(self.raw.shape[-1])])
            self._mirror_axes = [float(ch[:, 0::2].mean()) for ch in self._channels]  # each clip's own centre

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.normalizer.normalize(self.raw[i]).copy())

    def windows_pixels(self) -> np.ndarray:
        """(N, W, C) unnormalized training windows, clip by clip; the baseline metrics use these."""
        return self.raw

    def clip_windows(self, k: int) -> np.ndarray:
        """(n_k, W, C) pixels of clip k's windows."""
        return self.raw[self.clip_ids == k]

    def window_counts(self) -> list[int]:
        return np.bincount(self.clip_ids, minlength=len(self.clips)).tolist()

    def baseline_order(self) -> np.ndarray:
        """All windows (N, W, C) pixels, taken round-robin over the clips, so that a statistic of the
        first few (the spec's diversity takes 32) samples every clip; a single clip keeps its order."""
        within = np.concatenate([np.arange(n) for n in self.window_counts()])
        return self.raw[np.lexsort((self.clip_ids, within))]

    def epoch_windows(self, epoch: int) -> torch.Tensor:
        """All windows for one epoch as a normalized (N, C, W) tensor.

        Augmentation draws depend only on (seed, epoch), so a resumed run sees
        the same data as an uninterrupted one.
        """
        if not (self.cfg.jitter or self.cfg.mirror):
            x = self.raw
        else:
            rng = np.random.default_rng([self.cfg.seed, epoch])
            if self.cfg.jitter:  # a new offset inside the window's own clip
                x = np.empty_like(self.raw)
                for k, ch in enumerate(self._channels):
                    rows = np.flatnonzero(self.clip_ids == k)
                    starts = rng.integers(0, len(ch) - self.cfg.window + 1, size=len(rows))
                    x[rows] = np.stack([ch[s:s + self.cfg.window] for s in starts])
            else:
                x = self.raw.copy()
            if self.cfg.mirror:
                flip = rng.random(len(x)) < 0.5
                for k, axis in enumerate(self._mirror_axes):
                    sel = flip & (self.clip_ids == k)
                    m = x[sel][..., self._mirror_idx]
                    m[..., 0::2] = 2 * axis - m[..., 0::2]
                    x[sel] = m
        return torch.from_numpy(np.ascontiguousarray(self.normalizer.normalize(x), dtype=np.float32))


def _named_clips(clips, cfg: DataConfig) -> list:
    """A Clip, or a list of Clip / NamedClip, as checked NamedClips (one joint set)."""
    if isinstance(clips, (Clip, NamedClip)):
        clips = [clips]
    clips = list(clips)
    default = cfg.data if isinstance(cfg.data, str) and len(clips) == 1 else None
    out = [c if isinstance(c, NamedClip) else named(c, default or f"clip{k}") for k, c in enumerate(clips)]
    return check_clips(out)
