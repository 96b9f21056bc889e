"""Judge samples the way a reviewer would: every measure with its 95% interval, against the real data's
own range at the same N (motionlab.pipeline.judging); the spec's protocol and dataset baselines too.

    python -m motionlab.evaluate --checkpoints checkpoints/*/model.pt            # N = 64, each one's faithful sampler
    python -m motionlab.evaluate --checkpoints CK --spec                         # the spec's 8 samples, seed 42, ddpm-400
    python -m motionlab.evaluate --samples DIR --data data/uptown_funk.json     # clips from anywhere, same judge
    python -m motionlab.evaluate --compare CK_A CK_B@dpmpp-20                    # a verdict per measure
    python -m motionlab.evaluate --card runs/cards/long_10000_ddpm-20_n64_s42.json   # rerun a card, check it
    python -m motionlab.evaluate --dataset-only --data data/uptown_funk.json --window 64 --stride 32 --limit 32
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from motionlab.cli import add_sampling_args, run_main, sampling_from_args
from motionlab.core.samplers import SPEC_SAMPLER, SamplerChoice
from motionlab.data.clipset import resolve_clips
from motionlab.data.dataset import MotionSequenceDataset
from motionlab.errors import MotionlabError
from motionlab.evaluation import baselines, catalog
from motionlab.evaluation.intervals import bootstrap
from motionlab.evaluation.measure import Reference
from motionlab.evaluation.card import check_against_card, make_card, read_card, write_card
from motionlab.evaluation.judge import markdown_table
from motionlab.evaluation.markdown import baseline_markdown, checkpoints_markdown
from motionlab.evaluation.novelty import COLUMNS as NOVELTY_COLUMNS
from motionlab.formats.checkpoints import load_model, read_checkpoint
from motionlab.formats.integrity import file_sha256
from motionlab.paths import REPO
from motionlab.pipeline import judging
from motionlab.pipeline.defaults import faithful_default
from motionlab.pipeline.sample_sets import sample_set
from motionlab.pipeline.evaluating import baseline_rows, baseline_windows, checkpoint_windows, evaluate_checkpoint

CARDS = REPO / "runs" / "cards"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m motionlab.evaluate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    what = p.add_argument_group("what to judge (one of)")
    what.add_argument("--checkpoints", nargs="+", default=[])
    what.add_argument("--samples", help="a folder of clip files (motionlab JSON or pose files motionlab.convert reads)")
    what.add_argument("--compare", nargs=2, metavar=("A", "B"),
                      help="two checkpoints (PATH, or PATH@SAMPLER such as CK@dpmpp-20) or two folders of clips")
    what.add_argument("--card", help="an evaluation card to rerun (fresh samples) and check metric by metric")
    what.add_argument("--dataset-only", action="store_true", help="print the dataset baseline row only")
    p.add_argument("--spec", action="store_true",
                   help="the spec's protocol: 8 samples, seed 42, ddpm-400, fp32, the six metrics (docs/RESULTS.md)")
    p.add_argument("--data", nargs="+", default=None,
                   help="clip JSON files, folders or .txt manifests, or 'demo': the real data (default: each "
                        "checkpoint's own clips; for --samples and --dataset-only, data/uptown_funk.json, else demo)")
    p.add_argument("--window", type=int, default=None, help="frames per window (--samples: 256; --dataset-only: 64)")
    p.add_argument("--stride", type=int, default=32, help="--dataset-only")
    p.add_argument("--limit", type=int, default=32, help="--dataset-only")
    p.add_argument("--num-samples", type=int, default=None, help=f"samples per checkpoint (default {judging_n()}; 8 with --spec)")
    p.add_argument("--seed", type=int, default=42)
    add_sampling_args(p, None, precision_default="fp32")
    p.add_argument("--fps", type=float, default=judging.FPS, help="frame rate of the clips (docs/MEASURES.md)")
    p.add_argument("--bpm", type=float, default=judging.BPM, help="the music's tempo for beat alignment; 0 = none")
    p.add_argument("--json", action="store_true", help="one JSON object (README: 'Evaluation JSON')")
    p.add_argument("--cards", default=str(CARDS), help="where each judged checkpoint's evaluation card goes")
    p.add_argument("--no-novelty", action="store_true", help="--spec: leave out novelty and coverage")
    return p


def judging_n() -> int:
    return 64


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    # --card may name the checkpoint's new place with --checkpoints
    modes = [bool(a.checkpoints) and not (a.dataset_only or a.card), bool(a.samples), bool(a.compare), bool(a.card),
             a.dataset_only]
    if sum(modes) != 1:
        raise MotionlabError("give one of --checkpoints, --samples, --compare, --card or --dataset-only")
    bpm = a.bpm or None
    if a.dataset_only:
        return _dataset_only(a)
    if a.spec:
        return _spec(a)
    chosen = sampling_from_args(a)
    n = a.num_samples or judging_n()
    if a.samples:
        doc = judging.judge_folder(a.samples, a.data, a.window or 256, a.fps, bpm)
        return _print([doc], a.json)
    if a.compare:
        return _compare(a, chosen, n, bpm)
    if a.card:
        return _rerun_card(a, bpm)
    for c in a.checkpoints:  # all of them here before minutes of sampling
        if not Path(c).is_file():
            raise MotionlabError(f"{c}: no such checkpoint file")
    docs = []
    for c in a.checkpoints:
        doc = judging.judge_checkpoint(c, n, a.seed, chosen, a.precision, a.threads, a.data, a.fps, bpm,
                                       log=lambda m: print(m, file=sys.stderr))
        card = _write_card(doc, Path(a.cards))
        doc["card"] = str(card.relative_to(REPO)) if card.is_relative_to(REPO) else str(card)
        docs.append(doc)
    return _print(docs, a.json)


def _print(docs: list[dict], as_json: bool) -> int:
    plain = [{k: v for k, v in d.items() if k != "pixels"} for d in docs]
    if as_json:
        print(json.dumps(plain[0] if len(plain) == 1 else {"results": plain}, indent=1))
        return 0
    for d in plain:
        what = d.get("checkpoint") or d.get("samples")
        how = f"{d['sampler']}, seed {d['seed']}, " if "sampler" in d else ""
        print(f"## {d.get('tag') or what}: {how}N = {d['n']} against {d['real']} "
              f"({d['window']} frames, {d['fps']:g} fps)\n\n{markdown_table(d)}\n")
        if d.get("card"):
            print(f"card: {d['card']}\n")
    return 0


def _write_card(doc: dict, folder: Path) -> Path:
    card = make_card(doc, checkpoint=doc["sha256"], sampler=doc["sampler"], steps=doc["steps"], seed=doc["seed"],
                     window=doc["window"], stride=doc["stride"], fps=doc["fps"], bpm=doc["bpm"])
    card.update(checkpoint=doc["checkpoint"], precision=doc["precision"])
    path = folder / f"{doc['tag']}_{doc['sampler'].replace(' ', '_')}_n{doc['n']}_s{doc['seed']}.json"
    write_card(path, card)
    return path


def _rerun_card(a, bpm) -> int:
    card = read_card(a.card)
    path = a.checkpoints[0] if a.checkpoints else card.get("checkpoint")
    if not path or not Path(path).is_file():
        raise MotionlabError(f"{a.card}: its checkpoint {path or '(not named)'} is not here; pass --checkpoints PATH")
    if file_sha256(path) != card["checkpoint_sha256"]:  # before minutes of sampling
        raise MotionlabError(f"{path}: not the checkpoint {a.card} was made with (sha256 differs)")
    choice = SamplerChoice.from_label(card["sampler"], load_model(path).diffusion.num_timesteps)
    doc = judging.judge_checkpoint(path, card["n"], card["seed"], choice, card.get("precision", "fp32"), a.threads,
                                   a.data, card["fps"], card["bpm"], cache=None)
    checks = check_against_card(card, doc)
    if a.json:
        print(json.dumps({"card": a.card, "checks": checks}, indent=1))
    else:
        print("| measure | card interval | new value | inside |\n|---|---:|---:|:-:|")
        for k, c in checks.items():
            iv = c["interval"]
            print(f"| {k} | {_num(iv[0])} – {_num(iv[1])} | {_num(c['value'])} | "
                  f"{'yes' if c['inside'] else 'n/a' if c['inside'] is None else '**no**'} |")
    outside = [k for k, c in checks.items() if c["inside"] is False]
    inside = sum(c["inside"] is True for c in checks.values())
    print(f"{inside} of {len(checks)} measures inside the card's intervals"
          + (f"; outside: {', '.join(outside)}" if outside else "")
          + (f"; {len(checks) - inside - len(outside)} not measurable" if len(checks) - inside - len(outside) else ""),
          file=sys.stderr)
    return 0


def _num(v) -> str:
    return 'n/a' if v is None else f'{v:.4g}'


def _side(spec: str, n: int, seed: int, chosen, a, bpm):
    """(label, pixels, real data or None) of one side of --compare."""
    path, _, label = spec.partition("@")
    if Path(path).is_dir():
        doc = judging.judge_folder(path, a.data, a.window or 256, a.fps, bpm, n_boot=10, draws=10)
        return path, doc["pixels"], None
    lm = load_model(path)
    choice = SamplerChoice.from_label(label, lm.diffusion.num_timesteps) if label else \
        (chosen or faithful_default(path).choice)
    s = sample_set(lm, n, seed, choice, precision=a.precision, threads=a.threads,
                   log=lambda m: print(m, file=sys.stderr))
    return f"{path} ({s.sampler})", s.pixels, judging.real_data_for(lm, a.data, a.fps, bpm)


def _compare(a, chosen, n, bpm) -> int:
    (la, pa, ra), (lb, pb, rb) = (_side(x, n, a.seed, chosen, a, bpm) for x in a.compare)
    real = ra or rb
    if real is None:
        clips, _ = resolve_clips(a.data, min_frames=pa.shape[1], quiet=True)
        real = judging.real_data(clips, clips[0].clip.joints, pa.shape[1], fps=a.fps, bpm=bpm)
    if pa.shape[1:] != pb.shape[1:]:
        raise MotionlabError(f"A and B have different window shapes {pa.shape[1:]} and {pb.shape[1:]}: nothing to compare")
    res = judging.compare_pixels(pa, pb, real)
    if a.json:
        print(json.dumps({"a": la, "b": lb, **res}, indent=1))
        return 0
    print(f"A = {la}, N = {len(pa)}\nB = {lb}, N = {len(pb)}\nagainst {real.name}: distance to the real median at "
          "the same N, as a share of it (0 = a typical real set)\n")
    print("| measure | A | B | A − B (95% interval) | verdict |\n|---|---:|---:|---:|---|")
    for k, r in res["metrics"].items():
        lo, hi = r["interval"]
        print(f"| {k} | {r['distance_a']:.3f} | {r['distance_b']:.3f} | {r['difference']:+.3f} "
              f"({lo:+.3f} – {hi:+.3f}) | {r['verdict']} |")
    return 0


def _spec(a) -> int:
    """The spec's protocol, as RESULTS.md reports it, each row labelled with its 95% intervals."""
    if not a.checkpoints:
        raise MotionlabError("--spec evaluates --checkpoints")
    choice = sampling_from_args(a) or SPEC_SAMPLER
    rows = [evaluate_checkpoint(c, a.num_samples or 8, a.seed, a.precision, choice, a.threads, not a.no_novelty,
                                a.data, keep_pixels=True) for c in a.checkpoints]
    for r in rows:
        if r.get("novelty", {}).get("error"):
            print(f"motionlab.evaluate: note: no novelty for {r['checkpoint']}: {r['novelty']['error']}", file=sys.stderr)
        px = r.pop("pixels")
        ref = Reference(np.zeros((1,) + px.shape[1:]), ())
        r["intervals"] = {k: list(bootstrap(catalog.BY_NAME[k], px, ref).interval) for k in catalog.SPEC}
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(checkpoints_markdown(rows, extra=() if a.no_novelty else NOVELTY_COLUMNS))
    for r in rows:
        print(f"\n95% intervals of {r['tag'] or r['checkpoint']} at N = {r['num_samples']} (bootstrap): " +
              ", ".join(f"{k} {lo:.2f}–{hi:.2f}" for k, (lo, hi) in r["intervals"].items()))
    return 0


def _dataset_only(a) -> int:
    window = a.window or 64
    if a.checkpoints:  # rebuild each checkpoint's own windows from its clips
        rows = []
        for c in a.checkpoints:
            ds = checkpoint_windows(read_checkpoint(c), a.data)
            d = ds.cfg
            rows.append((c, ds, baseline_rows(ds, f"`{c}`", f"{d.window} / {d.stride} / {d.limit}")))
        if a.json:
            print(json.dumps([{"checkpoint": c, **_baseline_json(ds)} for c, ds, _ in rows], indent=1))
        else:
            print(baseline_markdown([r for _, _, rs in rows for r in rs]))
        return 0
    clips, _ = resolve_clips(a.data, min_frames=window)
    ds = baseline_windows(clips, window, a.stride, a.limit)
    if a.json:
        print(json.dumps(_baseline_json(ds)))
    else:
        print(baseline_markdown(baseline_rows(ds, f"dataset_{window}x{a.stride}x{a.limit}",
                                              f"{window} / {a.stride} / {a.limit}")))
    return 0


def _baseline_json(ds: MotionSequenceDataset) -> dict:
    """The pooled metrics; with several clips also per_clip (name, frames, sha256, windows, baseline)."""
    m = baselines.baseline(ds)
    return {**m, "per_clip": baselines.clip_records(ds)} if len(ds.clips) > 1 else m


if __name__ == "__main__":
    sys.exit(run_main("motionlab.evaluate", main))
