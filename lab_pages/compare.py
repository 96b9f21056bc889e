"""Compare: samples from several checkpoints (same seed) and real windows, played in sync."""
import streamlit as st

from motionlab.pipeline.defaults import fallback, faithful_default
from motionlab.lab import figures, jobs, keys, panels, player, results, ui

st.header("Compare")
st.caption("One figure, one play button: every panel shares the frame slider. Samples use the same seed "
           "for every checkpoint; real windows come from the clip.")

chosen = ui.checkpoints_multi("compare.checkpoints", default=ui.best_and_spec_pair())
c1, c2 = st.columns(2)
seed = c1.number_input("Seed", min_value=0, max_value=2**31 - 1, value=42, step=1, key="compare.seed")
n = c2.slider("Samples per checkpoint", 1, 8, 2, key="compare.num_samples")
T = max([e.timesteps for e in chosen] or [400])
lead = faithful_default(chosen[0].path) if chosen else fallback()
sampler, precision = ui.sampling_controls("compare", lead, T, per_checkpoint=True)
st.caption(ui.sampler_caption(sampler, lead, T) + ".")
if chosen:
    st.caption("Sampling weights: " + "; ".join(f"{e.short}: {e.weights_label}" for e in chosen) + ".")

clip, clip_name = ui.real_clip_picker("compare.real_clip")
window = max([e.window for e in chosen] or [64])
c4, c5 = st.columns([1, 3])
real_count = c4.number_input("Real windows", min_value=0, max_value=8, value=1, step=1, key="compare.real_count")
max_start = max(0, clip.num_frames - window)
ui.keep_valid("compare.real_start", range(max_start + 1))
real_start = c5.slider(f"First real window starts at frame (windows of {window} frames follow each other)",
                       0, max(1, max_start), 0, key="compare.real_start", disabled=max_start == 0)

entry_keys = {e.path: results.entry_key(e, seed, n, sampler, precision) for e in chosen}
missing = [e for e in chosen if results.cached_result(st.session_state, entry_keys[e.path]) is None]
label = f"Sample {len(missing)} checkpoint(s)" if missing else "All sampled"


def compare_job() -> jobs.JobSpec:
    models = [(e, ui.model_for(e)) for e in missing]
    return jobs.JobSpec(lambda report: results.sample_entries(report, models, int(n), int(seed), precision, sampler),
                        f"Sampling {len(models)} checkpoint(s)",
                        sum(int(n) * results.choice_for(e, sampler).steps_for(e.timesteps) for e in missing),
                        {"joints": models[0][1].joints})


ui.job_button("compare", label, compare_job, disabled=not missing, type="primary", icon=":material/play_arrow:")

done = ui.job_panel("compare")
if done is not None:
    for key, r in done.result:
        results.remember_result(st.session_state, key, r)
    st.rerun()  # recount what is sampled for the button label

samples = []
for e in chosen:
    r = results.cached_result(st.session_state, entry_keys[e.path])
    if r is not None:
        samples.append((e.short, r.pixels, r.joints))
if missing and not ui.job_running("compare"):
    st.info(f"Not sampled yet with these settings: {', '.join(e.tag for e in missing)}. Press the button above.")
if real_count and clip.num_frames < window:
    st.warning(f"The clip has {clip.num_frames} frames, fewer than the window of {window}.")

all_panels = panels.compare_panels(samples, clip, window, int(real_count), int(real_start), clip_name=clip_name)
names = [p.name for p in all_panels]
by = {p.name: p for p in all_panels}
ui.keep_valid(keys.COMPARE_PANELS, names, multi=True)
panels.merge_new_panels(st.session_state, names)  # newly sampled or added windows join the view
picked = st.multiselect("Panels", names, default=ui.current(keys.COMPARE_PANELS, names[:12]), key=keys.COMPARE_PANELS)
if not picked:
    st.info("Nothing to show yet: sample some checkpoints or add real windows.")
    st.stop()
sel = [by[name] for name in picked]
if st.toggle("Put each sample next to its nearest real window", key="compare.nearest",
             disabled=all("start" in p.meta for p in sel),
             help="The window of the clip (any start frame) closest to the sample after removing each one's mean "
                  "x and y: the novelty measure's match (motionlab/novelty.py)."):
    nearest = panels.nearest_panels(sel, clip, "real")
    sel = [q for p in sel for q in ([p, nearest[p.name]] if p.name in nearest else [p])]
    if nearest:
        st.caption("Nearest real windows (RMS pixels per coordinate, positions removed): " + "; ".join(
            f"{q.meta['of']} → @{q.meta['start']}, {q.meta['distance']:.1f} px" for q in nearest.values()) + ".")
    else:
        st.info(f"No window of {clip_name} can match these samples (it is shorter than them, has other joints, "
                "or the samples hold NaN).")
player.show([figures.Panel(p.name, p.xy, p.joints) for p in sel], "compare.animation")
lengths = sorted({p.xy.shape[0] for p in sel})
if len(lengths) > 1:
    st.caption(f"Clip lengths differ ({', '.join(map(str, lengths))} frames): shorter ones hold their last frame.")
ui.export_buttons("compare", [p.clip() for p in sel], [p.name for p in sel], f"compare_seed{seed}")
