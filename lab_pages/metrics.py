"""Metrics: each checkpoint's samples judged against the real data at the same N, every measure with its interval."""
import streamlit as st

from motionlab.core.samplers import SPEC_SAMPLER
from motionlab.evaluation import catalog
from motionlab.lab import config, jobs, keys, results, tables, ui, verdicts
from motionlab.pipeline.defaults import fallback, faithful_default
from motionlab.pipeline.judging import compare_pixels, real_data_for
from motionlab.pipeline.sample_sets import sample_set

SIZES = [8, 16, 32, 64, 128, 256]

st.header("Metrics")
st.caption("Each checkpoint's samples against its own training clip: every measure with its 95% bootstrap interval, "
           "over the range random sets of the same number of real windows score (shaded). A point in the band is "
           "like the data (blue); red is not. Diamonds: the spec's reported value for its runs. The spec's own "
           "protocol (8 samples, ddpm-400) is one click away, labelled with its interval.")

chosen = ui.checkpoints_multi("metrics.checkpoints", default_max=5)


T = max([e.timesteps for e in chosen] or [400])


def spec_protocol():
    st.session_state.update({keys.METRICS_NUM_SAMPLES: 8, keys.METRICS_SEED: 42,
                             keys.per_checkpoint_key("metrics"): False, keys.precision_key("metrics"): "fp32"})
    ui.use_sampler("metrics", SPEC_SAMPLER, T)


c1, c2, c3 = st.columns([1, 2, 2])
seed = c1.number_input("Seed", min_value=0, max_value=2**31 - 1, value=ui.current(keys.METRICS_SEED, 42), step=1,
                       key=keys.METRICS_SEED)
n = c2.select_slider("Samples per checkpoint (N)", SIZES, value=ui.current(keys.METRICS_NUM_SAMPLES, 256),
                     key=keys.METRICS_NUM_SAMPLES,
                     help="At N = 8 a 95% interval is 13–22 points of the baseline wide; at 64, under 10. "
                          "The releases keep their N = 256 rows, so they show at once.")
c3.button("The spec's protocol (8 samples, seed 42, ddpm-400)", on_click=spec_protocol, key="metrics.spec",
          type="tertiary", icon=":material/history_edu:")
lead = faithful_default(chosen[0].path) if chosen else fallback()
sampler, precision = ui.sampling_controls("metrics", lead, T, precision_default="fp32", per_checkpoint=True)
st.caption(ui.sampler_caption(sampler, lead, T) + ("." if not chosen else ". Sampling weights: " + "; ".join(
    f"{e.short}: {e.weights_label}" for e in chosen) + "."))

store = st.session_state.setdefault(keys.METRIC_ROWS, {})
recompute = st.session_state.setdefault(keys.METRIC_RECOMPUTE, set())
keyed = {e.path: results.entry_key(e, seed, n, sampler, precision) for e in chosen}
for e in chosen:
    k = keyed[e.path]
    if k not in store and k not in recompute:
        row = verdicts.precomputed(e, results.choice_for(e, sampler).label(e.timesteps), n, seed, precision)
        if row is not None:
            store[k] = row
todo = [e for e in chosen if keyed[e.path] not in store]


def metrics_job() -> jobs.JobSpec:
    items = [(e, ui.model_for(e), results.cached_result(st.session_state, keyed[e.path])) for e in todo]
    clip, clip_name, _ = ui.active_clip(show_hint=False)
    passes = sum(int(n) * results.choice_for(e, sampler).steps_for(e.timesteps) for e, _, r in items if r is None)

    def work(report):
        out = []
        for k, (e, lm, r) in enumerate(items):
            step = lambda done, total: report((k + done / total) / len(items), f"sampling {e.short}")  # noqa: E731
            px = r.pixels if r is not None else sample_set(
                lm, int(n), int(seed), results.choice_for(e, sampler), precision=precision,
                threads=config.torch_threads() or "auto", on_chunk=step).pixels
            report((k + 0.95) / len(items), f"judging {e.short}")
            judged = verdicts.judge_pixels_row(e, lm, px, results.choice_for(e, sampler).label(e.timesteps),
                                               int(n), int(seed), precision)
            judged["novelty"] = tables.novelty_of(e, px, lm.joints, lm.mean, clip, clip_name)
            out.append((keyed[e.path], judged))
        return out
    return jobs.JobSpec(work, f"Judging {len(items)} checkpoint(s) at N = {n}", passes,
                        {"joints": items[0][1].joints if items else None})


ui.job_button("metrics", f"Evaluate {len(todo)} checkpoint(s)" if todo else "All evaluated", metrics_job,
              disabled=not todo, type="primary", icon=":material/play_arrow:")
done = ui.job_panel("metrics")
if done is not None:
    for key, judged in done.result:
        store[key] = judged
    st.rerun()

rows = [store[keyed[e.path]] for e in chosen if keyed[e.path] in store]
for r in rows:
    if r.get("error"):
        st.warning(f"{r['name']}: {r['error']}")
    elif r["precomputed"]:
        st.caption(f"**{r['name']}**: {r['sampler']}, N = {r['n']}, seed {r['seed']}, {r['provenance']}.")
pre = [r for r in rows if r["precomputed"]]
if pre:
    with st.expander("How the precomputed rows were made"):
        for r in pre:
            st.code(r["command"], language="bash")
    if st.button(f"Recompute {len(pre)} precomputed row(s) here", key="metrics.recompute", icon=":material/refresh:",
                 disabled=ui.job_running("metrics")):
        for r in pre:
            store.pop(keyed[r["path"]], None)
            recompute.add(keyed[r["path"]])
        st.rerun()
if todo and not ui.job_running("metrics"):
    st.info(f"Not evaluated yet at these settings: {', '.join(e.short for e in todo)}.")
if not rows:
    st.stop()

names = st.multiselect("Measures", [m.name for m in catalog.ALL], default=list(catalog.SPEC), key="metrics.measures",
                       format_func=lambda k: f"{k} ({catalog.BY_NAME[k].label})")
ui.plotly(verdicts.interval_figure(rows, names), "metrics.intervals")
st.dataframe(verdicts.table(rows, names), hide_index=True,
             column_config={"value": st.column_config.NumberColumn(format="%.4g"),
                            "÷ baseline": st.column_config.NumberColumn(format="%.3f")})
st.download_button("Download CSV", verdicts.table(rows, [m.name for m in catalog.ALL]).to_csv(index=False).encode(),
                   file_name="motionlab_judged.csv", mime="text/csv", key="metrics.download_csv", on_click="ignore",
                   icon=":material/download:")

st.subheader("Which is closer to the data?")
judged = [r for r in rows if r.get("doc")]
if len(judged) >= 2:
    c1, c2 = st.columns(2)
    labels = {r["path"]: f"{r['name']} ({r['sampler']})" for r in judged}
    a = c1.selectbox("A", list(labels), format_func=labels.get, key="metrics.compare_a")
    b = c2.selectbox("B", list(labels), index=1, format_func=labels.get, key="metrics.compare_b")

    def compare_job() -> jobs.JobSpec:
        by = {e.path: e for e in chosen}
        ea, eb = by[a], by[b]
        sides = [(e, ui.model_for(e), results.cached_result(st.session_state, keyed[e.path])) for e in (ea, eb)]

        def work(report):
            px = [r.pixels if r is not None else sample_set(lm, int(n), int(seed), results.choice_for(e, sampler),
                                                             precision=precision).pixels for e, lm, r in sides]
            report(0.9, "judging")
            return compare_pixels(px[0], px[1], real_data_for(sides[0][1]))
        return jobs.JobSpec(work, f"Comparing {ea.short} with {eb.short}",
                            sum(int(n) * results.choice_for(e, sampler).steps_for(e.timesteps) for e in (ea, eb)))
    ui.job_button("metrics_compare", "Compare A and B", compare_job, disabled=a == b, icon=":material/balance:")
    cmp = ui.job_panel("metrics_compare")
    if cmp is not None:
        st.session_state[keys.METRICS_VERDICTS] = (labels[a], labels[b], cmp.result)
    if keys.METRICS_VERDICTS in st.session_state:
        la, lb, res = st.session_state[keys.METRICS_VERDICTS]
        st.caption(f"A = {la}, B = {lb}: distance to the real median at N = {n} as a share of it; the interval of "
                   "A − B decides (0 inside: no measurable difference at this N).")
        st.dataframe(verdicts.verdict_table(res), hide_index=True)
else:
    st.caption("Evaluate two checkpoints to compare them.")

st.subheader("Novelty and coverage")
st.caption("Each sample's nearest window of the training clip, divided by the clip's own scale: novelty near 0 means "
           "copies, near 1 as far from the clip as the clip is from itself; coverage is the share of clip windows "
           "some sample comes close to (docs/MEASURES.md relates them to precision and recall).")
st.dataframe(tables.novelty_table([r for r in rows if "novelty" in r]), hide_index=True)

with st.expander("The spec's table layout (values only)"):
    spec = tables.spec_rows()
    st.dataframe(tables.table(spec), hide_index=True,
                 column_config={m: st.column_config.NumberColumn(format="%.2f") for m in tables.METRICS})
