"""A sample set judged against the real data at the same N: every measure with its bootstrap interval
and the range random sets of N real windows score (motionlab.evaluation.intervals).

    pool_ref = Reference(real_pool(clip, window), clip.joints, fps, bpm)
    results = judge_set(samples, ref, pool_ref, baseline=dataset_baseline(...))
    atomic_write_json(path, results_doc(results)); print(markdown_table(results_doc(results)))

`ref` is the Reference the spec judges against (the training windows); real sets are judged against it
too. With held_out, measures that read the reference's windows are judged against the pool's held-out
half instead, as their real range is (intervals' docstring), and say so with "reference": "held_out"
(their value against `ref` stays in "value_given_ref").
"""
from __future__ import annotations

import math

import numpy as np

from motionlab.evaluation import catalog
from motionlab.evaluation.intervals import (
    bootstrap,
    held_out_reference,
    reads_windows,
    real_range,
)
from motionlab.evaluation.measure import Measure, Reference

BAND = (0.9, 1.1)   # the spec's "within ±10% of the dataset baseline", kept for continuity
SIG = 4             # significant digits in JSON and tables: intervals at N <= 256 are wider than 0.1%


def _overlap(a, b) -> bool:
    return bool(a[0] <= b[1] and b[0] <= a[1])     # False when any end is NaN


def _judged(m: Measure, ref: Reference, pool_ref: Reference, n: int, draws: int, level: float, seed, held_out):
    hold = (None if held_out is True else False) if isinstance(held_out, bool) else m.name in held_out
    rr = real_range(m, pool_ref, n, draws, level, seed, hold, ref)
    return rr, (held_out_reference(pool_ref) if rr.held_out else ref)


def judge_set(clips, ref: Reference, pool_ref: Reference, measures=catalog.ALL, n_boot: int = 1000,
              draws: int = 300, seed=0, baseline: dict | None = None, level: float = 0.95,
              held_out=False) -> dict[str, dict]:
    """{measure name: result} in the order of `measures`, plain floats (results_doc rounds them).

    A result: value, interval [lo, hi] (bootstrap), real_range [lo, hi] and real_median (random sets of
    n real windows), n, like_data (the interval overlaps the real range), reference ("given": value and
    range judged against `ref`; "held_out": against the pool's held-out half), reads_reference (the
    measure compares with the reference's windows, so a "given" real range is in-sample: the bar of the
    training windows themselves, intervals' docstring). With `baseline` (the spec's dataset baseline
    dict) a measure it names also gets ratio_to_baseline and within_10pct (the spec's band 0.9–1.1).
    held_out: False (default), True (every measure that reads the windows) or the names to hold out.
    """
    clips = np.asarray(clips, np.float64)
    n = len(clips)
    out = {}
    for m in measures:
        rr, jref = _judged(m, ref, pool_ref, n, draws, level, seed, held_out)
        est = bootstrap(m, clips, jref, n_boot, level, seed)
        r = {"value": est.value, "interval": list(est.interval), "real_range": list(rr.range),
             "real_median": rr.median, "n": n, "like_data": _overlap(est.interval, rr.range),
             "reference": "held_out" if rr.held_out else "given", "reads_reference": reads_windows(m, pool_ref)}
        if rr.held_out:
            r["value_given_ref"] = m(clips, ref)
        if baseline is not None and m.name in baseline and baseline[m.name]:
            ratio = est.value / float(baseline[m.name])
            r["ratio_to_baseline"] = ratio
            r["within_10pct"] = bool(BAND[0] <= ratio <= BAND[1])
        out[m.name] = r
    return out


def distance_to_data(value, median: float, real: tuple[float, float]):
    """|value − real median| / scale, scale = max(|real median|, width of the real range).

    One definition for every kind of measure: a descriptive statistic, a distance like fid_k (lower is
    better, but real sets have a floor > 0) and a rate like precision both are "like the data" when they
    score what a typical real set of the same N scores, so the distance is two-sided around the real
    median, not around 0 or 1: a value below the real FID floor (memorized windows) is unlike the data too.
    Relative to the median it reads as "x% off the data" whatever the unit; the range width takes over
    where the real median is nearer 0 than the real spread (a rate real data almost never shows)."""
    scale = max(abs(median), real[1] - real[0])
    dev = np.abs(np.asarray(value, np.float64) - median)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = dev / scale if scale > 0 else np.where(dev == 0, 0.0, np.inf)
    return float(d) if np.ndim(d) == 0 else d


def compare(clips_a, clips_b, ref: Reference, pool_ref: Reference, measures=catalog.ALL, n_boot: int = 1000,
            draws: int = 300, seed=0, level: float = 0.95, held_out=False) -> dict[str, dict]:
    """{measure name: {distance_a, distance_b, difference (a − b), interval, verdict}}.

    A and B are resampled independently (seeds [seed, 0] and [seed, 1]); each is measured against the
    real median and range at its own N; the interval is the percentile interval of the resampled
    difference of distances. verdict: "A closer to the data" (interval below 0), "B closer to the data"
    (above 0), "no measurable difference at this N" (it contains 0), or "not measurable (no finite
    value)" (e.g. tempo of clips too short for one). held_out: as in judge_set.
    """
    a, b = np.asarray(clips_a, np.float64), np.asarray(clips_b, np.float64)
    out = {}
    for m in measures:
        ds, vs = [], []
        for k, x in enumerate((a, b)):
            rr, jref = _judged(m, ref, pool_ref, len(x), draws, level, seed, held_out)
            est = bootstrap(m, x, jref, n_boot, level, [seed, k])
            ds.append(distance_to_data(est.value, rr.median, rr.range))
            vs.append(distance_to_data(est.resamples, rr.median, rr.range))
        diff = vs[0] - vs[1]
        diff = diff[np.isfinite(diff)]
        tail = 100 * (1 - level) / 2
        lo, hi = (np.percentile(diff, [tail, 100 - tail]) if len(diff) else (math.nan, math.nan))
        verdict = ("A closer to the data" if hi < 0 else "B closer to the data" if lo > 0
                   else "no measurable difference at this N" if lo <= 0 <= hi
                   else "not measurable (no finite value)")
        out[m.name] = {"distance_a": ds[0], "distance_b": ds[1], "difference": ds[0] - ds[1],
                       "interval": [float(lo), float(hi)], "verdict": verdict}
    return out


def _num(x, how: str = "near"):
    """A JSON number at SIG significant digits, rounded to nearest, "down" or "up"; None for NaN/inf (JSON
    has neither)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if not isinstance(x, (float, np.floating)):
        return x
    if not math.isfinite(x):
        return None
    if how == "near" or x == 0:
        return float(f"{x:.{SIG}g}")
    scale = 10.0 ** (SIG - 1 - math.floor(math.log10(abs(x))))
    r = (math.floor if how == "down" else math.ceil)(x * scale) / scale
    return float(f"{r:.{SIG + 2}g}")


def _field(key: str, v):
    if isinstance(v, (list, tuple, np.ndarray)):
        # interval ends round outward, so a value inside stays inside (check_against_card reads them)
        return [_num(v[0], "down"), _num(v[1], "up")] if key in ("interval", "real_range") else [_num(a) for a in v]
    return _num(v)


def results_doc(results: dict[str, dict]) -> dict:
    """The JSON-ready record of a judged set: {"n": 64, "metrics": {name: {"value": 58.8, "interval":
    [55.1, 62.4], "real_range": [57.9, 71.6], ...}}}, numbers at SIG significant digits (range ends
    rounded outward), plain types."""
    ns = {r["n"] for r in results.values()}
    if len(ns) > 1:
        raise ValueError(f"results of different set sizes {sorted(ns)}")
    return {"n": int(ns.pop()) if ns else 0,
            "metrics": {name: {k: _field(k, v) for k, v in r.items() if k != "n"} for name, r in results.items()}}


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.{SIG}g}"


def _span(iv) -> str:
    return "–" if iv is None or None in iv else f"{_fmt(iv[0])}–{_fmt(iv[1])}"


def markdown_table(doc: dict) -> str:
    """One row per measure of a results_doc: value, interval, real range at its N, like the data, and the
    ratio to the spec's baseline where there is one."""
    lines = [f"| measure | value | 95% interval | real range (N = {doc['n']}) | like the data | / baseline |",
             "|---|---:|---:|---:|:-:|---:|"]
    for name, r in doc["metrics"].items():
        ratio = r.get("ratio_to_baseline")
        band = "" if ratio is None else f"{ratio:.2f}" + ("" if r.get("within_10pct") else " ✗")
        kind = ("held out " if r.get("reference") == "held_out" else
                "in-sample " if r.get("reads_reference") else "")   # how the range was judged (intervals)
        finite = r["value"] is not None and math.isfinite(r["value"])
        like = ("yes" if r["like_data"] else "**no**") if finite else "n/a"
        lines.append(f"| {name} | {_fmt(r['value'])} | {_span(r['interval'])} | {kind}{_span(r['real_range'])} "
                     f"| {like} | {band} |")
    return "\n".join(lines)


def markdown_header(names) -> str:
    return "| set | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names)


def markdown_row(label: str, doc: dict, names=catalog.SPEC) -> str:
    """One row of a table of sets (header: markdown_header(names)): 'value [lo–hi]' per measure, in bold
    when the interval misses the real range."""
    cells = []
    for name in names:
        r = doc["metrics"].get(name)
        if r is None:
            cells.append("–")
            continue
        cell = f"{_fmt(r['value'])} [{_span(r['interval'])}]"
        cells.append(cell if r["like_data"] else f"**{cell}**")
    return f"| {label} (N = {doc['n']}) | " + " | ".join(cells) + " |"
