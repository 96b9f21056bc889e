"""Metrics: the spec's six descriptors per checkpoint, as ratios to its dataset baseline."""
import streamlit as st

from motionlab.core.samplers import SPEC_SAMPLER
from motionlab.lab import figures, jobs, keys, results, tables, ui

st.header("Metrics")
st.caption("The spec's protocol: N samples per checkpoint (seed 42 by default), unnormalized, six motion "
           "descriptors, each divided by the checkpoint's dataset baseline (its training windows). "
           "1.0 means the samples match the data; hatched bars are the values the spec reports.")

chosen = ui.checkpoints_multi("metrics.checkpoints", default_max=4)
c1, c2 = st.columns(2)
seed = c1.number_input("Seed", min_value=0, max_value=2**31 - 1, value=42, step=1, key="metrics.seed")
n = c2.slider("Samples per checkpoint", 2, 16, 8, key="metrics.num_samples")
T = max([e.timesteps for e in chosen] or [400])
sampler, precision = ui.sampling_controls("metrics", SPEC_SAMPLER, T, precision_default="fp32")
if chosen:
    st.caption("Sampling weights: " + "; ".join(f"{e.short}: {e.weights_label}" for e in chosen) + ".")

rows_store = st.session_state.setdefault(keys.METRIC_ROWS, {})
recompute = st.session_state.setdefault(keys.METRIC_RECOMPUTE, set())
entry_keys = {e.path: results.entry_key(e, seed, n, sampler, precision) for e in chosen}
todo = tables.fill_precomputed(rows_store, chosen, entry_keys, seed, n, sampler, precision, recompute)
pre = [e for e in chosen if rows_store.get(entry_keys[e.path], {}).get("precomputed")]
if pre:
    st.caption("Precomputed (shown at once, fp32): " + "; ".join(
        f"**{e.short}**: {rows_store[entry_keys[e.path]]['note']}" for e in pre))
    if st.button(f"Recompute {len(pre)} precomputed row(s) here", key="metrics.recompute",
                 icon=":material/refresh:", disabled=ui.job_running("metrics")):
        for e in pre:
            recompute.add(entry_keys[e.path])
            rows_store.pop(entry_keys[e.path], None)
        st.rerun()


def metrics_job() -> jobs.JobSpec:
    items = []
    for e in todo:
        r = results.cached_result(st.session_state, entry_keys[e.path])
        items.append((e, entry_keys[e.path], r, None if r is not None else ui.model_for(e)))
    clip, clip_name, _ = ui.active_clip(show_hint=False)
    joints = next((lm.joints for *_, lm in items if lm is not None), None)
    passes = sum(int(n) * sampler.steps_for(e.timesteps) for e, _, r, _ in items if r is None)
    return jobs.JobSpec(lambda report: tables.evaluate_entries(report, items, int(n), int(seed), precision, clip,
                                                               clip_name, sampler),
                        f"Evaluating {len(items)} checkpoint(s)", passes, {"joints": joints})


ui.job_button("metrics", f"Evaluate {len(todo)} checkpoint(s)" if todo else "All evaluated", metrics_job,
              disabled=not todo, type="primary", icon=":material/play_arrow:")

done = ui.job_panel("metrics")
if done is not None:
    for key, r, row in done.result:
        results.remember_result(st.session_state, key, r)
        rows_store[key] = row
    st.rerun()

rows = [rows_store[entry_keys[e.path]] for e in chosen if entry_keys[e.path] in rows_store]
for r in rows:
    if r.get("error"):
        st.warning(f"{r['checkpoint']}: {r['error']}")
spec = tables.spec_rows()
if todo and chosen and not ui.job_running("metrics"):
    st.info(f"Not evaluated yet with these settings: {', '.join(e.short for e in todo)}. "
            f"Evaluating samples {sampler.label(T)} for each.")

log = st.toggle("Log scale", value=True, key="metrics.log_scale")
ui.plotly(figures.metric_ratio_figure(rows, spec, log=log), "metrics.ratios")

st.subheader("Ratio to dataset baseline")
st.dataframe(tables.ratio_table(rows + spec), hide_index=True,
             column_config={m: st.column_config.NumberColumn(format="%.3f") for m in tables.METRICS})

st.subheader("Table (the spec's layout)")
st.dataframe(tables.table(rows, spec), hide_index=True,
             column_config={m: st.column_config.NumberColumn(format="%.2f") for m in tables.METRICS})
d1, d2 = st.columns(2)
d1.download_button("Download CSV", tables.to_csv(rows, spec).encode(), file_name="motionlab_metrics.csv",
                   mime="text/csv", key="metrics.download_csv", on_click="ignore", icon=":material/download:")
d2.download_button("Download markdown", tables.to_markdown(rows, spec).encode(), file_name="motionlab_metrics.md",
                   mime="text/markdown", key="metrics.download_md", on_click="ignore", icon=":material/download:")
st.subheader("Novelty and coverage (beside the six)")
st.caption("Each sample's nearest window of the training clip (every window of its length, stride 1, RMS distance "
           "per coordinate after removing each window's mean x and y), divided by the clip's own scale: the median "
           "distance from a clip window to its nearest non-overlapping one. novelty = median over samples: near 0 "
           "means copies, near 1 as far from the clip as the clip is from itself. coverage = fraction of clip "
           "windows within that scale of some sample. Measured against the lab's clip when it is the checkpoint's "
           "training clip. 'weights' says which weights sampled: EMA when the checkpoint has them.")
st.dataframe(tables.novelty_table(rows), hide_index=True,
             column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("novelty", "coverage")}
             | {"scale (px)": st.column_config.NumberColumn(format="%.2f")})

with st.expander("Markdown preview"):
    st.markdown(tables.to_markdown(rows, spec))
