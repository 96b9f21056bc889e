"""Checkpoint files: weights, every config, normalization and baseline, loaded safely.

`Checkpoint` owns the format: training builds one and saves it, loading reads and validates one,
releases copy one, and `summary()` is what listings (the lab's catalog) show. Keys a newer version
adds and this one does not know are kept in `extra`, so copies pass them on; the stored baseline is a
dict of whatever measures existed at training time, read with `.get` (a measure added later is absent,
not an error).
"""
from __future__ import annotations

import io
import math
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from motionlab.core.diffusion import MAX_TIMESTEPS, DiffusionConfig, GaussianDiffusion
from motionlab.errors import CheckpointError, one_line
from motionlab.formats.integrity import check_archive, check_crcs, verify, write_verified
from motionlab.core.model import ModelConfig, PositionalUNet1D
from motionlab.data.normalize import Normalizer

FORMAT = "motionlab-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "model_state", "model_config", "diffusion_config", "data_config",
            "train_config", "norm_mean", "norm_std", "joints", "window", "epoch", "step", "best_loss",
            "baseline")
MAX_BYTES = 1 << 30
# torch warns (on stderr) about pickle protocols before refusing a file; the refusal itself is our message
warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
_UNPICKLE_REASON = re.compile(r"(Unsupported global: GLOBAL \S+|unsupported GLOBAL \S+|Unsupported operand \S+)")


def save_checkpoint(path, payload: dict) -> None:
    """Atomically write a checkpoint dict (see REQUIRED for its keys) and its sha256 record (PATH.sha256)."""
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    buf = io.BytesIO()
    torch.save(payload, buf)
    write_verified(path, buf.getvalue())


def read_checkpoint(path) -> dict:
    """Load and validate a checkpoint dict; CheckpointError names what is wrong.

    A file with a sha256 record beside it (see motionlab.formats.integrity) must match it.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(f"{p}: the file is empty")
    if size > MAX_BYTES:
        raise CheckpointError(f"{p}: {size / 2**20:.0f} MB is larger than any motionlab checkpoint")
    try:
        with open(p, "rb") as f:
            head = f.read(4)
        if head[:2] != b"PK" and head[:1] != b"\x80":  # a torch zip archive, or a legacy pickle (PROTO opcode)
            raise CheckpointError(f"{p}: not a readable checkpoint (not a torch file)")
        if head[:2] == b"PK":
            check_archive(p)
        if not verify(p) and head[:2] == b"PK":
            check_crcs(p)
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as e:
        # torch's text is many lines of advice (including "load it unsafely"); keep only the reason
        m = _UNPICKLE_REASON.search(str(e))
        why = m.group(1).rstrip(".") if m else "corrupt or unsupported pickle data"
        raise CheckpointError(f"{p}: refused to load: not a plain-weights checkpoint ({why})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError) as e:
        raise CheckpointError(f"{p}: not a readable checkpoint (truncated or corrupt: {type(e).__name__})") from None
    except Exception as e:  # torch raises assorted types on garbage input
        raise CheckpointError(f"{p}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a motionlab checkpoint (no '{FORMAT}' marker)")
    if ck.get("version") != VERSION:
        raise CheckpointError(f"{p}: checkpoint version {ck.get('version')!r} is not supported (expected {VERSION})")
    missing = [k for k in REQUIRED if k not in ck]
    if missing:
        raise CheckpointError(f"{p}: checkpoint is missing {', '.join(missing)}")
    _check_fields(p, ck)
    c = 2 * len(ck["joints"])
    if ck["model_config"].get("in_channels") != c or len(ck["norm_mean"]) != c or len(ck["norm_std"]) != c:
        raise CheckpointError(f"{p}: channel mismatch: {len(ck['joints'])} joints need {c} channels, "
                              f"model has {ck['model_config'].get('in_channels')}, stats have {len(ck['norm_mean'])}")
    _check_architecture(p, ck)
    return ck


def _check_architecture(p, ck: dict) -> None:
    """The configs build, and the weights fit the network they describe (built on the meta device: no memory)."""
    t = ck["diffusion_config"].get("timesteps")  # before building: a crafted one must not exhaust memory
    if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= MAX_TIMESTEPS:
        raise CheckpointError(f"{p}: malformed checkpoint: diffusion timesteps must be 1..{MAX_TIMESTEPS}, got {t!r}")
    try:
        DiffusionConfig.from_dict(ck["diffusion_config"])  # validates; load_model builds the schedule once
        with torch.device("meta"):
            ref = PositionalUNet1D(ModelConfig.from_dict(ck["model_config"])).state_dict()
    except Exception as e:
        raise CheckpointError(f"{p}: incompatible checkpoint: {one_line(e, 200)}") from None
    for key in ("model_state", "ema_state"):
        if key not in ck:  # ema_state is optional (runs without --ema-decay)
            continue
        weights, what_w = ck[key], "weights" if key == "model_state" else "EMA weights"
        missing, extra = sorted(ref.keys() - weights.keys()), sorted(weights.keys() - ref.keys())
        if missing or extra:
            what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
            raise CheckpointError(f"{p}: incompatible checkpoint: {what_w} do not fit the model config "
                                  f"({what}; {len(missing)} missing, {len(extra)} unexpected)")
        for k, v in ref.items():
            if tuple(weights[k].shape) != tuple(v.shape):
                raise CheckpointError(f"{p}: incompatible checkpoint: {what_w} {k} has shape {tuple(weights[k].shape)}, "
                                      f"the model config needs {tuple(v.shape)}")


def _finite(v: torch.Tensor) -> bool:
    """All finite; numpy's check on fp16 is ~20x faster than torch's on the CPU (listing five releases
    took 1.7 s of the lab's first page load)."""
    if v.dtype in (torch.float16, torch.float32, torch.float64):
        return bool(np.isfinite(v.detach().cpu().numpy()).all())
    return bool(torch.isfinite(v.float()).all())


def _check_fields(p, ck: dict) -> None:
    """Types and ranges of the fields that loading and listing rely on (a crafted file may lie)."""
    def bad(field, want):
        raise CheckpointError(f"{p}: malformed checkpoint: {field} must be {want}")
    for k in ("model_config", "diffusion_config", "data_config", "train_config", "baseline"):
        if not isinstance(ck[k], dict):
            bad(k, "a dict")
    states = [k for k in ("model_state", "ema_state") if k in ck]
    for k in states:
        weights = ck[k]
        if not isinstance(weights, dict) or not all(isinstance(n, str) and isinstance(v, torch.Tensor)
                                                    for n, v in weights.items()):
            bad(k, "a dict of name -> tensor")
    j = ck["joints"]
    if not isinstance(j, (list, tuple)) or not j or not all(isinstance(n, str) for n in j):
        bad("joints", "a non-empty list of names")
    for k in ("norm_mean", "norm_std"):
        v = ck[k]
        if not isinstance(v, (list, tuple)) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v):
            bad(k, "a list of finite numbers")
    if not all(x > 0 for x in ck["norm_std"]):
        bad("norm_std", "positive")
    for k in ("window", "epoch", "step"):
        if not isinstance(ck[k], int) or isinstance(ck[k], bool) or ck[k] < 0:
            bad(k, "a non-negative integer")
    if ck["window"] < 8:
        bad("window", f"at least 8 frames, got {ck['window']}")
    for key in states:
        for k, v in ck[key].items():
            if v.is_floating_point() and not _finite(v):
                what = "weight" if key == "model_state" else "EMA weight"
                raise CheckpointError(f"{p}: malformed checkpoint: {what} {k} contains NaN or inf")
    if "ema_steps" in ck and (not isinstance(ck["ema_steps"], int) or isinstance(ck["ema_steps"], bool)
                              or ck["ema_steps"] < 0):
        bad("ema_steps", "a non-negative integer")
    if not isinstance(ck["best_loss"], (int, float)) or isinstance(ck["best_loss"], bool):
        bad("best_loss", "a number")
    clips = ck.get("clips")  # absent in checkpoints made before clip records
    if clips is not None and not (isinstance(clips, list) and clips and all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("sha256"), str)
            and isinstance(c.get("frames"), int) and not isinstance(c.get("frames"), bool) for c in clips)):
        bad("clips", "a non-empty list of {name, frames, sha256} records")


@dataclass
class Checkpoint:
    """A checkpoint file's contents, field by field (the payload's keys). Required fields first."""
    model_state: dict
    model_config: dict
    diffusion_config: dict
    data_config: dict
    train_config: dict
    norm_mean: list
    norm_std: list
    joints: list
    window: int
    epoch: int
    step: int
    best_loss: float
    baseline: dict                      # measure -> value over the training windows, as of training time
    best_epoch: int | None = None
    bad_epochs: int | None = None
    num_params: int | None = None
    clips: list | None = None           # [{name, frames, sha256}] of the training clips
    ema_state: dict | None = None
    ema_steps: int | None = None
    optimizer_state: dict | None = None
    weights_from: str | None = None     # "ema": a release whose model_state holds the EMA weights
    extra: dict = field(default_factory=dict)  # keys this version does not know, passed on by copies

    def to_payload(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {"format": FORMAT, "version": VERSION, **{k: v for k, v in d.items() if v is not None}, **self.extra}

    @classmethod
    def from_payload(cls, d: dict) -> "Checkpoint":
        """From a payload read_checkpoint validated."""
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: d[k] for k in known if k in d},
                   extra={k: v for k, v in d.items() if k not in known and k not in ("format", "version")})

    @classmethod
    def read(cls, path) -> "Checkpoint":
        return cls.from_payload(read_checkpoint(path))

    def save(self, path) -> None:
        save_checkpoint(path, self.to_payload())

    @property
    def weights(self) -> str:
        """'ema' when sampling uses EMA weights (ema_state, or an EMA-only release), else 'raw'."""
        return "ema" if self.ema_state is not None or self.weights_from == "ema" else "raw"

    @property
    def tag(self) -> str:
        return str(self.train_config.get("tag") or "")

    def without_tensors(self) -> "Checkpoint":
        """The same record, weights and optimizer state left out (what a loaded model keeps as metadata)."""
        from dataclasses import replace
        return replace(self, model_state={}, ema_state=None, optimizer_state=None)

    def summary(self, path, verified: bool = False) -> "CheckpointSummary":
        p = Path(path)
        st = p.stat()
        d, t = self.data_config, self.train_config
        return CheckpointSummary(
            str(p), True, "", tag=self.tag or p.parent.name, epoch=int(self.epoch), epochs=int(t.get("epochs", 0)),
            step=int(self.step), best_loss=float(self.best_loss), window=int(self.window),
            stride=int(d.get("stride", 0)), limit=int(d.get("limit", 0)),
            timesteps=int(self.diffusion_config.get("timesteps", 0)), joints=len(self.joints),
            num_params=int(self.num_params or sum(v.numel() for v in self.model_state.values())),
            size_mb=round(st.st_size / 2**20, 2), mtime_ns=st.st_mtime_ns, verified=verified,
            baseline=dict(self.baseline), model_config=dict(self.model_config), data_config=dict(d),
            weights=self.weights, ema_decay=float(t.get("ema_decay") or 0.0))


@dataclass(frozen=True)
class CheckpointSummary:
    """Facts about a checkpoint file for listings; ok False with a one-line error for a bad file."""
    path: str
    ok: bool
    error: str = ""
    tag: str = ""
    epoch: int = 0
    epochs: int = 0           # planned epochs of its training config
    step: int = 0
    best_loss: float = float("nan")
    window: int = 0
    stride: int = 0
    limit: int = 0
    timesteps: int = 0
    joints: int = 0
    num_params: int = 0
    size_mb: float = 0.0
    mtime_ns: int = 0
    verified: bool = False    # matched its sha256 record (a file without one had its zip CRCs checked)
    baseline: dict = field(default_factory=dict, hash=False, compare=False)
    model_config: dict = field(default_factory=dict, hash=False, compare=False)
    data_config: dict = field(default_factory=dict, hash=False, compare=False)
    weights: str = "raw"      # the weights sampling uses: "ema" or "raw"
    ema_decay: float = 0.0

    def __getitem__(self, key: str):  # the mapping the listings used before this class
        return getattr(self, key)

    @property
    def config(self) -> str:
        """The spec's 'window / stride / limit / epochs' column."""
        return f"{self.window} / {self.stride} / {self.limit} / {self.epochs}"

    @property
    def weights_label(self) -> str:
        """Which weights sampling uses, for captions."""
        if self.weights == "ema":
            return f"EMA weights (decay {self.ema_decay:g})" if self.ema_decay else "EMA weights"
        return "raw weights (no EMA in this checkpoint)"


@dataclass
class LoadedModel:
    """A checkpoint ready to sample: eval-mode model, diffusion and normalization."""
    path: str
    model: PositionalUNet1D
    diffusion: GaussianDiffusion
    mean: np.ndarray
    std: np.ndarray
    joints: tuple
    window: int
    checkpoint: Checkpoint  # its record, without tensors
    weights: str = "raw"  # "ema": the exponential moving average of the training weights; "raw": the weights

    @property
    def normalizer(self) -> Normalizer:
        return Normalizer(self.mean, self.std)

    def unnormalize(self, x) -> np.ndarray:
        """(N, C, W) normalized tensor -> (N, W, C) pixels."""
        return self.normalizer.unnormalize(x)


def load_model(path, device="cpu", weights: str = "auto") -> LoadedModel:
    """A checkpoint ready to sample. weights='auto' takes the EMA weights when the checkpoint has
    them, else the raw ones; 'raw' forces the raw ones ('ema' refuses a checkpoint without EMA).
    The returned LoadedModel.weights says which were loaded."""
    if weights not in ("auto", "ema", "raw"):
        raise ValueError(f"weights must be auto, ema or raw, got {weights!r}")
    ck = Checkpoint.read(path)
    use = ck.weights if weights == "auto" else weights
    if use == "ema" and ck.weights != "ema":
        raise CheckpointError(f"{path}: has no EMA weights (trained without --ema-decay)")
    if use == "raw" and ck.ema_state is None and ck.weights_from == "ema":
        raise CheckpointError(f"{path}: is an EMA-only release; its raw weights were not kept")
    try:
        model = PositionalUNet1D(ModelConfig.from_dict(ck.model_config))
        src = ck.ema_state if use == "ema" and ck.ema_state is not None else ck.model_state
        model.load_state_dict({k: v.float() for k, v in src.items()})
        diffusion = GaussianDiffusion(DiffusionConfig.from_dict(ck.diffusion_config))
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{path}: incompatible checkpoint: {one_line(e, 200)}") from None
    model.to(device).eval().requires_grad_(False)
    diffusion.to(device)  # its coefficient tables too, or every step on a GPU copies them from the host
    return LoadedModel(str(path), model, diffusion, np.asarray(ck.norm_mean, np.float32),
                       np.asarray(ck.norm_std, np.float32), tuple(ck.joints), int(ck.window), ck.without_tensors(), use)


def release_copy(src, dst, ema_only: bool = False, raw_only: bool = False) -> Checkpoint:
    """Write a weights-only fp16 copy (no optimizer state) for checkpoints/, with its sha256 record;
    returns what it wrote.

    EMA weights are kept beside the raw ones; ema_only keeps just the EMA weights (as model_state,
    marked weights_from='ema'; a source that is already such a copy passes through), raw_only just the
    raw ones (sampling then uses them): either halves the file.
    """
    if ema_only and raw_only:
        raise ValueError("ema_only and raw_only exclude each other")
    ck = Checkpoint.read(src)
    ck.optimizer_state = None
    if raw_only:
        ck.ema_state = ck.ema_steps = None
    if ema_only and not (ck.weights_from == "ema" and ck.ema_state is None):
        if ck.ema_state is None:
            raise CheckpointError(f"{src}: has no EMA weights to release (trained without --ema-decay)")
        ck.model_state, ck.ema_state, ck.weights_from = ck.ema_state, None, "ema"
    half = lambda w: {n: v.half() if v.is_floating_point() else v for n, v in w.items()}  # noqa: E731
    ck.model_state = half(ck.model_state)
    ck.ema_state = None if ck.ema_state is None else half(ck.ema_state)
    ck.save(dst)
    return ck


def summarize(path) -> CheckpointSummary:
    """Facts about a checkpoint for listings, or its error; never raises for a bad file."""
    p = Path(path)
    try:
        ck = Checkpoint.read(p)
        return ck.summary(p, verified=verify(p))  # cached: read_checkpoint just hashed it
    except CheckpointError as e:
        return CheckpointSummary(str(p), False, str(e))
    except OSError as e:  # removed or unreadable while listing
        return CheckpointSummary(str(p), False, f"{p}: {e.strerror or e}")
    except Exception as e:  # validated, but a field has an odd type
        return CheckpointSummary(str(p), False, f"{p}: unreadable summary ({type(e).__name__})")


def checkpoint_files(folder) -> list[Path]:
    """*.pt / *.pth paths under a folder, sorted; hidden ones (atomic-write temporaries) left out.

    A folder with such a name is kept, so that listings show it as broken rather than hide it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    try:
        return sorted(p for p in folder.rglob("*") if p.suffix in (".pt", ".pth") and not p.name.startswith("."))
    except OSError:
        return []


def list_checkpoints(*folders) -> list[dict]:
    """Summaries of every checkpoint file under the folders, sorted by path within each."""
    return [summarize(p) for f in folders for p in checkpoint_files(f)]
