"""Training: Adam, gradient clipping, early stopping, resumable checkpoints, per-epoch monitoring."""
from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from motionlab.evaluation import baselines
from motionlab.core.cuda_graphs import GraphStep, fast_cuda_backends
from motionlab.core.diffusion import DiffusionConfig, GaussianDiffusion
from motionlab.core.model import MIN_WINDOW, ModelConfig, PositionalUNet1D, count_parameters
from motionlab.core.samplers import DEFAULT_SAMPLER, SAMPLERS, SamplerChoice
from motionlab.core.steps import autocast, randn_like
from motionlab.data.clipset import resolve_clips
from motionlab.data.dataset import DataConfig, MotionSequenceDataset
from motionlab.errors import ConfigError, MotionlabError, one_line
from motionlab.evaluation.metrics import sample_metrics
from motionlab.formats.checkpoints import Checkpoint
from motionlab.formats.integrity import SUFFIX, recorded
from motionlab.settings import check, declared, parse, register, setting
from motionlab.io import atomic_write_bytes, check_writable_dir, remove_stale_temps
from motionlab.pipeline import runlock
from motionlab.pipeline.sampling import generate


@register
@dataclass
class TrainConfig:
    epochs: int = setting(1, "epochs to train", low=1, lab=20, must="positive")
    batch_size: int = setting(16, "windows per step", low=1, lab=16, must="positive")
    lr: float = setting(2e-4, "Adam learning rate", low=0.0, low_open=True, lab=2e-4, label="Learning rate",
                        must="positive and finite")
    grad_clip: float = setting(1.0, "gradient norm clip", low=0.0, low_open=True, cli=False, must="positive and finite")
    patience: int = setting(0, "epochs without improvement before stopping; 0 = off", low=0, lab=0,
                            label="Early-stop patience (0 = off)")
    min_delta: float = setting(0.0, "improvement that resets patience")
    seed: int = setting(42, "seed of the window subset, the weights and the noise")
    vel_weight: float = setting(0.0, "weight of the velocity loss on x0-hat (0 = off)")
    precision: str = setting("fp32", "training precision", choices=("fp32", "bf16"), lab="fp32")
    device: str = setting("cpu", "cpu, cuda, cuda:0, ...")
    save_every: int = setting(10, "epochs between last.pt / best.pt writes (and always at the end)", low=1, lab=5,
                              label="Save every N epochs", must="positive")
    monitor_every: int = setting(0, "epochs between sample metrics; 0 = off", low=0, lab=5,
                                 label="Sample metrics every N epochs (0 = off)")
    monitor_samples: int = setting(4, "samples per monitor check", low=1, high=64)
    # a run being trained has no sampler study yet: the monitor samples with the documented fallback
    monitor_sampler: str = setting(DEFAULT_SAMPLER.name, "the monitor's sampler", choices=lambda: SAMPLERS)
    monitor_steps: int = setting(DEFAULT_SAMPLER.steps or 0, "the monitor's sampling steps; 0 = the full chain",
                                 low=0, must="0 (the full chain) or positive")
    cuda_graph: bool = setting(False, "capture each training step as a CUDA graph (GPU only; speed, not bitwise resume)")
    compile: bool = setting(False, "torch.compile the training forward pass")
    ema_decay: float = setting(0.0, "keep an exponential moving average of the weights (e.g. 0.999 per step), "
                                    "stored in best.pt/last.pt and used for sampling; 0 = off",
                               low=0.0, high=1.0, high_open=True, must="in [0, 1) (0 = off)")
    tag: str = setting("", "a name for tables and panels (default: the --out folder's name)")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """The one place training settings are checked (CLI, Trainer, lab); see also check_together."""
        check(self)
        try:
            torch.device(self.device)
        except (RuntimeError, ValueError, TypeError):
            raise ConfigError("device", f"{self.device!r} is not cpu, cuda, cuda:0 or the like") from None

    def to_dict(self) -> dict:
        return asdict(self)


def check_together(data: DataConfig, diff: DiffusionConfig, cfg: TrainConfig) -> None:
    """The rules that span configs (each config checks its own fields when it is built)."""
    if data.window < MIN_WINDOW:
        raise ConfigError("window", f"must be at least {MIN_WINDOW} frames, got {data.window}")
    # monitor_steps beyond the schedule walks the whole chain (SamplerChoice.steps_for), as sampling does


CONFIGS = (DataConfig, ModelConfig, DiffusionConfig, TrainConfig)


def build_configs(values: dict) -> tuple[DataConfig, ModelConfig, DiffusionConfig, TrainConfig]:
    """The four configs from flat setting values by name (the CLI's flags, the lab's form); a name two
    configs share (seed) sets both, missing ones keep their defaults. Raises ConfigError naming the field."""
    built = []
    for cls in CONFIGS:
        built.append(cls(**{f.name: parse(f.name, values[f.name]) for f, _ in declared(cls) if f.name in values}))
    data, model, diff, train = built
    check_together(data, diff, train)
    return data, model, diff, train


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**62)


class Trainer:
    def __init__(self, data_cfg: DataConfig, model_cfg: ModelConfig, diff_cfg: DiffusionConfig,
                 cfg: TrainConfig, out_dir, clip=None, log=print):
        self.out = Path(out_dir)
        try:
            check_writable_dir(self.out)
        except OSError as e:
            raise MotionlabError(f"output folder {self.out} is not writable: {e.strerror or e}") from None
        for t in remove_stale_temps(self.out):  # left by a save that SIGKILL cut short
            log(f"removed stale temporary file {t}")
        # copies, checked again (a field may have been set after the config was built); the caller's stay as they are
        data_cfg, diff_cfg, cfg = replace(data_cfg), replace(diff_cfg), replace(cfg)
        check_together(data_cfg, diff_cfg, cfg)
        if clip is None:  # clip: a Clip, or a list of Clip / NamedClip
            clip, spec = resolve_clips(data_cfg.data, min_frames=data_cfg.window)
            data_cfg = replace(data_cfg, data=spec)
        self.ds = MotionSequenceDataset(clip, data_cfg)
        model_cfg = replace(model_cfg, in_channels=self.ds.raw.shape[-1])
        self.data_cfg, self.model_cfg, self.diff_cfg, self.cfg = data_cfg, model_cfg, diff_cfg, cfg
        self.rank, self.world = _rank_and_world()
        if self.world > 1 and cfg.cuda_graph:
            raise MotionlabError("--cuda-graph does not combine with several ranks (torchrun); leave it out")
        self.device = torch.device(cfg.device)
        if self.world > 1 and self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))  # one GPU per rank
        self.log = log
        torch.manual_seed(cfg.seed)
        self.model = PositionalUNet1D(model_cfg).to(self.device)
        self.ddp = None
        if self.world > 1:  # same seed, same initial weights; DDP also broadcasts rank 0's
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device] if self.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(self.model, device_ids=ids)
        net = self.ddp or self.model
        self.net = torch.compile(net) if cfg.compile else net  # shares the parameters
        self.diffusion = GaussianDiffusion(diff_cfg).to(self.device)
        if self.device.type == "cuda":
            fast_cuda_backends()
        cap = cfg.cuda_graph and self.device.type == "cuda"
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, capturable=cap)
        self.ema = None  # AveragedModel: its first update copies the weights, then ema = d*ema + (1-d)*w per step
        if cfg.ema_decay > 0:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        self.baseline = baselines.baseline(self.ds)
        self.clip_records = baselines.clip_records(self.ds)
        self.epoch, self.step, self.best_loss, self.bad_epochs = 0, 0, math.inf, 0
        self.best_epoch = 0
        self._best_state, self._best_ema, self._best_dirty = None, None, False
        self.history: list[dict] = []
        self._graph = None

    # -- checkpoints -------------------------------------------------------
    def _checkpoint(self, state, epoch, ema=None) -> Checkpoint:
        """ema: (EMA state_dict, steps averaged) or None."""
        cpu = lambda w: {k: v.detach().to("cpu", copy=True) for k, v in w.items()}  # noqa: E731
        return Checkpoint(
            model_state=cpu(state), model_config=self.model_cfg.to_dict(), diffusion_config=self.diff_cfg.to_dict(),
            data_config=self.data_cfg.to_dict(), train_config=self.cfg.to_dict(), norm_mean=self.ds.mean.tolist(),
            norm_std=self.ds.std.tolist(), joints=list(self.ds.joints), window=self.data_cfg.window, epoch=epoch,
            step=self.step, best_loss=float(self.best_loss), baseline=self.baseline, best_epoch=self.best_epoch,
            bad_epochs=self.bad_epochs, num_params=count_parameters(self.model), clips=self.clip_records,
            ema_state=None if ema is None else cpu(ema[0]), ema_steps=None if ema is None else ema[1])

    def save(self) -> None:
        if self.rank:  # rank 0 alone writes
            return
        if self._best_dirty:
            self._checkpoint(self._best_state, self.best_epoch, self._best_ema).save(self.out / "best.pt")
            self._best_dirty = False
        last = self._checkpoint(self.model.state_dict(), self.epoch, self._ema_now(clone=False))
        last.optimizer_state = self.opt.state_dict()
        last.save(self.out / "last.pt")

    def start_fresh(self) -> None:
        """A new run in this folder: an earlier run's log that never reached a last.pt is not ours to extend."""
        mpath = self.out / "metrics.jsonl"
        if self.rank == 0 and mpath.exists():
            atomic_write_bytes(mpath, b"")

    def resume(self) -> bool:
        p = self.out / "last.pt"
        if not p.exists():
            return False
        ck = Checkpoint.read(p)  # checks it against last.pt.sha256 when there is one
        if recorded(p) is None:
            self.log(f"note: {p} has no sha256 record ({p.name}{SUFFIX}), so it is resumed unverified")
        if ck.window != self.data_cfg.window or list(ck.joints) != list(self.ds.joints):
            raise MotionlabError(f"{p}: was trained with another window or joint set; use a fresh --out")
        if ck.optimizer_state is None:
            raise MotionlabError(f"{p}: has no optimizer state, so it cannot be resumed")
        diff = diffusion_mismatch(ck.diffusion_config, self.diff_cfg.to_dict())
        if diff:
            raise MotionlabError(f"{p}: diffusion settings differ ({diff}); resume with the run's own "
                                 "options or use a fresh --out")
        try:  # another --base-channels / --channel-mults / --time-dim than the run being resumed
            self.model.load_state_dict({k: v.float() for k, v in ck.model_state.items()})
            opt_state = ck.optimizer_state
            for g in opt_state["param_groups"]:  # a CUDA-graph run may go on without a graph, or the reverse
                g["capturable"] = self.opt.param_groups[0]["capturable"]
            self.opt.load_state_dict(opt_state)  # also casts saved moments to the weights' dtype and device
        except Exception as e:
            raise MotionlabError(f"{p}: does not fit this model config; resume with the run's own options "
                                 f"or use a fresh --out ({one_line(e, 160)})") from None
        if ck.clips is not None and _clip_ids(ck.clips) != _clip_ids(self.clip_records):
            raise MotionlabError(f"{p}: was trained on other clips; resume with the run's own --data "
                                 "or use a fresh --out")
        self._resume_ema(p, ck)
        self.epoch, self.step = ck.epoch, ck.step
        self.best_loss, self.best_epoch = ck.best_loss, ck.best_epoch or 0
        self.bad_epochs = ck.bad_epochs or 0
        self._adopt_newer_best(ck)
        mpath = self.out / "metrics.jsonl"
        if self.rank == 0 and mpath.exists():  # drop lines written after last.pt
            keep = [ln for ln in mpath.read_text().splitlines() if ln.strip() and _line_epoch(ln) <= self.epoch]
            atomic_write_bytes(mpath, ("\n".join(keep) + "\n" if keep else "").encode())
        return True

    def _adopt_newer_best(self, last: Checkpoint) -> None:
        """A kill between writing best.pt and last.pt leaves a best.pt better than last.pt knows: keep its
        loss as the one to beat, or a later, worse epoch would overwrite it."""
        try:
            best = Checkpoint.read(self.out / "best.pt")
        except MotionlabError:
            return  # none, or unreadable: last.pt's record stands
        same_run = all(getattr(best, k) == getattr(last, k) for k in ("data_config", "model_config", "diffusion_config"))
        if same_run and best.best_loss < self.best_loss:
            self.best_loss, self.best_epoch = best.best_loss, best.epoch

    def _resume_ema(self, p, ck) -> None:
        """Continue the EMA of last.pt; a run resumed with another --ema-decay would not be the same run."""
        had = float(ck.train_config.get("ema_decay") or 0.0)
        if had != self.cfg.ema_decay or (ck.ema_state is not None) != (self.ema is not None):
            raise MotionlabError(f"{p}: was trained with --ema-decay {had:g}, not {self.cfg.ema_decay:g}; "
                                 "resume with the run's own options or use a fresh --out")
        if self.ema is not None:
            self.ema.module.load_state_dict({k: v.float() for k, v in ck.ema_state.items()})
            self.ema.n_averaged.fill_(int(ck.ema_steps or 0))

    def _ema_now(self, clone: bool = True):
        """(EMA state_dict, steps averaged), or None without an EMA."""
        if self.ema is None:
            return None
        st = self.ema.module.state_dict()
        return ({k: v.detach().clone() for k, v in st.items()} if clone else st), int(self.ema.n_averaged.item())

    def _update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    # -- training ----------------------------------------------------------
    def monitor(self) -> dict:
        """Sample metrics of the weights sampling would use: the EMA when there is one."""
        net = self.ema.module if self.ema is not None else self.model
        net.eval()
        choice = SamplerChoice(self.cfg.monitor_sampler, self.cfg.monitor_steps or None)
        x = generate(net, self.diffusion, self.cfg.monitor_samples, self.data_cfg.window, seed=0,
                     sampler=choice, device=self.device, precision=self.cfg.precision).x
        net.train()
        px = self.ds.normalizer.unnormalize(x)
        return sample_metrics(px) or {"nonfinite": True}

    def _epoch_draws(self, n: int):
        """(epoch seed, window order, timestep/noise generator): the same draws in one process and over ranks."""
        epoch_seed = _epoch_seed(self.cfg.seed, self.epoch)
        cpu_gen = torch.Generator().manual_seed(epoch_seed)
        perm = torch.randperm(n, generator=cpu_gen).to(self.device)
        noise_gen = cpu_gen if self.device.type == "cpu" else torch.Generator(self.device).manual_seed(epoch_seed)
        return epoch_seed, perm, noise_gen

    def _train_epoch(self, x: torch.Tensor, graph: "GraphStep | None") -> float:
        """One pass over the windows in a seeded order; returns the summed per-window loss."""
        cfg, n = self.cfg, len(x)
        epoch_seed, perm, noise_gen = self._epoch_draws(n)
        batches = [perm[i:i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
        if graph is not None:  # a captured graph keeps its own RNG stream
            graph.acc.zero_()
            for idx in batches:
                graph(x[idx])
                self._update_ema()
            self.step += len(batches)
            return graph.acc.item() * cfg.batch_size
        torch.manual_seed(epoch_seed)  # dropout
        total = 0.0
        for idx in batches:
            with autocast(self.device, cfg.precision):
                out = self.diffusion.training_losses(self.net, x[idx], noise_gen, cfg.vel_weight)
            self.opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.opt.step()
            self._update_ema()
            total += out["loss"].item() * len(idx)
            self.step += 1
        return total

    def _train_epoch_ddp(self, x: torch.Tensor) -> float:
        """_train_epoch over ranks: the same global batches, timesteps and noise as one process draws.

        Each rank takes every world-th window of a batch and scales its mean loss by its share, so DDP's
        gradient average is the batch mean; the runs then differ only in float summation order.
        """
        import torch.distributed as dist
        cfg, n = self.cfg, len(x)
        epoch_seed, perm, noise_gen = self._epoch_draws(n)
        torch.manual_seed(epoch_seed + self.rank)  # dropout: each rank draws its own masks
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for i in range(0, n, cfg.batch_size):
            xb = x[perm[i:i + cfg.batch_size]]
            b = len(xb)
            t = torch.randint(0, self.diffusion.num_timesteps, (b,), device=xb.device, generator=noise_gen)
            noise = randn_like(xb, noise_gen)  # in GaussianDiffusion.training_losses' order
            mine = slice(self.rank, None, self.world)
            k = len(range(b)[mine])
            if not k:  # fewer windows than ranks: join the gradient average with weight 0
                mine = slice(0, 1)
            with autocast(self.device, cfg.precision):
                out = self.diffusion.training_losses(self.net, xb[mine], None, cfg.vel_weight, t[mine], noise[mine])
            self.opt.zero_grad(set_to_none=True)
            (out["loss"] * (k * self.world / b)).backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.opt.step()
            total += out["loss"].detach().double() * k
            self.step += 1
        dist.all_reduce(total)
        return total.item()

    def _stopping(self, stop: dict) -> bool:
        """Whether a signal asked to stop; with several ranks, whether any rank was asked (all agree)."""
        if self.world > 1:
            import torch.distributed as dist
            flag = torch.tensor([float(stop["flag"])], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if flag.item() and not stop["flag"]:
                stop.update(flag=True, by="a signal to another rank")
        return stop["flag"]

    def _end_epoch(self, loss: float, t0: float) -> dict:
        """Count the epoch just trained, keep its weights when they are the best so far, monitor; its
        metrics.jsonl record."""
        cfg = self.cfg
        if not math.isfinite(loss):
            raise MotionlabError(f"loss became {loss} at epoch {self.epoch + 1}; lower --lr")
        self.epoch += 1
        rec = {"epoch": self.epoch, "loss": loss, "seconds": round(time.time() - t0, 4), "step": self.step}
        if loss < self.best_loss - cfg.min_delta:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, self.epoch, 0
            self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self._best_ema = self._ema_now()
            self._best_dirty = True
        else:
            self.bad_epochs += 1
        if cfg.monitor_every and self.epoch % cfg.monitor_every == 0 and self.rank == 0:
            rec["sample_metrics"] = self.monitor()
            rec["sample_sampler"] = f"{cfg.monitor_sampler}-{cfg.monitor_steps or self.diffusion.num_timesteps}"
        return rec

    def _uses_graph(self) -> bool:
        return self.cfg.cuda_graph and self.device.type == "cuda" and len(self.ds) % self.cfg.batch_size == 0

    def prepare_graph(self) -> None:
        """Capture the CUDA graph now rather than in the first epoch (motionlab.studies.fidelity captures every
        run's before their threads start)."""
        if self._uses_graph() and self._graph is None:
            _, window, channels = self.ds.raw.shape  # epoch_windows' (N, C, W) layout, without building one
            shape = (self.cfg.batch_size, channels, window)
            self._graph = GraphStep(self.net, self.opt, self.diffusion, self.cfg, shape, self.device)

    def run(self, progress: bool = True) -> dict:
        if self.rank:  # rank 0 holds the folder for all ranks
            return self._run(progress)
        with runlock.held(self.out):
            return self._run(progress)

    def _run(self, progress: bool) -> dict:
        cfg = self.cfg
        from tqdm import tqdm
        n = len(self.ds)
        x = None
        stop = {"flag": False, "by": ""}

        def on_signal(signum, frame):  # finish the epoch, save, stop; a second Ctrl-C interrupts at once
            stop.update(flag=True, by=signal.Signals(signum).name)
            signal.signal(signal.SIGINT, signal.default_int_handler)

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)} if _main_thread() else {}
        self.model.train()
        bar = tqdm(total=cfg.epochs, initial=self.epoch, disable=not progress or self.rank > 0, unit="ep",
                   dynamic_ncols=True, mininterval=1.0)
        mfile = open(self.out / "metrics.jsonl" if self.rank == 0 else os.devnull, "a")
        t_start = time.time()
        try:
            while self.epoch < cfg.epochs and not self._stopping(stop):
                t0 = time.time()
                if x is None or self.data_cfg.jitter or self.data_cfg.mirror:
                    x = self.ds.epoch_windows(self.epoch).to(self.device)
                self.prepare_graph()  # once, when this run captures its steps
                total = self._train_epoch_ddp(x) if self.ddp is not None else self._train_epoch(x, self._graph)
                rec = self._end_epoch(total / n, t0)
                loss = rec["loss"]
                mfile.write(json.dumps(rec) + "\n")
                mfile.flush()
                self.history.append(rec)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", best=f"{self.best_loss:.4f}")
                early = cfg.patience > 0 and self.bad_epochs >= cfg.patience
                if self.epoch % cfg.save_every == 0 or self.epoch == cfg.epochs or early:
                    self.save()
                if early:
                    self.log(f"early stop at epoch {self.epoch}: no improvement > {cfg.min_delta} for {cfg.patience} epochs")
                    break
            if stop["flag"]:
                self.save()
                self.log(f"stopped by {stop['by']} at epoch {self.epoch}; resume with --resume")
        finally:
            mfile.close()
            bar.close()
            for sig, handler in old.items():
                signal.signal(sig, handler)
        return {"epoch": self.epoch, "step": self.step, "best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "seconds": round(time.time() - t_start, 2), "out": str(self.out)}


def diffusion_mismatch(stored: dict, current: dict) -> str:
    """'' when a checkpoint's diffusion config equals the current one, else what differs, key by key.

    A key an older checkpoint lacks counts as the current default, so fields added to DiffusionConfig
    later compare without a format bump.
    """
    def norm(v):  # a stored tuple may come back as a list
        return tuple(norm(x) for x in v) if isinstance(v, (list, tuple)) else v
    stored = {**DiffusionConfig().to_dict(), **stored}
    def show(d, k):
        return repr(d[k]) if k in d else "unset"
    diffs = [f"{k}: {show(stored, k)} in the checkpoint, {show(current, k)} asked"
             for k in sorted(stored.keys() | current.keys()) if norm(stored.get(k)) != norm(current.get(k))]
    return "; ".join(diffs)


# gloo and nccl raise plain RuntimeErrors when a peer goes away; these words tell them from other errors


def _rank_and_world() -> tuple[int, int]:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _clip_ids(records) -> list:
    return [(r.get("frames"), r.get("sha256")) for r in records]


def _line_epoch(line: str) -> int:
    try:
        return int(json.loads(line)["epoch"])
    except Exception:
        return 1 << 60
