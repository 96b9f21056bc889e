"""motionlab.lab.verdicts: judged rows (computed or a release's precomputed set at exactly these settings),
the interval figure (point, interval, the real range as a band, off-scale values at the edge) and tables."""
from __future__ import annotations

import numpy as np
import pytest

from lab_support import lab_tree  # noqa: F401  (fixture)
from motionlab.evaluation.metrics import METRICS
from motionlab.formats.checkpoints import load_model
from motionlab.io import atomic_write_json
from motionlab.lab import catalog, verdicts
from motionlab.pipeline.sample_sets import sample_set
from motionlab.core.samplers import DEFAULT_SAMPLER


@pytest.fixture(scope="module")
def judged(lab_tree):
    e = catalog.describe(lab_tree["run_best"], "runs/tiny_run/best.pt")
    lm = load_model(lab_tree["run_best"])
    px = sample_set(lm, 12, 3, DEFAULT_SAMPLER, cache=None).pixels
    return e, lm, px, verdicts.judge_pixels_row(e, lm, px, "ddpm-10", 12, 3, "fp32")


def test_a_judged_row_has_every_measure_with_its_interval_and_the_real_range(judged):
    e, _, px, row = judged
    assert not row["error"] and row["n"] == 12 and row["weights"] == e.weights and not row["precomputed"]
    ms = row["doc"]["metrics"]
    assert set(METRICS) <= set(ms)
    for k in METRICS:
        assert ms[k]["interval"][0] <= ms[k]["value"] <= ms[k]["interval"][1]
        assert ms[k]["real_range"][0] <= ms[k]["real_median"] <= ms[k]["real_range"][1]
    bad = verdicts.judge_pixels_row(e, judged[1], np.full_like(px, np.nan), "ddpm-10", 12, 3, "fp32")
    assert bad["doc"] is None and "NaN" in bad["error"]


def test_the_figure_draws_points_intervals_bands_and_labels_what_is_off_scale(judged):
    e, _, _, row = judged
    far = {**row, "name": "far", "doc": {"n": 12, "metrics": {k: dict(m) for k, m in row["doc"]["metrics"].items()}}}
    m = far["doc"]["metrics"]["vel_energy"]
    m["value"] = 10 * m["real_median"]
    m["interval"] = [9 * m["real_median"], 11 * m["real_median"]]
    fig = verdicts.interval_figure([row, far], ["vel_energy", "pos_std"])
    points = [t for t in fig["data"] if t.get("error_x")]
    assert len(points) == 4 and all(t["x"][0] <= verdicts.OFF_SCALE for t in points)
    labels = [a["text"] for a in fig["layout"]["annotations"] if a["text"].startswith("→")]
    off = [r["doc"]["metrics"][k]["value"] / r["doc"]["metrics"][k]["real_median"] for r in (row, far)
           for k in ("vel_energy", "pos_std")]
    assert "→ 10×" in labels and len(labels) == sum(v > verdicts.OFF_SCALE for v in off)  # each one off the axis
    bands = [s for s in fig["layout"]["shapes"] if s["type"] == "rect"]
    assert len(bands) == 4 and all(0 <= b["x0"] <= b["x1"] <= verdicts.OFF_SCALE for b in bands)
    df = verdicts.table([row], ["vel_energy"])
    assert list(df["measure"]) == ["vel_energy"] and df["like the data"][0] in ("yes", "no")


def test_a_release_row_is_used_only_at_its_own_settings(judged, tmp_path):
    e, _, _, row = judged
    ck = tmp_path / "rel" / "model.pt"
    ck.parent.mkdir()
    ck.write_bytes(b"")
    entry = type(e)(**{**{f: getattr(e, f) for f in e.__dataclass_fields__}, "path": str(ck)})
    atomic_write_json(ck.with_name("evaluation.json"), {
        "metrics": {k: 1.0 for k in METRICS}, "command": "python -m motionlab.report ...",
        "judged": {"sampler": "ddpm-10", "n": 12, "seed": 3, "precision": "fp32", "machine": {"cpu_capability": "X"},
                   "metrics": row["doc"]["metrics"]}})
    pre = verdicts.precomputed(entry, "ddpm-10", 12, 3, "fp32")
    assert pre["precomputed"] and pre["doc"]["metrics"] == row["doc"]["metrics"] and "X" in pre["provenance"]
    assert pre["command"] == "python -m motionlab.report ..."
    for other in (("ddpm-20", 12, 3, "fp32"), ("ddpm-10", 64, 3, "fp32"), ("ddpm-10", 12, 4, "fp32"),
                  ("ddpm-10", 12, 3, "auto")):
        assert verdicts.precomputed(entry, *other) is None
