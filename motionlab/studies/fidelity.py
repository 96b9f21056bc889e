"""docs/FIDELITY.md: which training changes bring samples within 10% of the dataset baseline.

    python -m motionlab.fidelity run --device cuda --out runs/fidelity --json docs/FIDELITY.json
    python -m motionlab.fidelity report --json docs/FIDELITY.json --out docs/FIDELITY.md

`run` trains the spec's plain recipe (256/5/1024, seed 42) and one change at a time against it
(phase 1), then the combination of the changes that helped, with a second seed (phase 2); every
run gets the same epoch budget. All runs of a phase train at once, one thread each, on one device:
on a GPU their CUDA-graph steps then overlap. Every run keeps an EMA of its weights (decay 0.999)
as a read-out: the EMA does not touch the training trajectory, so a run's raw weights are its recipe
without EMA and its EMA weights the same recipe with it. Each run's final weights are evaluated by
the spec's protocol (ddpm-400, 8 samples, seed 42, fp32) with novelty and coverage.

A change "helped" when it lowered the fidelity score, the mean over the six metrics of
|value / baseline - 1|, below the plain recipe's. `report` writes the markdown and chart from the
JSON, so the document can be rebuilt without a GPU; prose lives in docs/FIDELITY_NOTES.md.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from motionlab import settings
from motionlab.core.samplers import SPEC_SAMPLER, SamplerChoice
from motionlab.data.clipset import resolve_clip
from motionlab.formats.checkpoints import load_model
from motionlab.pipeline.evaluating import novelty_columns
from motionlab.pipeline.sampling import sample_checkpoint
from motionlab.studies.fidelity_report import score, write_report
from motionlab.pipeline import train_args
from motionlab.pipeline.training import Trainer
from motionlab.errors import MotionlabError, one_line
from motionlab.io import atomic_write_json
from motionlab.evaluation.metrics import sample_metrics

# the spec's 256/5/1024 recipe (checkpoints/long_1000/CARD.md) less seed, epochs and device
# the spec's 256/5/1024 recipe, spelled out so a change of a library default cannot move the study
RECIPE = tuple(settings.argv(window=256, stride=5, limit=1024, batch_size=16, lr=2e-4, timesteps=400,
                             beta_start=1e-4, beta_end=0.02, patience=0))
EMA_READOUT = 0.999  # 8000 steps at 1000 epochs: the initial weights' share is 0.999**8000 = 3e-4
CHANGES = {  # name: (train flags, what it is)
    "jitter": (tuple(settings.argv(jitter=True)), "window jitter (random offsets each epoch)"),
    "cosine": (tuple(settings.argv(schedule="cosine")), "cosine noise schedule (Nichol & Dhariwal 2021)"),
    "zsnr_v": (tuple(settings.argv(schedule="linear_zero_snr", prediction="v")),
               "linear schedule rescaled to zero terminal SNR, v-prediction (Lin et al. 2024)"),
    "vel": (tuple(settings.argv(vel_weight=1.0)), "velocity-weighted loss (weight 1.0)"),
}
EXCLUSIVE = (("cosine", "zsnr_v"),)  # both set the schedule: a combination takes the better one
SEED, SEED2 = 42, 43
MORE_SEEDS = (44, 45)  # phase 2 trains as many runs as phase 1, so it takes no longer: spread for free
TARGET = 0.10


@dataclass(frozen=True)
class RunSpec:
    changes: tuple = ()
    seed: int = SEED

    @property
    def name(self) -> str:
        return f"{'+'.join(self.changes) or 'plain'}_s{self.seed}"

    def argv(self, data: str, epochs: int, device: str, out: Path, cuda_graph: bool, monitor_every: int,
             recipe=RECIPE) -> list:
        flags = [f for c in self.changes for f in CHANGES[c][0]]
        return ["--data", data, *recipe, "--seed", str(self.seed), "--epochs", str(epochs), *flags,
                "--ema-decay", str(EMA_READOUT), "--device", device, *(["--cuda-graph"] if cuda_graph else []),
                "--monitor-every", str(monitor_every), "--monitor-sampler", "ddpm", "--monitor-steps", "20",
                "--save-every", str(max(epochs, 1)), "--tag", self.name, "--out", str(out / self.name), "--no-progress"]


def phase1_runs() -> list[RunSpec]:
    return [RunSpec(), *(RunSpec((c,)) for c in CHANGES), RunSpec((), SEED2)]


def phase1_arms() -> list[tuple[str, str, str]]:
    """(arm, run name, weights) rows of the one-change-at-a-time table."""
    return [("plain", RunSpec().name, "raw"), ("ema", RunSpec().name, "ema"),
            *((c, RunSpec((c,)).name, "raw") for c in CHANGES), ("plain (seed 43)", RunSpec((), SEED2).name, "raw")]


def combination(rows: dict) -> tuple[tuple, str, list]:
    """(training changes, weights, helped) from phase 1's evaluated rows {arm: row}."""
    base = rows["plain"]["score"]
    helped = [a for a in ("ema", *CHANGES) if a in rows and rows[a]["score"] < base]
    chosen = [c for c in CHANGES if c in helped]
    for group in EXCLUSIVE:
        inside = [c for c in chosen if c in group]
        for c in sorted(inside, key=lambda c: rows[c]["score"])[1:]:
            chosen.remove(c)
    return tuple(chosen), "ema" if "ema" in helped else "raw", helped


# -- training ----------------------------------------------------------------------------------

class _Runner(threading.Thread):
    def __init__(self, trainer, stream):
        super().__init__(daemon=True)
        self.trainer, self.stream, self.error, self.summary = trainer, stream, None, None

    def run(self):
        try:
            if self.stream is None:
                self.summary = self.trainer.run(progress=False)
            else:
                with torch.cuda.stream(self.stream):
                    self.summary = self.trainer.run(progress=False)
                self.stream.synchronize()
        except BaseException as e:  # reported by the caller, with the run's name
            self.error = e


def _planned_epochs(agg_rate: float, done: int, runs_now: int, seconds_left: float, max_epochs: int,
                    step: int = 50) -> int:
    """The largest common epoch budget (a multiple of `step`) that ends this phase and the next in time.
    agg_rate: epochs per second summed over the runs now training; the next phase trains at most as many
    runs, each no slower than now, so it takes at most as long as this phase."""
    e = (seconds_left * agg_rate + done) / (2 * runs_now)
    return int(max(step, min(max_epochs, step * math.floor(e / step))))


def _stop_after_epoch(trainers) -> None:
    for t in trainers:  # Trainer.run reads cfg.epochs before each epoch
        t.cfg.epochs = min(t.cfg.epochs, t.epoch + 1)


def train_together(specs, make_trainer, *, log=print, plan=None, deadline: float | None = None) -> dict:
    """Train runs side by side, one thread each. plan(agg_rate, done) -> epochs may lower the common
    budget once the rate is known; past `deadline` (time.time()) every run stops after its epoch."""
    trainers = [make_trainer(s) for s in specs]  # built in turn: initialization draws from torch's global RNG
    asked = {id(t): t.cfg.epochs for t in trainers}
    cuda = trainers[0].device.type == "cuda"
    runners = [_Runner(t, torch.cuda.Stream(t.device) if cuda else None) for t in trainers]
    t0 = time.time()
    for r in runners:  # one capture at a time, before any thread trains
        if r.stream is not None:
            with torch.cuda.stream(r.stream):
                r.trainer.prepare_graph()
            r.stream.synchronize()
    if cuda:
        log(f"{len(runners)} runs ready in {time.time() - t0:.1f} s")
    for r in runners:
        r.start()
    mark = None
    planned = None
    while any(r.is_alive() for r in runners):
        time.sleep(0.5)
        if any(r.error for r in runners):  # the others stop after their epoch, so the failure shows now
            _stop_after_epoch(trainers)
            break
        now, ep = time.time(), [t.epoch for t in trainers]
        if plan is not None and planned is None:
            if mark is None and min(ep) >= 3:  # past graph capture and cuDNN tuning
                mark = (now, sum(ep))
            elif mark is not None and now - mark[0] >= 20:
                rate = (sum(ep) - mark[1]) / (now - mark[0])
                planned = max(plan(rate, sum(ep)), max(ep) + 1)
                for t in trainers:
                    t.cfg.epochs = asked[id(t)] = planned
                log(f"rate {rate:.2f} epochs/s over {len(trainers)} runs: budget {planned} epochs each")
        if deadline is not None and now > deadline:
            _stop_after_epoch(trainers)
    for r in runners:
        r.join()
    if deadline is not None and time.time() > deadline:
        for t in trainers:  # a run cut short may have ended without its final save
            t.save()
    bad = [(s.name, r.error) for s, r in zip(specs, runners) if r.error]
    if bad:
        raise MotionlabError("; ".join(f"{n}: {type(e).__name__}: {one_line(e, 200)}" for n, e in bad))
    wall = time.time() - t0
    out = {}
    for s, t in zip(specs, trainers):
        out[s.name] = {"changes": list(s.changes), "seed": s.seed, "epochs": t.epoch, "epochs_asked": asked[id(t)],
                       "seconds": round(wall, 1), "together": len(specs), "final_loss": t.history[-1]["loss"],
                       "last": str(t.out / "last.pt"),
                       "monitor": [{"epoch": h["epoch"], **h["sample_metrics"]} for h in t.history
                                   if "sample_metrics" in h and "nonfinite" not in h["sample_metrics"]]}
    return out


# -- evaluation --------------------------------------------------------------------------------

def evaluate_run(path, weights: str, device: str, data: str | None, num_samples: int = 8, seed: int = 42) -> dict:
    """The spec's protocol on one run's final weights, plus novelty and the lab's ddpm-20 for reference."""
    lm = load_model(path, device=device, weights=weights)
    row = {"weights": lm.weights, "epoch": lm.checkpoint.epoch, "baseline": lm.checkpoint.baseline}
    for key, choice in (("metrics", SPEC_SAMPLER), ("ddpm20", SamplerChoice("ddpm", 20))):
        run = sample_checkpoint(lm, num_samples, seed, sampler=choice, precision="fp32", device=device)
        row[key] = sample_metrics(run.pixels)
        if row[key] is not None and key == "metrics":
            row["novelty"] = novelty_columns(lm, run.pixels, data)
            row["sampler"], row["sampling_seconds"] = run.sampler, round(run.seconds, 2)
    if row["metrics"] is None:
        row["score"] = row["worst"] = math.inf
    else:
        row["score"], row["worst"] = score(row["metrics"], row["baseline"])
    return row


def _row(doc: dict, arm: str, run: str, phase: int, weights: str, device: str, data, log) -> dict:
    """One table row: `run`'s final weights evaluated in full fp32 (TF32 off, as on the CPU; a Trainer
    built afterwards turns it back on for training), logged."""
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    row = {"arm": arm, "run": run, "phase": phase, **evaluate_run(doc["runs"][run]["last"], weights, device, data)}
    log(f"{arm}: score {row['score']:.3f} (worst {row['worst']:.3f})")
    return row


def machine() -> dict:
    m = {"torch": torch.__version__}
    if torch.cuda.is_available():
        m["gpu"] = torch.cuda.get_device_name()
    else:
        m["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return m


def _trainers(data, epochs, device, out, cuda_graph, monitor_every, recipe, argvs: dict, log):
    """RunSpec -> Trainer, built from the same flags `python -m motionlab.train` takes (kept in argvs)."""
    def make(spec: RunSpec):
        argv = spec.argv(data, epochs, device, out, cuda_graph, monitor_every, recipe)
        argvs[spec.name] = argv
        d, m, df, t = train_args.configs_from_args(train_args.build_parser().parse_args(argv))
        return Trainer(d, m, df, t, Path(argv[argv.index("--out") + 1]), log=log)
    return make


def study(data: str, out: Path, device: str, max_epochs: int, budget_s: float, cuda_graph: bool,
          monitor_every: int, log=print, on_phase=None, recipe=RECIPE) -> dict:
    """Both phases; on_phase(doc) is called with the document after each (to save what is done)."""
    start = time.time()
    deadline = start + budget_s if budget_s else None
    argvs = {}

    def make(epochs):
        return _trainers(data, epochs, device, out, cuda_graph, monitor_every, recipe, argvs, log)

    doc = {"recipe": list(recipe), "max_epochs": max_epochs, "ema_readout": EMA_READOUT, "machine": machine(),
           "device": device, "cuda_graph": cuda_graph, "target": TARGET, "runs": {}, "rows": []}
    p1 = phase1_runs()
    plan = None
    if deadline is not None:
        def plan(rate, done):  # leave a minute for each phase's evaluation
            return _planned_epochs(rate, done, len(p1), deadline - time.time() - 120, max_epochs)
    log(f"phase 1: {', '.join(s.name for s in p1)}")
    doc["runs"].update(train_together(p1, make(max_epochs), log=log, plan=plan, deadline=deadline))
    epochs = doc["runs"][p1[0].name]["epochs"]
    doc["epochs"] = epochs
    extra = [(f"{r} (EMA)", r, "ema") for r in doc["runs"] if r != RunSpec().name]  # every other run's EMA
    rows = {arm: _row(doc, arm, run, 1, weights, device, data, log) for arm, run, weights in [*phase1_arms(), *extra]}
    changes, weights, helped = combination(rows)
    doc.update(helped=helped, combination={"changes": list(changes), "weights": weights})
    doc["rows"] = list(rows.values())
    doc["argv"] = argvs
    if on_phase:
        on_phase(doc)
    p2 = [RunSpec(changes, s) for s in (SEED, SEED2, *MORE_SEEDS)] + [RunSpec((), s) for s in MORE_SEEDS]
    p2 = [s for s in dict.fromkeys(p2) if s.name not in doc["runs"]]
    if p2:
        log(f"phase 2: {', '.join(s.name for s in p2)}")
        try:
            doc["runs"].update(train_together(p2, make(epochs), log=log, deadline=deadline))
        except MotionlabError as e:  # phase 1 still stands, and the release comes from it
            doc["phase2_error"] = str(e)
            log(f"phase 2 failed: {e}")
    seeded = [(RunSpec(changes, s), "best combination" + (f" (seed {s})" if s != SEED else ""))
              for s in (SEED, SEED2, *MORE_SEEDS)] + [(RunSpec((), s), f"plain (seed {s})") for s in MORE_SEEDS]
    for spec, label in seeded:
        if spec.name not in doc["runs"] or label in rows:
            continue
        primary = weights if label.startswith("best") else "raw"
        for w in (primary, "ema" if primary == "raw" else "raw"):
            arm = label if w == primary else f"{label} [{w}]"
            rows[arm] = _row(doc, arm, spec.name, 2 if spec in p2 else 1, w, device, data, log)
    doc["rows"] = list(rows.values())
    doc["argv"] = argvs
    # the release: the closest to the data among the seed-42 runs (a second seed is for the spread only)
    cands = [r for r in doc["rows"] if doc["runs"][r["run"]]["seed"] == SEED]
    best = min(cands, key=lambda r: r["score"])
    doc["shipped"] = {"arm": best["arm"], "run": best["run"], "weights": best["weights"],
                      "command": "python -m motionlab.train " + shlex.join(argvs[best["run"]])}
    doc["seconds"] = round(time.time() - start, 1)
    if on_phase:
        on_phase(doc)
    return doc


def confirm(data: str, out: Path, device: str, specs: list, epochs: int, budget_s: float, cuda_graph: bool,
            monitor_every: int, log=print, recipe=RECIPE) -> dict:
    """Chosen recipes at a fixed budget (no planning), raw and EMA weights of each evaluated: does the
    study's answer hold at another epoch count?"""
    start = time.time()
    argvs = {}
    trainer = _trainers(data, epochs, device, out, cuda_graph, monitor_every, recipe, argvs, log)

    doc = {"recipe": list(recipe), "epochs": epochs, "ema_readout": EMA_READOUT, "machine": machine(),
           "device": device, "cuda_graph": cuda_graph, "target": TARGET}
    log(f"confirm: {', '.join(s.name for s in specs)} at {epochs} epochs")
    doc["runs"] = train_together(specs, trainer, log=log, deadline=start + budget_s if budget_s else None)
    doc["rows"] = [_row(doc, f"{spec.name} [{w}]", spec.name, 0, w, device, data, log)
                   for spec in specs for w in ("raw", "ema")]
    doc["argv"], doc["seconds"] = argvs, round(time.time() - start, 1)
    return doc


def parse_recipe(text: str) -> tuple:
    """'plain' or changes joined by '+' ('jitter+zsnr_v+vel') -> the changes, in CHANGES order."""
    parts = () if text == "plain" else tuple(text.split("+"))
    bad = [c for c in parts if c not in CHANGES]
    if bad or not text:
        raise MotionlabError(f"unknown change {bad[0] if bad else text!r}: use 'plain' or some of "
                             f"{', '.join(CHANGES)} joined by '+'")
    return tuple(c for c in CHANGES if c in parts)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m motionlab.fidelity", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for name, helptext, out, js, recipes in (
            ("run", "train and evaluate every arm, write the JSON", "runs/fidelity", "docs/FIDELITY.json", False),
            ("confirm", "train chosen recipes at a fixed budget with several seeds, evaluate them",
             "runs/fidelity_confirm", "docs/FIDELITY_1000.json", True)):
        r = sub.add_parser(name, help=helptext)
        if recipes:
            r.add_argument("--recipes", nargs="+", default=["plain", "jitter+zsnr_v+vel"])
            r.add_argument("--seeds", default="42,43")
        r.add_argument("--data", default="data/uptown_funk.json")
        r.add_argument("--out", default=out, help="folder for the runs")
        r.add_argument("--json", default=js)
        r.add_argument("--device", default=device)
        r.add_argument("--epochs", type=int, default=1000, help="the common epoch budget (run: its ceiling with "
                                                                 "--budget-seconds)")
        r.add_argument("--budget-seconds", type=float, default=0,
                       help="run: lower the common budget (multiples of 50) so both phases end in this time; "
                            "confirm: stop every run after its epoch past this; 0 = off")
        r.add_argument("--no-cuda-graph", action="store_true")
        r.add_argument("--monitor-every", type=int, default=100)
    g = sub.add_parser("report", help="docs/FIDELITY.md and its chart from the JSON")
    g.add_argument("--json", default="docs/FIDELITY.json")
    g.add_argument("--out", default="docs/FIDELITY.md")
    g.add_argument("--notes", default="docs/FIDELITY_NOTES.md")
    g.add_argument("--confirm", default="docs/FIDELITY_1000.json", help="`confirm`'s JSON, shown when it exists")
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    log = lambda s: print(s, flush=True)  # noqa: E731
    if a.cmd == "report":
        extra = Path(a.confirm)
        print(write_report(json.loads(Path(a.json).read_text()), Path(a.out), Path(a.notes), a.json,
                           json.loads(extra.read_text()) if extra.is_file() else None, a.confirm))
        return 0
    resolve_clip(a.data, quiet=True)  # a missing or malformed clip fails here, in one line
    graph = not a.no_cuda_graph and a.device.startswith("cuda")
    if a.cmd == "confirm":
        try:
            seeds = [int(v) for v in a.seeds.split(",")]
        except ValueError:
            raise MotionlabError(f"--seeds must be integers joined by commas, got {a.seeds!r}") from None
        specs = list(dict.fromkeys(RunSpec(parse_recipe(r), s) for r in a.recipes for s in seeds))
        atomic_write_json(a.json, confirm(a.data, Path(a.out), a.device, specs, a.epochs, a.budget_seconds, graph,
                                          a.monitor_every, log=log))
        print(a.json)
        return 0
    t0 = time.time()
    try:
        study(a.data, Path(a.out), a.device, a.epochs, a.budget_seconds, graph, a.monitor_every,
              log=log, on_phase=lambda d: atomic_write_json(a.json, d))
    except MotionlabError as e:
        if not graph or time.time() - t0 > 120:
            raise
        # threads capturing CUDA graphs at once are the untried part: train eagerly instead
        log(f"with CUDA graphs: {e}; again without them")
        budget = a.budget_seconds and a.budget_seconds - (time.time() - t0)
        study(a.data, Path(a.out) / "eager", a.device, a.epochs, budget, False, a.monitor_every,
              log=log, on_phase=lambda d: atomic_write_json(a.json, d))
    print(a.json)
    return 0
