"""The sampler study: candidates within the evaluation budget, the pick rule, and sampler.json read back
as the checkpoint's default (motionlab.studies.sampler_study, motionlab.pipeline.defaults)."""
import json
import shutil

import numpy as np
import pytest

from motionlab.core.samplers import REGISTRY, DEFAULT_SAMPLER, SamplerChoice
from motionlab.formats.checkpoints import load_model
from motionlab.formats.integrity import file_sha256
from motionlab.pipeline import defaults
from motionlab.studies import sampler_study as st


@pytest.fixture
def ck(tiny_checkpoint, tmp_path):
    dst = tmp_path / "rel" / "model.pt"
    dst.parent.mkdir()
    shutil.copy(tiny_checkpoint, dst)
    return dst


def test_candidates_cover_the_registry_within_the_budget(ck):
    lm = load_model(ck)
    cands = st.candidates(lm, steps=(3, 5, 8), budget=9)
    assert {c.name for c, _ in cands} == set(REGISTRY)                     # every registered sampler
    assert all(evals <= 9 for _, evals in cands)
    edm = {c.label(10): e for c, e in cands if c.name == "edm"}
    assert edm["edm-3"] == 5 and "edm-5" in edm and "edm-8" not in edm     # Heun: 2 x steps - 1 evaluations
    assert any(c.params == (("eta", 1.0),) for c, _ in cands)              # each class's study settings


def test_the_pick_is_the_fastest_inside_or_the_closest_with_its_misses():
    interval = {k: (9.0, 11.0, 10.0) for k in st.SPEC}
    inside = {k: 10.5 for k in st.SPEC}
    fast_miss = {**inside, "vel_energy": 12.0}
    rows = [st._judge_row(DEFAULT_SAMPLER, 20, inside, interval, 400),
            st._judge_row(DEFAULT_SAMPLER, 10, fast_miss, interval, 400)]
    assert rows[0]["inside"] and not rows[1]["inside"]
    assert rows[1]["misses"] == {"vel_energy": pytest.approx(100 * (12 - 11) / 11, abs=0.1)}
    assert defaults.pick_row(rows) is rows[0]                              # inside beats faster
    near = {**inside, "vel_energy": 11.5}
    closer = st._judge_row(DEFAULT_SAMPLER, 30, near, interval, 400)
    assert defaults.pick_row([rows[1], closer]) is closer                  # none inside: the smallest miss


def test_editing_gets_the_closest_setting_it_can_resample(ck):
    """A pick with churn cannot be rewound by RePaint: the Edit page and CLI get the same rule's choice among
    the settings that can, said in the caption; sampling keeps the pick."""
    interval = {k: (9.0, 11.0, 10.0) for k in st.SPEC}
    churn, plain = SamplerChoice.of("edm", 5, s_churn=5.0), SamplerChoice.of("ddim", 5)
    rows = [st._judge_row(churn, 9, {k: 10.0 for k in st.SPEC}, interval, 10),
            st._judge_row(plain, 5, {**{k: 10.0 for k in st.SPEC}, "pos_std": 12.0}, interval, 10),
            st._judge_row(SamplerChoice.of("dpmpp", 3), 3, {**{k: 10.0 for k in st.SPEC}, "pos_std": 13.0}, interval, 10)]
    doc = {"checkpoint_sha256": file_sha256(ck), "timesteps": 10, "n": 8, "rows": rows,
           "choice": {"sampler": churn.label(10), "evaluations": 9, "misses": []}}
    defaults.defaults_path(ck).write_text(json.dumps(doc))
    assert defaults.faithful_default(ck).choice == churn
    d = defaults.faithful_default(ck, rewindable=True)
    assert d.choice == plain and d.source == "study" and "edm-5 s_churn 5 cannot" in d.why and "pos_std" in d.why
    assert defaults.faithful_default(ck, rewindable=True) is d                # cached per flag


def test_a_study_writes_the_default_the_tools_then_use(ck, tmp_path, monkeypatch):
    monkeypatch.setattr(st, "STEPS", (3, 5))
    monkeypatch.setattr("motionlab.pipeline.sample_sets.CACHE", tmp_path / "cache")
    s = st.study(str(ck), n=8, seed=1, threads=1, steps=(3, 5), log=lambda m: None)
    assert s["n"] == 8 and s["reference"]["sampler"] == "ddpm-10"
    assert all(np.isfinite(list(r["values"].values())).all() for r in s["rows"])
    picked = s["choice"]["sampler"]
    assert picked in {r["sampler"] for r in s["rows"]}
    passing = [r for r in s["rows"] if r["inside"]]
    if passing:  # the fastest passing one, else the closest (the rule in the module docstring)
        assert s["choice"]["evaluations"] == min(r["evaluations"] for r in passing) and not s["choice"]["misses"]
    else:
        assert s["choice"]["misses"]
    assert defaults.faithful_default(ck).source == "fallback"              # nothing written yet
    st.write_defaults(s, "cmd")
    d = defaults.faithful_default(ck)
    assert d.source == "study" and d.choice.label(10) == picked and "sampler study's pick" in d.why
    ck.write_bytes(ck.read_bytes() + b"\0")                                # other weights: not theirs
    assert defaults.faithful_default(ck).source == "fallback"
    doc = st.build([s], "cmd", "chart.png", "", {"cpu_capability": "X", "torch": "Y"})
    assert f"Pick: **{picked}**" in doc and "points of the dataset baseline" in doc
    out = tmp_path / "SAMPLERS.md"
    st.chart([s], out.with_name("samplers_chart.png"))
    assert out.with_name("samplers_chart.png").read_bytes()[:4] == b"\x89PNG"
    json.dumps(s)                                                          # the JSON the doc is rebuilt from


def test_confirming_a_pick_at_a_larger_n_uses_the_same_samples_and_rule(ck, tmp_path, monkeypatch):
    monkeypatch.setattr("motionlab.pipeline.sample_sets.CACHE", tmp_path / "cache")
    s = st.study(str(ck), n=8, seed=1, threads=1, steps=(3, 5), log=lambda m: None)
    st.write_defaults(s, "cmd")
    pick = next(r for r in s["rows"] if r["sampler"] == s["choice"]["sampler"])
    same = st.confirm(s, 8, threads=1, log=lambda m: None)       # at the study's N: the study's own verdict
    assert same["row"]["values"] == pytest.approx(pick["values"]) and same["row"]["misses"] == pick["misses"]
    c = st.confirm(s, 16, threads=1, log=lambda m: None)
    assert c["n"] == 16 and c["row"]["sampler"] == pick["sampler"]
    ref = c["reference"]["intervals"]
    assert c["row"]["inside"] == all(ref[k][0] <= c["row"]["values"][k] <= ref[k][1] for k in ref)
    s["confirm"] = c
    doc = st.build([s], "cmd", "chart.png", "", {"cpu_capability": "X", "torch": "Y"})
    assert "**Again at N = 16**" in doc and f"| {pick['sampler']} | 16 |" in doc
    other = SamplerChoice.of("ddim", 4) if pick["sampler"] != "ddim-4" else SamplerChoice.of("ddim", 3)
    defaults.defaults_path(ck).write_text(json.dumps({**json.loads(defaults.defaults_path(ck).read_text()),
                                                      "choice": {"sampler": other.label(10)}}))
    with pytest.raises(SystemExit, match="not the study's pick"):
        st.confirm(s, 16, threads=1, log=lambda m: None)
